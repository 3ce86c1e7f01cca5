"""Byte-level BPE: training with Hugging Face `tokenizers`, fast encoding, and tokenizing in Beam.

The tokenizer is GPT-2's design (Radford et al. 2019): text is split by GPT-2's pre-tokenizer
regex, each piece is mapped byte by byte to printable characters, and BPE merges are learned over
those pieces, so any string encodes without unknown tokens and decodes back exactly. The
end-of-text token `<|endoftext|>` (id 0) separates documents; document text never encodes to it.

`Encoder` encodes with tiktoken built offline from the trained vocabulary (a byte sequence's rank is
its token id, which for a BPE trainer is the order its merge was learned), or with `tokenizers`
itself; tests check both give the same ids, and the benchmark measures both.

Curated shards are read through Beam's FileSystems (local, gs://, s3://, hdfs://), and the tokenizer's
training sample is drawn in Beam (`DrawSample`), so only the sample reaches the machine that trains:
workers choose documents from the `id` column alone, read the text of only the row groups that hold
a chosen one, and write the chosen texts to a few files (SAMPLE_FILES at most).
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
from tokenmill.transforms.files import AtomicFile, write_file
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


def curated_files(source: str, pattern: str) -> list[tuple[str, str]]:
    """(source, path) of the curated shards `pattern` matches, sorted: workers list them, so a job
    graph holds one pattern per source, not one entry per shard."""
    return [(source, path) for path in sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)]


HASH_SPACE = 2 ** 64
SAMPLE_FILES = 16                 # the sample's files: chosen shards go to one by a hash of their path
SAMPLE_GROUP_BYTES = 16 << 20     # text bytes per row group of a sample file
SAMPLE_SCHEMA = pa.schema([("text", pa.string())])


@dataclass(frozen=True)
class Chosen:
    """The rows of one curated shard that join the sample (chosen from its ids alone)."""
    source: str
    shard: str
    rows: tuple[int, ...] = ()
    error: Optional[str] = None


@dataclass(frozen=True)
class SampleFile:
    """What one sample file holds: its path (None when nothing was chosen for it), the text bytes
    taken per source, and the shards that could not be read."""
    path: Optional[str]
    taken: dict[str, int]
    errors: tuple[str, ...] = ()


def sample_threshold(source: str, sizes: dict[str, int], weights: dict[str, float], sample_bytes: int) -> int:
    """The hash below which a document of `source` joins the sample: the fraction its byte budget
    (`sample_bytes` × its weight) is of its text. No weights: each source by the text it holds."""
    weights = weights or {s: float(b) for s, b in sizes.items()}
    total = sum(w for s, w in weights.items() if s in sizes)
    size = sizes.get(source, 0)
    if not size or not total or weights.get(source, 0) <= 0:
        return 0
    return int(min(1.0, sample_bytes * weights[source] / total / size) * HASH_SPACE)


class ChooseRows(beam.DoFn):
    """(source, curated shard) → Chosen: the rows whose stable_hash(seed, source, id) falls under the
    source's threshold, read from the `id` column alone. The choice depends on the document alone,
    not on which worker reads it."""

    def __init__(self, weights: dict[str, float], sample_bytes: int, seed: int):
        self.weights, self.sample_bytes, self.seed = weights, sample_bytes, seed

    def process(self, element: tuple[str, str], sizes: dict[str, int]) -> Iterator[Chosen]:
        source, shard = element
        threshold = sample_threshold(source, sizes, self.weights, self.sample_bytes)
        rows, row = [], 0
        try:
            with open_raw(shard) as handle:
                for batch in curated_batches(handle, shard, 8192, columns=("id",)):
                    for doc_id in batch.column("id").to_pylist():
                        if stable_hash(str(self.seed), source, doc_id) < threshold:
                            rows.append(row)
                        row += 1
        except CuratedShardError as err:
            yield Chosen(source, shard, error=str(err))
            return
        yield Chosen(source, shard, tuple(rows))


def chosen_texts(chosen: Chosen) -> Iterator[str]:
    """The non-empty texts of a shard's chosen rows, in row order, reading the `text` column of only
    the row groups that hold one; a damaged file raises CuratedShardError naming it."""
    with open_raw(chosen.shard) as handle:
        try:
            parquet = pq.ParquetFile(handle)
            if "text" not in parquet.schema_arrow.names:
                raise CuratedShardError(f"{chosen.shard}: not a curated shard (no text column)")
            first = 0
            for group in range(parquet.metadata.num_row_groups):
                end = first + parquet.metadata.row_group(group).num_rows
                local = [row - first for row in chosen.rows if first <= row < end]
                if local:
                    texts = parquet.read_row_group(group, columns=["text"]).column("text").take(local)
                    yield from (text for text in texts.to_pylist() if text)
                first = end
        except (OSError, pa.ArrowException) as err:
            raise CuratedShardError(f"{chosen.shard}: the Parquet file is damaged ({err})") from None


class WriteSampleFile(beam.DoFn):
    """(file number, [Chosen]) → `work`/sample-NNN.parquet: the chosen texts of those shards, in
    (source, shard, row) order, so the file's bytes do not depend on the runner; yields a SampleFile."""

    def __init__(self, work: str):
        self.work = work

    def process(self, element: tuple[int, Iterable[Chosen]]) -> Iterator[SampleFile]:
        number, chosen = element
        chosen = sorted(chosen, key=lambda c: (c.source, c.shard))
        errors = tuple(c.error for c in chosen if c.error)
        wanted = [c for c in chosen if c.rows and not c.error]
        taken = {c.source: 0 for c in chosen}
        if not wanted:
            yield SampleFile(None, taken, errors)
            return
        path = f"{self.work}/sample-{number:03d}.parquet"
        with AtomicFile(path) as sink:
            writer = pq.ParquetWriter(sink.sink, SAMPLE_SCHEMA, compression="zstd")
            pending, size = [], 0
            for item in wanted:
                try:
                    for text in chosen_texts(item):
                        pending.append(text)
                        length = len(text.encode("utf-8", "surrogatepass"))
                        size += length
                        taken[item.source] += length
                        if size >= SAMPLE_GROUP_BYTES:
                            writer.write_table(pa.table({"text": pending}, schema=SAMPLE_SCHEMA))
                            pending, size = [], 0
                except CuratedShardError as err:
                    errors += (str(err),)
            writer.write_table(pa.table({"text": pending}, schema=SAMPLE_SCHEMA))
            writer.close()
        yield SampleFile(path, taken, errors)


