"""`tokenmill curate` end to end on real crawl data: the ledger balances, languages hold, runs repeat."""
import pyarrow.parquet as pq
import pytest

from conftest import output_tree, tokenmill
from tests.curated_checks import assert_kept_in_language, assert_ledger_balances, assert_rejected_match_the_ledger
from tokenmill.jobs.curate import curate
from tokenmill.pipeline.config import Config, SourceConfig


@pytest.fixture(scope="module")
def curated(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("curate") / "out"
    result = tokenmill("curate", "--output", str(out), "--keep-rejected", "--langs", "en", "--lang-threshold", "0.65",
                       "--source", f"web=warc:{corpus}/web/*.warc.gz",
                       "--source", f"wet=wet:{corpus}/web/*.wet.gz",
                       "--source", f"bulk=jsonl:{corpus}/web-bulk/*.jsonl.gz")
    return out, result


def test_ledger_balances_for_every_source(curated):
    out, result = curated
    ledger = assert_ledger_balances(out, result.stdout, {"web", "wet", "bulk"})
    assert ledger["input"]["bulk"] > 1300 and ledger["kept"]["bulk"] > 600  # the web quality rules keep ~57%


def test_kept_documents_are_in_the_wanted_language(curated):
    assert_kept_in_language(curated[0])


def test_rejected_rows_carry_stage_and_reason_and_match_the_ledger(curated):
    ledger = assert_rejected_match_the_ledger(curated[0])
    # The Aragonese Wikipedia page in the Common Crawl sample is not English.
    assert "langid/unwanted_language" in ledger["removed"]["wet"]


def test_ids_are_stable_record_ids(curated):
    out, _ = curated
    web = pq.read_table(out / "curated" / "web").to_pydict()
    assert all(i.startswith("urn:uuid:") for i in web["id"])
    assert all(u.startswith("http") for u in web["url"])


def test_same_input_gives_byte_identical_outputs_with_one_or_two_workers(corpus, tmp_path):
    config = lambda: Config(sources={  # noqa: E731
        "web": SourceConfig("warc", [f"{corpus}/web/*.warc.gz"]),
        "bulk": SourceConfig("jsonl", [f"{corpus}/web-bulk/olmo_c4-sample.*.jsonl.gz",
                                       f"{corpus}/web-bulk/dclm_annotated_*.jsonl.gz"]),
    })
    outputs = []
    for workers in (1, 1, 2):
        out = tmp_path / f"w{workers}-{len(outputs)}"
        curate(config(), str(out), workers=workers)
        outputs.append(output_tree(out))
    assert outputs[0].keys() == outputs[1].keys() == outputs[2].keys()
    assert any(name.endswith(".parquet") for name in outputs[0])
    assert outputs[0] == outputs[1] == outputs[2]


def test_a_rerun_leaves_no_stale_shard(corpus, tmp_path):
    out = tmp_path / "out"
    stale = out / "curated" / "old" / "part-00000.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over")
    curate(Config(sources={"wet": SourceConfig("wet", [f"{corpus}/web/*.wet.gz"])}), str(out), ["quality"])
    assert not stale.exists()
    assert (out / "curated" / "wet").is_dir()
