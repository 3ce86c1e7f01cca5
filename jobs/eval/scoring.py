"""Summed log-likelihoods of token spans, batched.

A span is a run of ids whose inputs are `ids[:-1]` and targets `ids[1:]`; the first `skip` targets
are context, the rest are scored. Text windows (jobs/eval/windows.py) and multiple-choice
continuations (jobs/eval/choice.py) are both spans. Spans are scored longest first, `batch_size`
at a time, right-padded (a causal model's positions never see the padding after them), and each
span's scored log-probabilities are summed in float64.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Sequence

import numpy as np
import torch


@dataclass(frozen=True)
class Span:
    ids: np.ndarray  # int32, at most the model's context + 1 ids
    skip: int

    @property
    def scored(self) -> int:
        return len(self.ids) - 1 - self.skip


class ScoringModel(Protocol):
    """What evaluation needs of a causal language model (jobs/eval/models.py has two)."""

    name: str
    context: int     # positions the model sees at once
    prefix_id: int   # the id that precedes a document (end-of-text, or the tokenizer's bos)
    device: torch.device

    def encode_text(self, texts: list[str]) -> list[list[int]]:
        """Ids of each text, no special token added."""

    def encode_prompt(self, text: str) -> list[int]:
        """Ids of a prompt as the model's tokenizer encodes one by default (lm-evaluation-harness's
        `tok_encode`): a tokenizer that adds a bos id adds it here."""

    def log_probs(self, inputs: torch.Tensor, targets: torch.Tensor, scored: torch.Tensor,
                  real: torch.Tensor) -> torch.Tensor:
        """float32 log p(targets[b, t] | inputs[b, :t + 1]) at the positions where the (batch, time)
        mask `scored` is set, in row-major order; the output layer runs at those positions only.
        `real` marks the inputs that are not padding (right-padded: each row's first n)."""


Progress = Callable[[int, int], None]  # called after each batch with its spans and its scored tokens


def score_spans(model: ScoringModel, spans: Sequence[Span], batch_size: int,
                progress: Optional[Progress] = None) -> np.ndarray:
    """The summed log-likelihood (nats) of each span's scored targets, in the order given."""
    totals = np.zeros(len(spans), dtype=np.float64)
    order = sorted(range(len(spans)), key=lambda i: (-len(spans[i].ids), i))
    for first in range(0, len(order), batch_size):
        chosen = order[first:first + batch_size]
        width = len(spans[chosen[0]].ids) - 1
        inputs = np.zeros((len(chosen), width), dtype=np.int64)
        targets = np.zeros((len(chosen), width), dtype=np.int64)
        scored = np.zeros((len(chosen), width), dtype=bool)
        real = np.zeros((len(chosen), width), dtype=bool)
        for row, index in enumerate(chosen):
            span = spans[index]
            n = len(span.ids) - 1
            inputs[row, :n] = span.ids[:-1]
            targets[row, :n] = span.ids[1:]
            scored[row, span.skip:n] = True
            real[row, :n] = True
        with torch.inference_mode():
            log_probs = model.log_probs(*(torch.from_numpy(a).to(model.device)
                                          for a in (inputs, targets, scored, real))).cpu().numpy()
        rows = np.nonzero(scored)[0]
        totals[chosen] = np.bincount(rows, weights=log_probs.astype(np.float64), minlength=len(chosen))
        if progress:
            progress(len(chosen), int(scored.sum()))
    return totals
