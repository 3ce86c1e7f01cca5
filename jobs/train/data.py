"""The trainer's view of a packed token folder: this rank's training stream and a held-out slice.

The held-out slice is the last shards of the manifest, as few as hold `eval_fraction` of the
rows (at least one, never all); training streams the others through `TokenStream`, so no
held-out row is ever trained on. A folder of one shard has no held-out slice. The folder may be
local or a URI that pyarrow reads (gs://, s3://, hdfs://).

The training rows are dealt into `lanes` (`TokenStream` partitions of spans of rows, a row
group long); rank `r` of `W` owns lanes `r, r + W, ...` and draws each row from its lane with
the fewest rows drawn so far. Every step thus takes the same rows whatever the number of
processes, as long as the global batch is the same, and the state (rows drawn per lane) is
global: a run resumes on another number of processes (at most `lanes`) where it stopped.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Iterator

import numpy as np
import pyarrow.parquet as pq

from tokenmill.jobs.train.token_stream import TokenStream


def hold_out(shards: list[dict[str, Any]], fraction: float) -> tuple[list[dict], list[dict]]:
    """(training shards, held-out shards): the held-out ones are taken from the end."""
    if len(shards) < 2:
        return list(shards), []
    total = sum(int(s["rows"]) for s in shards)
    held, rows = 0, 0
    while held < len(shards) - 1 and (held == 0 or rows < fraction * total):
        held += 1
        rows += int(shards[-held]["rows"])
    return list(shards[:-held]), list(shards[-held:])


def span_rows(train_rows: int, lanes: int, longest: int) -> int:
    """Rows a span: `longest` (a row group), less when the data is too small to give every lane one."""
    return max(1, min(longest, train_rows // lanes))


class TrainingData:
    def __init__(self, tokens_dir: str, eval_fraction: float, rank: int, world_size: int,
                 lanes: int | None = None, span: int | None = None, longest_span: int = 1024):
        """`lanes` defaults to `world_size`, `span` to what `span_rows` gives; a resumed run passes
        the ones it started with."""
        lanes = lanes or world_size
        if world_size > lanes:
            raise ValueError(f"the run's data has {lanes} lanes, which {world_size} processes cannot "
                             f"share; start a run with train.data_lanes set to the most processes it may use")
        head = TokenStream(tokens_dir)
        self.manifest = head.manifest
        train_shards, eval_shards = hold_out(self.manifest["shards"], eval_fraction)
        paths = [s["path"] for s in train_shards]
        self.lanes, self.span = lanes, span or span_rows(sum(int(s["rows"]) for s in train_shards), lanes,
                                                         longest_span)
        self.streams = {lane: TokenStream(tokens_dir, rank=lane, world_size=lanes, shards=paths,
                                          span_rows=self.span) for lane in range(rank, lanes, world_size)}
        self.seq_len: int = head.seq_len
        self.vocab_size: int = head.vocab_size
        self._eval_paths = [f"{tokens_dir.rstrip('/')}/{s['path']}" for s in eval_shards]
        self._eval_total = sum(int(s["rows"]) for s in eval_shards)
        self._rank, self._world_size = rank, world_size
        self._eval_rows: np.ndarray | None = None

    @property
    def has_eval(self) -> bool:
        return bool(self._eval_paths)

    def _next_lane(self) -> int:
        return min(self.streams, key=lambda lane: (self.streams[lane].rows_read, lane))

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, dict]]:
        """((batch_size, seq_len + 1) rows, the state after them), forever; an id outside the
        vocabulary is an error."""
        readers = {lane: iter(stream) for lane, stream in self.streams.items()}
        while True:
            batch = np.stack([next(readers[self._next_lane()]) for _ in range(batch_size)])
            low, high = int(batch.min()), int(batch.max())
            if low < 0 or high >= self.vocab_size:
                bad = low if low < 0 else high
                raise ValueError(f"token id {bad} in the packed rows is outside the manifest's "
                                 f"vocabulary of {self.vocab_size}")
            yield batch, self.state_dict()

    def skip(self, rows: int) -> None:
        """Move on by `rows` rows of this rank without reading them."""
        for _ in range(rows):
            self.streams[self._next_lane()].skip(1)

    def state_dict(self) -> dict:
        """This rank's lanes' positions; `merge` joins every rank's into the run's state."""
        return {"lanes": self.lanes, "span": self.span,
                "streams": {lane: stream.state_dict() for lane, stream in self.streams.items()}}

    @staticmethod
    def merge(states: list[dict]) -> dict:
        return {**states[0], "streams": {k: v for state in states for k, v in state["streams"].items()}}

    def load_state_dict(self, state: dict) -> None:
        """Take this rank's lanes from a run's state (saved by any number of processes)."""
        for lane, stream in self.streams.items():
            stream.load_state_dict(state["streams"][lane])

    def eval_batches(self, batch_size: int, count: int, even: bool = False) -> Iterator[np.ndarray]:
        """Up to `count` batches of this rank's share of the held-out rows, the same every call. `even`:
        every rank gets as many rows (a sharded model's forward pass needs every rank; a rank with
        one batch more would wait for the others for ever)."""
        if self._eval_rows is None:
            limit = batch_size * count
            self._eval_rows = self._read_eval_rows(min(limit, self._eval_total // self._world_size) if even
                                                   else limit)
        for start in range(0, len(self._eval_rows), batch_size):
            yield self._eval_rows[start:start + batch_size]

    def _read_eval_rows(self, limit: int) -> np.ndarray:
        width = self.seq_len + 1
        parts, have, seen = [], 0, 0
        for path in self._eval_paths:
            column = pq.read_table(path, columns=["tokens"]).column("tokens").combine_chunks()
            rows = column.flatten().to_numpy().astype(np.int64).reshape(-1, width)
            mine = rows[(self._rank - seen) % self._world_size::self._world_size]
            seen += len(rows)
            parts.append(mine[:limit - have])
            have += len(parts[-1])
            if have >= limit:
                break
        return np.concatenate(parts) if parts else np.zeros((0, width), dtype=np.int64)


class Prefetcher:
    """Items of an iterator read ahead on a background thread, `depth` at most waiting.

    `transform` (e.g. pinning host memory) runs on the thread too. An error on the thread is
    raised where the item would have been taken; `close` stops the thread.
    """

    def __init__(self, items: Iterator, depth: int = 2, transform=lambda item: item):
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, args=(items, transform), daemon=True)
        self._thread.start()

    def _fill(self, items: Iterator, transform) -> None:
        try:
            for item in items:
                if not self._put((transform(item), None)):
                    return
        except BaseException as err:  # handed to the consumer, raised there
            self._put((None, err))

    def _put(self, entry: tuple) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self):
        item, err = self._queue.get()
        if err is not None:
            raise err
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
