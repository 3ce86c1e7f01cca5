"""Beam's metric counters per stage agree with the ledger, which is built from the outputs."""
from collections import Counter

import pytest
from apache_beam.metrics.execution import MetricKey, MetricResult
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.metrics.metricbase import MetricName

from conftest import SAMPLE
from tokenmill.jobs.curate import curation_pipeline
from tokenmill.pipeline.config import load_config
from tokenmill.pipeline.curate import prepare_run
from tokenmill.pipeline.ledger import read_ledger
from tokenmill.pipeline.runner import counters
from tokenmill.pipeline.stages import STAGES


def counter(result, namespace: str, name: str) -> int:
    found = result.metrics().query(MetricsFilter().with_namespace(namespace).with_name(name))["counters"]
    return sum(c.committed for c in found)


def by_stage(ledger: dict, section: str) -> Counter:
    totals = Counter()
    for per_source in ledger[section].values():
        for key, n in per_source.items():
            totals[key.split("/")[0]] += n
    return totals


@pytest.mark.parametrize("workers", [1, 2])
def test_stage_counters_agree_with_the_ledger(tmp_path, workers):
    config = load_config(str(SAMPLE / "sample.yaml"))
    pipeline, plan = curation_pipeline(config, str(tmp_path / "out"), workers=workers)
    prepare_run(plan)
    result = pipeline.run()
    result.wait_until_finish()
    ledger = read_ledger(plan.output)
    removed, errors = by_stage(ledger, "removed"), by_stage(ledger, "errors")
    document_stages = [name for name in STAGES if STAGES[name].kind == "document"]

    read_docs = sum(ledger["input"].values()) - removed["read"] - errors["read"]
    assert counter(result, "read", "documents") == read_docs > 0
    assert counter(result, "filters", "removed") == sum(removed[s] for s in document_stages) > 0
    assert counter(result, "filters", "failed") == sum(errors[s] for s in document_stages)
    # Each run of consecutive document stages counts what it keeps: what survives to the end plus
    # what every later stage removes.
    order = list(STAGES)
    fused_runs_end = [i for i, name in enumerate(order) if STAGES[name].kind == "document"
                      and (i + 1 == len(order) or STAGES[order[i + 1]].kind != "document")]
    kept = sum(sum(ledger["kept"].values()) + sum(removed[s] for s in order[i + 1:]) for i in fused_runs_end)
    assert counter(result, "filters", "kept") == kept


class ResultWithoutCommittedMetrics:
    """What Spark's portable runner returns: counters with attempted values and no committed ones."""

    def metrics(self):
        return self

    def query(self, _filter):
        key = MetricKey("staging", MetricName("staging", "files"))
        return {"counters": [MetricResult(key, committed=None, attempted=3),
                             MetricResult(key, committed=None, attempted=4)]}


def test_counters_fall_back_to_attempted_values_where_the_runner_commits_none():
    assert counters(ResultWithoutCommittedMetrics(), "staging") == {"files": 7}
