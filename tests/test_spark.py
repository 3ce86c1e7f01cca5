"""Spark as a consumer: PySpark reads the curated, rejected and token Parquet shards and counts what
the ledger and the manifest count."""
import json

import pytest
from pyspark.sql import SparkSession


@pytest.fixture(scope="module")
def spark():
    session = (SparkSession.builder.master("local[1]").appName("tokenmill-test")
               .config("spark.driver.memory", "512m").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "1").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def curated(sample_run):
    """The bundled sample, curated with its rejects kept, tokenized and packed."""
    out, _ = sample_run
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
