"""A document's token ids cut into windows of the model's context, every id scored exactly once.

The ids are the document's, after one prefix id (end-of-text: what precedes a document in packed
training rows), so that the first token is predicted too. The first window scores the first
`context` ids; each later window moves on by `stride` ids and scores only those new ids, with the
ids before them, up to the context, as their left context. So every id after the first window is
predicted from at least `context − stride` earlier ids; the last window is full length.

With `stride == context` the windows are disjoint, as lm-evaluation-harness's rolling
log-likelihood cuts a document (`get_rolling_token_windows` with `context_len=1`, used for its
bits-per-byte tasks): an id early in a window sees few ids, so the figure is higher (worse) than the
model's loss with full context. A smaller stride gives each id more context and lowers the figure
towards that loss, at `context / stride` times the compute (Hugging Face's "Perplexity of
fixed-length models" guide shows the same trade-off on GPT-2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Window:
    """Inputs `ids[start:end]`, targets `ids[start + 1:end + 1]`; the first `skip` targets are
    context only, the others are scored."""

    start: int
    end: int
    skip: int

    @property
    def scored(self) -> int:
        return self.end - self.start - self.skip


def windows(length: int, context: int, stride: int) -> Iterator[Window]:
    """The windows over `length` ids (the prefix id included) for a model of `context` positions."""
    if not 1 <= stride <= context:
        raise ValueError(f"stride must be between 1 and the context ({context}), got {stride}")
    last = length - 1  # the position of the last target; targets are positions 1..last
    if last < 1:
        return
    end = min(context, last)
    yield Window(0, end, 0)
    while end < last:
        new_end = min(end + stride, last)
        start = max(0, new_end - context)
        yield Window(start, new_end, end - start)
        end = new_end
