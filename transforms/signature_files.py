"""MinHash signature files: one Parquet file per staged shard, written in pass 1, read where a
decision needs them.

A row per document the shard stages for near-dedup: its row in the staged shard, id, source, the
keep rule's value (`keep_rank`, smaller kept) and the signature (num_perm little-endian uint32).
Pass 2 reads a file when a shard's group needs its band keys, its signatures for the pairs to
verify, or its members' ranks; nothing of a signature travels through a shuffle but the signatures
one shard sends another for a pair that spans them. Incremental runs keep a run's files
(`save_signatures`) and read them back as earlier shards.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from tokenmill.filters.document import Document
from tokenmill.transforms.write import ShardWriter

SIGNATURE_SCHEMA = pa.schema([("row", pa.int64()), ("id", pa.string()), ("source", pa.string()),
                              ("keep_rank", pa.float64()), ("signature", pa.binary())])
RANK_COLUMNS = ("id", "source", "keep_rank")


def keep_rank(doc: Document, keep: str, signal: Optional[str]) -> float:
    """The keep rule's value for `doc`, smaller kept (ties go to the lower id): `lowest_id` 0, `longest`
    minus the text's length, `best_signal` minus the signal (a document without it ranks last)."""
    if keep == "longest":
        return -float(len(doc.text))
    if keep == "best_signal":
        value = doc.signals.get(signal) if signal else None
        return -float(value) if isinstance(value, (int, float)) else float("inf")
    return 0.0


def signature_writer(folder: str, shard: int) -> ShardWriter:
    """The writer of staged shard `shard`'s signature file; `close()` gives the path it wrote."""
    return ShardWriter(f"{folder.rstrip('/')}/part-{shard:05d}", SIGNATURE_SCHEMA)


def signature_row(row: int, doc: Document, rank: float, signature: np.ndarray) -> dict:
    return {"row": row, "id": doc.id, "source": doc.source, "keep_rank": rank,
            "signature": signature.astype("<u4").tobytes()}


def signature_files(folders: Sequence[str]) -> list[str]:
    """The signature files of earlier runs, in a fixed order."""
    return sorted(m.path for folder in folders
                  for m in FileSystems.match([folder.rstrip("/") + "/*.parquet"])[0].metadata_list)


def signature_rows(path: str) -> int:
    """The number of signatures a file holds (from its footer)."""
    with FileSystems.open(path) as handle:
        return pq.ParquetFile(handle).metadata.num_rows


class SignatureFile:
    """One signature file in memory, looked up by staged row: the signatures as one uint32 matrix,
    the ranks' columns when asked for. Files of earlier versions count rows by position where they
    have no row column, and rank 0 where they have no keep_rank."""

    def __init__(self, path: str, ranks: bool = False):
        with FileSystems.open(path) as handle:
            parquet = pq.ParquetFile(handle)
            names = parquet.schema_arrow.names
            table = parquet.read(columns=[c for c in ("row", *(RANK_COLUMNS if ranks else ("signature",)))
                                          if c in names])
        self.rows = (table.column("row").to_numpy() if "row" in names else np.arange(table.num_rows))
        self.order = np.argsort(self.rows, kind="stable")
        if ranks:  # kept as Arrow columns: a few members of a file are looked up
            self.ids, self.sources = table.column("id"), table.column("source")
            self.keep_ranks = table.column("keep_rank") if "keep_rank" in names else None
        else:
            self.signatures = fixed_width_matrix(table.column("signature").combine_chunks())

    def position(self, row: int) -> int:
        found = int(np.searchsorted(self.rows, row, sorter=self.order))
        if found == len(self.rows) or self.rows[self.order[found]] != row:
            raise KeyError(f"row {row} has no signature")
        return int(self.order[found])

    def signature(self, row: int) -> np.ndarray:
        return self.signatures[self.position(row)]

    def rank(self, row: int) -> tuple[float, str, str]:
        """(keep_rank, id, source) of the document at `row`."""
        at = self.position(row)
        keep_rank = self.keep_ranks[at].as_py() if self.keep_ranks is not None else 0.0
        return keep_rank, self.ids[at].as_py(), self.sources[at].as_py()


def fixed_width_matrix(column: pa.BinaryArray) -> np.ndarray:
    """A binary column of equal-length uint32 vectors as one (rows, width) matrix over Arrow's own
    buffer: no Python object per row."""
    if not len(column):
        return np.empty((0, 0), dtype="<u4")
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[column.offset:column.offset + len(column) + 1]
    data = np.frombuffer(column.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    return data.view("<u4").reshape(len(column), -1)
