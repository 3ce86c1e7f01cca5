"""Gopher's quality and repetition rules (Rae et al. 2021, "Scaling Language Models", appendix A)."""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import repeat
from typing import Optional

from tokenmill.filters.document import Document
from tokenmill.filters.quality.stats import TextStats
from tokenmill.filters.sanity import UNSPACED_LANGUAGES

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
BULLETS = ("•", "●", "○", "▪", "◦", "‣", "⁃", "-", "*", "·")
ELLIPSES = ("...", "…")


@dataclass
class GopherQuality:
    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_length: float = 3.0       # characters; spaced languages only
    max_mean_word_length: float = 10.0
    max_hash_ratio: float = 0.1             # "#" per word
    max_ellipsis_ratio: float = 0.1         # "..." or "…" per word
    max_bullet_lines: float = 0.9           # share of lines starting with a bullet
    max_ellipsis_lines: float = 0.3         # share of lines ending with an ellipsis
    min_alpha_words: float = 0.8            # share of whitespace tokens with at least one letter
    min_stop_words: int = 2                 # distinct ones of the, be, to, of, and, that, have, with (English only)
    stop_word_languages: list[str] = field(default_factory=lambda: ["en"])

    name = "gopher_quality"
    SIGNALS = {"word_count": "int", "mean_word_length": "float", "hash_ratio": "float", "ellipsis_ratio": "float",
               "bullet_lines": "float", "ellipsis_lines": "float", "alpha_words": "float", "stop_words": "int"}

    def thresholds(self):
        return {"word_count": (self.min_words, self.max_words),
                "mean_word_length": (self.min_mean_word_length, self.max_mean_word_length),
                "hash_ratio": (None, self.max_hash_ratio), "ellipsis_ratio": (None, self.max_ellipsis_ratio),
                "bullet_lines": (None, self.max_bullet_lines), "ellipsis_lines": (None, self.max_ellipsis_lines),
                "alpha_words": (self.min_alpha_words, None), "stop_words": (self.min_stop_words, None)}

    def check(self, stats: TextStats, doc: Document) -> Optional[str]:
        s = doc.signals
        n = stats.word_count
        s["word_count"] = n
        if n == 0 or n < self.min_words or n > self.max_words:  # no words: nothing to measure the rest by
            return "gopher_word_count"
        s["mean_word_length"] = stats.word_chars / n
        if doc.lang not in UNSPACED_LANGUAGES and not (
                self.min_mean_word_length <= s["mean_word_length"] <= self.max_mean_word_length):
            return "gopher_mean_word_length"
        s["hash_ratio"] = stats.text.count("#") / n
        if s["hash_ratio"] > self.max_hash_ratio:
            return "gopher_hash_ratio"
        s["ellipsis_ratio"] = (stats.text.count("...") + stats.text.count("…")) / n
        if s["ellipsis_ratio"] > self.max_ellipsis_ratio:
            return "gopher_ellipsis_ratio"
        lines = stats.nonempty_lines or [""]
        s["bullet_lines"] = sum(map(str.startswith, lines, repeat(BULLETS))) / len(lines)
        if s["bullet_lines"] > self.max_bullet_lines:
            return "gopher_bullet_lines"
        s["ellipsis_lines"] = sum(map(str.endswith, lines, repeat(ELLIPSES))) / len(lines)
        if s["ellipsis_lines"] > self.max_ellipsis_lines:
            return "gopher_ellipsis_lines"
        # every token, punctuation-only ones included (a "..." token is not a word with a letter)
        s["alpha_words"] = stats.tokens_with_letter / max(1, stats.token_count)
        if s["alpha_words"] < self.min_alpha_words:
            return "gopher_alpha_words"
        if doc.lang in self.stop_word_languages:
            s["stop_words"] = len(stats.bare_words_among(STOP_WORDS))  # distinct stop words
            if s["stop_words"] < self.min_stop_words:
                return "gopher_stop_words"
        return None


@dataclass
class GopherRepetition:
    max_duplicate_lines: float = 0.30        # share of lines that repeat an earlier line
    max_duplicate_paragraphs: float = 0.30
    max_duplicate_line_chars: float = 0.20   # share of characters in repeated lines
    max_duplicate_paragraph_chars: float = 0.20
    max_top_ngram_share: dict[int, float] = field(default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16})
    max_duplicated_ngram_share: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10})

    name = "gopher_repetition"

    @property
    def SIGNALS(self):
        return {"duplicate_lines": "float", "duplicate_paragraphs": "float", "duplicate_line_chars": "float",
                "duplicate_paragraph_chars": "float",
                **{f"top_{n}gram_share": "float" for n in self.max_top_ngram_share},
                **{f"duplicated_{n}gram_share": "float" for n in self.max_duplicated_ngram_share}}

    def thresholds(self):
        return {"duplicate_lines": (None, self.max_duplicate_lines),
                "duplicate_paragraphs": (None, self.max_duplicate_paragraphs),
                "duplicate_line_chars": (None, self.max_duplicate_line_chars),
                "duplicate_paragraph_chars": (None, self.max_duplicate_paragraph_chars),
                **{f"top_{n}gram_share": (None, v) for n, v in self.max_top_ngram_share.items()},
                **{f"duplicated_{n}gram_share": (None, v) for n, v in self.max_duplicated_ngram_share.items()}}

    def check(self, stats: TextStats, doc: Document) -> Optional[str]:
        s = doc.signals
        chars = max(1, len(stats.text))
        lines = max(1, len(stats.nonempty_lines))
        paragraphs = max(1, len(stats.paragraphs))
        dup_lines, dup_line_chars = stats.duplicate_lines
        dup_paragraphs, dup_paragraph_chars = stats.duplicate_paragraphs
        for signal, value, limit in (
                ("duplicate_paragraphs", dup_paragraphs / paragraphs, self.max_duplicate_paragraphs),
                ("duplicate_paragraph_chars", dup_paragraph_chars / chars, self.max_duplicate_paragraph_chars),
                ("duplicate_lines", dup_lines / lines, self.max_duplicate_lines),
                ("duplicate_line_chars", dup_line_chars / chars, self.max_duplicate_line_chars)):
            s[signal] = value
            if value > limit:
                return f"gopher_{signal}"
        for n, limit in sorted(self.max_top_ngram_share.items()):
            s[f"top_{n}gram_share"] = stats.top_ngram_char_share(n)
            if s[f"top_{n}gram_share"] > limit:
                return f"gopher_top_{n}gram"
        for n, limit in sorted(self.max_duplicated_ngram_share.items()):
            s[f"duplicated_{n}gram_share"] = stats.duplicated_ngram_char_share(n)
            if s[f"duplicated_{n}gram_share"] > limit:
                return f"gopher_duplicated_{n}gram"
        return None
