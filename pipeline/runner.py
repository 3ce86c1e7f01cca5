"""Runner choice and Beam pipeline options.

Locally the default is Beam's FnApiRunner, named explicitly: the DirectRunner that Beam would pick
first tries to download the Prism runner, which fails offline and behind firewalls. `workers > 1`
runs that many worker processes (multi_processing mode). FlinkRunner and SparkRunner share one job
server per process (below); any other runner (DataflowRunner, PortableRunner) is passed to Beam by name
with the extra options. Importing this module also keeps each DoFn's state and timer specs once Beam
has inspected them (`_specs_kept_per_dofn`).
"""
from __future__ import annotations

import difflib
import weakref
from typing import Sequence

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions
from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator
from apache_beam.runners import create_runner
from apache_beam.runners.portability import flink_runner, spark_runner
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.runners.portability.job_server import JobServer, StopOnExitJobServer
from apache_beam.transforms import userstate

from tokenmill.pipeline.schema import ConfigError, raise_problems

LOCAL_RUNNER = "FnApiRunner"


class Options(PipelineOptions):
    """Beam's options, each view built once. Beam asks the pipeline's options for a view at every
    transform it applies and every type it checks, and each `view_as` builds an argument parser for
    that options class (0.5-0.9 ms): about 600 of them, 0.4 CPU-s, in a one-page run of the default
    chain. Views share the options' values (`_all_options`), so one per class sees every change."""

    def view_as(self, cls):
        views = self.__dict__.setdefault("_views", {})  # past PipelineOptions.__setattr__, which stores options
        if cls not in views:
            views[cls] = super().view_as(cls)
        return views[cls]


def _specs_kept_per_dofn(inspect):
    """Beam asks for a DoFn's state and timer specs about six times a ParDo while it builds, translates
    and runs the graph (ParDo's constructor, `to_runner_api`, the bundle processor), and each time it
    inspects the signature of every method the DoFn has (`userstate.get_dofn_specs`, 0.8 ms): 716
    times, 0.6 of the 1.6 CPU-s of a one-page curate. A DoFn's methods do not change once it exists,
    so its specs are kept as long as the DoFn object lives."""
    found = weakref.WeakKeyDictionary()

    def get_dofn_specs(dofn):
        try:
            specs = found.get(dofn)
            if specs is None:
                specs = found[dofn] = inspect(dofn)
        except TypeError:  # a DoFn that cannot be a weak key (unhashable, or slots without a weak reference)
            specs = inspect(dofn)
        return set(specs[0]), set(specs[1])

    return get_dofn_specs


userstate.get_dofn_specs = _specs_kept_per_dofn(userstate.get_dofn_specs)


def pipeline_options(runner: str, workers: int, extra: Sequence[str] = ()) -> PipelineOptions:
    """Beam's options from `extra` (the command line's and the config's); an option no Beam options
    class knows is an error naming it (Beam itself would drop it with a warning and run on)."""
    args = list(extra)
    if runner != LOCAL_RUNNER:
        args.append(f"--runner={runner}")
    options = Options(args)
    single_dash = [arg.split("=")[0] for arg in args if arg[:1] == "-" and arg[1:2] != "-"]
    known = set(PipelineOptions([]).get_all_options())
    unknown = set(options.get_all_options(retain_unknown_options=True)) - known
    unknown -= {flag.lstrip("-").replace("-", "_") for flag in single_dash}
    raise_problems([f"--{name}: unknown Beam pipeline option{_did_you_mean(name, known)}"
                    for name in sorted(unknown)]
                   + [f"{flag}: a Beam option takes two dashes (--name=value)" for flag in single_dash])
    if runner == LOCAL_RUNNER and workers > 1:
        direct = options.view_as(DirectOptions)
        direct.direct_num_workers = workers
        direct.direct_running_mode = "multi_processing"
    return options


def _did_you_mean(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean --{close[0]}?)" if close else ""


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


class SharedJobServer:
    """Beam's Flink and Spark runners start a job server (a JVM, about half a GB) for every pipeline and
    stop it only when the process exits: `tokenmill run` (curate, the tokenizer's sample, pack's two
    pipelines) held four side by side. Mixed into them, every pipeline of the process with the same
    job-server command shares one server, still stopped at exit."""

    servers: dict[tuple[str, ...], JobServer] = {}
    jar_job_server: type  # the runner's JavaJarJobServer, which names the command

    def default_job_server(self, options: PipelineOptions) -> JobServer:
        server = super().default_job_server(options)
        if not isinstance(server, StopOnExitJobServer):
            return server  # an uber jar submitted to the cluster: no server runs here
        command = self.jar_job_server(options)
        key = (command.path_to_jar(), *command.java_arguments("", "", "", ""))
        return self.servers.setdefault(key, server)


class FlinkRunner(SharedJobServer, flink_runner.FlinkRunner):
    jar_job_server = flink_runner.FlinkJarJobServer


class SparkRunner(SharedJobServer, spark_runner.SparkRunner):
    jar_job_server = spark_runner.SparkJarJobServer


def make_runner(runner: str):
    """An FnApiRunner instance for local runs, Flink's and Spark's runners with a job server per process;
    other runners come from the options by name."""
    if runner == LOCAL_RUNNER:
        return FnApiRunner()
    return {"FlinkRunner": FlinkRunner, "SparkRunner": SparkRunner}.get(runner, lambda: None)()


def counters(result, namespace: str) -> dict[str, int]:
    """The totals of a finished pipeline's counters in `namespace`, by name ({} where the runner reports
    none): committed values, or attempted ones where the runner commits none (Spark's portable runner)."""
    try:
        found = result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]
    except NotImplementedError:
        return {}
    totals: dict[str, int] = {}
    for counter in found:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + (value or 0)
    return dict(sorted(totals.items()))
