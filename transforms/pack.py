"""Tokenizing and packing in Beam: each curated shard becomes rows of `width` ids inside a worker.

A pack group is one curated shard: its documents, in the shard's (id) order, are encoded and packed
into a raw file of little-endian int32 rows through Beam's FileSystems, and the worker yields only
counts (`PackGroup`). Memory holds one batch of documents and one block of rows, or the best-fit
buffer; the launcher never sees a token.

- `pack_concat`: documents joined with the end-of-text token after each, cut into rows of
  `width` ids with no padding; a long document runs over several rows, and only the last partial
  row of the group is dropped.
- `pack_bestfit`: BOS-aligned best-fit. Each document is the end-of-text token then its ids, cut
  into pieces of at most `width`; a row is filled with the largest buffered piece that fits, again
  and again, and when none fits the shortest is cropped to fill the row exactly. So a row never
  starts inside a document except on a continuation piece of a document longer than a row, and
  truncation is rare (Ding et al. 2024, "Fewer Truncations Improve Language Modeling").

A group holds one source's documents, so a row never mixes sources.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator, Optional

import apache_beam as beam
import numpy as np
import pyarrow.compute as pc
from tokenmill.transforms.files import AtomicFile
from tokenmill.transforms.formats.common import open_raw
from tokenmill.transforms.tokenize import (CuratedShardError, Encoder, curated_batches, curated_files, read_json,
                                           write_json)

BLOCK_ROWS = 1024
ROW_DTYPE = np.dtype("<i4")      # rows files: little-endian int32, `width` ids a row


@dataclass
class PackStats:
    documents: int = 0
    tokens: int = 0          # document ids plus one separator each
    dropped: int = 0         # ids that did not reach a row (cropped tails, the last partial row)
    dropped_at_end: int = 0  # of those, the ids of the group's last partial row


def pack_concat(docs: Iterable[np.ndarray], eot: int, width: int, stats: PackStats) -> Iterator[np.ndarray]:
    """Blocks of rows (n, width) int32 from documents each followed by `eot`; no padding."""
    separator = np.array([eot], dtype=np.int32)
    pending, size = [], 0
    for doc in docs:
        pending += [doc, separator]
        size += len(doc) + 1
        stats.documents += 1
        stats.tokens += len(doc) + 1
        if size >= width * BLOCK_ROWS:
            rows, pending, size = _cut(pending, width)
            yield rows
    rows, _, size = _cut(pending, width)
    stats.dropped += size
    stats.dropped_at_end += size
    if len(rows):
        yield rows


def _cut(pending: list[np.ndarray], width: int) -> tuple[np.ndarray, list[np.ndarray], int]:
    flat = np.concatenate(pending).astype(np.int32, copy=False) if pending else np.zeros(0, np.int32)
    count = len(flat) // width
    rest = flat[count * width:]
    return flat[:count * width].reshape(count, width), [rest], len(rest)


def pack_bestfit(docs: Iterable[np.ndarray], eot: int, width: int, buffer: int,
                 stats: PackStats) -> Iterator[np.ndarray]:
    """Blocks of BOS-aligned best-fit rows; `buffer` pieces are kept to choose among."""
    pieces = _pieces(docs, eot, width, stats)
    keys: list[tuple[int, int]] = []          # (length, arrival), sorted
    store: dict[int, np.ndarray] = {}
    arrival = 0

    def refill():
        nonlocal arrival
        while len(keys) < buffer:
            piece = next(pieces, None)
            if piece is None:
                return
            bisect.insort(keys, (len(piece), arrival))
            store[arrival] = piece
            arrival += 1

    block = []
    refill()
    while keys:
        row, room = [], width
        while room and keys:
            fit = bisect.bisect_right(keys, (room, math.inf)) - 1
            if fit >= 0:
                fit = bisect.bisect_left(keys, (keys[fit][0], -1))
                length, key = keys.pop(fit)
                row.append(store.pop(key))
                room -= length
            else:
                length, key = keys.pop(0)
                row.append(store.pop(key)[:room])
                stats.dropped += length - room
                room = 0
            refill()
        if room:
            stats.dropped += width - room
            stats.dropped_at_end += width - room
            break
        block.append(np.concatenate(row))
        if len(block) == BLOCK_ROWS:
            yield np.stack(block)
            block = []
    if block:
        yield np.stack(block)


def _pieces(docs: Iterable[np.ndarray], eot: int, width: int, stats: PackStats) -> Iterator[np.ndarray]:
    for doc in docs:
        item = np.concatenate([np.array([eot], dtype=np.int32), np.asarray(doc, dtype=np.int32)])
        stats.documents += 1
        stats.tokens += len(item)
        for start in range(0, len(item), width):
            yield item[start:start + width]


@dataclass(frozen=True)
class PackGroup:
    """What a worker reports for one curated shard: counts, and where its rows are."""
    source: str
    shard: str                 # the curated shard
    rows_path: str             # its rows, `width` int32 ids each
    rows: int = 0
    documents: int = 0         # documents tokenized (non-empty text)
    empty_documents: int = 0   # documents with empty or null text: no tokens
    text_bytes: int = 0        # UTF-8 bytes of the documents tokenized
    tokens: int = 0            # their ids plus one separator each
    dropped: int = 0           # ids not in a row
    dropped_at_end: int = 0    # of those, the group's last partial row
    error: Optional[str] = None


def rows_path(work: str, source: str, shard: str) -> str:
    return f"{work}/{source}/{shard.rsplit('/', 1)[-1].removesuffix('.parquet')}.rows"


class TokenizePackFn(beam.DoFn):
    """(source, curated shard) → its rows file, written through FileSystems; yields a PackGroup.

    Reads the shard a batch of `batch_docs` documents at a time (their order is the shard's, sorted
    by id), encodes each batch in one call, and streams the packed blocks out. A shard that cannot
    be read is reported in its PackGroup's `error`, not raised, so the launcher can name it."""

    def __init__(self, encoder: Encoder, work: str, eot: int, width: int, packing: str, bestfit_buffer: int,
                 batch_docs: int):
        self.encoder, self.work, self.eot, self.width = encoder, work, eot, width
        self.packing, self.bestfit_buffer, self.batch_docs = packing, bestfit_buffer, batch_docs
        self.documents = beam.metrics.Metrics.counter("pack", "documents")
        self.rows = beam.metrics.Metrics.counter("pack", "rows")

    def process(self, element: tuple[str, str]) -> Iterator[PackGroup]:
        source, shard = element
        target = rows_path(self.work, source, shard)
        stats, read = PackStats(), {"documents": 0, "bytes": 0}
        rows = 0
        try:
            with open_raw(shard) as handle, AtomicFile(target) as sink:
                docs = self._encoded(curated_batches(handle, shard, self.batch_docs), read)
                if self.packing == "bos-bestfit":
                    blocks = pack_bestfit(docs, self.eot, self.width, self.bestfit_buffer, stats)
                else:
                    blocks = pack_concat(docs, self.eot, self.width, stats)
                for block in blocks:
                    sink.write(np.ascontiguousarray(block, dtype=ROW_DTYPE).tobytes())
                    rows += len(block)
        except CuratedShardError as err:
            yield PackGroup(source, shard, target, error=str(err))
            return
        self.documents.inc(stats.documents)
        self.rows.inc(rows)
        yield PackGroup(source, shard, target, rows, stats.documents, read["documents"] - stats.documents,
                        read["bytes"], stats.tokens, stats.dropped, stats.dropped_at_end)

    def _encoded(self, batches, read: dict) -> Iterator[np.ndarray]:
        for batch in batches:
            text = batch.column("text")
            read["documents"] += len(text)
            read["bytes"] += int(pc.sum(pc.binary_length(text)).as_py() or 0)
            texts = [t for t in text.to_pylist() if t]
            for ids in self.encoder.encode_batch(texts):
                yield np.asarray(ids, dtype=np.int32)


