"""Writing documents as Parquet shards whose bytes do not depend on the runner or the worker count.

Each source gets ceil(count / rows_per_shard) shards; a document goes to shard
stable_hash(id) mod that number, and each shard is sorted before it is written. So the same
documents always make the same files, whatever order the runner delivered them in. Shards
that receive no document are never written.
"""
from __future__ import annotations

import json
import math
from typing import Iterable, Optional

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from tokenmill.filters.document import Document, Rejected, stable_hash

BASE_COLUMNS = {
    "id": pa.string(),
    "source": pa.string(),
    "text": pa.string(),
    "url": pa.string(),
    "lang": pa.string(),
    "lang_score": pa.float64(),
    "meta": pa.string(),
}
REJECT_COLUMNS = {"stage": pa.string(), "reason": pa.string(), "duplicate_of": pa.string(),
                  "rewritten_text": pa.string()}
SIGNAL_TYPES = {"int": pa.int64(), "float": pa.float64(), "str": pa.string()}


def document_schema(signal_types: dict[str, str], rejected: bool = False) -> pa.Schema:
    """Base columns, then the signals in name order, then (for rejects) stage, reason, duplicate_of and
    rewritten_text (the removing stage's rewrite of `text`, where it made one)."""
    fields = dict(BASE_COLUMNS)
    for name in sorted(signal_types):
        if name not in fields:
            fields[name] = SIGNAL_TYPES[signal_types[name]]
    if rejected:
        fields.update(REJECT_COLUMNS)
    return pa.schema(list(fields.items()))


def document_row(doc: Document, schema: pa.Schema, reject: Optional[Rejected] = None) -> dict:
    row = {
        "id": doc.id, "source": doc.source, "text": doc.text, "url": doc.url, "lang": doc.lang,
        "lang_score": doc.lang_score, "meta": json.dumps(doc.meta, sort_keys=True, ensure_ascii=False, default=str),
    }
    for name in schema.names:
        if name not in row and name not in REJECT_COLUMNS:
            row[name] = doc.signals.get(name)
    if reject is not None:
        row.update(stage=reject.stage, reason=reject.reason, duplicate_of=reject.duplicate_of,
                   rewritten_text=reject.rewritten_text)
    return row


def row_order(row: dict):
    return row["id"], row["meta"], row["text"]


def write_shard(path: str, rows: Iterable[dict], schema: pa.Schema) -> tuple[str, int]:
    rows = sorted(rows, key=row_order)
    table = pa.Table.from_pylist(rows, schema=schema)
    with FileSystems.create(path) as sink:
        pq.write_table(table, sink, compression="zstd")
    return path, len(rows)


class WriteShards(beam.PTransform):
    """Documents (or Rejected) → `<root>/<source>/part-NNNNN.parquet`; outputs (path, rows)."""

    def __init__(self, root: str, signal_types: dict[str, str], rows_per_shard: int, rejected: bool = False):
        super().__init__()
        self.root = root.rstrip("/")
        self.schema = document_schema(signal_types, rejected)
        self.rows_per_shard = rows_per_shard
        self.rejected = rejected

    def expand(self, items):
        schema, rejected = self.schema, self.rejected

        def to_row(item):
            return document_row(item.doc, schema, item) if rejected else document_row(item, schema)

        rows = items | "ToRow" >> beam.Map(to_row)
        counts = rows | "Sources" >> beam.Map(lambda r: r["source"]) | "CountPerSource" >> beam.combiners.Count.PerElement()
        per_shard = self.rows_per_shard

        def shard_key(row, counts):
            shards = max(1, math.ceil(counts[row["source"]] / per_shard))
            return (row["source"], stable_hash(row["source"], row["id"], row["meta"]) % shards), row

        root = self.root
        return (
            rows
            | "KeyByShard" >> beam.Map(shard_key, counts=beam.pvalue.AsDict(counts))
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard" >> beam.MapTuple(
                lambda key, shard_rows: write_shard(f"{root}/{key[0]}/part-{key[1]:05d}.parquet", shard_rows, schema))
        )
