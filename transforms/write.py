"""Documents as Parquet rows, and shard files written and read a batch at a time.

Every file of a run (staged, curated, rejected) has the same columns: the base columns, the
signals in name order, and for staged and rejected files the stage, reason and duplicate_of of a
removal. A `ShardWriter` holds one row group at a time and starts a new file every
`rows_per_file` rows, so a file's bytes depend only on its rows, in order, never on the runner;
each file is written under a temporary name and renamed when complete (transforms/files.py).
"""
from __future__ import annotations

import json
from typing import Iterator, Optional

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from tokenmill.filters.document import Document, Rejected
from tokenmill.transforms.files import AtomicFile

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
ROW_GROUP_ROWS = 1024


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


def row_document(row: dict) -> Document | Rejected:
    """A staged row back as the Document it was (or the Rejected, when the row names a stage)."""
    signals = {name: value for name, value in row.items()
               if name not in BASE_COLUMNS and name not in REJECT_COLUMNS and value is not None}
    doc = Document(row["id"], row["source"], row["text"], row["url"], row["lang"], row["lang_score"],
                   json.loads(row["meta"]), signals)
    if row.get("stage"):
        return Rejected(doc, row["stage"], row["reason"], row["duplicate_of"], row.get("rewritten_text"))
    return doc


class ShardWriter:
    """Rows → `<prefix>-NNNN.parquet` files of at most `rows_per_file` rows (zstd, fixed row groups).
    Nothing is written for no rows; `close()` returns the paths written. Each file appears whole when
    it is complete; as a context manager, a block that raises leaves no file of its own half-written."""

    def __init__(self, prefix: str, schema: pa.Schema, rows_per_file: int = 1 << 62):
        self.prefix, self.schema, self.rows_per_file = prefix, schema, rows_per_file
        self.paths: list[str] = []
        self._rows: list[dict] = []
        self._in_file = 0
        self._file: AtomicFile | None = None
        self._writer = None

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            self.discard()
            return
        try:
            self.close()
        except BaseException:
            self.discard()
            raise

    def write(self, row: dict) -> None:
        self._rows.append(row)
        if len(self._rows) >= ROW_GROUP_ROWS or self._in_file + len(self._rows) >= self.rows_per_file:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        if self._writer is None:
            path = f"{self.prefix}-{len(self.paths):04d}.parquet"
            self.paths.append(path)
            self._file = AtomicFile(path)
            self._writer = pq.ParquetWriter(self._file.sink, self.schema, compression="zstd")
        self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
        self._in_file += len(self._rows)
        self._rows = []
        if self._in_file >= self.rows_per_file:
            self._close_file()

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._file.commit()
            self._writer = self._file = None
            self._in_file = 0

    def close(self) -> list[str]:
        self._flush()
        self._close_file()
        return self.paths

    def discard(self) -> None:
        """Drop the file being written (files already complete stay)."""
        if self._file is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - it may fail on the very sink that failed; the file goes anyway
                pass
            finally:
                self._file.discard()
                self._writer = self._file = None


def read_rows(path: str, batch_rows: int = ROW_GROUP_ROWS) -> Iterator[dict]:
    """The rows of a Parquet file, in order, one batch in memory at a time."""
    with FileSystems.open(path) as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=batch_rows):
            yield from batch.to_pylist()
