"""Exact deduplication: documents with the same normalised text keep one copy, the lowest id."""
from __future__ import annotations

import apache_beam as beam

from tokenmill.filters.document import Rejected
from tokenmill.filters.normalize import content_hash

STAGE = "exact-dedup"


def keeper_order(doc):
    """Lowest id first; source, path and text settle ties between sources that reuse ids."""
    return doc.id, doc.source, str(doc.meta.get("path", "")), doc.text


def keep_lowest_id(group):
    """(hash, docs) → the document with the lowest id, and the others as rejects naming it."""
    _, docs = group
    keeper = min(docs, key=keeper_order)
    for doc in docs:
        if doc is keeper:
            yield doc
        else:
            yield beam.pvalue.TaggedOutput("rejected", Rejected(doc, STAGE, "duplicate", duplicate_of=keeper.id))


class ExactDedup(beam.PTransform):
    """Documents → {"kept", "rejected"}: a GroupByKey on the content hash, a deterministic keeper.

    The keeper is chosen by a total order, so it does not depend on the order in which the runner
    delivers a group; a group is iterated twice, which Beam's grouped values allow.
    """

    def expand(self, docs):
        outputs = (
            docs
            | "KeyByContent" >> beam.Map(lambda d: (content_hash(d.text), d))
            | "GroupByContent" >> beam.GroupByKey()
            | "PickKeeper" >> beam.FlatMap(keep_lowest_id).with_outputs("rejected", main="kept")
        )
        return {"kept": outputs.kept, "rejected": outputs.rejected}
