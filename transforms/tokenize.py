"""Byte-level BPE: training with Hugging Face `tokenizers`, fast encoding, and tokenizing in Beam.

The tokenizer is GPT-2's design (Radford et al. 2019): text is split by GPT-2's pre-tokenizer
regex, each piece is mapped byte by byte to printable characters, and BPE merges are learned over
those pieces, so any string encodes without unknown tokens and decodes back exactly. The
end-of-text token `<|endoftext|>` (id 0) separates documents; document text never encodes to it.

`Encoder` encodes with tiktoken built offline from the trained vocabulary (a byte sequence's rank is
its token id, which for a BPE trainer is the order its merge was learned), or with `tokenizers`
itself; tests check both give the same ids, and the benchmark measures both.

Curated shards are read through Beam's FileSystems (local, gs://, s3://, hdfs://), and the tokenizer's
training sample is drawn in Beam (`DrawSample`), so only the sample reaches the machine that trains.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Iterable, Iterator, Literal, Optional

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import tiktoken
from apache_beam.io.filesystems import FileSystems
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from tokenmill.filters.document import stable_hash
from tokenmill.transforms.formats.common import open_raw

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


class CuratedShardError(ValueError):
    """A curated shard that cannot be read, or that lacks the id and text columns."""


def curated_batches(handle: IO[bytes], path: str, batch: int,
                    columns: tuple[str, ...] = ("id", "text")) -> Iterator[pa.RecordBatch]:
    """Record batches of `columns` of the curated shard open in `handle`, `batch` documents each;
    a file that is not Parquet, or lacks a column, raises CuratedShardError naming `path`."""
    try:
        parquet = pq.ParquetFile(handle)
    except (OSError, pa.ArrowException) as err:
        raise CuratedShardError(f"{path}: not a readable Parquet file ({err})") from None
    missing = set(columns) - set(parquet.schema_arrow.names)
    if missing:
        raise CuratedShardError(f"{path}: not a curated shard (no {', '.join(sorted(missing))} column)")
    try:
        yield from parquet.iter_batches(batch_size=batch, columns=list(columns))
    except (OSError, pa.ArrowException) as err:
        raise CuratedShardError(f"{path}: the Parquet file is damaged ({err})") from None


def text_column_bytes(handle: IO[bytes], path: str) -> int:
    """The uncompressed size of a curated shard's `text` column, from its footer alone."""
    try:
        metadata = pq.ParquetFile(handle).metadata
    except (OSError, pa.ArrowException) as err:
        raise CuratedShardError(f"{path}: not a readable Parquet file ({err})") from None
    return sum(metadata.row_group(g).column(c).total_uncompressed_size
               for g in range(metadata.num_row_groups) for c in range(metadata.num_columns)
               if metadata.row_group(g).column(c).path_in_schema == "text")


HASH_SPACE = 2 ** 64
SAMPLE_SCHEMA = pa.schema([("text", pa.string())])


@dataclass(frozen=True)
class SampleShard:
    source: str
    shard: str          # the curated shard
    sample: str         # its sampled texts, a Parquet file under the work folder
    taken: int          # UTF-8 bytes sampled
    error: Optional[str] = None


def sample_threshold(source: str, sizes: dict[str, int], weights: dict[str, float], sample_bytes: int) -> int:
    """The hash below which a document of `source` joins the sample: the fraction its byte budget
    (`sample_bytes` × its weight) is of its text. No weights: each source by the text it holds."""
    weights = weights or {s: float(b) for s, b in sizes.items()}
    total = sum(w for s, w in weights.items() if s in sizes)
    size = sizes.get(source, 0)
    if not size or not total or weights.get(source, 0) <= 0:
        return 0
    return int(min(1.0, sample_bytes * weights[source] / total / size) * HASH_SPACE)


