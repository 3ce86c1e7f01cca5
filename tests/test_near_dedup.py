"""Near-duplicate removal: datasketch-compatible signatures, LSH + connected components in Beam."""
import gzip
import json
import random

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to
from datasketch import MinHash, MinHashLSH

from tokenmill.filters.document import Document
from tokenmill.filters.minhash import MinHasher, detection_probability, normalized_words, shingle_hash, shingles
from tokenmill.jobs.curate import curate
from tokenmill.pipeline.config import Config, SourceConfig
from tokenmill.transforms.near_dedup import NearDedup


@pytest.fixture(scope="module", params=["sample", pytest.param("corpus", marks=pytest.mark.corpus)])
def web_texts(request, sample_texts):
    """Distinct real texts: the bundled sample's in the default tier, OpenWebText's in the corpus tier."""
    if request.param == "sample":
        return sample_texts
    corpus = request.getfixturevalue("corpus")
    with gzip.open(corpus / "web-bulk" / "openwebtext_megatron-ds-testset_part-shared.jsonl.gz", "rt") as lines:
        return [json.loads(line)["text"] for line in lines][:120]


def test_signatures_equal_datasketch_updated_shingle_by_shingle(web_texts):
    hasher = MinHasher(num_perm=112, seed=7)
    signatures = hasher.signatures(web_texts[:20] + ["", "five words or fewer here"])
    for text, signature in zip(web_texts[:20] + ["", "five words or fewer here"], signatures):
        reference = MinHash(num_perm=112, seed=7, hashfunc=shingle_hash)
        for shingle in shingles(text):
            reference.update(shingle)
        assert np.array_equal(reference.hashvalues.astype(np.uint32), signature)


def test_signatures_index_in_datasketch_lsh(web_texts):
    hasher = MinHasher()
    lsh = MinHashLSH(num_perm=112, params=(14, 8))
    for i, signature in enumerate(hasher.signatures(web_texts[:30])):
        lsh.insert(f"doc{i}", hasher.lean_minhash(signature))
    edited = web_texts[3].replace(".", ";", 2)
    assert "doc3" in lsh.query(hasher.lean_minhash(hasher.signatures([edited])[0]))


def test_normalisation_folds_case_punctuation_digits_and_space():
    assert normalized_words("The  U.S. budget, 2024:\tup 3.5%!") == ["the", "u", "s", "budget", "0000", "up", "0", "0"]


def test_detection_probability_is_the_s_curve():
    # At the band threshold (1/14)^(1/8) ≈ 0.72 a pair is found with probability 1 - (13/14)^14 ≈ 0.65.
    assert detection_probability((1 / 14) ** (1 / 8)) == pytest.approx(1 - (13 / 14) ** 14)
    assert detection_probability(0.9) > 0.99 and detection_probability(0.5) < 0.06


def run_stage(docs, **settings):
    """Run the stage on `docs`; returns (kept ids, [(dropped id, reason, duplicate_of)]), sorted."""
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp())
    with BeamTestPipeline(runner=FnApiRunner()) as p:
        out = p | beam.Create(docs) | NearDedup(**settings)
        (out["kept"] | "KeptIds" >> beam.Map(lambda d: json.dumps(d.id))
         | "WriteKept" >> beam.io.WriteToText(str(folder / "kept"), num_shards=1))
        (out["rejected"] | "DroppedIds" >> beam.Map(lambda r: json.dumps([r.doc.id, r.reason, r.duplicate_of]))
         | "WriteDropped" >> beam.io.WriteToText(str(folder / "dropped"), num_shards=1))
    read = lambda name: sorted(tuple(x) if isinstance(x, list) else x  # noqa: E731
                               for f in folder.glob(f"{name}*") for x in map(json.loads, f.read_text().splitlines()))
    return read("kept"), read("dropped")


def edited(words, start, stop, tag):
    return " ".join(words[:start] + [f"{tag}{i}" for i in range(stop - start)] + words[stop:])


def test_a_chain_of_near_duplicates_is_one_component_kept_once():
    rng = random.Random(0)
    words = [rng.choice(["river", "stone", "light", "field", "north", "quiet", "water", "glass", "cloud", "ember",
                         "harbor", "winter", "garden", "signal"]) + str(rng.randrange(50)) for _ in range(1000)]
    a = " ".join(words)
    b = edited(words, 950, 1000, "x")            # A~B
    c = edited(b.split(), 0, 50, "y")            # B~C, A and C further apart
    other = " ".join(reversed(words))
    docs = [Document("c", "web", c), Document("a", "web", a), Document("b", "web", b), Document("z", "web", other)]
    kept, dropped = run_stage(docs, threshold=0.85)
    assert kept == ["a", "z"]
    assert dropped == [("b", "duplicate", "a"), ("c", "duplicate", "a")]


