"""Safety rails: spot a loss spike or a non-finite step before its update is applied.

The spike test is the chapter's `detect_loss_spike` (../shared/reference/pretraining.md):
with `window` losses including the newest, the newest is a spike when it exceeds the mean of
the `window - 1` before it by more than `threshold` population standard deviations.
What to do about one (roll back, skip the data window) is the trainer's business.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np


class TrainingDiverged(RuntimeError):
    """More anomalies than `max_rollbacks` allows."""


@dataclass(frozen=True)
class Anomaly:
    kind: str  # "spike" or "nonfinite"
    loss: float
    grad_norm: float
    mean: float = math.nan
    std: float = math.nan


class LossRails:
    """The recent losses of accepted steps, and the verdict on a new one."""

    def __init__(self, window: int = 100, threshold: float = 3.0):
        self.window = window
        self.threshold = threshold
        self.history: deque[float] = deque(maxlen=window - 1)

    def check(self, loss: float, grad_norm: float) -> Anomaly | None:
        """An `Anomaly` if this step must not be applied, else None (nothing is recorded)."""
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            return Anomaly("nonfinite", loss, grad_norm)
        if len(self.history) < self.window - 1:
            return None
        recent = np.asarray(self.history, dtype=np.float64)
        mean, std = float(recent.mean()), float(recent.std())
        if loss > mean + self.threshold * std:
            return Anomaly("spike", loss, grad_norm, mean, std)
        return None

    def accept(self, loss: float) -> None:
        """Record the loss of a step that was applied."""
        self.history.append(loss)

    def state_dict(self) -> dict:
        return {"history": list(self.history)}

    def load_state_dict(self, state: dict) -> None:
        self.history = deque((float(x) for x in state["history"]), maxlen=self.window - 1)
