"""The Beam wiring of the foundation: the fused filter chain, exact dedup on keys and the shard writer."""
from pathlib import Path

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tokenmill.filters.base import DocumentFilter
from tokenmill.filters.document import Document, Failed, Rejected
from tokenmill.filters.sanity import SanityFilter
from tokenmill.filters.normalize import content_hash
from tokenmill.transforms.exact_dedup import ExactCopy, ExactDedup
from tokenmill.transforms.join import DocIds, Verdict
from tokenmill.transforms.staging import CountedChains
from tokenmill.transforms.filter_chain import run_chain, run_chain_batch
from tokenmill.transforms.write import ShardWriter, document_row, document_schema, read_rows, row_document

IDS = DocIds.for_shards(1)
PROSE = "The river rose through the night and by morning the lower fields were under water again. "


class Explodes(DocumentFilter):
    stage = "boom"

    def __call__(self, doc):
        if "explode" in doc.text:
            raise ValueError("cannot measure this")
        return None


class ShoutsThenJudges(DocumentFilter):
    """Rewrites every text in capitals, then drops the short ones and fails on "explode"."""

    stage = "shout"

    def __call__(self, doc):
        doc.text = doc.text.upper()
        if "EXPLODE" in doc.text:
            raise ValueError("cannot shout this")
        return "short" if len(doc.text) < 60 else None


def outcome(result):
    """What a chain's result says: its kind, document, rule, text and rewrite."""
    if isinstance(result, Failed):
        return "failed", result.locator, result.key
    doc = result.doc if isinstance(result, Rejected) else result
    return (type(result).__name__, doc.id, getattr(result, "key", None), doc.text,
            getattr(result, "rewritten_text", None))


def test_a_chain_run_over_a_batch_gives_each_document_what_it_gives_alone():
    def docs():
        return [Document("a", "web", PROSE * 2), Document("b", "web", "too short"), Document("c", "web", "short"),
                Document("d", "web", PROSE + " explode"), Document("e", "web", PROSE * 2 + " explode")]

    for chain in ([SanityFilter(), ShoutsThenJudges()], [ShoutsThenJudges(), Explodes()], [Explodes(), SanityFilter()]):
        alone = [outcome(next(iter(run_chain(doc, chain)))) for doc in docs()]
        assert [outcome(result) for result in run_chain_batch(docs(), chain)] == alone
    assert [kind for kind, *_ in alone] == ["Document", "Rejected", "Rejected", "failed", "failed"]


def beam_pipeline():
    return BeamTestPipeline(runner=FnApiRunner())


def test_each_source_runs_its_own_chain_and_other_items_pass_through():
    docs = [Document("a", "web", PROSE * 2), Document("b", "web", "too short"),
            Document("c", "web", PROSE * 2 + " explode"), Document("d", "books", "short but unfiltered")]
    chains = CountedChains({"web": [SanityFilter(), Explodes()]})
    chains.setup()
    marker = ("staged shard", 0)  # what pass 1 hands on beside documents
    results = chains([docs[0], marker, *docs[1:]])
    assert results[1] is marker
    assert [outcome(r)[:3] for r in results[:1] + results[2:]] == [
        ("Document", "a", None), ("Rejected", "b", "quality/too_short"), ("failed", "c", "boom/ValueError"),
        ("Document", "d", None)]


def exact_keys(docs):
    """Pass 1's exact-dedup keys for `docs`, as if each sat in its own row of shard 0."""
    return [(bytes.fromhex(content_hash(d.text)), ExactCopy(d.id, d.source, IDS.uid(0, row)))
            for row, d in enumerate(docs)]


def test_exact_dedup_keeps_the_lowest_id_whatever_the_order():
    copies = [Document(i, "web", text) for i, text in
              [("z9", PROSE), ("a1", PROSE.upper()), ("m5", "  " + PROSE.replace(" ", "\n")), ("q", PROSE + "!")]]
    for order in (copies, copies[::-1]):
        rows = {d.id: row for row, d in enumerate(order)}
        with beam_pipeline() as p:
            out = p | beam.Create(exact_keys(order)) | ExactDedup(IDS)
            assert_that(out["verdicts"], equal_to([(0, Verdict(rows[i], "exact-dedup", "duplicate", "a1"))
                                                   for i in ("z9", "m5")]), label="verdicts")


def test_exact_dedup_keeps_one_copy_of_many_equal_members_whatever_their_identity():
    """Keepers are found by value: members re-read from a coder (equal, not identical) still keep one."""
    docs = [Document("same", "web", PROSE) for _ in range(500)]
    with beam_pipeline() as p:
        out = p | beam.Create(exact_keys(docs)) | beam.Reshuffle() | ExactDedup(IDS)
        assert_that(out["verdicts"] | beam.combiners.Count.Globally(), equal_to([499]))


def test_shard_writer_makes_the_same_bytes_and_splits_at_rows_per_file(tmp_path):
    docs = [Document(f"id{i:03d}", "web", f"{PROSE} {i}", signals={"char_count": i}) for i in range(50)]
    schema = document_schema({"char_count": "int"})
    contents = []
    for run in range(2):
        writer = ShardWriter(str(tmp_path / f"run{run}" / "web" / "part-00000"), schema, rows_per_file=20)
        for doc in docs:
            writer.write(document_row(doc, schema))
        files = [Path(p) for p in writer.close()]
        assert [f.name for f in files] == [f"part-00000-{n:04d}.parquet" for n in range(3)]
        contents.append([f.read_bytes() for f in files])
        table = pq.read_table(tmp_path / f"run{run}" / "web")
        assert table.num_rows == 50 and "char_count" in table.column_names
        assert table.column("id").to_pylist() == [d.id for d in docs]  # input order
        assert pq.read_metadata(files[0]).row_group(0).column(0).compression == "ZSTD"
    assert contents[0] == contents[1]
    assert [row_document(r).text for r in read_rows(str(files[1]))] == [d.text for d in docs[20:40]]
