"""The curate pipeline on Beam's portable runners: a real job service on loopback, and the Flink,
Spark and Dataflow options checked and the graph serialised without a cluster."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import FlinkRunnerOptions, GoogleCloudOptions, PortableOptions
from apache_beam.runners.portability.flink_runner import FlinkJarJobServer
from apache_beam.runners.portability.spark_runner import SparkJarJobServer

from conftest import REPO, SAMPLE, tokenmill
from tokenmill.jobs.curate import curation_pipeline
from tokenmill.jobs.run_card import CARD_FILE
from tokenmill.pipeline.config import Config, SourceConfig
from tokenmill.pipeline.schema import ConfigError

SAMPLE_CONFIG = SAMPLE / "sample.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the job service exited with {process.returncode}")
        try:
            with socket.create_connection(("localhost", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on localhost:{port} after {timeout} s")


@pytest.fixture(scope="module")
def job_service():
    """Beam's Python job service (the portable runner's server side) on a free loopback port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        yield f"localhost:{port}"
    finally:
        process.kill()
        process.wait(timeout=30)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under `root` but the run cards (their times and runner differ by design)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != CARD_FILE}


def test_curate_on_the_portable_runner_gives_the_local_runners_bytes(sample_run, tmp_path, job_service):
    local, _ = sample_run
    portable = tmp_path / "portable"
    result = tokenmill("curate", "--sample", "--output", str(portable), "--runner", "PortableRunner",
                       "--job_endpoint", job_service, "--environment_type", "LOOPBACK")
    assert "ledger balanced" in result.stdout
    local_files = {k: v for k, v in tree(local).items() if k.startswith(("curated/", "rejected/", "ledger"))}
    portable_files = tree(portable)
    assert any(name.startswith("curated/docs/") for name in local_files)
    assert any(name.startswith("rejected/") for name in local_files)
    assert portable_files.keys() == local_files.keys()
    for name in local_files:
        assert portable_files[name] == local_files[name], name
    ledger = json.loads(local_files["ledger.json"])
    assert sum(ledger["input"].values()) > sum(ledger["kept"].values()) > 0


def test_pack_on_the_portable_runner_gives_the_local_runners_bytes(sample_run, tmp_path, job_service):
    local, _ = sample_run  # packed by `tokenmill run --sample` with the sample's config
    tokenmill("pack", "--config", str(SAMPLE_CONFIG), "--curated", str(local / "curated"),
              "--tokenizer", str(local / "tokenizer.json"), "--output", str(tmp_path / "portable"),
              "--runner", "PortableRunner", "--job_endpoint", job_service, "--environment_type", "LOOPBACK")
    local_files, portable_files = tree(local / "tokens"), tree(tmp_path / "portable")
    assert "manifest.json" in local_files and len(local_files) > 1
    assert portable_files == local_files


def small_config() -> Config:
    return Config(sources={"docs": SourceConfig("jsonl", [str(SAMPLE / "docs.jsonl.gz")])})


def stage_names(proto) -> set[str]:
    return {t.unique_name for t in proto.components.transforms.values()}


@pytest.mark.parametrize("runner, args", [
    ("FlinkRunner", ["--flink_master=flink-jobmanager:8081", "--flink_version=1.19", "--parallelism=4",
                     "--environment_type=PROCESS", "--environment_config={\"command\": \"/opt/apache/beam/boot\"}"]),
    ("SparkRunner", ["--spark_master_url=spark://spark-master:7077",
                     "--environment_type=PROCESS", "--environment_config={\"command\": \"/opt/apache/beam/boot\"}"]),
])
def test_flink_and_spark_options_are_accepted_and_the_graph_serialises(tmp_path, runner, args):
    jar = tmp_path / f"beam-{runner}-job-server.jar"
    jar.write_bytes(b"")  # only its path matters here: given by path, it is used as given
    jar_flag = "--flink_job_server_jar" if runner == "FlinkRunner" else "--spark_job_server_jar"
    pipeline, plan = curation_pipeline(small_config(), str(tmp_path / "out"), runner=runner,
                                       beam_args=[*args, f"{jar_flag}={jar}"])
    proto = pipeline.to_runner_api()
    names = stage_names(proto)
    assert any(name.startswith("Read/") for name in names)
    assert any(name.startswith("Filter[langid,quality]") for name in names)
    assert any(name.startswith("WriteCurated/") for name in names)
    assert any(name.startswith("Ledger/") for name in names)
    options = pipeline.options
    assert options.view_as(PortableOptions).environment_type == "PROCESS"
    server = (FlinkJarJobServer if runner == "FlinkRunner" else SparkJarJobServer)(options)
    assert server.path_to_jar() == str(jar)  # no Maven download
    java_args = server.java_arguments("8099", "8098", "8097", "/tmp/artifacts")
    if runner == "FlinkRunner":
        assert options.view_as(FlinkRunnerOptions).parallelism == 4
        assert java_args[:2] == ["--flink-master", "flink-jobmanager:8081"]
    else:
        assert java_args[:2] == ["--spark-master-url", "spark://spark-master:7077"]


DATAFLOW = ["--project=tokenmill-demo", "--region=europe-west4", "--temp_location=gs://tokenmill-demo-tmp/beam",
            "--sdk_container_image=europe-west4-docker.pkg.dev/tokenmill-demo/tokenmill/curate:0.1.0"]


def test_dataflow_options_are_validated_locally_and_the_graph_serialises(tmp_path):
    pipeline, _ = curation_pipeline(small_config(), "gs://tokenmill-demo-out/run1", runner="DataflowRunner",
                                    beam_args=DATAFLOW)
    cloud = pipeline.options.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region) == ("tokenmill-demo", "europe-west4")
    assert cloud.staging_location == "gs://tokenmill-demo-tmp/beam"  # defaulted from temp_location
    assert any(name.startswith("WriteCurated/") for name in stage_names(pipeline.to_runner_api()))


@pytest.mark.parametrize("drop, message", [
    ("--region=europe-west4", "Missing required option: region"),
    ("--project=tokenmill-demo", "Missing required option: project"),
])
def test_dataflow_without_a_required_option_is_one_clear_error(tmp_path, drop, message):
    with pytest.raises(ConfigError, match=f"--runner DataflowRunner: .*{message}"):
        curation_pipeline(small_config(), str(tmp_path / "out"), runner="DataflowRunner",
                          beam_args=[a for a in DATAFLOW if a != drop])


def test_dataflow_temp_location_must_be_on_gcs_and_the_cli_says_so(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "tokenmill", "curate", "--output", str(tmp_path / "out"),
         "--source", f"docs=jsonl:{SAMPLE / 'docs.jsonl.gz'}", "--runner", "DataflowRunner",
         "--project=tokenmill-demo", "--region=europe-west4", f"--temp_location={tmp_path}"],
        capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    assert "Error: --runner DataflowRunner: Invalid GCS path" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_unknown_runner_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="--runner NoSuchRunner: "):
        curation_pipeline(small_config(), str(tmp_path / "out"), runner="NoSuchRunner")
