"""Near-duplicate removal on keys: MinHash LSH buckets, verified pairs, connected components, one keeper
per component.

    (band key, uid) per band of each document ─► a bucket's members meet and each is paired with
      the bucket's smallest uid (streamed, whatever the bucket's size: the BucketsToEdges of NeMo
      Curator, the Spark MinHash of text-dedup) ─► a pair found in enough bands to agree on the
      threshold is an edge as it stands; any other is verified against the two signatures where
      they lie: in the first's shard's file, with the second's signature sent there by its own
      shard (once per shard and node, however many pairs) ─► edges at estimated Jaccard >=
      `threshold` ─► connected components (transforms/components.py), each leaving the rounds
      once settled ─► each member's rank read from its shard's signature file ─► a component's
      members meet by its root: the smallest rank is kept, every other member becomes a
      `near-dedup/duplicate` verdict naming it.

Documents are uids (transforms/join.py): the shuffles carry integers, 48-bit band keys and, only for
the members of a component, their ranks. The rank (era, keep rule's value, id, source, uid) orders
a component, so the keeper depends on nothing the runner does. Signatures of an earlier run
(`save_signatures`, one file per input file) join as shards of their own, every row a member that
ranks before this run's documents: a document near one of them is removed as
`seen_in_earlier_run`. A component that has not settled after `max_rounds` keeps one member per
label it reached; each such keeper is counted in the ledger's notes (`near-dedup/unsettled_kept`).
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.pvalue import TaggedOutput

from tokenmill.filters.minhash import band_keys
from tokenmill.transforms.components import ConnectedComponents
from tokenmill.transforms.files import read_lines
from tokenmill.transforms.join import DocIds, Streams, Verdict, smallest_and_others, stream_join, typed
from tokenmill.transforms.records import register_records
from tokenmill.transforms.signature_files import SignatureFile

STAGE = "near-dedup"
EARLIER, CURRENT = 0, 1  # a member's era: an earlier run's signatures rank before this run's documents
# The inputs of a join by shard: its signature file (this run's or an earlier run's; two inputs, not
# one flattened: Flink's fuser breaks on a Flatten whose output feeds the joins' Flattens), its items,
# the signatures sent to it.
FILE, EARLIER_FILE, ITEMS, SENT = 0, 1, 2, 3
UNSETTLED_KEPT = f"{STAGE}/unsettled_kept"
NOTES = "notes"


class Pair(NamedTuple):
    """A candidate pair: a bucket member and the bucket's smallest member."""

    node: int
    smallest: int


class Request(NamedTuple):
    """Shard `to` needs `node`'s signature."""

    node: int
    to: int


class Sent(NamedTuple):
    """A node's signature, sent to the shard that verifies a pair with it."""

    node: int
    signature: bytes


class Member(NamedTuple):
    """A component member, by uid, with its component's label (root, settled)."""

    node: int
    root: int
    settled: bool


class Ranked(NamedTuple):
    """A component member as the keep rule orders them (the smallest is kept)."""

    era: int
    keep_rank: float
    id: str
    source: str
    uid: int
    settled: bool


register_records(Pair, Request, Sent, Member, Ranked)


def band_entries(uid: int, signature: np.ndarray, bands: int, rows: int):
    """(band key, uid) for each band of a document with words (an all-max signature has none)."""
    if signature.min() < np.iinfo(np.uint32).max:
        for key in band_keys(signature, bands, rows):
            yield key, uid


def pair_with_smallest(item):
    """(band key, uids) → (member, the bucket's smallest uid) for every other member."""
    _, members = item
    smallest, others = smallest_and_others(members)
    for member in others:
        yield member, smallest


def agree(left: np.ndarray, right: np.ndarray, threshold: float) -> bool:
    return float(np.mean(left == right)) >= threshold


class _ByShard(beam.DoFn):
    """A shard's group from `stream_join`: its signature file, the items sent to it, and (for `_Verify`)
    the signatures other shards sent; a shard with no item is not read."""

    def __init__(self, coders, ids: DocIds):
        self.coders, self.ids = coders, ids

    def process(self, item):
        shard, grouped = item
        streams = Streams(grouped, self.coders)
        if next(streams(ITEMS), None) is None:
            return
        path = next(streams(FILE), None) or next(streams(EARLIER_FILE), None)
        if path is None:
            raise ValueError(f"staged shard {shard} has documents in near-dedup and no signature file")
        yield from self.shard(shard, path, streams)

    def shard(self, shard: int, path: str, streams: Streams):
        raise NotImplementedError


