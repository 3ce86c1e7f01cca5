"""Near-duplicate removal on keys: MinHash LSH, verified pairs, connected components in O(log n) rounds.

    nodes (rank, band keys) ─► (band key, rank) ─► CombinePerKey: the `bucket_cap` best ranks per
      bucket (a boilerplate band never gathers more on one worker) ─► candidate pairs: each member
      with the bucket's best and with the member before it ─► verified against the signatures
      (read from their shard's signature file, a shard at a time) ─► edges at estimated Jaccard
      >= threshold ─► large-star / small-star rounds (Kiveris et al. 2014, "Connected Components
      in MapReduce and Beyond") ─► every node points at its component's smallest rank
      ─► verdicts: the others are `near-dedup/duplicate` with `duplicate_of`.

A node's rank orders the members of a component: (era, rule value, id, source, shard, row), so the
keeper does not depend on the order the runner delivers anything, and the rank says where the
document sits. Signatures of an earlier run (written with `save_signatures`, one file per input
shard) join the graph ranked before every document of this run, so a document near one of them
is dropped as `seen_in_earlier_run`. A component that still changes after `max_rounds` rounds is an
error in the ledger (`near-dedup/unsettled_component`), never a silent keep.
"""
from __future__ import annotations

from bisect import insort
from typing import Optional, Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from tokenmill.filters.document import Document
from tokenmill.filters.minhash import band_keys
from tokenmill.transforms.join import FAIL, REMOVE, verdict

STAGE = "near-dedup"
EARLIER, CURRENT = 0, 1  # a node's era: an earlier run's signatures rank before this run's documents
SIGNATURE_SCHEMA = pa.schema([("row", pa.int64()), ("id", pa.string()), ("source", pa.string()),
                              ("signature", pa.binary())])


def near_rank(doc: Document, keep: str, signal: Optional[str], shard: int, row: int) -> tuple:
    """Smaller is better: the keeper of a component has the smallest rank."""
    if keep == "longest":
        primary = -len(doc.text)
    elif keep == "best_signal":
        value = doc.signals.get(signal) if signal else None
        primary = -float(value) if isinstance(value, (int, float)) else float("inf")
    else:  # lowest_id
        primary = 0
    return CURRENT, primary, doc.id, doc.source, shard, row


def signature_prefix(folder: str, shard: int) -> str:
    """Where staged shard `shard` keeps its signatures (ShardWriter adds `-0000.parquet`)."""
    return f"{folder.rstrip('/')}/part-{shard:05d}"


def signature_files(folders: Sequence[str]) -> list[str]:
    """The signature files of earlier runs, in a fixed order (each becomes a negative shard number)."""
    return sorted(m.path for folder in folders
                  for m in FileSystems.match([folder.rstrip("/") + "/*.parquet"])[0].metadata_list)


def read_signatures(path: str) -> tuple[list[tuple[int, str, str]], list[bytes]]:
    """([(row, id, source)], [signature bytes]) of one signature file (files without a row column,
    from before signatures were sharded, count rows by position)."""
    with FileSystems.open(path) as handle:
        table = pq.read_table(handle)
    rows = table.column("row").to_pylist() if "row" in table.column_names else list(range(table.num_rows))
    keys = list(zip(rows, table.column("id").to_pylist(), table.column("source").to_pylist()))
    return keys, table.column("signature").to_pylist()


def as_signature(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)


class _EarlierNodes(beam.DoFn):
    def __init__(self, files: Sequence[str], bands: int, rows: int):
        self.files, self.bands, self.rows = list(files), bands, rows

    def process(self, number: int):
        keys, signatures = read_signatures(self.files[number])
        for (row, doc_id, source), signature in zip(keys, signatures):
            keys = band_keys(as_signature(signature), self.bands, self.rows)
            yield (EARLIER, 0, doc_id, source, -1 - number, row), keys


class BestRanks(beam.CombineFn):
    """The `cap` smallest ranks of a bucket, as a sorted list: each worker sends at most `cap` members
    of a key onward, and a plain list travels in Beam's compact encoding (no pickled heap)."""

    def __init__(self, cap: int):
        self.cap = cap

    def create_accumulator(self):
        return []

    def add_input(self, best, rank):
        if len(best) < self.cap or rank < best[-1]:
            insort(best, rank)
            del best[self.cap:]
        return best

    def merge_accumulators(self, accumulators):
        return sorted(set(rank for best in accumulators for rank in best))[: self.cap]

    def extract_output(self, best):
        return best


def candidate_pairs(bucket):
    """(key, members sorted by rank) → (member, better member) pairs: each with the best, and with the
    member just before it (so a chain A~B~C inside one bucket stays connected)."""
    _, members = bucket
    for i in range(1, len(members)):
        yield members[i], members[0]
        if i > 1:
            yield members[i], members[i - 1]


class _Signatures(beam.DoFn):
    """(shard, pairs) → each pair with one more signature, read from that shard's signature file."""

    def __init__(self, folder: str, earlier: Sequence[str], side: int, threshold: float):
        self.folder, self.earlier, self.side, self.threshold = folder, list(earlier), side, threshold
        self.below = Metrics.counter(STAGE, "candidates_below_threshold")

    def process(self, item):
        shard, pairs = item
        path = self.earlier[-1 - shard] if shard < 0 else signature_prefix(self.folder, shard) + "-0000.parquet"
        keys, signatures = read_signatures(path)
        by_row = {key[0]: signature for key, signature in zip(keys, signatures)}
        for pair in pairs:
            node, other = pair[self.side], pair[1 - self.side]
            signature = by_row[node[5]]
            if self.side == 0:
                yield other[4], (pair[0], pair[1], signature)
            elif np.mean(as_signature(pair[2]) == as_signature(signature)) >= self.threshold:
                yield pair[0], pair[1]
            else:
                self.below.inc()


