"""The quality stage: named rule sets applied in one pass over each document.

Rule sets, in the order they run (FineWeb's pipeline order: Gopher, then C4, then its own rules):
`sanity` (the reference chapter's cheap rules), `gopher_repetition`, `gopher_quality`, `c4` (which
rewrites the text; the rule sets after it measure the cleaned text), `fineweb` and `code`. The text
statistics (lines, words, n-grams) are computed once and shared. Every drop names its rule, e.g.
`quality/gopher_mean_word_length`; every measured value is a signal column.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from tokenmill.filters.base import Bounds, DocumentFilter, SignalTypes
from tokenmill.filters.document import Document
from tokenmill.filters.quality.c4 import C4
from tokenmill.filters.quality.code import CodeRules
from tokenmill.filters.quality.fineweb import FineWeb
from tokenmill.filters.quality.gopher import GopherQuality, GopherRepetition
from tokenmill.filters.quality.stats import TextStats
from tokenmill.filters.sanity import MIN_CHARS, MIN_WORDS_PER_CHAR, SanityFilter


@dataclass
class Sanity:
    min_chars: int = MIN_CHARS
    min_words_per_char: float = MIN_WORDS_PER_CHAR

    name = "sanity"
    SIGNALS = {"char_count": "int", "words_per_char": "float"}

    def thresholds(self):
        return SanityFilter(self.min_chars, self.min_words_per_char).thresholds()

    def check(self, stats: TextStats, doc: Document) -> Optional[str]:
        return SanityFilter(self.min_chars, self.min_words_per_char).check(doc, lambda: stats.whitespace_word_count)


RULE_SET_ORDER = ("sanity", "gopher_repetition", "gopher_quality", "c4", "fineweb", "code")


class QualityFilter(DocumentFilter):
    stage = "quality"

    def __init__(self, rule_sets: Sequence):
        order = {name: i for i, name in enumerate(RULE_SET_ORDER)}
        self.rule_sets = sorted(rule_sets, key=lambda r: order[r.name])

    def signal_types(self) -> SignalTypes:
        return {name: kind for rules in self.rule_sets for name, kind in rules.SIGNALS.items()}

    def thresholds(self) -> dict[str, Bounds]:
        return {name: bounds for rules in self.rule_sets for name, bounds in rules.thresholds().items()}

    def __call__(self, doc: Document) -> Optional[str]:
        stats = TextStats(doc.text)
        for rules in self.rule_sets:
            reason = rules.check(stats, doc)
            if reason is not None:
                return reason
            if doc.text is not stats.text:  # C4 rewrote it: later rules measure the cleaned text
                rewritten = stats.rewritten  # what C4 knows of it already
                stats = rewritten if rewritten is not None and rewritten.text is doc.text else TextStats(doc.text)
        return None


__all__ = ["QualityFilter", "Sanity", "GopherQuality", "GopherRepetition", "C4", "FineWeb", "CodeRules",
           "RULE_SET_ORDER"]
