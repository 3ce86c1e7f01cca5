"""The trainer end to end on CPU: metrics, exact resume, rollback on a loss spike, two gloo ranks."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tokenmill.jobs.cli import cli
from tokenmill.jobs.train import TrainingDiverged, train
from tokenmill.jobs.train.checkpoint import list_checkpoints, load_checkpoint
from tokenmill.pipeline.schema import ConfigError
from tokenmill.pipeline.train_config import ModelConfig, TrainConfig, train_config
from token_shards import patterned_rows, write_token_shards

REPO = Path(__file__).resolve().parents[1]
VOCAB, SEQ = 64, 16

CPU = TrainConfig(model=ModelConfig(size="tiny"), batch_size=4, warmup_steps=2, lr=1e-2,
                  eval_every=5, eval_batches=2, checkpoint_every=4, keep_checkpoints=2,
                  device="cpu", tensorboard=False)


def records(run: Path, key: str = "loss") -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if key in r]


def without_speed(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "tokens_per_s"} for r in rows]


def events(run: Path) -> list[dict]:
    path = run / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and a shared CPU makes more threads spin-wait;
    the subprocesses below get the same through OMP_NUM_THREADS, so their numbers match."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokens(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("packed") / "tokens"
    write_token_shards(folder, patterned_rows(400, SEQ, VOCAB), VOCAB, rows_per_shard=100)
    return folder


def test_cli_trains_logs_metrics_evaluates_and_keeps_the_last_checkpoints(tokens, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("train:\n  batch_size: 4\n  warmup_steps: 2\n  lr: 0.01\n  eval_every: 5\n"
                      "  checkpoint_every: 4\n  keep_checkpoints: 2\n  tensorboard: false\n")
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, ["train", "--data", str(tokens), "--out", str(run), "--config",
                                      str(config), "--model", "tiny", "--steps", "20", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "step 20: loss" in result.output
    train_rows = records(run)
    assert [r["step"] for r in train_rows] == list(range(1, 21))
    assert set(train_rows[0]) == {"step", "loss", "lr", "grad_norm", "tokens_per_s"}
    assert train_rows[-1]["loss"] < train_rows[0]["loss"] - 0.5
    assert all(r["grad_norm"] > 0 and r["tokens_per_s"] > 0 for r in train_rows)
    assert [r["step"] for r in records(run, "eval_loss")] == [5, 10, 15, 20]
    assert [s for s, _ in list_checkpoints(run / "checkpoints")] == [16, 20]


def test_mfu_is_logged_against_a_configured_peak(tokens, tmp_path):
    from tokenmill.jobs.train.model import GPT, GPTConfig

    train(tokens, tmp_path / "run", replace(CPU, steps=3, peak_flops=1e12))
    flops_per_token = GPT(GPTConfig.named("tiny", VOCAB, SEQ)).flops_per_token()
    for row in records(tmp_path / "run"):
        assert row["mfu"] == pytest.approx(flops_per_token * row["tokens_per_s"] / 1e12, abs=1e-4)


def test_eval_rows_are_held_out_from_training(tmp_path):
    from tokenmill.jobs.train.data import TrainingData

    rows = patterned_rows(400, SEQ, 512)
    rows[:, 0] = np.arange(400)  # every row told apart by its first id
    write_token_shards(tmp_path / "tokens", rows, 512, rows_per_shard=100)
    data = TrainingData(str(tmp_path / "tokens"), eval_fraction=0.01, rank=1, world_size=2)
    held = [int(r[0]) for b in data.eval_batches(4, 100) for r in b]
    assert held == list(range(301, 400, 2))  # rank 1's half of the last of four shards
    batches = data.batches(50)
    trained = {int(r[0]) for _ in range(3) for r in next(batches)[0]}
    assert trained == set(range(150, 300))  # rank 1's lane: the second span of the 300 training rows


def test_sharded_ranks_get_as_many_eval_batches(tmp_path):
    """FSDP's forward pass needs every rank: 5 held-out rows over 2 ranks give each 2 rows, not 3 and 2."""
    from tokenmill.jobs.train.data import TrainingData

    write_token_shards(tmp_path / "tokens", patterned_rows(20, SEQ, 512), 512, rows_per_shard=5)
    ranks = [TrainingData(str(tmp_path / "tokens"), eval_fraction=0.01, rank=r, world_size=2) for r in (0, 1)]
    assert [[len(b) for b in d.eval_batches(2, 8)] for d in ranks] == [[2, 1], [2]]
    ranks = [TrainingData(str(tmp_path / "tokens"), eval_fraction=0.01, rank=r, world_size=2) for r in (0, 1)]
    assert [[len(b) for b in d.eval_batches(2, 8, even=True)] for d in ranks] == [[2], [2]]


