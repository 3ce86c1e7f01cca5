"""Runner choice and Beam pipeline options.

Locally the default is Beam's FnApiRunner, named explicitly: the DirectRunner that Beam would pick
first tries to download the Prism runner, which fails offline and behind firewalls. `workers > 1`
runs that many worker processes (multi_processing mode). Any other runner (DataflowRunner,
PortableRunner, FlinkRunner, SparkRunner) is passed to Beam by name with the extra options.
"""
from __future__ import annotations

from typing import Sequence

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions
from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator
from apache_beam.runners import create_runner
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from tokenmill.pipeline.schema import ConfigError

LOCAL_RUNNER = "FnApiRunner"


def pipeline_options(runner: str, workers: int, extra: Sequence[str] = ()) -> PipelineOptions:
    args = list(extra)
    if runner != LOCAL_RUNNER:
        args.append(f"--runner={runner}")
    options = PipelineOptions(args)
    if runner == LOCAL_RUNNER and workers > 1:
        direct = options.view_as(DirectOptions)
        direct.direct_num_workers = workers
        direct.direct_running_mode = "multi_processing"
    return options


def check_options(runner: str, options: PipelineOptions) -> None:
    """Beam's own checks for `runner` (e.g. Dataflow's project, region and gs:// temp_location), run
    here so that a mistake is one clear line before anything starts, not a stack trace."""
    if runner == LOCAL_RUNNER:
        return
    try:
        runner_instance = create_runner(runner)
    except ValueError as err:
        raise ConfigError(f"--runner {runner}: {err}") from None
    errors = PipelineOptionsValidator(options, runner_instance).validate()
    if errors:
        raise ConfigError(f"--runner {runner}: " + "; ".join(e.split(" See ")[0] for e in errors))


def make_runner(runner: str):
    """An FnApiRunner instance for local runs; other runners come from the options by name."""
    return FnApiRunner() if runner == LOCAL_RUNNER else None
