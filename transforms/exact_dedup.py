"""Exact deduplication on keys: documents with the same normalised text keep one copy, the lowest id.

Pass 1 sends (content hash, `ExactCopy(id, source, uid)`) per document. The copies of a hash meet in
a GroupByKey and are read twice: once for the smallest (lowest id; source, then where it sits, settle
ties), once to give every other copy a verdict naming it, so a page copied a million times costs a
worker one copy's memory. The keeper is compared by value, never by identity, so a runner that
re-reads a group from its coder decides the same. Keepers of the sources near-dedup covers go on to
it by uid: only distinct texts reach the LSH buckets.
"""
from __future__ import annotations

from typing import NamedTuple

import apache_beam as beam
from apache_beam.pvalue import TaggedOutput

from tokenmill.transforms.join import DocIds, Verdict, smallest_and_others, typed
from tokenmill.transforms.records import register_records

STAGE = "exact-dedup"
KEEPERS = "keepers"


class ExactCopy(NamedTuple):
    """One document holding a content hash; the smallest is kept."""

    id: str
    source: str
    uid: int


register_records(ExactCopy)


class _Decide(beam.DoFn):
    def __init__(self, ids: DocIds, near_sources: frozenset):
        self.ids, self.near_sources = ids, near_sources

    def process(self, item):
        _, copies = item
        keeper, others = smallest_and_others(copies)
        for copy in others:
            yield self.ids.shard(copy.uid), Verdict(self.ids.row(copy.uid), STAGE, "duplicate", keeper.id)
        if keeper.source in self.near_sources:
            yield TaggedOutput(KEEPERS, keeper.uid)


class ExactDedup(beam.PTransform):
    """(hash, ExactCopy) → {"verdicts": (shard, Verdict), "keepers": uids of the keepers near-dedup covers}."""

    def __init__(self, ids: DocIds, near_sources: frozenset = frozenset()):
        super().__init__()
        self.ids, self.near_sources = ids, near_sources

    def expand(self, copies):
        decided = (copies
                   | "ByHash" >> beam.GroupByKey()
                   | "Decide" >> beam.ParDo(_Decide(self.ids, self.near_sources))
                   .with_outputs(KEEPERS, main="verdicts"))
        return {"verdicts": typed(decided.verdicts, tuple[int, Verdict]), "keepers": typed(decided[KEEPERS], int)}
