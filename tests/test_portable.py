"""The curate pipeline on Beam's portable runners: a real job service on loopback, and the Flink,
Spark and Dataflow options checked and the graph serialised without a cluster."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import FlinkRunnerOptions, GoogleCloudOptions, PortableOptions
from apache_beam.runners.portability.flink_runner import FlinkJarJobServer
from apache_beam.runners.portability.spark_runner import SparkJarJobServer

from conftest import REPO, SAMPLE, output_tree, tokenmill
from tests.beam_services import job_service, worker_pool  # noqa: F401 (fixtures)
from tokenmill.jobs.curate import curation_pipeline
from tokenmill.pipeline.config import Config, SourceConfig
from tokenmill.pipeline.schema import ConfigError

SAMPLE_CONFIG = SAMPLE / "sample.yaml"


def test_curate_on_the_portable_runner_gives_the_local_runners_bytes(sample_run, tmp_path, job_service):
    local, _ = sample_run
    portable = tmp_path / "portable"
    result = tokenmill("curate", "--sample", "--output", str(portable), "--runner", "PortableRunner",
                       "--job_endpoint", job_service, "--environment_type", "LOOPBACK")
    assert "ledger balanced" in result.stdout
    local_files = {k: v for k, v in output_tree(local).items() if k.startswith(("curated/", "rejected/", "ledger"))}
    portable_files = output_tree(portable)
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
    local_files, portable_files = output_tree(local / "tokens"), output_tree(tmp_path / "portable")
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
    for step in ("Stage/", "exact-dedup/", "near-dedup/", "Apply/", "Ledger/"):
        assert any(name.startswith(step) for name in names), step
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
    assert any(name.startswith("Apply/") for name in stage_names(pipeline.to_runner_api()))


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


def every_stage_input(folder: Path) -> list[str]:
    """Two JSONL files with exact copies, edited near-copies and shared paragraphs across them."""
    import random

    rng = random.Random(5)
    vocabulary = ("the and of to that with have be the and of harbour river stone market winter garden council "
                  "bridge letter morning museum school valley train rain report village road story window").split()

    def sentence():
        return " ".join(rng.choice(vocabulary) for _ in range(12)).capitalize() + "."

    def page(n):
        return "\n\n".join(" ".join(sentence() for _ in range(5)) for _ in range(4))

    pages = [page(n) for n in range(30)]
    notice = "Subscribe to our newsletter to receive the latest stories from the harbour every morning."
    for part in range(2):
        rows = []
        for n, text in enumerate(pages):
            if part == 1 and n % 3 == 0:
                text = text.replace("river", "creek", 1)          # an edited near-copy
            elif n % 3 == 1:
                text = (page(n) if part else text) + "\n\n" + notice  # a paragraph shared by different pages
            rows.append({"id": f"p{part}-{n:02d}", "text": text + ("" if n % 5 else f"\n\nCall 555-0{n:03d} now.")})
        rows.append({"id": f"copy{part}", "text": pages[7]})       # an exact copy in each file
        (folder / f"docs-{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return ["--source", f"web=jsonl:{folder}/docs-*.jsonl", "--langs", "any",
            "--stages", "langid,quality,exact-dedup,near-dedup,paragraph-dedup,toxicity,pii"]


def test_every_stage_on_an_external_worker_pool_gives_the_local_runners_bytes(tmp_path, job_service, worker_pool):
    """The job service runs the pipeline; the SDK worker is a separate process started by the pool: nothing
    is shared with the launching process but the files."""
    flags = every_stage_input(tmp_path)
    tokenmill("curate", "--output", str(tmp_path / "local"), "--keep-rejected", *flags)
    result = tokenmill("curate", "--output", str(tmp_path / "pool"), "--keep-rejected", *flags,
                       "--runner", "PortableRunner", "--job_endpoint", job_service,
                       "--environment_type", "EXTERNAL", "--environment_config", worker_pool)
    assert "ledger balanced" in result.stdout
    local, pool = output_tree(tmp_path / "local"), output_tree(tmp_path / "pool")
    ledger = json.loads(local["ledger.json"])
    removed = {key for per in ledger["removed"].values() for key in per}
    assert {"exact-dedup/duplicate", "near-dedup/duplicate"} <= removed
    assert any(name.startswith("curated/web/") for name in local)
    assert any(name.startswith("rejected/") for name in local)
    assert not any(name.startswith("_staging") for name in local)
    assert pool.keys() == local.keys()
    for name in local:
        assert pool[name] == local[name], name


def test_the_pipelines_of_one_process_share_one_flink_or_spark_job_server(tmp_path):
    """Beam would start a job server (a JVM) per pipeline and keep each until the process exits; `tokenmill
    run` runs four pipelines. Same command, same server; another master or jar, another server."""
    from tokenmill.pipeline.runner import make_runner, pipeline_options

    jars = {name: tmp_path / f"{name}.jar" for name in ("flink", "spark")}
    for jar in jars.values():
        jar.write_bytes(b"")  # only its path matters: nothing starts until a pipeline runs

    def server(runner, *args):
        return make_runner(runner).default_job_server(pipeline_options(runner, 1, list(args)))

    flink = ("FlinkRunner", "--flink_master=[local]", f"--flink_job_server_jar={jars['flink']}")
    assert server(*flink) is server(*flink)
    assert server(*flink) is not server("FlinkRunner", "--flink_master=localhost:8081",
                                        f"--flink_job_server_jar={jars['flink']}")
    spark = ("SparkRunner", "--spark_master_url=local[2]", f"--spark_job_server_jar={jars['spark']}")
    assert server(*spark) is server(*spark) is not server(*flink)
