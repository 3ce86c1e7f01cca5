"""Training metrics: `metrics.jsonl` and `events.jsonl` in the run folder, TensorBoard when installed.

Model FLOPs utilisation (MFU, Chowdhery et al. 2022, appendix B) is achieved model FLOPs per
second over the device's peak dense bf16 rate (`jobs.hardware`); the trainer computes it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable


class JsonlLog:
    """One JSON object per line, appended and flushed as it comes."""

    def __init__(self, path: Path):
        self.path = path
        self._handle = None

    def truncate(self, keep: Callable[[dict[str, Any]], bool]) -> None:
        """Keep only the records for which `keep` is true (on resume, those not about to be redone).

        A line cut short by a crash mid-write is dropped with the rest.
        """
        if not self.path.exists():
            return
        records = []
        for line in self.path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        self.path.write_text("".join(json.dumps(r) + "\n" for r in records if keep(r)))

    def write(self, record: dict[str, Any]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a")
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class MetricsSink:
    """Where the rank-0 process reports: metrics, events, and TensorBoard scalars if available."""

    def __init__(self, run_dir: Path, tensorboard: bool):
        self.metrics = JsonlLog(run_dir / "metrics.jsonl")
        self.events = JsonlLog(run_dir / "events.jsonl")
        self._board = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                pass
            else:
                self._board = SummaryWriter(str(run_dir / "tensorboard"))

    def resume_at(self, step: int, rollbacks: int) -> None:
        """Forget what happened after the checkpoint of `step`, which had seen `rollbacks` rollbacks."""
        self.metrics.truncate(lambda r: r["step"] <= step)
        self.events.truncate(lambda r: r["step"] <= step or r.get("rollbacks", 0) <= rollbacks)

    def log(self, record: dict[str, Any]) -> None:
        self.metrics.write(record)
        if self._board is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self._board.add_scalar(key, value, record["step"])

    def event(self, record: dict[str, Any]) -> None:
        self.events.write(record)

    def close(self) -> None:
        self.metrics.close()
        self.events.close()
        if self._board is not None:
            self._board.close()