class SampleShardFn(beam.DoFn):
    """(source, curated shard) → its sampled texts written to `sample_path`; yields a SampleShard.

    A document joins when stable_hash(seed, source, id) falls under its source's threshold, so the
    choice depends on the document alone, not on which worker reads it."""

    def __init__(self, weights: dict[str, float], sample_bytes: int, seed: int, work: str):
        self.weights, self.sample_bytes, self.seed, self.work = weights, sample_bytes, seed, work

    def process(self, element: tuple[str, str], sizes: dict[str, int]) -> Iterator[SampleShard]:
        source, shard = element
        threshold = sample_threshold(source, sizes, self.weights, self.sample_bytes)
        target = sample_path(self.work, source, shard)
        texts, taken = [], 0
        try:
            with open_raw(shard) as handle:
                for batch in curated_batches(handle, shard, 2048):
                    for doc_id, text in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist()):
                        if text and stable_hash(str(self.seed), source, doc_id) < threshold:
                            texts.append(text)
                            taken += len(text.encode("utf-8", "surrogatepass"))
        except CuratedShardError as err:
            yield SampleShard(source, shard, target, 0, str(err))
            return
        with FileSystems.create(target) as sink:
            pq.write_table(pa.table({"text": texts}, schema=SAMPLE_SCHEMA), sink, compression="zstd")
        yield SampleShard(source, shard, target, taken)


def sample_path(work: str, source: str, shard: str) -> str:
    return f"{work}/{source}/{shard.rsplit('/', 1)[-1].removesuffix('.parquet')}.sample.parquet"


def shard_text_bytes(element: tuple[str, str]) -> tuple[str, int]:
    source, shard = element
    try:
        with open_raw(shard) as handle:
            return source, text_column_bytes(handle, shard)
    except CuratedShardError:
        return source, 0            # SampleShardFn reports the shard


class DrawSample(beam.PTransform):
    """[(source, curated shard)] → the tokenizer's training sample under `work`, one Parquet file of
    texts per shard, and `work`/sample.json: [SampleShard] plus the text bytes of each source.

    Sizes come from the shards' footers (a combine of one number per shard); each document's
    inclusion is a stable hash against its source's byte budget, so only about `sample_bytes` of
    text is written, and the same documents are drawn with any number of workers."""

    def __init__(self, shards: list[tuple[str, str]], weights: dict[str, float], sample_bytes: int, seed: int,
                 work: str):
        super().__init__()
        self.shards, self.weights, self.sample_bytes, self.seed, self.work = shards, weights, sample_bytes, seed, work

    def expand(self, pbegin):
        shards = (pbegin | "Shards" >> beam.Create(self.shards) | "Spread" >> beam.Reshuffle())
        sizes = (shards | "TextBytes" >> beam.Map(shard_text_bytes) | "PerSource" >> beam.CombinePerKey(sum))
        drawn = shards | "Sample" >> beam.ParDo(SampleShardFn(self.weights, self.sample_bytes, self.seed, self.work),
                                                sizes=beam.pvalue.AsDict(sizes))
        summary = f"{self.work}/sample.json"
        return (drawn
                | "Gather" >> beam.combiners.ToList()
                | "Write" >> beam.Map(lambda items, sizes: write_json(summary, {
                    "shards": sorted([vars(i) for i in items], key=lambda i: (i["source"], i["shard"])),
                    "text_bytes": dict(sorted(sizes.items()))}), sizes=beam.pvalue.AsDict(sizes)))


def write_json(path: str, value) -> str:
    with FileSystems.create(path) as sink:
        sink.write((json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return path


def read_json(path: str):
    with open_raw(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def sample_texts(shards: list[SampleShard], batch: int = 2048) -> Iterator[str]:
    """The drawn texts, shard by shard in (source, shard) order."""
    for item in sorted(shards, key=lambda i: (i.source, i.shard)):
        with open_raw(item.sample) as handle:
            for record in pq.ParquetFile(handle).iter_batches(batch_size=batch):
                yield from record.column("text").to_pylist()
