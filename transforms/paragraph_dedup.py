"""Paragraph-level exact dedup across the corpus (as Dolma and FineWeb do; C4 did it on three-sentence
spans): a paragraph seen in a better-ranked document is cut from every other document.

    documents ─► (paragraph hash, (rank, node, index)) ─► GroupByKey ─► the first holder keeps it,
      the others get (node, index) to cut ─► join back: text rewritten, or removed as
      `paragraph-dedup/all_duplicated` when nothing is left.

Paragraphs are split on blank lines; shorter ones than `min_chars` (headings, "Share this") are
never cut. The rank is (id, source), so which copy survives does not depend on the runner.
"""
from __future__ import annotations

import apache_beam as beam

from tokenmill.filters.document import Rejected
from tokenmill.filters.normalize import content_hash
from tokenmill.transforms.join import JoinFindings, node_of

STAGE = "paragraph-dedup"
PARAGRAPH_BREAK = "\n\n"


def paragraphs(text: str) -> list[str]:
    return text.split(PARAGRAPH_BREAK)


class ParagraphDedup(beam.PTransform):
    def __init__(self, min_chars: int = 50):
        super().__init__()
        self.min_chars = min_chars

    def signal_types(self):
        return {"duplicate_paragraphs_removed": "int"}

    def expand(self, docs):
        min_chars = self.min_chars

        def entries(doc):
            seen = set()
            for index, paragraph in enumerate(paragraphs(doc.text)):
                if len(paragraph.strip()) >= min_chars:
                    key = content_hash(paragraph)
                    if key not in seen:  # a paragraph repeated inside one document is the quality stage's concern
                        seen.add(key)
                        yield key, ((doc.id, doc.source), node_of(doc), index)

        def cuts(group):
            _, holders = group
            holders = sorted(holders)
            for _, node, index in holders[1:]:
                if node != holders[0][1]:
                    yield node, index

        removals = (docs
                    | "Paragraphs" >> beam.FlatMap(entries)
                    | "ByParagraph" >> beam.GroupByKey()
                    | "Cuts" >> beam.FlatMap(cuts))
        return docs | "Rewrite" >> JoinFindings(removals, _rewrite)


def _rewrite(doc, cuts):
    cut = set(cuts)
    doc.signals["duplicate_paragraphs_removed"] = len(cut)
    if cut:
        doc.text = PARAGRAPH_BREAK.join(p for i, p in enumerate(paragraphs(doc.text)) if i not in cut)
    if doc.text.strip():
        yield doc
    else:
        yield beam.pvalue.TaggedOutput("rejected", Rejected(doc, STAGE, "all_duplicated"))
