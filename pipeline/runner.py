"""Runner choice and Beam pipeline options.

Locally the default is Beam's FnApiRunner, named explicitly: the DirectRunner that Beam would pick
first tries to download the Prism runner, which fails offline and behind firewalls. `workers > 1`
runs that many worker processes (multi_processing mode). Any other runner (DataflowRunner,
PortableRunner, FlinkRunner, SparkRunner) is passed to Beam by name with the extra options.
"""
from __future__ import annotations

from typing import Sequence

from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

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


def make_runner(runner: str):
    """An FnApiRunner instance for local runs; other runners come from the options by name."""
    return FnApiRunner() if runner == LOCAL_RUNNER else None
