"""`tokenmill curate` end to end on the bundled sample: the ledger balances, languages hold, rejects
match the ledger, runs repeat byte for byte with 1 or 2 workers and leave no stale shard
(tests/test_curate_e2e.py measures the same on real crawl data, in the corpus tier)."""
import json

import pyarrow.parquet as pq

from conftest import tokenmill


def test_ledger_balances_for_every_source(sample_run):
    out, result = sample_run
    ledger = json.loads((out / "ledger.json").read_text())
    assert set(ledger["input"]) == {"web", "docs"}
    for source, n in ledger["input"].items():
        assert n == ledger["kept"][source] + sum(ledger["removed"][source].values()) + sum(
            ledger["errors"][source].values()), source
    assert ledger["balanced"] is True and "ledger balanced" in result.stdout


def test_kept_documents_are_in_the_wanted_language_with_every_column(sample_run):
    out, _ = sample_run
    table = pq.read_table(out / "curated").to_pydict()
    assert set(table["lang"]) == {"en"} and min(table["lang_score"]) >= 0.65
    assert len(set(table["id"])) == len(table["id"])
    for column in ("id", "source", "text", "url", "lang", "lang_score", "meta", "char_count", "words_per_char"):
        assert column in table


def test_rejected_rows_carry_stage_and_reason_and_match_the_ledger(sample_run):
    out, _ = sample_run
    ledger = json.loads((out / "ledger.json").read_text())
    rejected = pq.read_table(out / "rejected").to_pydict()
    counted = {}
    for source, stage, reason in zip(rejected["source"], rejected["stage"], rejected["reason"]):
        counted.setdefault(source, {}).setdefault(f"{stage}/{reason}", 0)
        counted[source][f"{stage}/{reason}"] += 1
    assert counted == {s: r for s, r in ledger["removed"].items() if r}
    duplicates = [d for d, r in zip(rejected["duplicate_of"], rejected["reason"]) if r == "duplicate"]
    assert duplicates and all(duplicates)  # the sample's copied page names the page it copies
    assert ledger["removed"]["web"]["langid/unwanted_language"] == 3  # its German, French and Spanish pages


def test_ids_are_stable_record_ids(sample_run):
    out, _ = sample_run
    web = pq.read_table(out / "curated" / "web").to_pydict()
    assert all(i.startswith("urn:uuid:") for i in web["id"])
    assert all(u.startswith("http") for u in web["url"])
    docs = pq.read_table(out / "curated" / "docs").to_pydict()
    assert all(i.startswith("stdlib-") for i in docs["id"])  # the JSONL records' own ids


def test_two_workers_give_the_same_bytes_and_a_rerun_leaves_no_stale_shard(sample_run, tmp_path):
    local, _ = sample_run
    out = tmp_path / "out"
    stale = out / "curated" / "old" / "part-00000.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over")
    tokenmill("curate", "--sample", "--output", str(out), "--workers", "2")
    assert not stale.exists()

    def tree(root):
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file() and p.parts[len(root.parts)] in ("curated", "rejected", "ledger.json")}

    one, two = tree(local), tree(out)
    assert any(name.endswith(".parquet") for name in one)
    assert one.keys() == two.keys() and one == two
