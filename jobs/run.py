"""`tokenmill run`: every stage end to end — curate → tokenizer → pack → train — in one output folder,
then the report.

    OUT/curated/, OUT/ledger.json        tokenmill curate
    OUT/tokenizer.json                   tokenmill tokenizer train
    OUT/tokens/ (shards + manifest.json) tokenmill pack
    OUT/run/ (checkpoints, metrics)      tokenmill train
    OUT/report.html                      tokenmill report
    OUT/run.json                         how it was made (jobs/run_card.py), as is each part's folder

Every section of the config is checked when it loads, so a mistake in `train:` is reported at once
rather than after the curation. A curation that loses input past the `curate` section's limits
(`max_error_share`, `max_unread_files`) stops the run there, with a non-zero exit status.

Every Beam stage (curate, the tokenizer's sample, pack) runs on `--runner` with its folders under
OUT, which may be remote (gs://, s3://, hdfs://); training reads a local folder, so a remote OUT
runs with `--skip-train` and `tokenmill train` runs where the tokens are copied.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional, Sequence

import click
from apache_beam.io.filesystems import FileSystems

from tokenmill.jobs.curate import curate, report_data_loss
from tokenmill.jobs.pack import pack
from tokenmill.jobs.report.page import build_report
from tokenmill.jobs.run_card import run_card
from tokenmill.jobs.sample.build import sample_config_path
from tokenmill.jobs.tokenizer import train_tokenizer
from tokenmill.jobs.train import NEEDS_TORCH, torch_installed
from tokenmill.jobs.train.rails import TrainingDiverged
from tokenmill.pipeline.config import Config, load_config
from tokenmill.pipeline.ledger import DataLost, summary_lines
from tokenmill.pipeline.schema import ConfigError
from tokenmill.pipeline.train_config import TrainConfig, train_config


def validated_train_config(config: Config, steps: Optional[int], device: Optional[str]) -> TrainConfig:
    """The training settings with the flags on top (`load_config` has checked every section)."""
    raw = dict(config.train)
    if steps is not None:
        raw["steps"] = steps
    if device is not None:
        raw["device"] = device
    return train_config(raw, f"{config.origin}: train")


def run_all(config: Config, output: str, steps: Optional[int] = None, device: Optional[str] = None,
            runner: Optional[str] = None, workers: Optional[int] = None, beam_args: Sequence[str] = (),
            echo=print, skip_train: bool = False) -> dict:
    """Run the four stages (three with `skip_train`); returns what each produced."""
    if not skip_train and not torch_installed():
        raise ConfigError(f"training {NEEDS_TORCH} (or add --skip-train)")
    cfg = validated_train_config(config, steps, device)
    out = output.rstrip("/")
    if FileSystems.get_scheme(out) and not skip_train:
        raise ConfigError(f"--output {output}: training reads a local folder; add --skip-train to run the Beam "
                          f"stages there, then `tokenmill train` on a copy of {output}/tokens")
    timings = {}
    runs_on = {"name": runner or config.runner.name, "workers": workers or config.runner.workers,
               "options": [*config.runner.options, *beam_args], "train_device": cfg.device}
    with run_card("run", out, config, [path for source in config.sources.values() for path in source.paths],
                  runs_on) as card:
        started = time.monotonic()
        ledger = curate(config, out, runner=runner, workers=workers, beam_args=beam_args)
        timings["curate"] = time.monotonic() - started
        for line in summary_lines(ledger):
            echo(f"curate   {line}")

        started = time.monotonic()
        tokenizer = train_tokenizer(f"{out}/curated", f"{out}/tokenizer.json", config, runner=runner,
                                    workers=workers, beam_args=beam_args)
        timings["tokenizer"] = time.monotonic() - started
        echo(f"tokenizer  vocabulary {tokenizer['vocab_size']:,} → {out}/tokenizer.json")

        started = time.monotonic()
        manifest = pack(f"{out}/curated", f"{out}/tokenizer.json", f"{out}/tokens", config, runner=runner,
                        workers=workers, beam_args=beam_args)
        timings["pack"] = time.monotonic() - started
        echo(f"pack     {manifest['total_rows']:,} rows of {manifest['seq_len'] + 1} ids → {out}/tokens")

        result, first, last = None, None, None
        if not skip_train:
            from tokenmill.jobs.train.trainer import train  # torch: the `train` extra

            started = time.monotonic()
            result = train(f"{out}/tokens", f"{out}/run", cfg)
            timings["train"] = time.monotonic() - started
            if result.interrupted:
                echo(f"train    interrupted at step {result.step}; run the same command again to resume")
            losses = [json.loads(line)["loss"] for line in Path(out, "run", "metrics.jsonl").read_text().splitlines()
                      if '"loss"' in line and json.loads(line).get("loss") is not None]
            first, last = (losses[0], losses[-1]) if losses else (None, None)
            if first is not None:
                echo(f"train    {result.step} steps, {result.params:,} parameters: loss {first:.3f} → {last:.3f} "
                     f"→ {out}/run")

        started = time.monotonic()
        page = build_report(out)
        timings["report"] = time.monotonic() - started
        echo(f"report   → {page}")
        echo("seconds  " + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in timings.items()))
        card.update(parts={"curated": f"{out}/curated", "tokenizer": f"{out}/tokenizer.json",
                           "tokens": f"{out}/tokens", "train": None if skip_train else f"{out}/run",
                           "report": page},
                    seconds_per_stage=timings, interrupted=bool(result and result.interrupted))
    return {"ledger": ledger, "tokenizer": tokenizer, "manifest": manifest, "train": result,
            "first_loss": first, "last_loss": last, "seconds": timings, "report": page}


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config with every section (default: none; --sample gives the sample's).")
@click.option("--sample", is_flag=True, help="Use the bundled sample and its small CPU settings.")
@click.option("--output", "-o", required=True, help="Output folder for every stage.")
@click.option("--steps", type=click.IntRange(min=1), help="Training steps (overrides train.steps).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Where to train.")
@click.option("--runner", help="Beam runner for curate, the tokenizer's sample and pack (FnApiRunner: local).")
@click.option("--workers", type=int, help="Local Beam worker processes.")
@click.option("--skip-train", is_flag=True, help="Stop after pack (e.g. for a remote OUTPUT on a remote runner).")
@click.pass_context
def run_command(ctx, config_path, sample, output, steps, device, runner, workers, skip_train):
    """Run curate → tokenizer → pack → train into OUTPUT, then write OUTPUT/report.html.

    Extra arguments are passed to Beam as pipeline options (e.g. --project, --temp_location).
    """
    if not (config_path or sample):
        raise click.UsageError("give --config FILE or --sample")
    try:
        config = load_config(sample_config_path() if sample else config_path)
        result = run_all(config, output, steps, device, runner, workers, ctx.args, echo=click.echo,
                         skip_train=skip_train)
    except (ConfigError, TrainingDiverged) as err:
        raise click.ClickException(str(err)) from None
    except DataLost as lost:  # curate wrote what it could; the later stages would work on a partial corpus
        report_data_loss(lost, prefix="curate   ")
        click.echo("run      stopped after curate", err=True)
        ctx.exit(1)
    if result["train"] is not None and result["train"].interrupted:
        ctx.exit(143)  # as `tokenmill train` does on SIGTERM: stopped cleanly, resumable
