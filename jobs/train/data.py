"""The trainer's view of a packed token folder: this rank's training stream and a held-out slice.

The held-out slice is the last shards of the manifest, as few as hold `eval_fraction` of the
rows (at least one, never all); training streams the others through `TokenStream`, so no
held-out row is ever trained on. A folder of one shard has no held-out slice. The folder may be
local or a URI that pyarrow reads (gs://, s3://, hdfs://).
"""
from __future__ import annotations

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


class TrainingData:
    def __init__(self, tokens_dir: str, eval_fraction: float, rank: int, world_size: int):
        manifest = TokenStream(tokens_dir).manifest
        train_shards, eval_shards = hold_out(manifest["shards"], eval_fraction)
        self.stream = TokenStream(tokens_dir, rank=rank, world_size=world_size,
                                  shards=[s["path"] for s in train_shards])
        self.seq_len: int = self.stream.seq_len
        self.vocab_size: int = self.stream.vocab_size
        self._eval_paths = [f"{tokens_dir.rstrip('/')}/{s['path']}" for s in eval_shards]
        self._rank, self._world_size = rank, world_size
        self._eval_rows: np.ndarray | None = None

    @property
    def has_eval(self) -> bool:
        return bool(self._eval_paths)

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """(batch_size, seq_len + 1) rows, forever; an id outside the vocabulary is an error."""
        for batch in self.stream.batches(batch_size):
            low, high = int(batch.min()), int(batch.max())
            if low < 0 or high >= self.vocab_size:
                bad = low if low < 0 else high
                raise ValueError(f"token id {bad} in the packed rows is outside the manifest's "
                                 f"vocabulary of {self.vocab_size}")
            yield batch

    def skip(self, rows: int) -> None:
        self.stream.skip(rows)

    def state_dict(self) -> dict:
        return self.stream.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.stream.load_state_dict(state)

    def eval_batches(self, batch_size: int, count: int) -> Iterator[np.ndarray]:
        """Up to `count` batches of this rank's share of the held-out rows, the same every call."""
        if self._eval_rows is None:
            self._eval_rows = self._read_eval_rows(batch_size * count)
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
