"""`tokenmill train`: the click command over `jobs.train.train`."""
from __future__ import annotations

import dataclasses
import signal
from pathlib import Path

import click

from tokenmill.jobs.train.model import SIZES
from tokenmill.jobs.train.trainer import TrainingDiverged, train
from tokenmill.pipeline.config import load_config
from tokenmill.pipeline.schema import ConfigError
from tokenmill.pipeline.train_config import TrainConfig, train_config


def resolve_config(config_path: str | None, model: str | None, steps: int | None,
                   device: str | None) -> TrainConfig:
    """The `train:` section of the config file, with the command-line flags on top."""
    config = load_config(config_path)
    cfg = train_config(config.train, f"{config.origin}: train")
    if model is not None:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, size=model))
    if steps is not None:
        cfg = dataclasses.replace(cfg, steps=steps)
    if device is not None:
        cfg = dataclasses.replace(cfg, device=device)
    return cfg


@click.command("train")
@click.option("--data", "tokens_dir", required=True,
              help="Packed token folder (OUT/tokens, with manifest.json), local or gs://, s3://, hdfs://.")
@click.option("--out", "run_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: checkpoints/, metrics.jsonl, events.jsonl. Resumed if it has checkpoints.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config with a `train:` section (default: none, the built-in defaults).")
@click.option("--model", type=click.Choice(list(SIZES)), help="Named model size (overrides the config).")
@click.option("--steps", type=click.IntRange(min=1), help="Optimiser steps of the schedule.")
@click.option("--stop-at", type=click.IntRange(min=1), help="Stop after this step with a checkpoint; run again to resume (default: run all the steps).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to train.")
def train_command(tokens_dir: str, run_dir: Path, config_path: str | None, model: str | None,
                  steps: int | None, stop_at: int | None, device: str | None) -> None:
    """Train a GPT on packed token shards; run it under torchrun for several processes."""
    try:
        cfg = resolve_config(config_path, model, steps, device)
        result = train(tokens_dir, run_dir, cfg, stop_at=stop_at)
    except (ConfigError, ValueError, FileNotFoundError, TrainingDiverged) as err:
        raise click.ClickException(str(err)) from None
    loss = f"{result.loss:.4f}" if result.loss is not None else "n/a"
    eval_loss = f", eval loss {result.eval_loss:.4f}" if result.eval_loss is not None else ""
    click.echo(f"step {result.step}: loss {loss}{eval_loss}; {result.params:,} parameters, "
               f"{result.rollbacks} rollbacks; {result.run_dir}")
    if result.interrupted:
        click.echo(f"interrupted at step {result.step}, checkpoint written; run the same command "
                   f"to resume", err=True)
        raise SystemExit(128 + signal.SIGTERM)  # not done: a Job controller should run it again
