"""`tokenmill curate`: raw shards → curated Parquet + ledger.json, on Apache Beam."""
from __future__ import annotations

import time
from contextlib import nullcontext
from typing import Optional, Sequence

import apache_beam as beam
import click
from apache_beam.options.pipeline_options import DirectOptions

from tokenmill.jobs.report.progress import progress_bar
from tokenmill.jobs.run_card import Inputs, run_card
from tokenmill.jobs.sample.build import sample_config_path
from tokenmill.pipeline.config import Config, load_config, parse_source_flag, validate_sources
from tokenmill.pipeline.curate import (CuratePlan, build_curation, build_pass_one, component_rounds, plan_curation,
                                      prepare_run)
from tokenmill.pipeline.ledger import DataLost, data_loss, read_ledger, summary_lines
from tokenmill.pipeline.runner import LOCAL_RUNNER, check_options, counters, make_runner, pipeline_options
from tokenmill.pipeline.schema import ConfigError


def curation_pipeline(config: Config, output: str, stages: Optional[list[str]] = None, runner: Optional[str] = None,
                      workers: Optional[int] = None, beam_args: Sequence[str] = ()) -> tuple[beam.Pipeline, CuratePlan]:
    """The curation graph on a pipeline for `runner`, built but not run: one job, with near dedup's
    max_rounds component rounds, as a cluster runs it (`curate`). The config is checked first as
    `load_config` checks a file's (one made in Python too: side files, optional packages), then the
    runner's options."""
    plan, runner_name, options = _launch(config, output, stages, runner, workers, beam_args)
    pipeline = beam.Pipeline(runner=make_runner(runner_name), options=options)
    build_curation(pipeline, config, plan)
    return pipeline, plan


def _launch(config: Config, output: str, stages: Optional[list[str]], runner: Optional[str], workers: Optional[int],
            beam_args: Sequence[str]):
    """(plan, runner's name, Beam options), all checked."""
    validate_sources(config)
    plan = plan_curation(config, output, stages)
    runner_name = runner or config.runner.name
    options = pipeline_options(runner_name, workers or config.runner.workers, [*config.runner.options, *beam_args])
    check_options(runner_name, options)
    return plan, runner_name, options


def curate(config: Config, output: str, stages: Optional[list[str]] = None, runner: Optional[str] = None,
           workers: Optional[int] = None, beam_args: Sequence[str] = ()) -> dict:
    """Run the curation pipeline; returns the ledger. Raises `DataLost` (everything written) when the
    ledger shows input lost past the `curate` section's limits. After a crash the same call resumes:
    staged shards whose input and settings are unchanged are reused (the run card counts them).

    On the local runner in one process a run with near dedup is two jobs: pass 1 alone, which counts
    the documents near dedup will compare, then the whole graph with only the component rounds those
    need, replaying pass 1's receipts (pipeline/curate.py, `build_pass_one`). Elsewhere one job holds
    max_rounds rounds: a second job would cost a cluster's submission and start-up, or new worker
    processes, more than the empty rounds."""
    plan, runner_name, options = _launch(config, output, stages, runner, workers, beam_args)
    prepare_run(plan)
    local = runner_name == LOCAL_RUNNER  # remote workers' log lines do not come back here
    runs_on = {"name": runner_name, "workers": workers or config.runner.workers,
               "options": [*config.runner.options, *beam_args], "stages": plan.stages}
    listing = sorted({(shard.path, shard.size) for shard in plan.inputs})
    inputs = Inputs.of(plan.patterns, [{"path": path, "bytes": size} for path, size in listing])
    near_dedup = any("near-dedup" in chain for chain in plan.stages.values())
    with run_card("curate", plan.output, config, inputs, runs_on) as card:
        with progress_bar(inputs.files, inputs.bytes) if local else nullcontext():
            rounds, pass_one = None, None
            if local and near_dedup and options.view_as(DirectOptions).direct_num_workers <= 1:
                pass_one = _run(runner_name, options, lambda pipeline: build_pass_one(pipeline, config, plan))
                rounds = component_rounds(config, plan)
                card["component_rounds"] = rounds
            result = _run(runner_name, options, lambda pipeline: build_curation(pipeline, config, plan, rounds))
        card["staged_files"] = counters(pass_one or result, "staging")  # pass 1's reads, not the replays'
        ledger = read_ledger(plan.output)
        causes = data_loss(ledger, config.curate.max_error_share, config.curate.max_unread_files)
        if causes:
            raise DataLost(ledger, causes)
    return ledger


