"""Per-document stages in one pass: each source's chain of filters, rejects and failures tagged."""
from __future__ import annotations

from typing import Iterable, Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from tokenmill.filters.base import DocumentFilter
from tokenmill.filters.document import Document, Failed, Rejected

REJECTED = "rejected"
FAILED = "failed"


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
            rewritten, doc.text = (doc.text, text_read) if doc.text != text_read else (None, doc.text)
            yield Rejected(doc, doc_filter.stage, reason, rewritten_text=rewritten)
            return
    yield doc


class _FilterChainFn(beam.DoFn):
    def __init__(self, chains: dict[str, list[DocumentFilter]]):
        self.chains = chains
        self.kept = Metrics.counter("filters", "kept")
        self.removed = Metrics.counter("filters", "removed")
        self.failed = Metrics.counter("filters", "failed")

    def setup(self):
        for chain in self.chains.values():
            for doc_filter in chain:
                doc_filter.setup()

    def process(self, doc: Document):
        for result in run_chain(doc, self.chains.get(doc.source, ())):
            if isinstance(result, Rejected):
                self.removed.inc()
                yield TaggedOutput(REJECTED, result)
            elif isinstance(result, Failed):
                self.failed.inc()
                yield TaggedOutput(FAILED, result)
            else:
                self.kept.inc()
                yield result


class ApplyFilters(beam.PTransform):
    """Documents → {"kept", "rejected", "failed"}, each source through its own filter chain."""

    def __init__(self, chains: dict[str, list[DocumentFilter]]):
        super().__init__()
        self.chains = chains

    def expand(self, docs):
        outputs = docs | beam.ParDo(_FilterChainFn(self.chains)).with_outputs(REJECTED, FAILED, main="kept")
        return {"kept": outputs.kept, "rejected": outputs[REJECTED], "failed": outputs[FAILED]}