def _both_ways(edge):
    return [(edge[0], edge[1]), (edge[1], edge[0])]


def _large_star(item):
    """Every larger neighbour of a node links to the smallest of the node's neighbourhood."""
    node, neighbours = item
    neighbours = set(neighbours)  # an edge reached by two paths arrives twice
    smallest = min(min(neighbours), node)
    for neighbour in neighbours:
        if neighbour > node:
            yield neighbour, smallest


def _small_star(item):
    """A node and its smaller neighbours all link to the smallest of them."""
    node, smaller = item
    smaller = set(smaller)
    smallest = min(min(smaller), node)
    for member in (*smaller, node):
        if member != smallest:
            yield member, smallest


def connected_components(edges, max_rounds: int):
    """Undirected edges → {"labels": (node, the smallest node of its component), "unsettled": nodes
    whose edges one more round would still change}."""
    for r in range(max_rounds):
        edges = (edges
                 | f"LargeStarOut{r}" >> beam.FlatMap(_both_ways)
                 | f"LargeStarGroup{r}" >> beam.GroupByKey()
                 | f"LargeStar{r}" >> beam.FlatMap(_large_star)
                 | f"SmallStarOut{r}" >> beam.Map(lambda e: (max(e), min(e)))
                 | f"SmallStarGroup{r}" >> beam.GroupByKey()
                 | f"SmallStar{r}" >> beam.FlatMap(_small_star))
    check = (edges
             | "CheckLargeOut" >> beam.FlatMap(_both_ways) | "CheckLargeGroup" >> beam.GroupByKey()
             | "CheckLarge" >> beam.FlatMap(_large_star)
             | "CheckSmallOut" >> beam.Map(lambda e: (max(e), min(e))) | "CheckSmallGroup" >> beam.GroupByKey()
             | "CheckSmall" >> beam.FlatMap(_small_star))

    def changed(item):
        edge, grouped = item
        if not (any(True for _ in grouped["before"]) and any(True for _ in grouped["after"])):
            yield from edge

    unsettled = ({"before": edges | "Before" >> beam.Map(lambda e: ((max(e), min(e)), None)),
                  "after": check | "After" >> beam.Map(lambda e: ((max(e), min(e)), None))}
                 | "CompareRounds" >> beam.CoGroupByKey()
                 | "Changed" >> beam.FlatMap(changed)
                 | "UnsettledNodes" >> beam.Distinct())
    labels = (edges
              | "LabelOut" >> beam.FlatMap(_both_ways)
              | "Smallest" >> beam.CombinePerKey(min)
              | "NotRoots" >> beam.Filter(lambda kv: kv[1] < kv[0]))
    return {"labels": labels, "unsettled": unsettled}


class NearDedup(beam.PTransform):
    """Nodes (rank, band keys) → verdicts by staged shard; see the module docstring."""

    def __init__(self, signatures_folder: str, bands: int = 14, rows: int = 8, threshold: float = 0.7,
                 bucket_cap: int = 1000, max_rounds: int = 6, earlier_files: Sequence[str] = ()):
        super().__init__()
        self.signatures_folder, self.bands, self.rows = signatures_folder, bands, rows
        self.threshold, self.bucket_cap, self.max_rounds = threshold, bucket_cap, max_rounds
        self.earlier_files = list(earlier_files)

    def expand(self, nodes):
        if self.earlier_files:
            earlier = (nodes.pipeline
                       | "EarlierFiles" >> beam.Create(range(len(self.earlier_files)))
                       | "SpreadEarlier" >> beam.Reshuffle()
                       | "ReadEarlier" >> beam.ParDo(_EarlierNodes(self.earlier_files, self.bands, self.rows)))
            nodes = (nodes, earlier) | "WithEarlier" >> beam.Flatten()
        folder, earlier_files, threshold = self.signatures_folder, self.earlier_files, self.threshold
        rounds = self.max_rounds
        edges = (nodes
                 | "BandKeys" >> beam.FlatMap(lambda node: [(key, node[0]) for key in node[1]])
                 | "Buckets" >> beam.CombinePerKey(BestRanks(self.bucket_cap))
                 | "Candidates" >> beam.FlatMap(candidate_pairs)
                 | "DistinctPairs" >> beam.Distinct()
                 | "ByFirstShard" >> beam.Map(lambda pair: (pair[0][4], pair))
                 | "GroupFirst" >> beam.GroupByKey()
                 | "FirstSignature" >> beam.ParDo(_Signatures(folder, earlier_files, 0, threshold))
                 | "GroupSecond" >> beam.GroupByKey()
                 | "Verify" >> beam.ParDo(_Signatures(folder, earlier_files, 1, threshold)))
        components = connected_components(edges, self.max_rounds)

        def duplicate(node, keeper):
            if node[0] == CURRENT:
                reason = "seen_in_earlier_run" if keeper[0] == EARLIER else "duplicate"
                yield verdict(node[4:6], REMOVE, STAGE, reason, keeper[2])

        def unsettled(node):
            if node[0] == CURRENT:
                yield verdict(node[4:6], FAIL, STAGE, "unsettled_component",
                              f"component not settled after {rounds} rounds (raise max_rounds)")

        removed = components["labels"] | "Duplicates" >> beam.FlatMapTuple(duplicate)
        failed = components["unsettled"] | "Unsettled" >> beam.FlatMap(unsettled)
        return (removed, failed) | "Verdicts" >> beam.Flatten()
