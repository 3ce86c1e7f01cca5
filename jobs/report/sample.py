"""What the report reads of an output folder, through Beam's file systems (local, `gs://`, `s3://`,
`hdfs://` alike), in amounts that do not grow with the corpus.

Counts come from the ledger and the manifest. Rows come from a bounded sample of the Parquet shards:
per source, up to FILES_PER_SOURCE shards spread evenly over its listing, and from each only its first
rows, so that a source's share of the sample's SAMPLE_ROWS follows its share of the documents (never
less than MIN_ROWS_PER_SOURCE, so a small source still shows). Only the columns a chart needs are read,
one row group at a time; document text is read for the examples only, a batch at a time.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator, Optional

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

FILES_PER_SOURCE = 16
SAMPLE_ROWS = 20_000
MIN_ROWS_PER_SOURCE = 1_000
BATCH_ROWS = 1024


def read_json(path: str) -> Optional[dict]:
    """A JSON file's mapping, or None when there is no such file."""
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as stream:
        return json.loads(stream.read().decode("utf-8"))


def read_lines(path: str) -> Iterator[str]:
    """The lines of a text file, streamed (none when there is no such file)."""
    if not FileSystems.exists(path):
        return
    with FileSystems.open(path) as stream:
        for line in stream:
            yield line.decode("utf-8")


def spread(items: list, count: int) -> list:
    """Up to `count` of `items`, evenly spaced from the first, in order."""
    if len(items) <= count:
        return list(items)
    return [items[i * len(items) // count] for i in range(count)]


@dataclass(frozen=True)
class ShardRead:
    """One shard of the sample, and how many of its first rows to read."""

    source: str
    path: str
    rows: int


@dataclass(frozen=True)
class ShardSample:
    """A bounded sample of the shards `<folder>/<source>/*.parquet` (see the module's docstring)."""

    reads: tuple[ShardRead, ...]
    documents: int    # rows the folder holds, by the ledger
    shards: int       # shards the folder holds

    @classmethod
    def of(cls, folder: str, documents: dict[str, int]) -> "ShardSample":
        """The sample of `folder` whose sources hold `documents` rows each (the ledger's counts)."""
        try:
            listed = FileSystems.match([f"{folder.rstrip('/')}/*/*.parquet"])[0].metadata_list
        except BeamIOError:
            listed = []
        by_source: dict[str, list[str]] = defaultdict(list)
        for meta in listed:
            by_source[meta.path.rstrip("/").rsplit("/", 2)[-2]].append(meta.path)
        total = sum(documents.get(source, 0) for source in by_source) or 1
        reads = []
        for source, paths in sorted(by_source.items()):
            chosen = spread(sorted(paths), FILES_PER_SOURCE)
            wanted = max(MIN_ROWS_PER_SOURCE, SAMPLE_ROWS * documents.get(source, 0) // total)
            reads += [ShardRead(source, path, math.ceil(wanted / len(chosen))) for path in chosen]
        return cls(tuple(reads), sum(documents.values()), len(listed))

    def schema(self) -> dict[str, pa.DataType]:
        """Every column of the sampled shards, with its type (from their footers)."""
        columns: dict[str, pa.DataType] = {}
        for read in self.reads:
            with FileSystems.open(read.path) as stream:
                for field in pq.read_schema(stream):
                    columns.setdefault(field.name, field.type)
        return columns

    def batches(self, columns: list[str], batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The sample's rows, `columns` only (null where a shard lacks one), shard by shard."""
        for read in self.reads:
            with FileSystems.open(read.path) as stream:
                shard = pq.ParquetFile(stream)
                present = [c for c in columns if c in shard.schema_arrow.names]
                left = read.rows
                for batch in shard.iter_batches(columns=present, batch_size=min(batch_rows, read.rows)):
                    batch = batch.slice(0, left)
                    left -= batch.num_rows
                    yield pa.RecordBatch.from_arrays(
                        [batch.column(c) if c in present else pa.nulls(batch.num_rows) for c in columns], columns)
                    if left <= 0:
                        break

    def table(self, columns: list[str]) -> pa.Table:
        """The sample's rows as one table of `columns` (a column null in some shards takes the others' type)."""
        tables = [pa.Table.from_batches([batch]) for batch in self.batches(columns)]
        if not tables:
            return pa.table({c: pa.nulls(0) for c in columns})
        return pa.concat_tables(tables, promote_options="permissive")