class _ReadBands(_ByShard):
    """Band entries of the members named (exact dedup's keepers), from their shard's signatures."""

    def __init__(self, coders, ids: DocIds, bands: int, rows: int):
        super().__init__(coders, ids)
        self.bands, self.rows = bands, rows

    def shard(self, shard, path, streams):
        signatures = SignatureFile(path)
        for uid in streams(ITEMS):
            yield from band_entries(uid, signatures.signature(self.ids.row(uid)), self.bands, self.rows)


class _EarlierBands(beam.DoFn):
    """Every row of an earlier run's signature file as band entries (its shard numbered after this run's)."""

    def __init__(self, ids: DocIds, bands: int, rows: int):
        self.ids, self.bands, self.rows = ids, bands, rows

    def process(self, item):
        shard, path = item
        signatures = SignatureFile(path)
        for row, signature in zip(signatures.rows, signatures.signatures):
            yield from band_entries(self.ids.uid(shard, int(row)), signature, self.bands, self.rows)


class _Send(_ByShard):
    """The signatures other shards asked this one for."""

    def shard(self, shard, path, streams):
        signatures = SignatureFile(path)
        for request in streams(ITEMS):
            yield request.to, Sent(request.node, signatures.signature(self.ids.row(request.node)).tobytes())


class _Verify(_ByShard):
    """The pairs whose first member lies in this shard, compared against the two signatures."""

    def __init__(self, coders, ids: DocIds, threshold: float):
        super().__init__(coders, ids)
        self.threshold = threshold
        self.below = Metrics.counter(STAGE, "candidates_below_threshold")

    def shard(self, shard, path, streams):
        sent = {s.node: np.frombuffer(s.signature, dtype="<u4") for s in streams(SENT)}
        signatures = SignatureFile(path)
        for pair in streams(ITEMS):
            other = (signatures.signature(self.ids.row(pair.smallest)) if self.ids.shard(pair.smallest) == shard
                     else sent[pair.smallest])
            if agree(signatures.signature(self.ids.row(pair.node)), other, self.threshold):
                yield pair
            else:
                self.below.inc()


class _Ranks(_ByShard):
    """Component members with their ranks, read from their shard's signature file."""

    def __init__(self, coders, ids: DocIds, first_earlier: int):
        super().__init__(coders, ids)
        self.first_earlier = first_earlier

    def shard(self, shard, path, streams):
        ranks = SignatureFile(path, ranks=True)
        era = EARLIER if shard >= self.first_earlier else CURRENT
        for member in streams(ITEMS):
            keep_rank, doc_id, source = ranks.rank(self.ids.row(member.node))
            yield member.root, Ranked(era, keep_rank, doc_id, source, member.node, member.settled)


class _Keep(beam.DoFn):
    """A component's members (by its root) → verdicts for all but the smallest rank; a keeper of a
    component that did not settle is counted in the ledger's notes."""

    def __init__(self, ids: DocIds):
        self.ids = ids

    def process(self, item):
        _, members = item
        keeper, others = smallest_and_others(members)
        reason = "seen_in_earlier_run" if keeper.era == EARLIER else "duplicate"
        settled = keeper.settled
        for member in others:
            settled = settled and member.settled
            if member.era == CURRENT:
                yield self.ids.shard(member.uid), Verdict(self.ids.row(member.uid), STAGE, reason, keeper.id)
        if not settled and keeper.era == CURRENT:
            yield TaggedOutput(NOTES, ("notes", keeper.source, UNSETTLED_KEPT))


