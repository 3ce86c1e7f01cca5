"""Pass 1 of curation: each input file read, filtered and written to its staged shard, in input order.

    manifest ─► (shard, source, format, path) ─► read ─► document stages (fused)
                ─► <staging>/docs/<shard>-0000.parquet, and its receipt
                └─► small keys for the corpus stages, ledger events, the shard's info

The job graph names the manifest (a Parquet file the planner writes: one row an input file), never
the files themselves, so its size does not grow with the input; a worker lists the manifest and the
shards spread from there. No document crosses a shuffle: what leaves this pass is where each kept
document sits (its uid: shard and row, transforms/join.py) with its content hash and id, its
paragraph hashes, and the MinHash band keys of the documents exact dedup does not see first (those of
exact dedup's keepers are read back from the signature files). The signatures themselves go to a
Parquet file per shard (transforms/signature_files.py), read back where a decision needs them.

A shard's receipt, written last, records the input it read (path, size, modification time), the
settings it ran with and every output it gave: a rerun after a crash replays the receipt of each
shard whose input and settings are unchanged instead of reading the file again.
"""
from __future__ import annotations

from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, fields
from typing import Iterator, NamedTuple, Optional, Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from tokenmill.filters.base import DocumentFilter
from tokenmill.filters.document import Document, Failed, Rejected
from tokenmill.filters.minhash import MinHasher
from tokenmill.filters.normalize import content_hash
from tokenmill.transforms.exact_dedup import ExactCopy
from tokenmill.transforms.files import AtomicFile
from tokenmill.transforms.filter_chain import run_chain_batch
from tokenmill.transforms.formats import ReadOptions
from tokenmill.transforms.join import DocIds, typed
from tokenmill.transforms.near_dedup import STAGE as NEAR_STAGE
from tokenmill.transforms.near_dedup import band_entries
from tokenmill.transforms.paragraph_dedup import ParagraphKeys, paragraph_keys
from tokenmill.transforms.quality_model import ModelStage, score_batch
from tokenmill.transforms.read import ShardReader
from tokenmill.transforms.receipts import ReceiptWriter, receipt_matches, receipt_path, replayed
from tokenmill.transforms.records import register_records
from tokenmill.transforms.signature_files import keep_rank, signature_row, signature_writer
from tokenmill.transforms.write import ShardWriter, document_row

EXACT, NEAR, PARAGRAPHS, EVENTS, SHARDS = "exact", "near", "paragraphs", "events", "shards"
BATCH = 256
NO_WORDS = f"{NEAR_STAGE}/uncompared_no_words"  # a note: a document with no word to shingle is kept uncompared
MANIFEST_GROUP_ROWS = 8192


@dataclass(frozen=True)
class Shard:
    """One input file: `index` across the run (its staged shard: dense, in (source, format, path)
    order), `part` within its source, and its size and modification time as the listing found them."""

    index: int
    source: str
    format: str
    path: str
    part: int
    size: int = 0
    modified: float = 0.0


MANIFEST_SCHEMA = pa.schema([(f.name, {"int": pa.int64(), "str": pa.string(), "float": pa.float64()}[f.type])
                             for f in fields(Shard)])  # a manifest row is a Shard, field for field


def write_manifest(path: str, shards: Sequence[Shard]) -> str:
    """The run's input files, one row each, as the Parquet file `path` (written atomically)."""
    table = pa.table({name: [getattr(shard, name) for shard in shards] for name in MANIFEST_SCHEMA.names},
                     schema=MANIFEST_SCHEMA)
    with AtomicFile(path) as sink:
        pq.write_table(table, sink.sink, compression="zstd", row_group_size=MANIFEST_GROUP_ROWS)
    return path


def read_manifest(path: str) -> Iterator[Shard]:
    """The input files a manifest lists, in its order."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=MANIFEST_GROUP_ROWS):
            yield from (Shard(*values) for values in zip(*(column.to_pylist() for column in batch.columns)))


def receipt_header(shard: Shard, settings: str) -> dict:
    """What a staged shard is reused against: its input file as listed, and its settings' fingerprint."""
    return {"index": shard.index, "path": shard.path, "size": shard.size, "modified": shard.modified,
            "settings": settings}


class StagedShard(NamedTuple):
    """What pass 1 wrote for one input file: its staged shard and its signature file (None: nothing)."""

    source: str
    part: int
    staged: Optional[str]
    signatures: Optional[str]


register_records(StagedShard)


