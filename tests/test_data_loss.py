"""A run that loses input says so: a file it could read nothing from, or errors above
`curate.max_error_share` of a source, end the command with a non-zero status after everything that
could be read is written, the cause on stderr."""
import json

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tokenmill.filters.document import Document
from tokenmill.jobs.cli import cli
from tokenmill.pipeline.config import load_config
from tokenmill.pipeline.ledger import assemble, data_loss
from tokenmill.pipeline.schema import ConfigError
from tokenmill.transforms.formats import ReadOptions
from tokenmill.transforms.read import ShardReader

PROSE = ("The harbour master kept a careful record of every ship that entered the bay, noting its cargo, "
         "its crew and the weather it had met on the way. ")


def jsonl(path, count, start=0):
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": f"{PROSE} Entry {i}."}) + "\n"
                            for i in range(start, start + count)))
    return path


def curate(tmp_path, curate_section=""):
    config = tmp_path / "run.yaml"
    config.write_text(f"sources:\n  src: {{format: jsonl, paths: ['data/*']}}\ncurate: {{{curate_section}}}\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["curate", "--config", str(config), "--output", str(out), "--stages",
                                      "clean-text"])
    return result, out


def test_a_file_read_whole_into_nothing_fails_the_run_after_the_rest_is_written(tmp_path):
    (tmp_path / "data").mkdir()
    jsonl(tmp_path / "data" / "good.jsonl", 150)
    (tmp_path / "data" / "bad.jsonl.gz").write_bytes(b"this was never gzip " * 50)
    result, out = curate(tmp_path)
    assert result.exit_code == 1, result.output
    assert "DATA LOST" in result.stderr
    assert "src: 1 input file could not be read at all (read/corrupt_compression 1; curate.max_unread_files is 0)" \
        in result.stderr
    ledger = json.loads((out / "ledger.json").read_text())
    assert ledger["unread_files"] == {"src": {"read/corrupt_compression": 1}} and ledger["balanced"]
    assert pq.read_table(out / "curated").num_rows == ledger["kept"]["src"] == 150   # the good file, written
    assert json.loads((out / "run.json").read_text())["curate"]["status"] == "failed"
    allowed, _ = curate(tmp_path, "max_unread_files: 1")
    assert allowed.exit_code == 0, allowed.output


def test_errors_above_the_share_fail_the_run(tmp_path):
    (tmp_path / "data").mkdir()
    lines = jsonl(tmp_path / "data" / "mixed.jsonl", 98).read_text() + "{not json\n" * 2
    (tmp_path / "data" / "mixed.jsonl").write_text(lines)
    result, out = curate(tmp_path)
    assert result.exit_code == 1
    assert ("src: 2 of 100 documents failed (2.00%, more than curate.max_error_share 1.00%: read/invalid_json 2)"
            in result.stderr)
    assert pq.read_table(out / "curated").num_rows == 98
    assert curate(tmp_path, "max_error_share: 0.02")[0].exit_code == 0


def test_the_causes_name_each_source_and_leave_a_clean_run_alone():
    events = [(("input", "a", ""), 1000), (("kept", "a", ""), 990), (("errors", "a", "read/invalid_json"), 10),
              (("input", "b", ""), 10), (("kept", "b", ""), 8), (("errors", "b", "read/BadGzipFile"), 2),
              (("unread_files", "b", "read/BadGzipFile"), 2)]
    ledger = assemble(events, ["a", "b"])
    assert data_loss(ledger, 0.01) == [
        "b: 2 input files could not be read at all (read/BadGzipFile 2; curate.max_unread_files is 0)",
        "b: 2 of 10 documents failed (20.00%, more than curate.max_error_share 1.00%: read/BadGzipFile 2)"]
    assert data_loss(ledger, 0.2, max_unread_files=2) == []
    assert data_loss(assemble([(("input", "a", ""), 5), (("kept", "a", ""), 5)], ["a"]), 0.0) == []


def test_a_reader_that_cannot_import_its_extractor_loses_the_file_and_says_so(monkeypatch, tmp_path):
    """What a worker without the trafilatura extra does: each file is one `read/ImportError`, marked as
    a file lost whole, so the run fails loudly instead of ending "ledger balanced"."""
    from tests.test_bad_input import warc_response

    path = tmp_path / "pages.warc.gz"
    path.write_bytes(b"".join(warc_response(i) for i in range(3)))
    monkeypatch.setitem(__import__("sys").modules, "trafilatura", None)
    items = list(ShardReader({"web": ReadOptions(extra={"extractor": "trafilatura"})}).items("web", "warc", str(path)))
    assert [(i.kind, i.unread_file) for i in items] == [("ImportError", True)]
    assert "pip install 'tokenmill[trafilatura]'" in items[0].detail
    monkeypatch.undo()
    read = list(ShardReader({"web": ReadOptions()}).items("web", "warc", str(path)))
    assert len(read) == 3 and all(isinstance(i, Document) for i in read)


def test_a_failure_before_the_first_document_is_not_a_lost_file(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text("{broken\n" + json.dumps({"text": PROSE}) + "\n")
    items = list(ShardReader({"src": ReadOptions()}).items("src", "jsonl", str(path)))
    assert [type(i).__name__ for i in items] == ["Failed", "Document"] and not items[0].unread_file
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    (nothing,) = ShardReader({"src": ReadOptions()}).items("src", "jsonl", str(empty))
    assert nothing.kind == "no_documents" and not nothing.unread_file  # nothing there to lose


@pytest.mark.parametrize("section, message", [
    ("max_error_share: 1.5", "curate: max_error_share: must be between 0 and 1"),
    ("max_error_share: lots", "curate.max_error_share: expected a number, got 'lots'"),
    ("max_unread_files: -1", "curate: max_unread_files: must not be negative"),
])
def test_the_limits_are_checked_when_the_config_loads(tmp_path, section, message):
    (tmp_path / "run.yaml").write_text(f"curate: {{{section}}}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(str(tmp_path / "run.yaml"))


def test_tokenmill_run_stops_after_a_curation_that_lost_input(tmp_path):
    (tmp_path / "data").mkdir()
    jsonl(tmp_path / "data" / "good.jsonl", 50)
    (tmp_path / "data" / "bad.jsonl.gz").write_bytes(b"not gzip at all")
    config = tmp_path / "run.yaml"
    config.write_text("sources:\n  src: {format: jsonl, paths: ['data/*'], stages: [clean-text]}\n")
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--output", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "curate   src: 51 in → 50 kept (98.0%); error read/corrupt_compression 1" in result.stdout
    assert "src: 1 input file could not be read at all" in result.stderr and "stopped after curate" in result.stderr
    assert (tmp_path / "out" / "ledger.json").is_file() and not (tmp_path / "out" / "tokenizer.json").exists()
    assert json.loads((tmp_path / "out" / "run.json").read_text())["run"]["status"] == "failed"
