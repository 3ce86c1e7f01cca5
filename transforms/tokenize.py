"""Byte-level BPE: training with Hugging Face `tokenizers`, fast encoding, and tokenizing in Beam.

The tokenizer is GPT-2's design (Radford et al. 2019): text is split by GPT-2's pre-tokenizer
regex, each piece is mapped byte by byte to printable characters, and BPE merges are learned over
those pieces, so any string encodes without unknown tokens and decodes back exactly. The
end-of-text token `<|endoftext|>` (id 0) separates documents; document text never encodes to it.

`Encoder` encodes with tiktoken built offline from the trained vocabulary (a byte sequence's rank is
its token id, which for a BPE trainer is the order its merge was learned), or with `tokenizers`
itself; tests check both give the same ids, and the benchmark measures both.
"""
from __future__ import annotations

import json
from typing import Iterable, Iterator, Literal

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import tiktoken
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

EOT = "<|endoftext|>"
# GPT-2's pre-tokenizer pattern, as `tokenizers`' ByteLevel(use_regex=True) applies it.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def new_tokenizer() -> Tokenizer:
    """An untrained byte-level BPE tokenizer (no prefix space, so decode(encode(t)) == t)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> Tokenizer:
    """Learn merges until `vocab_size` (end-of-text + 256 bytes + merges) or no pair is frequent enough."""
    tokenizer = new_tokenizer()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                  special_tokens=[EOT], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def byte_decoder() -> dict[str, int]:
    """The ByteLevel printable character → the byte it stands for (GPT-2's bytes_to_unicode, inverted)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def tiktoken_encoding(tokenizer_json: str, name: str = "tokenmill") -> tiktoken.Encoding:
    """A tiktoken Encoding with the same vocabulary as a trained byte-level BPE `tokenizer.json`."""
    data = json.loads(tokenizer_json)
    special = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
    to_byte = byte_decoder()
    ranks = {bytes(to_byte[c] for c in token): rank
             for token, rank in data["model"]["vocab"].items() if token not in special}
    return tiktoken.Encoding(name, pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens=special)


class Encoder:
    """Text → ids with the chosen library, loaded lazily so the object pickles to Beam workers."""

    def __init__(self, tokenizer_json: str, kind: Literal["tiktoken", "hf"] = "tiktoken", threads: int = 2):
        self.tokenizer_json = tokenizer_json
        self.kind = kind
        self.threads = threads
        self._impl = None

    def __getstate__(self):
        return {**self.__dict__, "_impl": None}

    def _load(self):
        if self.kind == "tiktoken":
            self._impl = tiktoken_encoding(self.tokenizer_json)
        else:
            self._impl = Tokenizer.from_str(self.tokenizer_json)
            self._impl.encode_special_tokens = True   # "<|endoftext|>" in a document is text
        return self._impl

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        impl = self._impl or self._load()
        if self.kind == "tiktoken":
            return impl.encode_ordinary_batch(texts, num_threads=self.threads)
        return [encoding.ids for encoding in impl.encode_batch_fast(texts, add_special_tokens=False)]


INDEX_GROUP_ROWS = 1024
INDEX_SCHEMA = pa.schema([("id", pa.string()), ("tokens", pa.int64()), ("bytes", pa.int64())])


def token_paths(work: str, source: str, shard: str) -> tuple[str, str]:
    """(raw int32 ids, per-document index .parquet) for one curated shard."""
    stem = shard.rsplit("/", 1)[-1].removesuffix(".parquet")
    return f"{work}/{source}/{stem}.ids", f"{work}/{source}/{stem}.index.parquet"


class TokenizeShardFn(beam.DoFn):
    """(source, curated shard) → its documents' ids in one raw int32 file and an index of
    (id, tokens, bytes) in row groups of INDEX_GROUP_ROWS.

    Reads the shard a row group at a time and encodes `batch_docs` documents per call. Documents
    keep the shard's order (sorted by id); empty or null texts get no index row and are counted.
    """

    def __init__(self, encoder: Encoder, work: str, batch_docs: int):
        self.encoder = encoder
        self.work = work
        self.batch_docs = batch_docs
        self.docs = beam.metrics.Metrics.counter("tokenize", "documents")
        self.empty = beam.metrics.Metrics.counter("tokenize", "empty_documents")

    def process(self, element: tuple[str, str]) -> Iterator[tuple[str, str, int]]:
        source, shard = element
        ids_path, index_path = token_paths(self.work, source, shard)
        parts, index = [], {"id": [], "tokens": [], "bytes": []}
        for ids, texts, sizes in _documents(shard, self.batch_docs):
            kept = [(i, t, b) for i, t, b in zip(ids, texts, sizes) if t]
            self.empty.inc(len(ids) - len(kept))
            if not kept:
                continue
            encoded = self.encoder.encode_batch([t for _, t, _ in kept])
            for (doc_id, _, size), doc_ids in zip(kept, encoded):
                index["id"].append(doc_id)
                index["tokens"].append(len(doc_ids))
                index["bytes"].append(size)
                parts.append(np.asarray(doc_ids, dtype=np.int32))
            self.docs.inc(len(kept))
        with open(ids_path, "wb") as handle:
            for part in parts:
                handle.write(part.tobytes())
        pq.write_table(pa.table(index, schema=INDEX_SCHEMA), index_path, compression="zstd",
                       row_group_size=INDEX_GROUP_ROWS)
        yield source, shard, len(index["id"])


def _documents(shard: str, batch: int) -> Iterator[tuple[list[str], list[str | None], list[int | None]]]:
    """(ids, texts, UTF-8 byte lengths) of a curated shard, `batch` documents at a time."""
    parquet = pq.ParquetFile(shard)
    missing = {"id", "text"} - set(parquet.schema_arrow.names)
    if missing:
        raise ValueError(f"{shard}: not a curated shard (no {', '.join(sorted(missing))} column)")
    for table in parquet.iter_batches(batch_size=batch, columns=["id", "text"]):
        text = table.column("text")
        yield table.column("id").to_pylist(), text.to_pylist(), pc.binary_length(text).to_pylist()


class TokenizeShards(beam.PTransform):
    """[(source, curated shard path)] → token files under `work`, one pair per shard, in parallel."""

    def __init__(self, shards: list[tuple[str, str]], encoder: Encoder, work: str, batch_docs: int):
        super().__init__()
        self.shards = shards
        self.encoder = encoder
        self.work = work
        self.batch_docs = batch_docs

    def expand(self, pbegin):
        return (pbegin
                | "Shards" >> beam.Create(self.shards)
                | "Spread" >> beam.Reshuffle()
                | "Tokenize" >> beam.ParDo(TokenizeShardFn(self.encoder, self.work, self.batch_docs)))
