"""`tokenmill run`: raw shards to a trained tiny GPT and its report on the bundled sample, every
stage's output in place."""
import json

import pyarrow.parquet as pq
import pytest

from conftest import SAMPLE_STEPS
from tokenmill.jobs.run import run_all
from tokenmill.jobs.sample.build import sample_config_path
from tokenmill.pipeline.config import load_config
from tokenmill.pipeline.schema import ConfigError


def test_the_sample_runs_end_to_end_and_the_loss_goes_down(sample_run):
    out, result = sample_run
    assert json.loads((out / "ledger.json").read_text())["balanced"]
    assert (out / "tokenizer.json").is_file()
    manifest = json.loads((out / "tokens" / "manifest.json").read_text())
    rows = sum(pq.read_metadata(out / "tokens" / s["path"]).num_rows for s in manifest["shards"])
    assert rows == manifest["total_rows"] > 0
    losses = [row["loss"] for row in map(json.loads, (out / "run" / "metrics.jsonl").read_text().splitlines())
              if row.get("loss") is not None]
    assert len(losses) == SAMPLE_STEPS
    assert losses[-1] < losses[0] - 1.0
    assert f"train    {SAMPLE_STEPS} steps" in result.stdout
    assert f"report   → {out / 'report.html'}" in result.stdout and (out / "report.html").is_file()


def test_a_mistake_in_a_later_section_stops_the_run_before_curation(tmp_path):
    config = load_config(sample_config_path())
    config.train["batch_sise"] = 4
    with pytest.raises(ConfigError, match=r"train\.batch_sise: unknown key"):
        run_all(config, str(tmp_path / "out"), echo=lambda line: None)
    assert not (tmp_path / "out").exists()