@dataclass(frozen=True)
class NearKeys:
    """What near-dedup needs from pass 1 (see transforms/near_dedup.py)."""

    num_perm: int
    seed: int
    shingle_words: int
    bands: int
    rows: int
    keep: str
    keep_signal: Optional[str]
    signatures_folder: str


@dataclass(frozen=True)
class Corpus:
    """Which sources each corpus stage covers, and the settings pass 1 needs for their keys."""

    ids: DocIds = DocIds(1)
    exact: frozenset = frozenset()
    near: frozenset = frozenset()
    paragraphs: frozenset = frozenset()
    paragraph_min_chars: int = 50
    near_keys: Optional[NearKeys] = None
    models: Optional[ModelStage] = None      # quality-model: its sources are scored here
    keep_rejected: bool = False


class CountedChains:
    """Each source's chain of document filters, run with the "filters" counters (kept, removed, failed)
    that the fused filter pass has always reported; nothing is counted where no stage runs."""

    def __init__(self, chains: dict[str, list[DocumentFilter]]):
        self.chains = chains
        self.counted = any(chains.values())
        self.counters = {kind: Metrics.counter("filters", kind) for kind in ("kept", "removed", "failed")}

    def setup(self):
        for chain in self.chains.values():
            for doc_filter in chain:
                doc_filter.setup()

    def __call__(self, items: Sequence) -> list:
        """`items` with each Document replaced by what its source's chain made of it (the chain run
        stage by stage over the batch); other items as they are, all in order."""
        results = list(items)
        at = [i for i, item in enumerate(items) if isinstance(item, Document)]
        for source in dict.fromkeys(items[i].source for i in at):
            mine = [i for i in at if items[i].source == source]
            for i, result in zip(mine, run_chain_batch([items[i] for i in mine], self.chains.get(source, ()))):
                results[i] = result
        if self.counted:
            for kind, n in Counter("removed" if isinstance(results[i], Rejected) else "failed"
                                   if isinstance(results[i], Failed) else "kept" for i in at).items():
                self.counters[kind].inc(n)
        return results


