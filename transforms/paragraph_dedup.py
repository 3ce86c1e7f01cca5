"""Paragraph-level exact dedup across the corpus (as Dolma and FineWeb do; C4 did it on three-sentence
spans): a paragraph seen in a better-ranked document is cut from every other document.

    pass 1: (where, (rank, [(paragraph hash, index)])) per document
    pass 2: documents the other dedup stages removed left out ─► (hash, (rank, index)) ─► the
            smallest rank holds it (CombinePerKey) ─► the others get a cut verdict for that index
    pass 3: the text rewritten without its cut paragraphs, or removed as
            `paragraph-dedup/all_duplicated` when nothing is left.

Paragraphs are split on blank lines; shorter ones than `min_chars` (headings, "Share this") are
never cut. The rank is (id, source, where), so which copy survives does not depend on the runner.
"""
from __future__ import annotations

import apache_beam as beam

from tokenmill.filters.document import Document, Rejected
from tokenmill.filters.normalize import content_hash
from tokenmill.transforms.join import CUT, SmallestWins, verdict

STAGE = "paragraph-dedup"
PARAGRAPH_BREAK = "\n\n"
SIGNAL_TYPES = {"duplicate_paragraphs_removed": "int"}


def paragraphs(text: str) -> list[str]:
    return text.split(PARAGRAPH_BREAK)


def paragraph_keys(text: str, min_chars: int) -> list[tuple[bytes, int]]:
    """(hash, index) of each distinct paragraph of at least `min_chars` (a paragraph repeated inside
    one document is the quality stage's concern)."""
    seen, keys = set(), []
    for index, paragraph in enumerate(paragraphs(text)):
        if len(paragraph.strip()) >= min_chars:
            key = bytes.fromhex(content_hash(paragraph))
            if key not in seen:
                seen.add(key)
                keys.append((key, index))
    return keys


class ParagraphDedup(beam.PTransform):
    """{"entries": (where, (rank, keys)), "removed": (where, None)} → cut verdicts by staged shard."""

    def expand(self, inputs):
        def surviving_members(item):
            _, grouped = item
            if next(iter(grouped["removed"]), False) is not False:
                return
            for rank, keys in grouped["entries"]:
                for key, index in keys:
                    yield key, (*rank, index)

        decided = (inputs
                   | "LeaveOutRemoved" >> beam.CoGroupByKey()
                   | "Members" >> beam.FlatMap(surviving_members)
                   | "Holders" >> SmallestWins(5))  # (id, source, shard, row, index)
        return decided["losers"] | "Cuts" >> beam.MapTuple(
            lambda member, holder: verdict(member[2:4], CUT, STAGE, None, member[4]))


def rewrite(doc: Document, cut: set[int]) -> Document | Rejected:
    """The document without its cut paragraphs, or its removal when nothing is left."""
    doc.signals["duplicate_paragraphs_removed"] = len(cut)
    if cut:
        doc.text = PARAGRAPH_BREAK.join(p for i, p in enumerate(paragraphs(doc.text)) if i not in cut)
    return doc if doc.text.strip() else Rejected(doc, STAGE, "all_duplicated")
