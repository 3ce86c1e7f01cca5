"""Bits per byte of a held-out text set: the model's summed negative log-likelihood of every token of
every document, in bits, over the documents' UTF-8 bytes.

Bytes do not depend on the tokenizer, so models with different vocabularies compare (Gao et al.
2020, The Pile; lm-evaluation-harness's `bits_per_byte`). Each document is cut into
windows of the model's context (jobs/eval/windows.py) and its first token is predicted from the
prefix id. Beside it: the mean loss (nats per token, which depends on the tokenizer) and the tokens.

The set's token ids are held while it is scored (4 bytes a token, not the text), so windows of
every document are batched together, longest first.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Optional

import numpy as np

from tokenmill.jobs.eval.intervals import ratio_interval
from tokenmill.jobs.eval.scoring import Progress, ScoringModel, Span, score_spans
from tokenmill.jobs.eval.windows import windows
from tokenmill.jobs.sources import read_documents

ENCODE_BATCH = 256  # documents encoded per call


@dataclass(frozen=True)
class Encoded:
    ids: list[np.ndarray]    # per document: the prefix id, then the document's ids (int32)
    bytes: np.ndarray        # per document: UTF-8 bytes of its text
    unread: Counter          # records read but not used, by ledger key


def encode_set(model: ScoringModel, flag: str) -> Encoded:
    """The documents of a `NAME=FORMAT:GLOB` set, encoded for `model`."""
    ids: list[np.ndarray] = []
    sizes: list[int] = []
    unread: Counter = Counter()
    batch: list[str] = []

    def flush():
        for encoded in model.encode_text(batch) if batch else []:
            ids.append(np.array([model.prefix_id, *encoded], dtype=np.int32))
        batch.clear()

    for doc in read_documents(flag, unread):
        batch.append(doc.text)
        sizes.append(len(doc.text.encode("utf-8")))
        if len(batch) == ENCODE_BATCH:
            flush()
    flush()
    return Encoded(ids, np.array(sizes, dtype=np.int64), unread)


def document_spans(encoded: Encoded, context: int, stride: int) -> tuple[list[Span], np.ndarray]:
    """Every document's windows as spans, and the document each span belongs to."""
    spans, owners = [], []
    for doc, ids in enumerate(encoded.ids):
        for window in windows(len(ids), context, stride):
            spans.append(Span(ids[window.start:window.end + 1], window.skip))
            owners.append(doc)
    return spans, np.array(owners, dtype=np.int64)


@dataclass(frozen=True)
class TextScore:
    documents: int
    bytes: int
    tokens: int
    bits_per_byte: float
    bits_per_byte_ci95: Optional[tuple[float, float]]
    loss: float             # mean nats per token
    unread: dict[str, int]

    def as_json(self) -> dict:
        return {"documents": self.documents, "bytes": self.bytes, "tokens": self.tokens,
                "bits_per_byte": self.bits_per_byte,
                "bits_per_byte_ci95": list(self.bits_per_byte_ci95) if self.bits_per_byte_ci95 else None,
                "loss": self.loss, "unread": self.unread}


def score_text(model: ScoringModel, encoded: Encoded, stride: int, batch_size: int,
               progress: Optional[Progress] = None) -> TextScore:
    """Bits per byte, mean loss and tokens of an encoded set; the interval treats documents as the
    sampled units."""
    spans, owners = document_spans(encoded, model.context, stride)
    nats = -np.bincount(owners, weights=score_spans(model, spans, batch_size, progress),
                        minlength=len(encoded.ids))
    bits = nats / math.log(2)
    tokens = sum(len(ids) - 1 for ids in encoded.ids)
    total_bytes = int(encoded.bytes.sum())
    return TextScore(
        documents=len(encoded.ids), bytes=total_bytes, tokens=tokens,
        bits_per_byte=float(bits.sum() / total_bytes) if total_bytes else math.nan,
        bits_per_byte_ci95=ratio_interval(bits, encoded.bytes.astype(np.float64)),
        loss=float(nats.sum() / tokens) if tokens else math.nan,
        unread=dict(sorted(encoded.unread.items())))
