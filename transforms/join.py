"""Corpus-wide decisions on small keys: the smallest member of each key wins, the others learn who won.

Members are plain tuples that sort by rank (the first fields) and whose first `compared` fields
identify them. Winners come from a `CombinePerKey(min)`, so each worker sends at most one candidate
per key onward, and no key ever gathers documents: only the members' few-byte tuples meet again,
streamed past their winner.
"""
from __future__ import annotations

from typing import Any

import apache_beam as beam

REMOVE, FAIL, CUT = "remove", "fail", "cut"


def verdict(where: tuple, kind: str, stage: str, reason, detail) -> tuple:
    """(staged shard, (row, kind, stage, reason, detail)): what pass 3 applies to one staged row."""
    shard, row = where
    return shard, (row, kind, stage, reason, detail)


class SmallestWins(beam.PTransform):
    """(key, member) → {"winners": (key, smallest member), "losers": (member[:compared], winner[:compared])}."""

    def __init__(self, compared: int):
        super().__init__()
        self.compared = compared

    def expand(self, members):
        compared = self.compared
        winners = members | "Smallest" >> beam.CombinePerKey(min)
        # Typed Any: Beam would infer a trimmed tuple to be as long as the untrimmed one.
        trim = beam.MapTuple(lambda key, m: (key, m[:compared])).with_output_types(Any)
        trimmed = {"member": members | "TrimMembers" >> trim, "winner": winners | "TrimWinners" >> trim}

        def losers(item):
            _, grouped = item
            winner = next(iter(grouped["winner"]))
            for member in grouped["member"]:
                if member != winner:
                    yield member, winner

        losers = trimmed | "MeetWinner" >> beam.CoGroupByKey() | "Losers" >> beam.FlatMap(losers)
        return {"winners": winners, "losers": losers}