class PackGroups(beam.PTransform):
    """[(source, pattern of its curated shards)] → one rows file per shard under `work`, tokenized and
    packed in parallel, and `work`/groups.json: the PackGroup of every shard (counts only). Workers
    list the shards; the graph holds one pattern per source."""

    def __init__(self, patterns: list[tuple[str, str]], fn: TokenizePackFn):
        super().__init__()
        self.patterns, self.fn = patterns, fn

    def expand(self, pbegin):
        summary = groups_file(self.fn.work)
        return (pbegin
                | "Patterns" >> beam.Create(self.patterns)
                | "Shards" >> beam.FlatMapTuple(curated_files)
                | "Spread" >> beam.Reshuffle()
                | "TokenizePack" >> beam.ParDo(self.fn)
                | "Gather" >> beam.combiners.ToList()
                | "Write" >> beam.Map(lambda groups: write_json(
                    summary, sorted([asdict(g) for g in groups], key=lambda g: (g["source"], g["shard"])))))


def groups_file(work: str) -> str:
    return f"{work}/groups.json"


def read_groups(work: str) -> list[PackGroup]:
    """The PackGroups the pipeline wrote, in (source, shard) order."""
    return read_groups_file(groups_file(work))


def read_groups_file(path: str) -> list[PackGroup]:
    return [PackGroup(**item) for item in read_json(path)]
