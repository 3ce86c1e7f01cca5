"""Paragraph-level exact dedup across the corpus (as Dolma and FineWeb do; C4 did it on three-sentence
spans): a paragraph seen in a better-ranked document is cut from every other document.

    pass 1: (uid, ParagraphKeys(id, source, hashes, indexes)) per document
    pass 2: documents the other dedup stages removed left out (a join on the uid: one document's
            keys and its few verdicts) ─► (hash, ParagraphCopy) per paragraph ─► the copies of a
            hash read twice: the smallest holds it, every other one gets a cut verdict for its index
    pass 3: the text rewritten without its cut paragraphs, or removed as
            `paragraph-dedup/all_duplicated` when nothing is left.

Paragraphs are split on blank lines; shorter ones than `min_chars` (headings, "Share this") are
never cut. The rank is (id, source, uid), so which copy survives does not depend on the runner, and
a cookie banner in ten million pages costs a worker one copy's memory.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import apache_beam as beam

from tokenmill.filters.document import Document, Rejected
from tokenmill.filters.normalize import content_hash
from tokenmill.transforms.join import DocIds, Streams, Verdict, smallest_and_others, stream_join, typed
from tokenmill.transforms.records import register_records

STAGE = "paragraph-dedup"
PARAGRAPH_BREAK = "\n\n"
SIGNAL_TYPES = {"duplicate_paragraphs_removed": "int"}
KEYS, REMOVED = 0, 1  # the inputs of the join that leaves removed documents out


class ParagraphKeys(NamedTuple):
    """A document's distinct paragraphs worth comparing: their hashes and where they stand."""

    id: str
    source: str
    hashes: Sequence[bytes]
    indexes: Sequence[int]


class ParagraphCopy(NamedTuple):
    """One document holding a paragraph hash; the smallest (id, source, uid) keeps it."""

    id: str
    source: str
    uid: int
    index: int


register_records(ParagraphKeys, ParagraphCopy)


def paragraphs(text: str) -> list[str]:
    return text.split(PARAGRAPH_BREAK)


def paragraph_keys(text: str, min_chars: int) -> tuple[list[bytes], list[int]]:
    """(hashes, indexes) of each distinct paragraph of at least `min_chars` (a paragraph repeated inside
    one document is the quality stage's concern)."""
    seen: dict[bytes, int] = {}
    for index, paragraph in enumerate(paragraphs(text)):
        if len(paragraph.strip()) >= min_chars:
            seen.setdefault(bytes.fromhex(content_hash(paragraph)), index)
    return list(seen), list(seen.values())


def surviving_copies(item):
    """(uid, the document's keys and verdicts) → (hash, ParagraphCopy) per paragraph, unless removed."""
    uid, grouped = item
    if any(True for _ in grouped(REMOVED)):
        return
    for keys in grouped(KEYS):
        for key, index in zip(keys.hashes, keys.indexes):
            yield key, ParagraphCopy(keys.id, keys.source, uid, index)


class _Cut(beam.DoFn):
    def __init__(self, ids: DocIds):
        self.ids = ids

    def process(self, item):
        _, copies = item  # one copy per document: the uid decides before the index could
        _, others = smallest_and_others(copies)
        for copy in others:
            yield self.ids.shard(copy.uid), Verdict(self.ids.row(copy.uid), STAGE, paragraph=copy.index)


class ParagraphDedup(beam.PTransform):
    """{"keys": (uid, ParagraphKeys), "removed": (uid, None)} → cut verdicts (shard, Verdict)."""

    def __init__(self, ids: DocIds):
        super().__init__()
        self.ids = ids

    def expand(self, inputs):
        joined, coders = stream_join("LeaveOutRemoved", [inputs["keys"], inputs["removed"]], int)
        return typed(joined
                     | "Copies" >> beam.FlatMap(lambda item: surviving_copies((item[0], Streams(item[1], coders))))
                     .with_output_types(tuple[bytes, ParagraphCopy])
                     | "ByParagraph" >> beam.GroupByKey()
                     | "Cuts" >> beam.ParDo(_Cut(self.ids)), tuple[int, Verdict])


def rewrite(doc: Document, cut: set[int]) -> Document | Rejected:
    """The document without its cut paragraphs, or its removal when nothing is left."""
    doc.signals["duplicate_paragraphs_removed"] = len(cut)
    if cut:
        doc.text = PARAGRAPH_BREAK.join(p for i, p in enumerate(paragraphs(doc.text)) if i not in cut)
    return doc if doc.text.strip() else Rejected(doc, STAGE, "all_duplicated")