class NearDedup(beam.PTransform):
    """{"entries": (band key, uid) from pass 1, "members": uids whose band keys their signature files
    hold, "files": (shard, signature file)} → {"verdicts": (shard, Verdict), "notes": ledger events}."""

    def __init__(self, ids: DocIds, shards: int, bands: int = 14, rows: int = 8, num_perm: int = 112,
                 threshold: float = 0.7, max_rounds: int = 20, earlier_list: Optional[str] = None):
        """`shards`: this run's staged shards; `earlier_list`: a file naming earlier runs' signature
        files, one a line, read by a worker and numbered after this run's shards."""
        super().__init__()
        self.ids, self.shards, self.bands, self.rows, self.num_perm = ids, shards, bands, rows, num_perm
        self.threshold, self.max_rounds = threshold, max_rounds
        self.earlier_list = earlier_list

    def expand(self, inputs):
        ids, threshold = self.ids, self.threshold
        pipeline = inputs["files"].pipeline
        first_earlier = self.shards
        earlier = typed(pipeline | "EarlierList" >> beam.Create([self.earlier_list] if self.earlier_list else [])
                        | "EarlierFiles" >> beam.FlatMap(lambda path: enumerate(read_lines(path), first_earlier)),
                        tuple[int, str])
        files = [inputs["files"], earlier]

        by_shard = typed(inputs["members"] | "MembersByShard" >> beam.Map(lambda uid: (ids.shard(uid), uid)),
                         tuple[int, int])
        joined, coders = stream_join("ReadBands", [*files, by_shard], int)
        read = joined | "ReadBands" >> beam.ParDo(_ReadBands(coders, ids, self.bands, self.rows))
        earlier_entries = (earlier | "SpreadEarlier" >> beam.Reshuffle()
                           | "EarlierBands" >> beam.ParDo(_EarlierBands(ids, self.bands, self.rows)))
        entries = typed((inputs["entries"], read, earlier_entries) | "BandEntries" >> beam.Flatten(), tuple[int, int])

        counted = (entries
                   | "Buckets" >> beam.GroupByKey()
                   | "PairWithSmallest" >> beam.FlatMap(pair_with_smallest).with_output_types(tuple[int, int])
                   | "BandsPerPair" >> beam.combiners.Count.PerElement())
        # A pair linked in n bands agrees on at least n × rows of the num_perm values.
        rows, num_perm = self.rows, self.num_perm
        sure = counted | "AgreeInBands" >> beam.FlatMap(
            lambda kv: [Pair(*kv[0])] if kv[1] * rows / num_perm >= threshold else []).with_output_types(Pair)
        unsure = counted | "ToVerify" >> beam.FlatMap(
            lambda kv: [Pair(*kv[0])] if kv[1] * rows / num_perm < threshold else []).with_output_types(Pair)

        requests = (unsure
                    | "Remote" >> beam.FlatMap(lambda p: [(ids.shard(p.node), p.smallest)]
                                               if ids.shard(p.node) != ids.shard(p.smallest) else [])
                    .with_output_types(tuple[int, int])
                    | "OncePerShard" >> beam.Distinct()
                    | "ByOwner" >> beam.MapTuple(lambda to, node: (ids.shard(node), Request(node, to)))
                    .with_output_types(tuple[int, Request]))
        joined, coders = stream_join("Send", [*files, requests], int)
        sent = typed(joined | "Send" >> beam.ParDo(_Send(coders, ids)), tuple[int, Sent])
        pairs = (unsure | "ByFirstShard" >> beam.Map(lambda p: (ids.shard(p.node), p))
                 .with_output_types(tuple[int, Pair]))
        joined, coders = stream_join("Verify", [*files, pairs, sent], int)
        verified = typed(joined | "Verify" >> beam.ParDo(_Verify(coders, ids, threshold)), Pair)

        labels = ((sure, verified) | "Edges" >> beam.Flatten()
                  | "AsEdges" >> beam.Map(tuple).with_output_types(tuple[int, int])
                  | "Components" >> ConnectedComponents(self.max_rounds))
        members = labels | "ByMemberShard" >> beam.MapTuple(
            lambda node, label: (ids.shard(node), Member(node, label.root, label.settled))
        ).with_output_types(tuple[int, Member])
        joined, coders = stream_join("Ranks", [*files, members], int)
        ranked = typed(joined | "Ranks" >> beam.ParDo(_Ranks(coders, ids, self.shards)), tuple[int, Ranked])
        kept = (ranked
                | "ByComponent" >> beam.GroupByKey()
                | "Keep" >> beam.ParDo(_Keep(ids)).with_outputs(NOTES, main="verdicts"))
        return {"verdicts": typed(kept.verdicts, tuple[int, Verdict]), "notes": kept.notes}
