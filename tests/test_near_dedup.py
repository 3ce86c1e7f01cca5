"""Near-duplicate removal: datasketch-compatible signatures, LSH + connected components in Beam."""
import gzip
import json
import random

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import output_tree
from datasketch import MinHash, MinHashLSH

from tokenmill.filters.document import Document
from tokenmill.filters.minhash import (MinHasher, detection_probability, normalized_word_bytes, normalized_words,
                                      shingle_hash, shingles)
from tokenmill.jobs.curate import curate
from tokenmill.jobs.run_card import read_cards
from tokenmill.pipeline.config import Config, CurateConfig, SourceConfig
from tokenmill.transforms.components import rounds_for


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


def test_the_byte_table_splits_words_as_the_unicode_rules_do():
    texts = ["a_b ٣٤ x²y ½ ①② Ⅻ 𝟘𝟙 foo-bar ÆØ ǅ İstanbul ß ﬁ", "١٢٣ \u0660 \U0001D7CE", "The  U.S. budget, 2024:\tup 3.5%!",
             "a\x1cb\x1fc\x85d\xa0e\u2003f", "\ud800abc def", "ΣΑΣ café naïve 東京タワー 123abc", "“Quoted,” she said—twice…"]
    for text in texts:
        assert normalized_word_bytes(text) == [w.encode("utf-8", "surrogatepass") for w in normalized_words(text)]


def test_signatures_of_short_empty_and_mixed_batches_equal_datasketch():
    texts = ["", "one", "two words", "exactly five words here now", "six words are in this one", "“Quoted,” she said—twice"]
    texts = texts + [" ".join(texts)] + texts[::-1]
    for text, signature in zip(texts, MinHasher(seed=3).signatures(texts)):
        reference = MinHash(num_perm=112, seed=3, hashfunc=shingle_hash)
        for shingle in shingles(text):
            reference.update(shingle)
        assert np.array_equal(reference.hashvalues.astype(np.uint32), signature)


def test_detection_probability_is_the_s_curve():
    # At the band threshold (1/14)^(1/8) ≈ 0.72 a pair is found with probability 1 - (13/14)^14 ≈ 0.65.
    assert detection_probability((1 / 14) ** (1 / 8)) == pytest.approx(1 - (13 / 14) ** 14)
    assert detection_probability(0.9) > 0.99 and detection_probability(0.5) < 0.06


def run_stage(docs, tmp_path=None, **settings):
    """Curate `docs` (one JSONL file) with near-dedup alone and `settings`; returns (kept ids,
    [(dropped id, reason, duplicate_of)]), sorted, and the ledger."""
    import tempfile
    from pathlib import Path

    folder = Path(tmp_path or tempfile.mkdtemp())
    path = folder / f"docs-{len(list(folder.glob('docs-*')))}.jsonl"
    path.write_text("".join(json.dumps({"id": d.id, "text": d.text}) + "\n" for d in docs))
    out = folder / f"out-{path.stem}"
    config = Config(sources={"web": SourceConfig("jsonl", [str(path)])}, stages={"near-dedup": settings},
                    curate=CurateConfig(keep_rejected=True))
    ledger = curate(config, str(out), ["near-dedup"])
    read = lambda name: pq.read_table(out / name).to_pydict() if (out / name).exists() else {"id": []}  # noqa: E731
    kept, rejected = read("curated"), read("rejected")
    dropped = sorted(zip(rejected["id"], rejected.get("reason", []), rejected.get("duplicate_of", [])))
    return sorted(kept["id"]), dropped, ledger


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
    kept, dropped, _ = run_stage(docs, threshold=0.85)
    assert kept == ["a", "z"]
    assert dropped == [("b", "duplicate", "a"), ("c", "duplicate", "a")]


def test_keeper_does_not_depend_on_input_order(web_texts):
    docs = [Document(f"d{i:03d}", "web", t) for i, t in enumerate(web_texts[:40])]
    docs += [Document(f"c{i:03d}", "web", t.replace("the", "a", 3) + " Share this.") for i, t in enumerate(web_texts[:10])]
    first = run_stage(docs)[:2]
    shuffled = docs[:]
    random.Random(1).shuffle(shuffled)
    assert run_stage(shuffled)[:2] == first
    assert len(first[1]) == 10 and all(d[2] == d[0].replace("d", "c") or d[2] < d[0] for d in first[1])


def test_longest_text_keeper_rule(web_texts):
    base = web_texts[5]
    docs = [Document("a", "web", base), Document("b", "web", base + " Read more at our site today.")]
    kept, dropped, _ = run_stage(docs, keep="longest")
    assert kept == ["b"] and dropped == [("a", "duplicate", "b")]


def test_every_member_of_a_hot_bucket_is_compared(web_texts):
    docs = [Document(f"d{i:02d}", "web", web_texts[0]) for i in range(30)]
    kept, dropped, ledger = run_stage(docs)
    assert kept == ["d00"] and len(dropped) == 29 and {d[2] for d in dropped} == {"d00"}
    assert ledger["notes"]["web"] == {}


def test_incremental_run_drops_what_an_earlier_run_holds(web_texts, tmp_path):
    signatures = tmp_path / "run1-signatures"
    old = [Document(f"old{i}", "web", t) for i, t in enumerate(web_texts[:15])]
    run_stage(old, save_signatures=str(signatures))
    assert [p.name for p in signatures.iterdir()] == ["part-00000-0000.parquet"]  # one file per input file
    new = [Document(f"new{i}", "web", t + " Updated.") for i, t in enumerate(web_texts[10:20])]
    kept, dropped, _ = run_stage(new, tmp_path, earlier_signatures=[str(signatures)])
    assert [d[0] for d in dropped] == [f"new{i}" for i in range(5)]
    assert {d[1] for d in dropped} == {"seen_in_earlier_run"}
    assert dropped[0][2] == "old10"
    assert kept == [f"new{i}" for i in range(5, 10)]
    rounds = read_cards(str(tmp_path / "out-docs-0"))["curate"]["component_rounds"]
    assert rounds == rounds_for(15 + 10)  # the earlier run's signatures are nodes too


