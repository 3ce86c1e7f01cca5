"""Records cross shuffles in RowCoder's encoding inside a Python coder: a Java runner (the Beam 2.62
job servers of Flink and Spark) carries them as bytes and never decodes them with its own RowCoder,
which reads the 2.77 SDK's rows wrongly (the engines tier runs the real thing)."""
import apache_beam as beam
from apache_beam.coders import registry

from conftest import SAMPLE
from tokenmill.pipeline.config import load_config
from tokenmill.pipeline.curate import build_curation, plan_curation
from tokenmill.pipeline.runner import make_runner
from tokenmill.transforms.join import Verdict
from tokenmill.transforms.records import RecordCoder

ROW_CODER_URN = "beam:coder:row:v1"


def test_a_record_round_trips_through_its_coder_with_its_optional_fields():
    coder = registry.get_coder(Verdict)
    assert isinstance(coder, RecordCoder)
    for verdict in (Verdict(7, "exact-dedup", "duplicate", "doc-1"), Verdict(2**40, "paragraph-dedup", paragraph=3)):
        assert coder.decode(coder.encode(verdict)) == verdict


def test_the_curation_graph_declares_no_row_coder_to_the_runner(tmp_path):
    config = load_config(str(SAMPLE / "sample.yaml"))
    plan = plan_curation(config, str(tmp_path / "out"), ["exact-dedup", "near-dedup", "paragraph-dedup"])
    pipeline = beam.Pipeline(runner=make_runner("FnApiRunner"))
    build_curation(pipeline, config, plan)
    coders = pipeline.to_runner_api().components.coders.values()
    assert ROW_CODER_URN not in {coder.spec.urn for coder in coders}
