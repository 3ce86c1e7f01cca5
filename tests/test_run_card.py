"""run.json in every output folder says how it was made; curated rows name their file relative to
the source, not where one machine kept it."""
import json
from datetime import datetime

import pyarrow.parquet as pq

from conftest import SAMPLE, SAMPLE_STEPS
from tokenmill.filters.document import Document
from tokenmill.jobs.run_card import Inputs, file_list_sha256, input_files, read_cards, run_card
from tokenmill.pipeline.config import Config
from tokenmill.pipeline.schema import from_mapping
from tokenmill.transforms.formats.common import with_relative_paths


def test_every_output_folder_has_a_card_for_each_job_that_wrote_it(sample_run):
    out, _ = sample_run
    cards = {"": read_cards(str(out)), "tokens": read_cards(str(out / "tokens")), "run": read_cards(str(out / "run"))}
    assert {folder: sorted(jobs) for folder, jobs in cards.items()} == {
        "": ["curate", "run", "tokenizer"], "tokens": ["pack"], "run": ["train"]}
    for jobs in cards.values():
        for job, card in jobs.items():
            assert card["status"] == "ok", job
            assert card["command"] == ["tokenmill", "run", "--sample", "--output", str(out),
                                       "--steps", str(SAMPLE_STEPS), "--device", "cpu"]
            assert {"tokenmill", "python", "apache-beam", "pyarrow", "torch", "tokenizers"} <= set(card["versions"])
            started, ended = datetime.fromisoformat(card["started"]), datetime.fromisoformat(card["ended"])
            assert started <= ended and card["seconds"] >= 0
            listed = Inputs.listed(card["inputs"]["paths"])   # counts and a checksum, not one entry per file
            assert card["inputs"] == {"paths": listed.paths, "files": listed.files, "bytes": listed.bytes}, job
            assert listed.files and card["inputs_sha256"] == listed.sha256, job


def test_the_curate_card_holds_the_inputs_runner_and_a_config_that_loads_again(sample_run):
    out, _ = sample_run
    card = read_cards(str(out))["curate"]
    names = ("docs.jsonl.gz", "web.warc.gz")
    assert card["inputs"] == {"paths": [str(SAMPLE / name) for name in names], "files": 2,
                              "bytes": sum((SAMPLE / name).stat().st_size for name in names)}
    assert card["inputs_sha256"] == file_list_sha256(
        [{"path": str(SAMPLE / name), "bytes": (SAMPLE / name).stat().st_size} for name in names])
    assert card["staged_files"] == {"read": 2, "read_bytes": card["inputs"]["bytes"]}
    assert card["runner"]["name"] == "FnApiRunner" and card["runner"]["workers"] == 1
    assert card["runner"]["stages"]["web"][:2] == ["clean-text", "langid"]
    config = from_mapping(Config, {k: v for k, v in card["config"].items() if k != "origin"}, "run.json")
    assert sorted(config.sources) == ["docs", "web"] and config.sources["web"].weight == 0.7
    assert config.stages["langid"]["threshold"] == 0.65 and config.curate.keep_rejected
    train = read_cards(str(out / "run"))["train"]
    assert train["config"]["steps"] == SAMPLE_STEPS and train["runner"] == {"device": "cpu", "world_size": 1}
    assert read_cards(str(out))["run"]["parts"]["report"] == str(out / "report.html")


def test_a_failed_job_is_carded_as_failed_and_other_jobs_cards_stay(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("some text", encoding="utf-8")
    with run_card("first", str(tmp_path), {"k": 1}, [str(tmp_path / "in")], {"name": "local"}):
        pass
    try:
        with run_card("second", str(tmp_path), {"k": 2}, [str(tmp_path / "in" / "*.txt")], {"name": "local"}):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    cards = json.loads((tmp_path / "run.json").read_text())
    assert (cards["first"]["status"], cards["second"]["status"]) == ("ok", "failed")
    assert {k: v for k, v in cards["first"]["inputs"].items() if k != "paths"} == {"files": 1, "bytes": 9}
    assert cards["first"]["inputs_sha256"] == cards["second"]["inputs_sha256"] == file_list_sha256(
        [{"path": str(tmp_path / "in" / "a.txt"), "bytes": 9}])


def test_input_files_expand_folders_and_globs_and_skip_what_is_not_there(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name, size in (("d/x.gz", 3), ("d/sub/y.gz", 5), ("d/z.txt", 7)):
        (tmp_path / name).write_bytes(b"-" * size)
    found = input_files([str(tmp_path / "d" / "*.gz"), str(tmp_path / "d" / "sub"), str(tmp_path / "missing")])
    assert found == [{"path": str(tmp_path / "d" / "sub" / "y.gz"), "bytes": 5},
                     {"path": str(tmp_path / "d" / "x.gz"), "bytes": 3}]
    assert file_list_sha256(found) != file_list_sha256(found[:1])


def test_curated_rows_name_their_file_relative_to_the_source(sample_run):
    out, _ = sample_run
    for folder in ("curated", "rejected"):
        metas = pq.read_table(out / folder, columns=["meta"]).column("meta").to_pylist()
        assert {json.loads(meta)["path"] for meta in metas} == {"web.warc.gz", "docs.jsonl.gz"}, folder


def test_meta_paths_are_relative_to_the_longest_root_and_remote_ones_stay_whole():
    def shown(path, roots, key="path"):
        return with_relative_paths(Document("d", "s", "text", meta={key: path}), path, roots).meta[key]

    assert shown("/data/crawl/2024/a.warc.gz", ["/data/crawl/"]) == "2024/a.warc.gz"
    assert shown("/data/crawl/2024/a.warc.gz", ["/data/", "/data/crawl/2024/"]) == "a.warc.gz"
    assert shown("/data/one.jsonl", ["/data/one.jsonl"]) == "one.jsonl"  # a file named without a glob
    assert shown("/data/tree/src/m.py", ["/data/tree/"], key="file") == "src/m.py"
    assert shown("gs://bucket/crawl/a.warc.gz", ["gs://bucket/crawl/"]) == "gs://bucket/crawl/a.warc.gz"
    assert shown("/elsewhere/b.txt", ["/data/"]) == "/elsewhere/b.txt"
