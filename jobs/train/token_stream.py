"""Stream packed training rows from a token folder, split across DDP ranks and loader workers.

A token folder (written by `tokenmill pack`) is `manifest.json` plus Parquet shards whose rows,
read in manifest order, are the training order. Global row `g` belongs to partition
`g % P`, with `P = world_size * num_workers` and this reader's partition
`rank * num_workers + worker`, so the partitions together cover every row exactly once and
each reader sees its rows in training order. Reading is shard by shard and row group by row
group: memory holds one row group, whatever the folder's size.

Iteration never ends: after the partition's last row it starts the next pass. The position
(pass, row within the partition) is all the state there is, so `state_dict` /
`load_state_dict` resume exactly and `skip` advances without reading.
"""
from __future__ import annotations

import bisect
import hashlib
import json
from typing import Iterator, Optional, Sequence

import numpy as np
import pyarrow.fs as pafs
import pyarrow.parquet as pq

STATE_VERSION = 1


class TokenStream:
    """One partition of a token folder's rows, as int64 arrays of `seq_len + 1` ids."""

    def __init__(self, tokens_dir: str, rank: int = 0, world_size: int = 1, worker: int = 0,
                 num_workers: int = 1, shards: Optional[Sequence[str]] = None):
        """`shards`, if given, restricts the stream to those manifest paths (kept in manifest order)."""
        if world_size < 1 or num_workers < 1:
            raise ValueError(f"world_size ({world_size}) and num_workers ({num_workers}) must be at least 1")
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
        self.partitions = world_size * num_workers
        self.partition = rank * num_workers + worker
        self._pass = 0
        self._position = 0

    def __len__(self) -> int:
        """Rows of this partition in one pass."""
        return max(0, -(-(self.total_rows - self.partition) // self.partitions))

    def __iter__(self) -> Iterator[np.ndarray]:
        """Rows from the current position on, forever; the position advances as each is yielded."""
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
        return {"version": STATE_VERSION, "manifest_sha256": self._manifest_sha256,
                "partition": self.partition, "partitions": self.partitions,
                "pass": self._pass, "position": self._position}

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
    def passes(self) -> int:
        """Completed passes over this partition."""
        return self._pass

    def _rows_from(self, position: int) -> Iterator[np.ndarray]:
        """This partition's rows from its `position`-th row to the end of the pass."""
        first = self.partition + position * self.partitions
        index = bisect.bisect_right(self._starts, first) - 1
        for shard_index in range(index, len(self._shards)):
            for group_start, rows in self._row_groups(shard_index):
                group_end = group_start + len(rows)
                if group_end <= first:
                    continue
                local = rows[first - group_start::self.partitions]
                yield from local.astype(np.int64)
                first += len(local) * self.partitions

    def _row_groups(self, shard_index: int) -> Iterator[tuple[int, np.ndarray]]:
        """(global index of the group's first row, its rows) for each row group of a shard."""
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