def _run(runner_name: str, options, build):
    """A pipeline built by `build(pipeline)`, run to the end; its result."""
    pipeline = beam.Pipeline(runner=make_runner(runner_name), options=options)
    build(pipeline)
    result = pipeline.run()
    result.wait_until_finish()
    return result


def apply_flags(config: Config, sources: Sequence[str], langs: Optional[str], lang_threshold: Optional[float],
                keep_rejected: bool) -> Config:
    """Command-line flags over the config file: `--source` adds or replaces a source."""
    for flag in sources:
        name, source = parse_source_flag(flag)
        config.sources[name] = source
    langid = config.stages.setdefault("langid", {}) if (langs or lang_threshold is not None) else None
    if langs:
        langid["languages"] = "any" if langs.strip() == "any" else [c.strip() for c in langs.split(",") if c.strip()]
    if lang_threshold is not None:
        langid["threshold"] = lang_threshold
    if keep_rejected:
        config.curate.keep_rejected = True
    validate_sources(config)
    return config


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML config file (default: none, the sources from --source).")
@click.option("--sample", is_flag=True, help="Use the bundled sample (Python's documentation as a crawl).")
@click.option("--output", "-o", required=True, help="Output directory (local path or gs://, s3://...).")
@click.option("--source", "sources", multiple=True, metavar="NAME=FORMAT:GLOB",
              help="Add or replace a source, e.g. web=warc:'data/*.warc.gz'. Repeatable.")
@click.option("--stages", help="Comma-separated subset of stages to run, e.g. langid,exact-dedup (default: each source's chain).")
@click.option("--keep-rejected", is_flag=True, help="Also write rejected documents to OUTPUT/rejected/<source>/.")
@click.option("--langs", help="Wanted languages, e.g. en,de, or 'any'.")
@click.option("--lang-threshold", type=float, help="Minimum top-language score (FineWeb: 0.65).")
@click.option("--runner", help="Beam runner (FnApiRunner: local).")
@click.option("--workers", type=int, help="Local worker processes.")
@click.pass_context
def curate_command(ctx, config_path, sample, output, sources, stages, keep_rejected, langs, lang_threshold, runner, workers):
    """Curate raw shards into OUTPUT/curated/<source>/*.parquet and OUTPUT/ledger.json.

    Extra arguments are passed to Beam as pipeline options (e.g. --project, --temp_location).
    """
    try:
        config = apply_flags(load_config(sample_config_path() if sample else config_path), sources, langs, lang_threshold, keep_rejected)
        selected = [s.strip() for s in stages.split(",") if s.strip()] if stages else None
        started = time.monotonic()
        ledger = curate(config, output, selected, runner, workers, ctx.args)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    except DataLost as lost:
        report_data_loss(lost)
        ctx.exit(1)
    for line in summary_lines(ledger):
        click.echo(line)
    click.echo(f"curated in {time.monotonic() - started:.1f} s → {output}/curated, {output}/ledger.json")


def report_data_loss(lost: DataLost, prefix: str = "") -> None:
    """The summary of a run that lost input, then each cause, on stderr."""
    for line in summary_lines(lost.ledger):
        click.echo(prefix + line)
    click.echo("DATA LOST: the output holds what could be read; see ledger.json", err=True)
    for cause in lost.causes:
        click.echo(f"  {cause}", err=True)
