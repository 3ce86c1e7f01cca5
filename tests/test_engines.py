"""The engines tier (`python -m pytest -m engines`): curate, the tokenizer's sample and pack on Apache
Flink and Apache Spark give the FnApiRunner's bytes.

Four engines, each through Beam's job server given by path (deploy/job-server.sh fetches it from Maven
Central): Flink embedded in its job server and a standalone Flink cluster; Spark `local[2]` in its job
server and a standalone Spark cluster (deploy/flink/cluster.sh, deploy/spark/cluster.sh start and stop
them; their SDK workers run in Beam's worker pool, processes of their own). Each runs `tokenmill run
--skip-train` on the bundled sample and a few hundred real pages of ../shared/corpus (WARC and JSONL) with
every curate stage but url and decontaminate (which need the user's lists), a quality model among them,
and every output byte is compared with the FnApiRunner's. Fails, never skips, without Java, Maven, a jar
or the corpus.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from conftest import SAMPLE, output_tree, tokenmill
from tests.beam_services import job_server_jar, standalone_cluster

pytestmark = pytest.mark.engines

CHAIN = ["clean-text", "langid", "quality", "exact-dedup", "near-dedup", "paragraph-dedup", "quality-model",
         "toxicity", "pii"]
OUTPUTS = ("curated", "rejected", "ledger.json", "tokenizer.json", "tokenizer_config.json",
           "special_tokens_map.json", "tokens")


@dataclass(frozen=True)
class Engine:
    name: str
    beam_args: tuple[str, ...]


@pytest.fixture(scope="module")
def run_config(tmp_path_factory, request) -> Path:
    """The sample's two sources and two of real pages (WARC and JSONL) that the quality model never saw,
    every stage of CHAIN on each; the model is trained here on other corpus pages (OpenWebText against 4chan)."""
    corpus = request.getfixturevalue("corpus")  # by name, so that the corpus tier does not select this module
    folder = tmp_path_factory.mktemp("engines")
    model = folder / "quality.bin"
    tokenmill("classifier", "train", "--positive", f"owt=jsonl:{corpus}/web-bulk/openwebtext_*.jsonl.gz",
              "--negative", f"chan=jsonl:{corpus}/web-bulk/paloma_4chan_*.jsonl.gz", "--bucket", "20000",
              "--dim", "16", "--output", str(model))
    light = {"quality": {"rule_sets": ["sanity", "gopher_quality"]}}  # as the sample's own config
    config = {
        "sources": {
            "web": {"format": "warc", "paths": [str(SAMPLE / "web.warc.gz")], "weight": 0.2, "stages": CHAIN,
                    "overrides": light},
            "docs": {"format": "jsonl", "paths": [str(SAMPLE / "docs.jsonl.gz")], "weight": 0.2, "stages": CHAIN,
                     "overrides": light},
            "cc": {"format": "warc", "paths": [str(corpus / "web" / "*.warc.gz")], "weight": 0.3, "stages": CHAIN},
            "dclm": {"format": "jsonl", "paths": [str(corpus / "web-bulk" / "dclm_annotated_majority_*.jsonl.gz")],
                     "weight": 0.3, "stages": CHAIN},
        },
        "stages": {"langid": {"languages": ["en"]},
                   "quality-model": {"models": {"owt": {"path": str(model), "top_fraction": 0.8}}}},
        "curate": {"keep_rejected": True},
        "tokenizer": {"vocab_size": 1024, "sample_bytes": 3_000_000},
        "pack": {"seq_len": 128, "rows_per_shard": 256},
    }
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_beam_stages(config: Path, output: Path, *beam_args: str) -> float:
    """`tokenmill run --skip-train` (curate, the tokenizer's sample, pack); its wall time in seconds."""
    started = time.monotonic()
    tokenmill("run", "--config", str(config), "--output", str(output), "--skip-train", *beam_args, timeout=1800)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def local_run(run_config, tmp_path_factory) -> tuple[Path, float]:
    output = tmp_path_factory.mktemp("fnapi") / "out"
    return output, run_beam_stages(run_config, output)


@pytest.fixture(scope="module", params=["flink-embedded", "flink-cluster", "spark-local", "spark-cluster"])
def engine(request, tmp_path_factory) -> Iterator[Engine]:
    kind, _, where = request.param.partition("-")
    jar = job_server_jar(kind)
    saved = os.environ.get("SPARK_LOCAL_IP")
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # Spark's driver and executors talk over loopback only
    try:
        if kind == "flink" and where == "embedded":
            yield Engine(request.param, ("--runner", "FlinkRunner", "--flink_master", "[local]", "--parallelism", "2",
                                         "--flink_job_server_jar", jar, "--environment_type", "LOOPBACK"))
        elif kind == "spark" and where == "local":
            yield Engine(request.param, ("--runner", "SparkRunner", "--spark_master_url", "local[2]",
                                         "--spark_job_server_jar", jar, "--environment_type", "LOOPBACK"))
        else:
            with standalone_cluster(kind, tmp_path_factory.mktemp(f"{kind}-cluster")) as ports:
                pool = ("--environment_type", "EXTERNAL", "--environment_config", f"localhost:{ports['WORKER_POOL_PORT']}")
                if kind == "flink":
                    yield Engine(request.param, ("--runner", "FlinkRunner", "--flink_version", "1.19",
                                                 "--flink_master", f"localhost:{ports['FLINK_REST_PORT']}",
                                                 "--parallelism", "2", "--flink_job_server_jar", jar, *pool))
                else:
                    yield Engine(request.param, ("--runner", "SparkRunner",
                                                 "--spark_master_url", f"spark://localhost:{ports['SPARK_MASTER_PORT']}",
                                                 "--spark_job_server_jar", jar, *pool))
    finally:
        if saved is None:
            os.environ.pop("SPARK_LOCAL_IP")
        else:
            os.environ["SPARK_LOCAL_IP"] = saved


def test_curate_tokenizer_and_pack_give_the_local_runners_bytes(engine, local_run, run_config, tmp_path):
    local, local_seconds = local_run
    seconds = run_beam_stages(run_config, tmp_path / "out", *engine.beam_args)
    print(f"{engine.name}: {seconds:.0f} s; FnApiRunner {local_seconds:.0f} s")
    expected, got = output_tree(local, only=OUTPUTS), output_tree(tmp_path / "out", only=OUTPUTS)
    ledger = json.loads(expected["ledger.json"])
    assert ledger["balanced"]
    assert set(ledger["input"]) == {"web", "docs", "cc", "dclm"} and ledger["input"]["dclm"] >= 300
    removed = {key.split("/")[0] for per_source in ledger["removed"].values() for key in per_source}
    assert {"langid", "quality", "exact-dedup", "quality-model"} <= removed
    assert any(name.startswith("tokens/shard-") for name in expected) and "tokens/manifest.json" in expected
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == expected[name], name
