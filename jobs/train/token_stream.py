"""Stream packed training rows from a token folder, split across DDP ranks and loader workers.

A token folder (written by `tokenmill pack`) is `manifest.json` plus Parquet shards whose rows,
read in manifest order, are the training order. The rows are cut into spans of `span_rows`
consecutive rows; span `j` belongs to partition `j % P`, with `P = world_size * num_workers`
and this reader's partition `rank + worker * world_size`, so the partitions together cover
every row exactly once and each reader sees its rows in training order. With one-row spans
(the default) the partitions interleave row by row; with spans as long as a row group a reader
decodes only the row groups that hold its spans, 1/P of the folder. Reading is shard by shard
and row group by row group: memory holds one row group, whatever the folder's size.

Iteration never ends: after the partition's last row it starts the next pass. The position
(pass, row within the partition) is all the state there is, so `state_dict` /
`load_state_dict` resume exactly and `skip` advances without reading.

`TokenStream` is a `torch.utils.data.IterableDataset`: under a `DataLoader` with workers, each
worker reads its own share of the stream's partition (a stream made with `num_workers=1` splits
itself by the loader's workers), so `DataLoader(stream, batch_size=B, num_workers=N)` yields
every row of the partition once a pass, N readers decoding in parallel.
"""
from __future__ import annotations

import bisect
import copy
import hashlib
import json
from typing import Iterator, Optional, Sequence

import numpy as np
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from torch.utils.data import IterableDataset, get_worker_info

STATE_VERSION = 1


