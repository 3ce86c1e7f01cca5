"""Per-document stages: a chain of filters run on a document, or stage by stage over a batch."""
from __future__ import annotations

from typing import Iterable, Sequence

from tokenmill.filters.base import DocumentFilter
from tokenmill.filters.document import Document, Failed, Rejected


def run_chain(doc: Document, chain: Sequence[DocumentFilter]) -> Iterable[Document | Rejected | Failed]:
    """Apply `chain` to `doc`: yield the document, or the first rejection, or the failure."""
    for doc_filter in chain:
        text_read = doc.text
        try:
            reason = doc_filter(doc)
        except Exception as err:  # a filter bug on one document must not stop the run
            yield Failed(doc.source, doc_filter.stage, type(err).__name__, doc.id, str(err)[:500])
            return
        if reason is not None:
            yield _rejected(doc, text_read, doc_filter.stage, reason)
            return
    yield doc


def _rejected(doc: Document, text_read: str, stage: str, reason: str) -> Rejected:
    """`doc` rejected by `stage`: its text back to what the stage read, the stage's rewrite kept apart."""
    rewritten, doc.text = (doc.text, text_read) if doc.text != text_read else (None, doc.text)
    return Rejected(doc, stage, reason, rewritten_text=rewritten)


def run_chain_batch(docs: Sequence[Document], chain: Sequence[DocumentFilter]) -> list[Document | Rejected | Failed]:
    """`run_chain` on each of `docs`, stage by stage over the batch (each filter's batch call, its
    model and tables warm across the batch): the same results, in the same order. A filter that
    raises on the batch runs again document by document, from the text each had before it, so that
    only the document it fails on fails."""
    results: list = list(docs)
    live = list(range(len(docs)))
    for doc_filter in chain:
        texts_read = [docs[i].text for i in live]
        try:
            reasons = doc_filter.filter_batch([docs[i] for i in live])
        except Exception:
            for i, text in zip(live, texts_read):
                docs[i].text = text
            reasons = None
        still = []
        for i, text_read, reason in zip(live, texts_read, reasons or [None] * len(live)):
            doc = docs[i]
            if reasons is None:
                results[i] = next(iter(run_chain(doc, [doc_filter])))
                if results[i] is doc:
                    still.append(i)
                continue
            if reason is not None:
                results[i] = _rejected(doc, text_read, doc_filter.stage, reason)
            else:
                still.append(i)
        live = still
    return results
