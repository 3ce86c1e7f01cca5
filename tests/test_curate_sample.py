"""`tokenmill curate` end to end on the bundled sample: the ledger balances, languages hold, rejects
match the ledger, runs repeat byte for byte with 1 or 2 workers and leave no stale shard
(tests/test_curate_e2e.py measures the same on real crawl data, in the corpus tier)."""

import pyarrow.parquet as pq

from conftest import output_tree, tokenmill
from tests.curated_checks import assert_kept_in_language, assert_ledger_balances, assert_rejected_match_the_ledger


def test_ledger_balances_for_every_source(sample_run):
    out, result = sample_run
    assert_ledger_balances(out, result.stdout, {"web", "docs"})


def test_kept_documents_are_in_the_wanted_language_with_every_column(sample_run):
    assert_kept_in_language(sample_run[0])


def test_rejected_rows_carry_stage_and_reason_and_match_the_ledger(sample_run):
    ledger = assert_rejected_match_the_ledger(sample_run[0])  # the sample's copied page names the page it copies
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

    parts = ("curated", "rejected", "ledger.json")
    one, two = output_tree(local, parts), output_tree(out, parts)
    assert any(name.endswith(".parquet") for name in one)
    assert one.keys() == two.keys() and one == two
