"""Exact deduplication on keys: documents with the same normalised text keep one copy, the lowest id.

Pass 1 sends (content hash, (id, source, shard, row, near-dedup node)) per document; the smallest
member of each hash is the keeper (lowest id; source, then where it sits, settle ties), and every
other member becomes a verdict naming it. The keeper is compared by value, never by identity, so
a runner that re-reads a group from its coder decides the same. Keepers carry their near-dedup
node onward, so only distinct texts reach the LSH buckets.
"""
from __future__ import annotations

import apache_beam as beam

from tokenmill.transforms.join import REMOVE, SmallestWins, verdict

STAGE = "exact-dedup"
IDENTITY = 4  # (id, source, shard, row)


class ExactDedup(beam.PTransform):
    """(hash, member) → {"verdicts": removals by staged shard, "nodes": the keepers' near-dedup nodes}."""

    def expand(self, members):
        decided = members | "Keepers" >> SmallestWins(IDENTITY)
        verdicts = decided["losers"] | "Verdicts" >> beam.MapTuple(
            lambda member, keeper: verdict(member[2:4], REMOVE, STAGE, "duplicate", keeper[0]))
        nodes = decided["winners"] | "NearNodes" >> beam.FlatMap(
            lambda kv: [kv[1][IDENTITY]] if kv[1][IDENTITY] else [])
        return {"verdicts": verdicts, "nodes": nodes}
