"""Spark as a consumer: PySpark reads the curated, rejected and token Parquet shards and counts what
the ledger and the manifest count."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def spark():
    session = (SparkSession.builder.master("local[1]").appName("tokenmill-test")
               .config("spark.driver.memory", "512m").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "1").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def curated(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("spark") / "out"
    result = subprocess.run(
        [sys.executable, "-m", "tokenmill", "curate", "--output", str(out), "--keep-rejected",
         "--source", f"web=warc:{corpus}/web/allenai-crawl_dolma_sample-0000.warc.gz",
         "--source", f"bulk=jsonl:{corpus}/web-bulk/olmo_c4-sample.0*.jsonl.gz",
         "--source", f"cc=jsonl:{corpus}/web-bulk/datajuicer_redpajama-cc-2023-06-refined.jsonl"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    for args in (["tokenizer", "train", "--input", str(out / "curated"), "--output", str(out / "tokenizer.json"),
                  "--vocab-size", "1000", "--sample-bytes", "500000"],
                 ["pack", "--curated", str(out / "curated"), "--tokenizer", str(out / "tokenizer.json"),
                  "--output", str(out / "tokens"), "--seq-len", "127", "--mixture", "web=0.3,bulk=0.3,cc=0.4"]):
        result = subprocess.run([sys.executable, "-m", "tokenmill", *args], capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_spark_counts_the_curated_rows_the_ledger_counts(spark, curated):
    ledger = json.loads((curated / "ledger.json").read_text())
    kept = spark.read.parquet(str(curated / "curated" / "*" / "*.parquet"))
    counted = {row["source"]: row["count"] for row in kept.groupBy("source").count().collect()}
    assert counted == {source: n for source, n in ledger["kept"].items() if n}
    assert kept.select("id").distinct().count() == kept.count()
    assert {"text", "lang", "lang_score"} <= set(kept.columns)


def test_spark_counts_the_rejected_rows_per_reason_the_ledger_counts(spark, curated):
    ledger = json.loads((curated / "ledger.json").read_text())
    rejected = spark.read.parquet(str(curated / "rejected" / "*" / "*.parquet"))
    counted = {}
    for row in rejected.groupBy("source", "stage", "reason").count().collect():
        counted.setdefault(row["source"], {})[f"{row['stage']}/{row['reason']}"] = row["count"]
    assert counted == {source: reasons for source, reasons in ledger["removed"].items() if reasons}
    assert sum(map(len, counted.values())) >= 2


def test_spark_counts_the_token_rows_the_manifest_counts(spark, curated):
    manifest = json.loads((curated / "tokens" / "manifest.json").read_text())
    tokens = spark.read.parquet(*[str(curated / "tokens" / shard["path"]) for shard in manifest["shards"]])
    assert tokens.count() == manifest["total_rows"] == sum(s["rows"] for s in manifest["shards"])
    counted = {row["source"]: row["count"] for row in tokens.groupBy("source").count().collect()}
    assert counted == {name: info["rows_used"] for name, info in manifest["sources"].items() if info["rows_used"]}
    widths = {row["width"] for row in tokens.selectExpr("size(tokens) AS width").distinct().collect()}
    assert widths == {manifest["row_tokens"]}
