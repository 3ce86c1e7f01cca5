"""Joining per-document findings of a corpus stage back onto the documents."""
from __future__ import annotations

from typing import Callable

import apache_beam as beam

from tokenmill.filters.document import Document


def node_key(source: str, doc_id: str) -> str:
    """A document's key across the corpus: ids are unique within a source, not across sources."""
    return f"{source}\x1f{doc_id}"


def node_of(doc: Document) -> str:
    return node_key(doc.source, doc.id)


class JoinFindings(beam.PTransform):
    """Documents + (node, finding) pairs → {"kept", "rejected"}: `decide(doc, findings)` yields the
    document (possibly rewritten) or a tagged `rejected` output."""

    def __init__(self, findings, decide: Callable):
        super().__init__()
        self.findings, self.decide = findings, decide

    def expand(self, docs):
        decide = self.decide

        def verdicts(item):
            _, grouped = item
            findings = list(grouped["finding"])
            for doc in grouped["doc"]:
                yield from decide(doc, findings)

        outputs = ({"doc": docs | "KeyByNode" >> beam.Map(lambda d: (node_of(d), d)), "finding": self.findings}
                   | "JoinBack" >> beam.CoGroupByKey()
                   | "Decide" >> beam.FlatMap(verdicts).with_outputs("rejected", main="kept"))
        return {"kept": outputs.kept, "rejected": outputs.rejected}