class TokenStream(IterableDataset):
    """One partition of a token folder's rows, as int64 arrays of `seq_len + 1` ids."""

    def __init__(self, tokens_dir: str, rank: int = 0, world_size: int = 1, worker: int = 0,
                 num_workers: int = 1, shards: Optional[Sequence[str]] = None, span_rows: int = 1):
        """`shards`, if given, restricts the stream to those manifest paths (kept in manifest order)."""
        if world_size < 1 or num_workers < 1 or span_rows < 1:
            raise ValueError(f"world_size ({world_size}), num_workers ({num_workers}) and span_rows "
                             f"({span_rows}) must be at least 1")
        if not 0 <= rank < world_size or not 0 <= worker < num_workers:
            raise ValueError(f"rank {rank} of {world_size} / worker {worker} of {num_workers} is out of range")
        self._fs, self._root = _filesystem(str(tokens_dir))
        manifest_path = f"{self._root}/manifest.json"
        try:
            with self._fs.open_input_stream(manifest_path) as handle:
                raw = handle.read()
        except FileNotFoundError:
            raise FileNotFoundError(f"{tokens_dir}: no manifest.json (run `tokenmill pack` first)") from None
        self.manifest: dict = json.loads(raw)
        self._manifest_sha256 = hashlib.sha256(raw).hexdigest()
        self.seq_len: int = int(self.manifest["seq_len"])
        self.vocab_size: int = int(self.manifest["tokenizer"]["vocab_size"])
        self._shards = _select(self.manifest["shards"], shards, tokens_dir)
        self._starts = [0]
        for shard in self._shards:
            self._starts.append(self._starts[-1] + int(shard["rows"]))
        self.total_rows: int = self._starts[-1]
        self.span_rows = span_rows
        self._world_size = world_size
        self.partitions = world_size * num_workers
        self.partition = rank + worker * world_size
        self._pass = 0
        self._position = 0

    def __len__(self) -> int:
        """Rows of this partition in one pass."""
        spans, tail = divmod(self.total_rows, self.span_rows)
        whole = max(0, -(-(spans - self.partition) // self.partitions))
        return whole * self.span_rows + (tail if spans % self.partitions == self.partition else 0)

    def _global_row(self, position: int) -> int:
        """The folder's row index of this partition's `position`-th row."""
        span, offset = divmod(position, self.span_rows)
        return (span * self.partitions + self.partition) * self.span_rows + offset

    def _owns_rows_in(self, start: int, end: int) -> bool:
        """Whether any row in [start, end) belongs to this partition."""
        first, last = start // self.span_rows, (end - 1) // self.span_rows
        return last - first + 1 >= self.partitions or any(
            span % self.partitions == self.partition for span in range(first, last + 1))

    def __iter__(self) -> Iterator[np.ndarray]:
        """Rows from the current position on, forever; the position advances as each is yielded.

        In a `DataLoader` worker, a stream made for one worker reads the worker's share instead.
        """
        info = get_worker_info()
        if info is not None and info.num_workers > 1 and self.partitions == self._world_size:
            if (self._pass, self._position) != (0, 0):
                raise ValueError("a DataLoader's workers start a stream at its beginning; "
                                 "resume a saved position with the stream itself")
            share = copy.copy(self)
            share.partition = self.partition + info.id * self.partitions
            share.partitions = self.partitions * info.num_workers
            share._world_size = share.partitions
            return share._iterate()
        return self._iterate()

    def _iterate(self) -> Iterator[np.ndarray]:
        if len(self) == 0:
            raise ValueError(f"partition {self.partition} of {self.partitions} has no rows: the folder "
                             f"holds {self.total_rows} rows, fewer than the partitions")
        while True:
            for row in self._rows_from(self._position):
                self._position += 1
                yield row
            self._pass += 1
            self._position = 0

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """(batch_size, seq_len + 1) int64 batches of consecutive rows of this partition, forever."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        rows = iter(self)
        while True:
            yield np.stack([next(rows) for _ in range(batch_size)])

    def skip(self, rows: int) -> None:
        """Advance the position by `rows` rows (across passes) without reading them."""
        if rows < 0:
            raise ValueError(f"cannot skip a negative number of rows ({rows})")
        if len(self) == 0:
            return
        passes, self._position = divmod(self._position + rows, len(self))
        self._pass += passes

    def state_dict(self) -> dict:
        """The position, plus what identifies the folder and the partition (plain ints and strs)."""
        passes, position = (self._pass + 1, 0) if self._position == len(self) else (self._pass, self._position)
        return {"version": STATE_VERSION, "manifest_sha256": self._manifest_sha256,
                "partition": self.partition, "partitions": self.partitions,
                "pass": passes, "position": position}

    def load_state_dict(self, state: dict) -> None:
        """Resume at a saved position; the folder and the partitioning must be the saved ones."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"token stream state version {state.get('version')!r}, expected {STATE_VERSION}")
        if state["manifest_sha256"] != self._manifest_sha256:
            raise ValueError("token stream state was saved on a different token folder (manifest differs)")
        if (state["partition"], state["partitions"]) != (self.partition, self.partitions):
            raise ValueError(f"token stream state is for partition {state['partition']} of "
                             f"{state['partitions']}, this reader is {self.partition} of {self.partitions}")
        if not 0 <= state["position"] < max(len(self), 1):
            raise ValueError(f"token stream position {state['position']} is outside the partition's "
                             f"{len(self)} rows")
        self._pass = int(state["pass"])
        self._position = int(state["position"])

    @property
    def rows_read(self) -> int:
        """Rows taken since the first pass began."""
        return self._pass * len(self) + self._position

    @property
    def passes(self) -> int:
        """Completed passes over this partition."""
        return self._pass

    def _rows_from(self, position: int) -> Iterator[np.ndarray]:
        """This partition's rows from its `position`-th row to the end of the pass."""
        first = self._global_row(position)
        index = bisect.bisect_right(self._starts, first) - 1
        for shard_index in range(index, len(self._shards)):
            for group_start, rows in self._row_groups(shard_index, first):
                at = np.arange(max(group_start, first), group_start + len(rows))
                mine = at[(at // self.span_rows) % self.partitions == self.partition]
                yield from rows[mine - group_start].astype(np.int64)

    def _row_groups(self, shard_index: int, first: int) -> Iterator[tuple[int, np.ndarray]]:
        """(global index of the group's first row, its rows) for each row group of a shard that
        holds rows of this partition from global row `first` on; the others are not decoded."""
        shard = self._shards[shard_index]
        path = f"{self._root}/{shard['path']}"
        width = self.seq_len + 1
        with self._fs.open_input_file(path) as handle:
            parquet = pq.ParquetFile(handle)
            if parquet.metadata.num_rows != int(shard["rows"]):
                raise ValueError(f"{shard['path']}: {parquet.metadata.num_rows} rows, "
                                 f"the manifest says {shard['rows']}")
            start = self._starts[shard_index]
            for group in range(parquet.num_row_groups):
                group_rows = parquet.metadata.row_group(group).num_rows
                if start + group_rows <= first or not self._owns_rows_in(max(start, first), start + group_rows):
                    start += group_rows
                    continue
                column = parquet.read_row_group(group, columns=["tokens"]).column("tokens").combine_chunks()
                values = column.flatten().to_numpy()
                if len(values) != len(column) * width or np.any(np.diff(column.offsets.to_numpy()) != width):
                    raise ValueError(f"{shard['path']}: a row is not seq_len + 1 = {width} ids long")
                yield start, values.reshape(len(column), width)
                start += len(column)


def _filesystem(tokens_dir: str) -> tuple[pafs.FileSystem, str]:
    if "://" in tokens_dir:
        fs, root = pafs.FileSystem.from_uri(tokens_dir)
        return fs, root.rstrip("/")
    return pafs.LocalFileSystem(), tokens_dir.rstrip("/") or "/"


def _select(shards: list[dict], paths: Optional[Sequence[str]], tokens_dir: str) -> list[dict]:
    if paths is None:
        return list(shards)
    wanted = set(paths)
    unknown = sorted(wanted - {s["path"] for s in shards})
    if unknown:
        raise ValueError(f"{tokens_dir}: shard {unknown[0]!r} is not in the manifest")
    return [s for s in shards if s["path"] in wanted]
