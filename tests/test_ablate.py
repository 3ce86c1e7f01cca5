"""`tokenmill ablate` on the bundled sample: raw extraction (a config it curates) against the sample's
curated output (a folder it takes as it is), tiny proxies, two seeds each; then resumed."""
import json
import shutil

import pytest
import yaml
from click.testing import CliRunner

from eval_sets import held_out_texts, write_choice_files, write_text_set
from tokenmill.jobs.cli import cli

pytestmark = pytest.mark.slow
SETTINGS = {"tokenizer": {"vocab_size": 512},
            "pack": {"seq_len": 64, "rows_per_shard": 32},
            "train": {"batch_size": 8, "checkpoint_every": 1000, "eval_every": 1000, "tensorboard": False}}
TOKENS = 8000


@pytest.fixture(scope="module")
def ablation(sample_run, sample_texts, tmp_path_factory):
    """The arms, the command's arguments, and the output of its first run."""
    root = tmp_path_factory.mktemp("ablate")
    sample = json.loads((sample_run[0] / "run.json").read_text())["run"]["config"]
    raw = {"sources": {name: {**source, "stages": ["clean-text"]} for name, source in sample["sources"].items()}}
    (root / "raw.yaml").write_text(yaml.safe_dump(raw))
    default = root / "default"  # the sample's curate output, as `tokenmill curate` left it
    default.mkdir()
    for name in ("curated", "ledger.json", "run.json"):
        (shutil.copytree if name == "curated" else shutil.copyfile)(sample_run[0] / name, default / name)
    (root / "settings.yaml").write_text(yaml.safe_dump(SETTINGS))
    args = ["ablate", "--config", str(root / "raw.yaml"), "--config", str(default), "--output", str(root / "out"),
            "--tokens", str(TOKENS), "--model", "tiny", "--seeds", "2", "--settings", str(root / "settings.yaml"),
            "--device", "cpu", "--text", write_text_set(root / "held.jsonl", held_out_texts(sample_texts)),
            "--choice", f"hellaswag={write_choice_files(sample_texts, root)['hellaswag']}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return root / "out", args, result.output


def test_every_arm_gets_the_same_tokenizer_tokens_and_training(ablation):
    out, _, _ = ablation
    summary = json.loads((out / "ablation.json").read_text())
    assert summary["settings"]["arms"] == ["raw", "default"] and summary["settings"]["baseline"] == "raw"
    shared = (out / "tokenizer" / "tokenizer.json").read_bytes()
    for arm in ("raw", "default"):
        assert (out / "arms" / arm / "tokenizer.json").read_bytes() == shared
        manifest = json.loads((out / "arms" / arm / "tokens" / "manifest.json").read_text())
        assert manifest["total_tokens"] == TOKENS // 65 * 65 == summary["arms"][arm]["pack"]["total_tokens"]
        for seed in ("1", "2"):
            run = summary["arms"][arm]["runs"][seed]
            assert run["step"] == summary["settings"]["steps"] > 0
    # The vocabulary is learned from both arms, each half of the sample.
    weights = json.loads((out / "tokenizer" / "run.json").read_text())["tokenizer"]["config"]["weights"]
    assert sum(w for s, w in weights.items() if s.startswith("raw.")) == pytest.approx(0.5)
    assert sum(w for s, w in weights.items() if s.startswith("default.")) == pytest.approx(0.5)
    # Raw extraction keeps every document it reads; the default chain removed some.
    curate = summary["arms"]["raw"]["curate"]
    assert sum(curate["kept"].values()) == sum(curate["input"].values())
    assert summary["arms"]["default"]["curate"] is None and summary["arms"]["default"]["config"].endswith("default")


def test_each_set_has_every_seed_with_its_spread_and_the_difference(ablation):
    out, _, output = ablation
    summary = json.loads((out / "ablation.json").read_text())
    held = summary["sets"]["held"]["figures"]["bits_per_byte"]
    assert held["lower_is_better"]
    for arm in ("raw", "default"):
        stats = held["arms"][arm]
        for seed in ("1", "2"):
            recorded = json.loads((out / "arms" / arm / f"seed-{seed}" / "eval.json").read_text())
            assert stats["values"][seed] == recorded["evaluations"][-1]["text"]["held"]["bits_per_byte"]
        assert stats["values"]["1"] != stats["values"]["2"]  # seeds differ
        assert stats["range"] == pytest.approx(abs(stats["values"]["1"] - stats["values"]["2"]))
    versus = held["versus_raw"]["default"]
    assert versus["difference"] == pytest.approx(held["arms"]["default"]["mean"] - held["arms"]["raw"]["mean"])
    assert versus["seed_spread"] == pytest.approx(max(held["arms"]["raw"]["range"], held["arms"]["default"]["range"]))
    assert set(summary["sets"]["hellaswag"]["figures"]) == {"acc", "acc_norm"}
    page = (out / "ablation.html").read_text()
    assert page.count("<svg") == 1 and "held: bits per byte" in page and "default − raw" in page
    assert "held bits_per_byte: raw " in output


def test_a_second_run_redoes_only_what_is_missing(ablation):
    out, args, _ = ablation
    before = (out / "ablation.json").read_bytes()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    # curate (one arm is a given folder), the tokenizer, two packs, four trainings and evaluations
    assert again.output.count("done before, kept") == 1 + 1 + 2 + 4 + 4
    assert (out / "ablation.json").read_bytes() == before
    shutil.rmtree(out / "arms" / "raw" / "seed-2")
    third = CliRunner().invoke(cli, args)
    assert third.exit_code == 0, third.output
    redone = [line for line in third.output.splitlines() if line.startswith(("train ", "eval "))]
    assert redone and all("raw seed 2" in line for line in redone)
    assert (out / "ablation.json").read_bytes() == before  # the same seed trains the same proxy
