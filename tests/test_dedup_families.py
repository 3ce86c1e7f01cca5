"""Dedup on the duplicate families a crawl is full of: every family settled, none kept by a cap, none
lost, and near-dedup's clusters equal to a plain union-find over the same verified candidate pairs."""
import json
import random

import apache_beam as beam
import numpy as np
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.util import assert_that, equal_to
from datasketch import MinHashLSH

from families import drift_chain, page, template_family, vocabulary
from tokenmill.filters.minhash import MinHasher
from tokenmill.jobs.curate import curate
from tokenmill.pipeline.config import Config, CurateConfig, SourceConfig
from tokenmill.transforms.exact_dedup import ExactCopy, ExactDedup
from tokenmill.transforms.join import DocIds
from tokenmill.transforms.paragraph_dedup import ParagraphDedup, ParagraphKeys


def write_jsonl(path, docs: dict[str, str]) -> None:
    rows = [{"id": doc_id, "text": text} for doc_id, text in docs.items()]
    random.Random(5).shuffle(rows)  # a crawl's file holds a family in no order
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def curated(tmp_path, docs: dict[str, str], stages: list[str], **near):
    """Curate `docs` (one JSONL file) with `stages`; returns (kept ids, {removed id: duplicate_of}, ledger)."""
    path = tmp_path / "docs.jsonl"
    write_jsonl(path, docs)
    out = tmp_path / "out"
    config = Config(sources={"web": SourceConfig("jsonl", [str(path)])}, stages={"near-dedup": near},
                    curate=CurateConfig(keep_rejected=True))
    ledger = curate(config, str(out), stages)
    kept = pq.read_table(out / "curated", columns=["id"]).column("id").to_pylist()
    rejected = pq.read_table(out / "rejected", columns=["id", "duplicate_of"]).to_pydict()
    return sorted(kept), dict(zip(rejected["id"], rejected["duplicate_of"])), ledger


def union_find_clusters(docs: dict[str, str], threshold: float = 0.7) -> dict[str, str]:
    """Every document → the lowest id of its cluster: the pairs that share a band in datasketch's
    MinHashLSH (14 bands × 8 rows), kept when their signatures agree on at least `threshold`, joined
    by a plain union-find."""
    hasher = MinHasher()
    ids = sorted(docs)
    signatures = dict(zip(ids, hasher.signatures([docs[i] for i in ids])))
    lsh = MinHashLSH(num_perm=112, params=(14, 8))
    for doc_id in ids:
        lsh.insert(doc_id, hasher.lean_minhash(signatures[doc_id]))
    parent = {doc_id: doc_id for doc_id in ids}

    def find(doc_id):
        while parent[doc_id] != doc_id:
            parent[doc_id] = parent[parent[doc_id]]
            doc_id = parent[doc_id]
        return doc_id

    for doc_id in ids:
        for other in lsh.query(hasher.lean_minhash(signatures[doc_id])):
            if other != doc_id and np.mean(signatures[doc_id] == signatures[other]) >= threshold:
                a, b = find(doc_id), find(other)
                parent[max(a, b)] = min(a, b)
    return {doc_id: find(doc_id) for doc_id in ids}


@pytest.fixture(scope="module")
def families():
    """A site template in 600 copies (1% of the words replaced in each, independently), an article's
    drift chain of 2,000 versions (one word each), and 200 distinct pages."""
    rng = random.Random(24)
    words = vocabulary(3000, rng)
    template = template_family(page(words, 150, rng), 600, 0.01, words, rng)
    docs = {f"template-{i:04d}": text for i, text in enumerate(template)}
    docs.update({f"chain-{i:04d}": text for i, text in enumerate(drift_chain(page(words, 150, rng), 2000, words, rng))})
    docs.update({f"page-{i:04d}": page(words, 150, rng) for i in range(200)})
    return docs


def test_each_family_keeps_one_and_the_clusters_equal_a_union_find(families, tmp_path):
    kept, removed, ledger = curated(tmp_path, families, ["near-dedup"])
    assert ledger["balanced"] and ledger["errors"]["web"] == {} and ledger["notes"]["web"] == {}
    assert [k for k in kept if not k.startswith("page-")] == ["chain-0000", "template-0000"]
    assert sum(k.startswith("page-") for k in kept) == 200
    reference = union_find_clusters(families)
    ours = {doc_id: removed.get(doc_id, doc_id) for doc_id in families}
    assert ours == reference
    assert ledger["removed"]["web"] == {"near-dedup/duplicate": len(families) - len(kept)}


COPIES = 50_000


def test_a_page_in_50000_copies_keeps_one_and_every_other_copy_names_it():
    ids = DocIds.for_shards(3)
    copies = [(b"page", ExactCopy(f"copy-{i:05d}", "web", ids.uid(i % 3, i))) for i in range(COPIES)]
    copies.append((b"other", ExactCopy("other", "web", ids.uid(0, COPIES))))
    with beam.Pipeline(runner="FnApiRunner") as pipeline:
        decided = pipeline | beam.Create(copies) | ExactDedup(ids, frozenset({"web"}))
        removals = decided["verdicts"] | beam.MapTuple(lambda shard, v: (v.stage, v.reason, v.duplicate_of))
        assert_that(removals | beam.combiners.Count.PerElement(),
                    equal_to([(("exact-dedup", "duplicate", "copy-00000"), COPIES - 1)]), label="Removals")
        assert_that(decided["keepers"], equal_to([ids.uid(0, 0), ids.uid(0, COPIES)]), label="Keepers")


def test_a_paragraph_in_50000_pages_is_cut_from_all_but_the_first_page_that_stays():
    ids = DocIds.for_shards(3)
    banner, own = b"cookie banner", [i.to_bytes(4, "little") for i in range(COPIES)]
    keys = [(ids.uid(i % 3, i), ParagraphKeys(f"page-{i:05d}", "web", [own[i], banner], [0, 1])) for i in range(COPIES)]
    removed = [(ids.uid(0, 0), None)]  # the first page was removed by another stage: the second holds the banner
    with beam.Pipeline(runner="FnApiRunner") as pipeline:
        cuts = {"keys": pipeline | "Keys" >> beam.Create(keys),
                "removed": pipeline | "Removed" >> beam.Create(removed)} | ParagraphDedup(ids)
        holders = (cuts | beam.MapTuple(lambda shard, v: (v.stage, v.paragraph, ids.uid(shard, v.row) == ids.uid(1, 1)))
                   | beam.combiners.Count.PerElement())
        assert_that(holders, equal_to([(("paragraph-dedup", 1, False), COPIES - 2)]))