class _StageShardFn(beam.DoFn):
    def __init__(self, options: dict[str, ReadOptions], chains: dict[str, list[DocumentFilter]], corpus: Corpus,
                 staging: str, schema: pa.Schema, settings: dict[str, str]):
        self.options, self.chains, self.corpus = options, CountedChains(chains), corpus
        self.staging, self.schema, self.settings = staging.rstrip("/"), schema, settings
        self.read, self.reused = Metrics.counter("staging", "read"), Metrics.counter("staging", "reused")
        self.read_bytes = Metrics.counter("staging", "read_bytes")

    def setup(self):
        self.reader = None  # the stages are set up at the first shard read: a replaying worker needs none

    def _set_up_stages(self):
        self.reader = ShardReader(self.options)
        self.chains.setup()
        near = self.corpus.near_keys
        self.hasher = MinHasher(near.num_perm, near.seed, near.shingle_words) if near else None
        self.scorer = self.corpus.models.scorer() if self.corpus.models else None
        if self.scorer is not None:
            self.scorer.setup()

    def process(self, shard: Shard):
        receipt, header = receipt_path(self.staging, shard.index), receipt_header(shard, self.settings[shard.source])
        if receipt_matches(receipt, header):
            self.reused.inc()
            yield from replayed(receipt)
            return
        if self.reader is None:
            self._set_up_stages()
        self.read.inc()
        self.read_bytes.inc(shard.size)
        with ReceiptWriter(receipt, header) as record:
            for output in self._staged(shard):
                record.write((output.tag, output.value))
                yield output

    def _staged(self, shard: Shard) -> Iterator[TaggedOutput]:
        signed = (signature_writer(self.corpus.near_keys.signatures_folder, shard.index)
                  if shard.source in self.corpus.near else nullcontext())
        with ShardWriter(f"{self.staging}/docs/{shard.index:05d}", self.schema) as writer, signed as signatures:
            pending: list = []
            row = 0
            for item in self.reader.items(shard.source, shard.format, shard.path):
                yield TaggedOutput(EVENTS, ("input", shard.source, ""))
                if isinstance(item, Document) and item.meta.get("replaced_bytes"):
                    yield TaggedOutput(EVENTS, ("notes", shard.source, "read/documents_with_replaced_bytes"))
                pending.append(item)
                if len(pending) >= BATCH:
                    row = yield from self._stage(shard, pending, row, writer, signatures)
                    pending = []
            yield from self._stage(shard, pending, row, writer, signatures)
        signed_paths = signatures.paths if signatures is not None else []
        yield TaggedOutput(SHARDS, (shard.index, StagedShard(shard.source, shard.part,
                                                             writer.paths[0] if writer.paths else None,
                                                             signed_paths[0] if signed_paths else None)))

    def _stage(self, shard: Shard, items: list, row: int, writer: ShardWriter, signatures: Optional[ShardWriter]):
        """Run the document stages on `items`, and stage them from row `row` on; returns the next row."""
        batch = yield from self._accounted(shard, self.chains(items))
        yield from self._flush(shard, list(enumerate(batch, row)), writer, signatures)
        return row + len(batch)

    def _accounted(self, shard: Shard, items: list):
        """Score the documents among `items` where the quality models cover the source; yield the
        ledger events of failures and removals; return what is staged (documents, and removed ones
        when they are kept)."""
        if self.scorer is not None and shard.source in self.corpus.models.sources:
            at = [i for i, item in enumerate(items) if isinstance(item, Document)]
            for i, result in zip(at, score_batch(self.scorer, [items[i] for i in at])):
                items[i] = result
        staged = []
        for item in items:
            if isinstance(item, Failed):
                yield TaggedOutput(EVENTS, ("errors", item.source, item.key))
                if item.unread_file:
                    yield TaggedOutput(EVENTS, ("unread_files", item.source, item.key))
                continue
            if isinstance(item, Rejected):
                yield TaggedOutput(EVENTS, ("removed", item.doc.source, item.key))
                if not self.corpus.keep_rejected:
                    continue
            staged.append(item)
        return staged

    def _flush(self, shard: Shard, batch: list, writer: ShardWriter, signatures: Optional[ShardWriter]):
        docs = [(row, item) for row, item in batch if isinstance(item, Document)]
        near = self.corpus.near_keys
        signed = signatures is not None and docs
        matrix = self.hasher.signatures([doc.text for _, doc in docs]) if signed else None
        for row, item in batch:
            writer.write(document_row(item.doc, self.schema, item) if isinstance(item, Rejected)
                         else document_row(item, self.schema))
        for i, (row, doc) in enumerate(docs):
            uid = self.corpus.ids.uid(shard.index, row)
            if signed:
                signatures.write(signature_row(row, doc, keep_rank(doc, near.keep, near.keep_signal), matrix[i]))
                if matrix[i].min() == np.iinfo(np.uint32).max:
                    yield TaggedOutput(EVENTS, ("notes", doc.source, NO_WORDS))
            if shard.source in self.corpus.exact:
                yield TaggedOutput(EXACT, (bytes.fromhex(content_hash(doc.text)), ExactCopy(doc.id, doc.source, uid)))
            elif signed:
                for entry in band_entries(uid, matrix[i], near.bands, near.rows):
                    yield TaggedOutput(NEAR, entry)
            if shard.source in self.corpus.paragraphs:
                hashes, indexes = paragraph_keys(doc.text, self.corpus.paragraph_min_chars)
                if hashes:
                    yield TaggedOutput(PARAGRAPHS, (uid, ParagraphKeys(doc.id, doc.source, hashes, indexes)))


class StageShards(beam.PTransform):
    """The manifest's input files → tagged outputs: EXACT (hash, ExactCopy), NEAR (band key, uid),
    PARAGRAPHS (uid, ParagraphKeys), ledger EVENTS, and SHARDS (one per input file: (index,
    StagedShard)). `settings`: each source's fingerprint of what pass 1 does to it (a receipt is
    replayed only under the same one)."""

    def __init__(self, manifest: str, options: dict[str, ReadOptions], chains: dict[str, list[DocumentFilter]],
                 corpus: Corpus, staging: str, schema: pa.Schema, settings: dict[str, str]):
        super().__init__()
        self.manifest = manifest
        self.args = (options, chains, corpus, staging, schema, settings)

    def expand(self, pbegin):
        staged = (pbegin
                  | "Manifest" >> beam.Create([self.manifest])
                  | "ListShards" >> beam.FlatMap(read_manifest)
                  | "SpreadShards" >> beam.Reshuffle()
                  | "StageShard" >> beam.ParDo(_StageShardFn(*self.args)).with_outputs(
                      EXACT, NEAR, PARAGRAPHS, EVENTS, SHARDS))
        types = {EXACT: tuple[bytes, ExactCopy], NEAR: tuple[int, int], PARAGRAPHS: tuple[int, ParagraphKeys],
                 SHARDS: tuple[int, StagedShard]}
        return {tag: typed(staged[tag], types[tag]) if tag in types else staged[tag]
                for tag in (EXACT, NEAR, PARAGRAPHS, EVENTS, SHARDS)}