def test_held_out_shards_come_from_the_end_at_least_one_never_all():
    from tokenmill.jobs.train.data import hold_out

    shards = [{"path": f"s{i}", "rows": 100} for i in range(10)]
    assert [s["path"] for s in hold_out(shards, 0.01)[1]] == ["s9"]
    train_part, held = hold_out(shards, 0.25)
    assert [s["path"] for s in held] == ["s7", "s8", "s9"] and len(train_part) == 7
    assert len(hold_out(shards, 0.99)[0]) == 1
    assert hold_out(shards[:1], 0.5) == (shards[:1], [])


def test_resume_logs_the_same_losses_as_an_uninterrupted_run(tokens, tmp_path):
    cfg = replace(CPU, steps=12, grad_accum=2, model=ModelConfig(size="tiny", dropout=0.1))
    whole = train(tokens, tmp_path / "whole", cfg)
    parts = tmp_path / "parts"
    train(tokens, parts, cfg, stop_at=6)
    assert [s for s, _ in list_checkpoints(parts / "checkpoints")] == [4, 6]
    # Crash between checkpoints: the step-6 checkpoint is lost, steps 5-6 were already logged.
    (parts / "checkpoints" / "step-00000006.pt").unlink()
    resumed = train(tokens, parts, cfg)
    assert resumed.step == whole.step == 12
    assert without_speed(records(parts)) == without_speed(records(whole.run_dir))
    assert [r["step"] for r in records(parts)] == list(range(1, 13))
    assert records(parts, "eval_loss")[-1]["eval_loss"] == whole.eval_loss
    a = load_checkpoint(tmp_path / "whole" / "checkpoints" / "step-00000012.pt")["model"]
    b = load_checkpoint(parts / "checkpoints" / "step-00000012.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [e["event"] for e in events(parts)] == ["resume"]


def test_a_killed_run_resumes_from_its_last_checkpoint_to_the_same_losses(tokens, tmp_path):
    cfg = replace(CPU, steps=200, checkpoint_every=25, eval_every=100)
    config = tmp_path / "run.yaml"
    config.write_text("train:\n  batch_size: 4\n  warmup_steps: 2\n  lr: 0.01\n  eval_every: 100\n"
                      "  eval_batches: 2\n  checkpoint_every: 25\n  keep_checkpoints: 2\n"
                      "  tensorboard: false\n")
    command = [sys.executable, "-m", "tokenmill", "train", "--data", str(tokens), "--out",
               str(tmp_path / "killed"), "--config", str(config), "--steps", "200", "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = tmp_path / "killed" / "metrics.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 40:
            break
        time.sleep(0.01)
    process.kill()  # SIGKILL: nothing more gets written
    process.wait()
    assert len(records(tmp_path / "killed")) < 200, "the run finished before it could be killed"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    train(tokens, tmp_path / "whole", cfg)
    assert without_speed(records(tmp_path / "killed")) == without_speed(records(tmp_path / "whole"))


def test_sigterm_finishes_the_step_writes_a_checkpoint_and_resumes_exactly(tokens, tmp_path):
    cfg = replace(CPU, steps=200, checkpoint_every=1000, eval_every=1000)
    command = [sys.executable, "-m", "tokenmill", "train", "--data", str(tokens), "--out",
               str(tmp_path / "stopped"), "--steps", "200", "--device", "cpu", "--config",
               str(tmp_path / "run.yaml")]
    (tmp_path / "run.yaml").write_text("train:\n  batch_size: 4\n  warmup_steps: 2\n  lr: 0.01\n"
                                       "  eval_every: 1000\n  checkpoint_every: 1000\n"
                                       "  tensorboard: false\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "stopped" / "metrics.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 20:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    last = records(tmp_path / "stopped")[-1]["step"]
    assert 20 <= last < 200
    assert [s for s, _ in list_checkpoints(tmp_path / "stopped" / "checkpoints")] == [0, last]
    assert events(tmp_path / "stopped")[-1]["event"] == "interrupted"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    train(tokens, tmp_path / "whole", cfg)
    assert without_speed(records(tmp_path / "stopped")) == without_speed(records(tmp_path / "whole"))


def test_resume_refuses_a_different_model(tokens, tmp_path):
    train(tokens, tmp_path / "run", replace(CPU, steps=2))
    with pytest.raises(ValueError, match="train.model was"):
        train(tokens, tmp_path / "run", replace(CPU, steps=4, model=ModelConfig(size="small")))


def spiky_rows() -> np.ndarray:
    """Four rows repeated (the loss settles low and steady), with a random window at step 35."""
    rows = np.tile(patterned_rows(4, SEQ, VOCAB, seed=3), (60, 1))
    rows[140:144] = np.random.default_rng(1).integers(0, VOCAB, size=(4, SEQ + 1))
    return rows


SPIKY = replace(CPU, steps=45, checkpoint_every=10, keep_checkpoints=3, eval_every=100,
                spike_window=10)


def test_a_spike_rolls_back_to_the_last_checkpoint_and_skips_the_window(tmp_path):
    rows = spiky_rows()
    write_token_shards(tmp_path / "spiky", rows, VOCAB, rows_per_shard=len(rows))
    result = train(tmp_path / "spiky", tmp_path / "run", SPIKY)
    assert result.step == 45 and result.rollbacks == 1
    (spike,) = events(tmp_path / "run")
    assert spike["event"] == "spike" and spike["action"] == "rollback"
    assert (spike["step"], spike["to_step"], spike["skipped_rows"]) == (35, 30, 24)
    assert spike["loss"] > spike["mean"] + 3 * spike["std"]
    # The same run on data without the skipped rows logs exactly the same losses.
    clean = np.delete(rows, np.s_[120:144], axis=0)
    write_token_shards(tmp_path / "clean", clean, VOCAB, rows_per_shard=len(clean))
    train(tmp_path / "clean", tmp_path / "clean-run", SPIKY)
    assert [r["step"] for r in records(tmp_path / "run")] == list(range(1, 46))
    assert without_speed(records(tmp_path / "run")) == without_speed(records(tmp_path / "clean-run"))


def test_rails_that_look_every_few_steps_roll_back_as_if_they_looked_every_step(tmp_path):
    write_token_shards(tmp_path / "spiky", spiky_rows(), VOCAB, rows_per_shard=240)
    train(tmp_path / "spiky", tmp_path / "every", SPIKY)
    train(tmp_path / "spiky", tmp_path / "fourth", replace(SPIKY, log_every=4))  # one host sync a 4 steps
    assert events(tmp_path / "fourth") == events(tmp_path / "every")
    assert without_speed(records(tmp_path / "fourth")) == [
        r for r in without_speed(records(tmp_path / "every")) if r["step"] % 4 == 0]


def test_too_many_anomalies_stop_the_run_with_a_clear_error(tmp_path):
    write_token_shards(tmp_path / "spiky", spiky_rows(), VOCAB, rows_per_shard=240)
    with pytest.raises(TrainingDiverged, match="after 0 rollbacks"):
        train(tmp_path / "spiky", tmp_path / "run", replace(SPIKY, max_rollbacks=0))
    assert events(tmp_path / "run")[-1]["action"] == "stop"


def test_train_section_errors_are_one_line():
    with pytest.raises(ConfigError, match=r"^run.yaml: train.model.size: expected one of .*'huge'$"):
        train_config({"model": {"size": "huge"}}, "run.yaml: train")
    with pytest.raises(ConfigError, match=r"^run.yaml: train: steps: must be at least 1, got 0$"):
        train_config({"steps": 0}, "run.yaml: train")
    with pytest.raises(ConfigError, match=r"^run.yaml: train.lr: expected a number, got 'fast'$"):
        train_config({"lr": "fast"}, "run.yaml: train")


def test_missing_manifest_is_a_clear_cli_error(tmp_path):
    result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "no manifest.json (run `tokenmill pack` first)" in result.output


def test_ids_outside_the_vocabulary_are_a_clear_cli_error(tmp_path):
    rows = patterned_rows(8, SEQ, VOCAB)
    write_token_shards(tmp_path / "tokens", rows, vocab_size=VOCAB // 2, rows_per_shard=8)
    result = CliRunner().invoke(cli, ["train", "--data", str(tmp_path / "tokens"), "--out",
                                      str(tmp_path / "run"), "--device", "cpu", "--steps", "2"])
    assert result.exit_code == 1
    assert "outside the manifest's vocabulary of 32" in result.output


@pytest.fixture(scope="module")
def two_ranks(tokens, tmp_path_factory) -> Path:
    """DDP and FSDP runs of two gloo ranks (batch 4 each), FSDP also stopped at 2 and resumed."""
    out = tmp_path_factory.mktemp("ranks")
    base = {"batch_size": 4, "grad_accum": 2, "warmup_steps": 2, "lr": 0.01, "steps": 4,
            "eval_every": 2, "eval_batches": 2, "checkpoint_every": 2, "tensorboard": False,
            "device": "cpu"}
    runs = {"ddp": {"config": base},
            "fsdp": {"config": {**base, "parallel": "fsdp", "activation_checkpointing": True}},
            "fsdp-parts": {"config": {**base, "parallel": "fsdp", "activation_checkpointing": True},
                           "stop_at": [2, None]}}
    (out / "runs.json").write_text(json.dumps(runs))
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(REPO / "tests" / "train_ranks.py"), str(tokens), str(out), str(out / "runs.json")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


SINGLE = replace(CPU, steps=4, batch_size=8, grad_accum=2, eval_every=2, checkpoint_every=2, data_lanes=2)


def losses(run: Path, key: str = "loss") -> list[float]:
    return [r[key] for r in records(run, key)]


def test_two_gloo_ranks_match_one_process_with_the_combined_batch(tokens, two_ranks, tmp_path):
    single = train(tokens, tmp_path / "single", SINGLE)
    for name in ("ddp", "fsdp"):  # each step sees the same rows whatever the number of processes
        assert losses(two_ranks / name) == pytest.approx(losses(tmp_path / "single"), rel=1e-5)
        assert losses(two_ranks / name, "eval_loss") == pytest.approx(
            losses(tmp_path / "single", "eval_loss"), rel=1e-5)
    assert load_checkpoint(two_ranks / "ddp" / "checkpoints" / "step-00000004.pt")["world_size"] == 2
    assert (two_ranks / "fsdp" / "checkpoints" / "step-00000004" / "meta.pt").is_file()
    assert single.tokens_per_step == 16 * SEQ


def test_fsdp_resumes_exactly_and_on_one_process(tokens, two_ranks, tmp_path):
    assert without_speed(records(two_ranks / "fsdp-parts")) == without_speed(records(two_ranks / "fsdp"))
    for name in ("ddp", "fsdp"):  # 2 → 1: the step-2 checkpoint of each, resumed by one process
        run = tmp_path / name
        shutil.copytree(two_ranks / name, run)
        for step, path in list_checkpoints(run / "checkpoints"):
            if step > 2:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        parallel = "fsdp" if name == "fsdp" else "ddp"
        # ddp: batch 4 on one process, so grad_accum becomes 4 to keep 16 rows a step
        resumed = train(tokens, run, replace(SINGLE, parallel=parallel, batch_size=8 if name == "fsdp" else 4))
        assert resumed.step == 4 and [r["step"] for r in records(run)] == [1, 2, 3, 4]
        assert losses(run) == pytest.approx(losses(two_ranks / name), rel=1e-5)
        assert losses(run)[:2] == losses(two_ranks / name)[:2]
    with pytest.raises(ValueError, match="rows a step"):
        train(tokens, tmp_path / "fsdp", replace(SINGLE, parallel="fsdp", batch_size=4, steps=6))


def test_kubernetes_job_runs_this_cli_under_torchrun():
    import yaml

    from tokenmill.jobs.train.command import train_command

    service, job = yaml.safe_load_all((REPO / "deploy" / "k8s" / "train-job.yaml").read_text())
    spec = job["spec"]
    container = spec["template"]["spec"]["containers"][0]
    args = container["args"]
    assert container["command"] == ["torchrun"]
    assert f"--nnodes={spec['completions']}" in args and spec["completions"] == spec["parallelism"]
    assert f"--nproc_per_node={container['resources']['limits']['nvidia.com/gpu']}" in args
    assert spec["template"]["spec"]["subdomain"] == service["metadata"]["name"]
    cli_args = args[args.index("tokenmill") + 1:]
    assert cli_args[0] == "train"
    train_command.make_context("train", cli_args[1:])  # every flag is one the command takes


def test_tensorboard_scalars(tokens, tmp_path):
    train(tokens, tmp_path / "run", replace(CPU, steps=2, tensorboard=True))
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