def test_the_local_runner_holds_the_rounds_its_documents_need_and_the_chain_settles(tmp_path):
    """Pass 1, run alone first, counts 30 documents (and exact dedup's copies: a bound); a chain of 30
    in-order edits settles in the rounds that count allows, as it does in max_rounds."""
    docs = chain_of_edits(30, step=30)
    docs += [Document(f"copy{d.id}", "web", d.text) for d in docs[:3]]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": d.id, "text": d.text}) + "\n" for d in docs))
    config = Config(sources={"web": SourceConfig("jsonl", [str(path)])}, stages={"near-dedup": {"threshold": 0.8}})
    ledger = curate(config, str(tmp_path / "out"), ["exact-dedup", "near-dedup"])
    assert read_cards(str(tmp_path / "out"))["curate"]["component_rounds"] == rounds_for(33) == 8
    assert ledger["balanced"] and ledger["notes"]["web"] == {}
    assert ledger["removed"]["web"] == {"exact-dedup/duplicate": 3, "near-dedup/duplicate": 29}


def chain_of_edits(length: int, step: int = 40):
    """Documents each a small edit of the one before: consecutive ones are near-duplicates, the ends are not."""
    rng = random.Random(3)
    words = [rng.choice(["river", "stone", "light", "field", "north", "quiet", "water", "glass", "cloud", "ember"])
             + str(rng.randrange(90)) for _ in range(1200)]
    docs = []
    for k in range(length):
        docs.append(Document(f"k{k:02d}", "web", " ".join(words)))
        words = edited(words, k * step, (k + 1) * step, f"e{k}-").split()
    return docs


def test_a_component_still_changing_after_the_last_round_keeps_a_member_per_label_counted(tmp_path):
    docs = chain_of_edits(30, step=30)
    kept, dropped, ledger = run_stage(docs, tmp_path, threshold=0.8, max_rounds=1)
    assert ledger["balanced"] and ledger["errors"]["web"] == {}
    assert kept[0] == "k00" and 1 < len(kept) < 30
    assert ledger["notes"]["web"] == {"near-dedup/unsettled_kept": len(kept)}
    assert {d[1] for d in dropped} == {"duplicate"} and {d[2] for d in dropped} <= set(kept)
    kept, dropped, ledger = run_stage(docs, tmp_path, threshold=0.8)
    assert kept == ["k00"] and ledger["errors"]["web"] == {} and ledger["notes"]["web"] == {}
    assert {d[2] for d in dropped} == {"k00"}


def test_every_dedup_stage_gives_the_same_bytes_with_one_or_two_workers(tmp_path):
    docs = chain_of_edits(6)
    notice = "Subscribe to our newsletter to receive the latest stories from the harbour every morning."
    docs += [Document(f"x{d.id}", "web", d.text) for d in docs[:2]]                      # exact copies
    docs += [Document(f"p{i}", "web", f"Page {i} " + d.text[:3000] + "\n\n" + notice) for i, d in enumerate(docs)]
    for part in range(3):
        (tmp_path / f"docs-{part}.jsonl").write_text(
            "".join(json.dumps({"id": d.id, "text": d.text}) + "\n" for d in docs[part::3]))
    config = Config(sources={"web": SourceConfig("jsonl", [str(tmp_path / "docs-*.jsonl")])},
                    curate=CurateConfig(keep_rejected=True, rows_per_shard=4))
    trees = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        ledger = curate(config, str(out), ["exact-dedup", "near-dedup", "paragraph-dedup"], workers=workers)
        trees.append(output_tree(out))
    assert trees[0] == trees[1]
    assert {"exact-dedup/duplicate", "near-dedup/duplicate"} <= set(ledger["removed"]["web"])
    assert "curated/web/part-00000-0000.parquet" in trees[0] and not any("_staging" in n for n in trees[0])


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


def test_a_paragraph_is_held_by_a_document_that_stays(web_texts, tmp_path):
    banner = "We use cookies to improve your experience on our site; by browsing on you accept them."
    rows = [{"id": "a", "text": f"{web_texts[2]}\n\n{banner}"},
            {"id": "b", "text": f"{web_texts[2]} Read more at our site today.\n\n{banner}"},  # a's longer copy
            {"id": "c", "text": f"{web_texts[3]}\n\n{banner}"}]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = Config(sources={"web": SourceConfig("jsonl", [str(path)])}, stages={"near-dedup": {"keep": "longest"}})
    ledger = curate(config, str(tmp_path / "out"), ["near-dedup", "paragraph-dedup"])
    assert ledger["removed"]["web"] == {"near-dedup/duplicate": 1}
    texts = dict(zip(*pq.read_table(tmp_path / "out" / "curated", columns=["id", "text"]).to_pydict().values()))
    assert texts["b"].endswith(banner) and not texts["c"].endswith(banner)  # a, removed, holds nothing


def test_paragraph_dedup_is_optional():
    from tokenmill.pipeline.stages import source_stages

    config = Config(sources={"web": SourceConfig("jsonl", ["x"])})
    assert "paragraph-dedup" not in source_stages(config, "web")


def test_an_optional_stage_runs_when_named_on_the_command_line():
    from tokenmill.pipeline.stages import source_stages

    config = Config(sources={"web": SourceConfig("jsonl", ["x"])})
    assert source_stages(config, "web", ["near-dedup", "paragraph-dedup"]) == ["near-dedup", "paragraph-dedup"]