def shard_text_bytes(element: tuple[str, str]) -> tuple[str, int]:
    source, shard = element
    try:
        with open_raw(shard) as handle:
            return source, text_column_bytes(handle, shard)
    except CuratedShardError:
        return source, 0            # ChooseRows reports the shard


class DrawSample(beam.PTransform):
    """[(source, pattern of its curated shards)] → the tokenizer's training sample under `work`, at
    most SAMPLE_FILES Parquet files of texts, and `work`/sample.json: their paths, the text bytes
    taken and held by each source, and the shards that could not be read.

    Sizes come from the shards' footers (a combine of one number per shard); each document's
    inclusion is a stable hash of its id against its source's byte budget, so only about
    `sample_bytes` of text is read and written, and the same documents are drawn with any number of
    workers. Only row numbers cross the shuffle that gathers a file's shards."""

    def __init__(self, patterns: list[tuple[str, str]], weights: dict[str, float], sample_bytes: int, seed: int,
                 work: str):
        super().__init__()
        self.patterns, self.weights, self.sample_bytes = patterns, weights, sample_bytes
        self.seed, self.work = seed, work

    def expand(self, pbegin):
        shards = (pbegin | "Patterns" >> beam.Create(self.patterns) | "Shards" >> beam.FlatMapTuple(curated_files)
                  | "Spread" >> beam.Reshuffle())
        sizes = (shards | "TextBytes" >> beam.Map(shard_text_bytes) | "PerSource" >> beam.CombinePerKey(sum))
        files = (shards
                 | "Choose" >> beam.ParDo(ChooseRows(self.weights, self.sample_bytes, self.seed),
                                          sizes=beam.pvalue.AsDict(sizes))
                 | "ToFile" >> beam.Map(lambda c: (stable_hash(c.shard) % SAMPLE_FILES, c))
                 | "ByFile" >> beam.GroupByKey()
                 | "WriteFile" >> beam.ParDo(WriteSampleFile(self.work)))
        summary = f"{self.work}/sample.json"
        return (files
                | "Gather" >> beam.combiners.ToList()
                | "Write" >> beam.Map(lambda items, sizes: write_json(summary, sample_summary(items, sizes)),
                                      sizes=beam.pvalue.AsDict(sizes)))


def sample_summary(files: list[SampleFile], sizes: dict[str, int]) -> dict:
    """sample.json: the sample's files in order, the bytes taken and held per source, the errors."""
    taken: dict[str, int] = {}
    for item in files:
        for source, size in item.taken.items():
            taken[source] = taken.get(source, 0) + size
    return {"files": sorted(item.path for item in files if item.path),
            "taken": dict(sorted(taken.items())), "text_bytes": dict(sorted(sizes.items())),
            "errors": sorted(error for item in files for error in item.errors)}


def write_json(path: str, value) -> str:
    return write_file(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def read_json(path: str):
    with open_raw(path) as handle:
        return json.loads(handle.read().decode("utf-8"))


def sample_texts(files: list[str], batch: int = 2048) -> Iterator[str]:
    """The drawn texts, file after file in the order given."""
    for path in files:
        with open_raw(path) as handle:
            for record in pq.ParquetFile(handle).iter_batches(batch_size=batch):
                yield from record.column("text").to_pylist()
