"""The Beam wiring of the foundation: the fused filter chain, exact dedup and the writer."""
import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tokenmill.filters.base import DocumentFilter
from tokenmill.filters.document import Document
from tokenmill.filters.sanity import SanityFilter
from tokenmill.transforms.exact_dedup import ExactDedup
from tokenmill.transforms.filter_chain import ApplyFilters
from tokenmill.transforms.write import WriteShards

PROSE = "The river rose through the night and by morning the lower fields were under water again. "


class Explodes(DocumentFilter):
    stage = "boom"

    def __call__(self, doc):
        if "explode" in doc.text:
            raise ValueError("cannot measure this")
        return None


def beam_pipeline():
    return BeamTestPipeline(runner=FnApiRunner())


def test_filter_chain_tags_kept_rejected_and_failed():
    docs = [Document("a", "web", PROSE * 2), Document("b", "web", "too short"),
            Document("c", "web", PROSE * 2 + " explode"), Document("d", "books", "short but unfiltered")]
    with beam_pipeline() as p:
        out = p | beam.Create(docs) | ApplyFilters({"web": [SanityFilter(), Explodes()]})
        assert_that(out["kept"] | "KeptIds" >> beam.Map(lambda d: d.id), equal_to(["a", "d"]), label="kept")
        assert_that(out["rejected"] | beam.Map(lambda r: (r.doc.id, r.key)), equal_to([("b", "quality/too_short")]),
                    label="rejected")
        assert_that(out["failed"] | beam.Map(lambda f: (f.locator, f.key)), equal_to([("c", "boom/ValueError")]),
                    label="failed")


def test_exact_dedup_keeps_the_lowest_id_whatever_the_order():
    copies = [Document(i, "web", text) for i, text in
              [("z9", PROSE), ("a1", PROSE.upper()), ("m5", "  " + PROSE.replace(" ", "\n")), ("q", PROSE + "!")]]
    for order in (copies, copies[::-1]):
        with beam_pipeline() as p:
            out = p | beam.Create(order) | ExactDedup()
            assert_that(out["kept"] | beam.Map(lambda d: d.id), equal_to(["a1", "q"]), label="kept")
            assert_that(out["rejected"] | beam.Map(lambda r: (r.doc.id, r.duplicate_of)),
                        equal_to([("z9", "a1"), ("m5", "a1")]), label="dups")


def test_writer_makes_the_same_bytes_whatever_the_order(tmp_path):
    docs = [Document(f"id{i:03d}", "web", f"{PROSE} {i}", signals={"char_count": i}) for i in range(50)]
    contents = []
    for run, order in enumerate((docs, docs[::-1])):
        root = tmp_path / f"run{run}"
        with beam_pipeline() as p:
            p | beam.Create(order) | WriteShards(str(root), {"char_count": "int"}, rows_per_shard=20)
        files = sorted(root.rglob("*.parquet"))
        assert len(files) == 3  # ceil(50 / 20)
        contents.append([f.read_bytes() for f in files])
        table = pq.read_table(root / "web")
        assert table.num_rows == 50 and "char_count" in table.column_names
        assert pq.read_metadata(files[0]).row_group(0).column(0).compression == "ZSTD"
    assert contents[0] == contents[1]