def test_keeper_does_not_depend_on_input_order(web_texts):
    docs = [Document(f"d{i:03d}", "web", t) for i, t in enumerate(web_texts[:40])]
    docs += [Document(f"c{i:03d}", "web", t.replace("the", "a", 3) + " Share this.") for i, t in enumerate(web_texts[:10])]
    first = run_stage(docs)
    shuffled = docs[:]
    random.Random(1).shuffle(shuffled)
    assert run_stage(shuffled) == first
    assert len(first[1]) == 10 and all(d[2] == d[0].replace("d", "c") or d[2] < d[0] for d in first[1])


def test_longest_text_keeper_rule(web_texts):
    base = web_texts[5]
    docs = [Document("a", "web", base), Document("b", "web", base + " Read more at our site today.")]
    kept, dropped = run_stage(docs, keep="longest")
    assert kept == ["b"] and dropped == [("a", "duplicate", "b")]


def test_bucket_cap_bounds_hot_keys(web_texts):
    docs = [Document(f"d{i:02d}", "web", web_texts[0]) for i in range(30)]
    kept, dropped = run_stage(docs, bucket_cap=10)
    assert len(dropped) == 9  # only the ten best of each bucket are compared; exact dedup takes the rest
    kept, dropped = run_stage(docs)
    assert kept == ["d00"] and len(dropped) == 29


def test_incremental_run_drops_what_an_earlier_run_holds(web_texts, tmp_path):
    signatures = tmp_path / "run1-signatures"
    old = [Document(f"old{i}", "web", t) for i, t in enumerate(web_texts[:15])]
    run_stage(old, save_signatures=str(signatures))
    assert (signatures / "web.parquet").is_file()
    new = [Document(f"new{i}", "web", t + " Updated.") for i, t in enumerate(web_texts[10:20])]
    kept, dropped = run_stage(new, earlier_signatures=[str(signatures)])
    assert [d[0] for d in dropped] == [f"new{i}" for i in range(5)]
    assert {d[1] for d in dropped} == {"seen_in_earlier_run"}
    assert dropped[0][2] == "old10"
    assert kept == [f"new{i}" for i in range(5, 10)]


def test_curate_near_dedup_end_to_end(web_texts, tmp_path):
    rows = [{"id": f"o{i:03d}", "text": t} for i, t in enumerate(web_texts[:60])]
    rows += [{"id": f"p{i:03d}", "text": "Advertisement\n" + t.replace(",", "", 2) + "\nShare this article"}
             for i, t in enumerate(web_texts[:12])]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = Config(sources={"web": SourceConfig("jsonl", [str(path)])})
    ledger = curate(config, str(tmp_path / "out"), ["near-dedup"])
    assert ledger["balanced"] and ledger["removed"]["web"] == {"near-dedup/duplicate": 12}


def test_paragraph_dedup_cuts_repeated_paragraphs_across_documents(tmp_path):
    shared = "Subscribe to our newsletter to receive the latest stories from our newsroom every morning."
    rows = [
        {"id": "a", "text": f"The council approved the new bridge on Tuesday after a long debate.\n\n{shared}"},
        {"id": "b", "text": f"Rainfall this spring was the highest recorded in the valley since 1952.\n\n{shared}"},
        {"id": "c", "text": shared},
        {"id": "d", "text": "Short.\n\nShort."},
    ]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = Config(sources={"web": SourceConfig("jsonl", [str(path)], stages=["paragraph-dedup"])})
    ledger = curate(config, str(tmp_path / "out"))
    assert ledger["removed"]["web"] == {"paragraph-dedup/all_duplicated": 1}
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "out" / "curated").to_pydict()
    texts = dict(zip(table["id"], table["text"]))
    assert texts["a"].endswith(shared)                      # the first holder keeps it
    assert texts["b"] == rows[1]["text"].split("\n\n")[0]   # cut elsewhere
    assert texts["d"] == "Short.\n\nShort."                 # short paragraphs are never cut
    assert dict(zip(table["id"], table["duplicate_paragraphs_removed"]))["b"] == 1


def test_paragraph_dedup_is_optional():
    from tokenmill.pipeline.stages import source_stages

    config = Config(sources={"web": SourceConfig("jsonl", ["x"])})
    assert "paragraph-dedup" not in source_stages(config, "web")


def test_an_optional_stage_runs_when_named_on_the_command_line():
    from tokenmill.pipeline.stages import source_stages

    config = Config(sources={"web": SourceConfig("jsonl", ["x"])})
    assert source_stages(config, "web", ["near-dedup", "paragraph-dedup"]) == ["near-dedup", "paragraph-dedup"]
