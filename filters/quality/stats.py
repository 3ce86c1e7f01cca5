"""What the quality rules measure, computed once per text and shared by every rule set.

Each property is computed on first use and cached, so a chain that never asks for 10-grams never
counts them. Words: runs of non-space characters, except that each Chinese, Japanese or Thai
character counts as a word of its own (those scripts put no spaces between words).
"""
from __future__ import annotations

import re
from collections import Counter
from functools import cached_property

_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f"
WORD = re.compile(f"[{_UNSPACED}]|[^\\s{_UNSPACED}]+")
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
PUNCTUATION_STRING = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»“”‘’…–—"
PUNCTUATION_CHARS = frozenset(PUNCTUATION_STRING)
TERMINAL_PUNCTUATION = (".", "!", "?", '"', "'", "”", "’", "。", "！", "？", "…")


class TextStats:
    def __init__(self, text: str):
        self.text = text

    @cached_property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.split("\n")]

    @cached_property
    def nonempty_lines(self) -> list[str]:
        return [line for line in self.lines if line]

    @cached_property
    def paragraphs(self) -> list[str]:
        return [p.strip() for p in PARAGRAPH_BREAK.split(self.text) if p.strip()]

    @cached_property
    def tokens(self) -> list[str]:
        return WORD.findall(self.text)

    @cached_property
    def words(self) -> list[str]:
        """Tokens that are not pure punctuation (Gopher counts words without symbols)."""
        return [t for t in self.tokens if not all(c in PUNCTUATION_CHARS for c in t)]

    @cached_property
    def lower_words(self) -> list[str]:
        """Words lower-cased, the punctuation around them removed ("Frank," and "Frank." are one
        word): what the repetition n-grams and the stop-word rule read."""
        return [bare for w in self.words if (bare := w.strip(PUNCTUATION_STRING).lower())]

    @cached_property
    def word_chars(self) -> int:
        return sum(map(len, self.words))

    def duplicates(self, items: list[str]) -> tuple[int, int]:
        """(how many items repeat an earlier one, the characters in those repeats)."""
        seen: set[str] = set()
        count = chars = 0
        for item in items:
            if item in seen:
                count += 1
                chars += len(item)
            else:
                seen.add(item)
        return count, chars

    @cached_property
    def duplicate_lines(self) -> tuple[int, int]:
        return self.duplicates(self.nonempty_lines)

    @cached_property
    def duplicate_paragraphs(self) -> tuple[int, int]:
        return self.duplicates(self.paragraphs)

    def top_ngram_char_share(self, n: int) -> float:
        """Characters of the most frequent word n-gram, as written (words joined by a space), times
        its count, over the characters of the text (Rae et al. 2021: the fraction of characters
        contained within the most frequent n-gram)."""
        words = self.lower_words
        if len(words) < n or not self.text:
            return 0.0
        counts = Counter(zip(*(words[i:] for i in range(n))))
        gram, count = counts.most_common(1)[0]
        return (sum(map(len, gram)) + n - 1) * count / len(self.text) if count > 1 else 0.0

    def duplicated_ngram_char_share(self, n: int) -> float:
        """Characters of words covered by word n-grams that occur more than once, over all word characters
        (each word counted once however many repeated n-grams cover it; Rae et al. 2021)."""
        words = self.lower_words
        if len(words) < n:
            return 0.0
        grams = list(zip(*(words[i:] for i in range(n))))
        counts = Counter(grams)
        covered = bytearray(len(words))
        for start, gram in enumerate(grams):
            if counts[gram] > 1:
                covered[start:start + n] = b"\x01" * n
        return sum(len(w) for w, c in zip(words, covered) if c) / sum(map(len, words))
