"""Near-duplicate removal in Beam: MinHash LSH, then connected components, with no single-machine step.

    documents ─► signatures (batched) ─► (band, band digest) keys ─► GroupByKey, capped buckets
      ─► candidate edges (checked against the signatures' estimated Jaccard) ─► label propagation,
      one bounded round after another ─► every node labelled with its component's best member
      ─► join back: that member is kept, the others are `near-dedup/duplicate` with `duplicate_of`.

A node's rank orders the members of a component: the keeper is the one with the smallest rank,
(rule value, source, id), so the choice does not depend on the order the runner delivers anything.
Signatures of an earlier run (Parquet, written with `save_signatures`) join the graph ranked before
every document of this run, so a document near one of them is dropped as `seen_in_earlier_run`.
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from tokenmill.filters.document import Rejected
from tokenmill.filters.minhash import MinHasher, band_keys, estimated_jaccard
from tokenmill.transforms.join import JoinFindings, node_key, node_of

STAGE = "near-dedup"
MAX_HASH = 0xFFFFFFFF
LOG = logging.getLogger("tokenmill.near_dedup")
EARLIER, CURRENT = 0, 1


def rank_of(doc, keep: str, signal: Optional[str]) -> tuple:
    """Smaller is better: the keeper of a component has the smallest rank."""
    if keep == "longest":
        primary = -len(doc.text)
    elif keep == "best_signal":
        value = doc.signals.get(signal) if signal else None
        primary = -float(value) if isinstance(value, (int, float)) else float("inf")
    else:  # lowest_id
        primary = 0
    return (CURRENT, primary, doc.id, doc.source)


class _Sign(beam.DoFn):
    """Batches of documents → (node, rank, signature)."""

    def __init__(self, num_perm: int, seed: int, shingle_words: int, keep: str, signal: Optional[str]):
        self.args = (num_perm, seed, shingle_words)
        self.keep, self.signal = keep, signal

    def setup(self):
        self.hasher = MinHasher(*self.args)

    def process(self, batch):
        signatures = self.hasher.signatures([doc.text for doc in batch])
        for doc, signature in zip(batch, signatures):
            yield node_of(doc), rank_of(doc, self.keep, self.signal), signature


class _CandidateEdges(beam.DoFn):
    """A bucket of nodes sharing a band → edges: each member links to the first better-ranked member
    whose estimated Jaccard with it reaches the threshold (so a chain A~B~C stays connected even
    when A and C are not similar). Buckets past the cap are cut to their best members: boilerplate
    shared by thousands of pages must not make one hot key."""

    def __init__(self, bucket_cap: int, threshold: float):
        self.bucket_cap, self.threshold = bucket_cap, threshold
        self.capped = Metrics.counter(STAGE, "capped_buckets")
        self.rejected_pairs = Metrics.counter(STAGE, "candidates_below_threshold")

    def process(self, bucket):
        _, members = bucket
        members = sorted({rank: signature for rank, signature in members}.items(), key=lambda m: m[0])
        if len(members) > self.bucket_cap:
            self.capped.inc()
            members = members[: self.bucket_cap]
        for i, (rank, signature) in enumerate(members[1:], start=1):
            match = next((other for other, other_signature in members[:i]
                          if estimated_jaccard(signature, other_signature) >= self.threshold), None)
            if match is None:
                self.rejected_pairs.inc()
                continue
            yield match, rank
            yield rank, match


def _propagate(labels, edges, round_number: int):
    """One round: every node takes the smallest label among itself and its neighbours."""
    joined = ({"label": labels, "edge": edges}
              | f"Join{round_number}" >> beam.CoGroupByKey())

    def messages(item):
        node, grouped = item
        label = min(grouped["label"])
        yield node, label
        for neighbour in grouped["edge"]:
            yield neighbour, label

    return (joined
            | f"Send{round_number}" >> beam.FlatMap(messages)
            | f"Min{round_number}" >> beam.CombinePerKey(min))


class _CountChanged(beam.DoFn):
    """Nodes whose label one more round would still change: components not settled in `max_rounds`."""

    def __init__(self):
        self.changed = Metrics.counter(STAGE, "unsettled_nodes")

    def process(self, item):
        node, grouped = item
        if list(grouped["before"]) != list(grouped["after"]):
            self.changed.inc()
            LOG.warning("near-dedup: component of %s not settled after the last round (raise max_rounds)", node[2])
        return []


class NearDedup(beam.PTransform):
    """Documents → {"kept", "rejected"}; see the module docstring."""

    def __init__(self, num_perm: int = 112, bands: int = 14, rows: int = 8, seed: int = 1, shingle_words: int = 5,
                 threshold: float = 0.7, bucket_cap: int = 1000, max_rounds: int = 12, keep: str = "lowest_id",
                 keep_signal: Optional[str] = None, batch_size: int = 512, save_signatures: Optional[str] = None,
                 earlier_signatures: Sequence[str] = ()):
        super().__init__()
        if bands * rows > num_perm:
            raise ValueError(f"bands × rows = {bands * rows} exceeds num_perm = {num_perm}")
        self.num_perm, self.bands, self.rows, self.seed = num_perm, bands, rows, seed
        self.shingle_words, self.threshold, self.bucket_cap = shingle_words, threshold, bucket_cap
        self.max_rounds, self.keep, self.keep_signal, self.batch_size = max_rounds, keep, keep_signal, batch_size
        self.save_signatures, self.earlier_signatures = save_signatures, list(earlier_signatures)

    def expand(self, docs):
        bands, rows = self.bands, self.rows
        signed = (docs
                  | "Batch" >> beam.BatchElements(min_batch_size=self.batch_size, max_batch_size=self.batch_size)
                  | "Sign" >> beam.ParDo(_Sign(self.num_perm, self.seed, self.shingle_words, self.keep,
                                               self.keep_signal)))
        if self.save_signatures:
            _ = signed | "SaveSignatures" >> _WriteSignatures(self.save_signatures)
        nodes = signed | "RankSignature" >> beam.Map(lambda s: (s[1], s[2]))
        if self.earlier_signatures:
            earlier = (docs.pipeline
                       | "EarlierFiles" >> beam.Create(sorted(self.earlier_signatures))
                       | "ReadEarlier" >> beam.FlatMap(_read_signatures))
            nodes = (nodes, earlier) | "WithEarlier" >> beam.Flatten()

        edges = (nodes
                 | "BandKeys" >> beam.FlatMap(lambda n: [(key, n) for key in band_keys(n[1], bands, rows)]
                                             if n[1].min() < MAX_HASH else [])  # no shingle: nothing to compare
                 | "Buckets" >> beam.GroupByKey()
                 | "Candidates" >> beam.ParDo(_CandidateEdges(self.bucket_cap, self.threshold))
                 | "DistinctEdges" >> beam.Distinct())

        labels = edges | "Start" >> beam.Map(lambda e: (e[0], e[0])) | "StartMin" >> beam.CombinePerKey(min)
        for round_number in range(self.max_rounds):
            labels = _propagate(labels, edges, round_number)
        settled = _propagate(labels, edges, "Check")
        _ = ({"before": labels, "after": settled} | "CompareRounds" >> beam.CoGroupByKey()
             | "Unsettled" >> beam.ParDo(_CountChanged()))

        # A node whose label is not itself is a duplicate of the node its label names.
        duplicates = (labels
                      | "Duplicates" >> beam.Filter(lambda kv: kv[0] != kv[1])
                      | "ByNode" >> beam.Map(lambda kv: (node_key(kv[0][3], kv[0][2]), kv[1])))
        return docs | "Verdict" >> JoinFindings(duplicates, _verdict)


def _verdict(doc, keepers):
    """A document labelled with another node's rank is that node's duplicate."""
    if not keepers:
        yield doc
        return
    keeper = keepers[0]
    reason = "seen_in_earlier_run" if keeper[0] == EARLIER else "duplicate"
    yield beam.pvalue.TaggedOutput("rejected", Rejected(doc, STAGE, reason, duplicate_of=keeper[2]))


SIGNATURE_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("signature", pa.binary())])


class _WriteSignatures(beam.PTransform):
    """(node, rank, signature) → Parquet files under `folder`, one per source, sorted by id."""

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder.rstrip("/")

    def expand(self, signed):
        folder = self.folder

        def write(source, rows):
            rows = sorted(rows)
            table = pa.table({"id": [r[0] for r in rows], "source": [source] * len(rows),
                              "signature": [r[1] for r in rows]}, schema=SIGNATURE_SCHEMA)
            with FileSystems.create(f"{folder}/{source}.parquet") as sink:
                pq.write_table(table, sink, compression="zstd")
            return source

        return (signed
                | "BySource" >> beam.Map(lambda s: (s[1][3], (s[1][2], s[2].astype("<u4").tobytes())))
                | "GroupSource" >> beam.GroupByKey()
                | "WriteSource" >> beam.MapTuple(write))


def _read_signatures(pattern: str):
    """An earlier run's signatures as nodes ranked before any document of this run."""
    for match in FileSystems.match([pattern.rstrip("/") + "/*.parquet"])[0].metadata_list:
        with FileSystems.open(match.path) as handle:
            table = pq.read_table(handle).to_pydict()
        for doc_id, source, signature in zip(table["id"], table["source"], table["signature"]):
            yield (EARLIER, 0, doc_id, source), np.frombuffer(signature, dtype="<u4").astype(np.uint32)
