"""What the quality rules measure, computed once per text and shared by every rule set.

Each property is computed on first use and cached, so a chain that never asks for 10-grams never
counts them. Words: runs of non-space characters, except that each Chinese, Japanese or Thai
character counts as a word of its own (those scripts put no spaces between words).

Nothing here loops in Python over the characters of a text, and little over its words: the text is
split once (by `str.split` where it holds no CJK or Thai character, which then splits it exactly as
the word pattern does); each distinct token is classified once (word or punctuation, bare form,
letters) and its occurrences are counted in numpy through integer token ids; repeated word n-grams
are found level by level from integer word ids, only where an n-gram can repeat (the (n-1)-grams at
its start and at the next word both repeat: after the first levels, a few dozen places on a page),
never by building tuples of strings. Every value is the one the plain per-word definitions give,
exactly (tests/test_quality_reference.py compares them row by row with the earlier implementation).
"""
from __future__ import annotations

import re
from collections import Counter
from itertools import compress, repeat
from operator import itemgetter
from typing import NamedTuple

import numpy as np

_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f"
UNSPACED_CHARACTER = re.compile(f"[{_UNSPACED}]")
WORD = re.compile(f"[{_UNSPACED}]|[^\\s{_UNSPACED}]+")
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
PUNCTUATION_STRING = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»“”‘’…–—"
TERMINAL_PUNCTUATION = (".", "!", "?", '"', "'", "”", "’", "。", "！", "？", "…")


class cached:  # noqa: N801 (a decorator)
    """`functools.cached_property` without the lock Python 3.11 takes on every first access (a
    quarter of the rules' time on short pages): computed on first use, then an instance attribute."""

    def __init__(self, compute):
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


def _has_letter(token: str) -> bool:
    """Whether any character of `token` is a letter (`str.isalpha`)."""
    return any(map(str.isalpha, token))


class _Vocabulary(NamedTuple):
    """A text's distinct tokens (in order of first occurrence) and, by token id, each one without the
    punctuation around it, its count and whether it is a word (not pure punctuation); and the id of
    each token of the text."""

    tokens: list[str]
    stripped: list[str]
    ids: np.ndarray
    counts: np.ndarray
    is_word: np.ndarray


class _Words(NamedTuple):
    """A text's words in order: each one's id (equal bare forms, equal ids; below `vocabulary`) and
    its bare form's length, and the sum of those lengths."""

    ids: np.ndarray
    id_list: list[int]
    lengths: list[int]
    chars: int
    vocabulary: int


class _Repeats(NamedTuple):
    """The word n-grams of one n that occur more than once: their starts, ascending, and a key per
    start (equal keys, equal n-grams), and how often each key occurs among the n-grams that could
    repeat (every occurrence of a repeated one), in order of first occurrence."""

    starts: list[int]
    keys: list[int]
    counts: Counter


def _repeats(starts: list[int], keys: list[int]) -> _Repeats:
    """The n-grams of `keys` (starting at `starts`) that occur more than once among them."""
    counts = Counter(keys)
    repeated = list(map((1).__lt__, map(counts.__getitem__, keys)))  # count > 1, at C speed
    return _Repeats(list(compress(starts, repeated)), list(compress(keys, repeated)), counts)


class TextStats:
    def __init__(self, text: str):
        self.text = text

    @cached
    def lines(self) -> list[str]:
        return list(map(str.strip, self.text.split("\n")))

    @cached
    def nonempty_lines(self) -> list[str]:
        return list(filter(None, self.lines))

    @cached
    def paragraphs(self) -> list[str]:
        return list(filter(None, map(str.strip, PARAGRAPH_BREAK.split(self.text))))

    @cached
    def whitespace_words(self) -> list[str]:
        """`text.split()`: what the sanity rule counts."""
        return self.text.split()

    @cached
    def tokens(self) -> list[str]:
        """The word pattern's tokens, punctuation-only ones included."""
        return WORD.findall(self.text) if UNSPACED_CHARACTER.search(self.text) else self.whitespace_words

    @cached
    def _vocabulary(self) -> _Vocabulary:
        distinct = dict.fromkeys(self.tokens)
        index = dict(zip(distinct, range(len(distinct))))
        ids = np.fromiter(map(index.__getitem__, self.tokens), dtype=np.intp, count=len(self.tokens))
        stripped = list(map(str.strip, index, repeat(PUNCTUATION_STRING)))
        return _Vocabulary(list(index), stripped, ids, np.bincount(ids, minlength=len(index)),
                           np.fromiter(map(bool, stripped), dtype=bool, count=len(index)))

    @property
    def token_count(self) -> int:
        return len(self.tokens)

    @cached
    def word_count(self) -> int:
        """Tokens that are not pure punctuation (Gopher counts words without symbols)."""
        if "_vocabulary" in self.__dict__:  # counted by distinct token already
            return int(self._vocabulary.counts[self._vocabulary.is_word].sum())
        return sum(map(bool, map(str.strip, self.tokens, repeat(PUNCTUATION_STRING))))  # one pass, no ids

    @cached
    def word_chars(self) -> int:
        vocabulary = self._vocabulary
        lengths = np.fromiter(map(len, vocabulary.tokens), dtype=np.intp, count=len(vocabulary.tokens))
        return int((vocabulary.counts * lengths)[vocabulary.is_word].sum())

    @cached
    def tokens_with_letter(self) -> int:
        """Tokens holding a letter (`str.isalpha`; a "..." token holds none)."""
        vocabulary = self._vocabulary
        letters = np.fromiter(map(str.isalpha, vocabulary.stripped), dtype=bool, count=len(vocabulary.tokens))
        unsure = np.flatnonzero(~letters)  # not all letters between the punctuation: "don't", "2024", "x²"
        letters[unsure] = np.fromiter(map(_has_letter, map(vocabulary.tokens.__getitem__, unsure.tolist())),
                                      dtype=bool, count=len(unsure))
        return int(vocabulary.counts[letters].sum())

    @cached
    def _bare(self) -> list[str]:
        """Each distinct token's bare form: lower-cased, the punctuation around it removed."""
        return list(map(str.lower, self._vocabulary.stripped))

    @cached
    def bare_words(self) -> set[str]:
        """The distinct words lower-cased, the punctuation around them removed ("Frank," and "Frank."
        are one word): what the stop-word rule reads."""
        return set(self._bare) - {""}

    @cached
    def _words(self) -> _Words:
        """The words in text order: what the repetition n-grams read."""
        vocabulary = self._vocabulary
        bare_ids = dict(zip(dict.fromkeys(self._bare), range(len(self._bare))))
        by_token = np.fromiter(map(bare_ids.__getitem__, self._bare), dtype=np.intp, count=len(self._bare))
        ids = by_token[vocabulary.ids[vocabulary.is_word[vocabulary.ids]]]
        lengths = np.fromiter(map(len, bare_ids), dtype=np.intp, count=len(bare_ids))[ids]
        return _Words(ids, ids.tolist(), lengths.tolist(), int(lengths.sum()), len(bare_ids))

    @staticmethod
    def duplicates(items: list[str]) -> tuple[int, int]:
        """(how many items repeat an earlier one, the characters in those repeats)."""
        distinct = set(items)
        return len(items) - len(distinct), sum(map(len, items)) - sum(map(len, distinct))

    @cached
    def duplicate_lines(self) -> tuple[int, int]:
        return self.duplicates(self.nonempty_lines)

    @cached
    def duplicate_paragraphs(self) -> tuple[int, int]:
        return self.duplicates(self.paragraphs)

    @cached
    def _ngrams(self) -> list[_Repeats]:
        """The repeated n-grams of each n computed so far, from n = 2 (grown by `_repeated`); the
        2-grams in numpy, where most words are still candidates."""
        ids, vocabulary = self._words.ids, self._words.vocabulary
        repeated = np.bincount(ids, minlength=vocabulary)[ids] > 1
        starts = np.flatnonzero(repeated[:-1] & repeated[1:])
        return [_repeats(starts.tolist(), (ids[starts] * vocabulary + ids[starts + 1]).tolist())]

    @cached
    def _repeated_words(self) -> _Repeats:
        ids = self._words.id_list
        return _repeats(list(range(len(ids))), ids)

    def _repeated(self, n: int) -> _Repeats:
        """The repeated word n-grams. One repeats only where the (n-1)-grams at its start and at the
        next word both repeat, so only those starts are looked at (a few dozen on a page); its key is
        the (n-1)-gram's key times the number of distinct words, plus the n-th word's id: exact, no
        hashing."""
        if n < 2:
            if n < 1:
                raise ValueError(f"n-grams of {n} words")
            return self._repeated_words
        levels = self._ngrams
        ids, base = self._words.id_list, self._words.vocabulary
        while len(levels) < n - 1:
            previous, last = levels[-1], len(levels) + 1  # the n-th word of an n-gram at p is at p + n - 1
            if not previous.starts:  # nothing repeats any more
                levels.append(previous)
                continue
            key_at = dict(zip(previous.starts, previous.keys))
            starts = [p for p in previous.starts if p + 1 in key_at]
            levels.append(_repeats(starts, [key_at[p] * base + ids[p + last] for p in starts]))
        return levels[n - 2]

    def top_ngram_char_share(self, n: int) -> float:
        """Characters of the most frequent word n-gram, as written (words joined by a space), times
        its count, over the characters of the text (Rae et al. 2021: the fraction of characters
        contained within the most frequent n-gram). Of n-grams as frequent, the first to occur."""
        lengths = self._words.lengths
        if len(lengths) < n or not self.text:
            return 0.0
        repeats = self._repeated(n)
        if not repeats.keys:
            return 0.0
        key, count = max(repeats.counts.items(), key=itemgetter(1))  # the first of the most frequent
        start = repeats.starts[repeats.keys.index(key)]
        return (sum(lengths[start:start + n]) + n - 1) * count / len(self.text)

    def duplicated_ngram_char_share(self, n: int) -> float:
        """Characters of words covered by word n-grams that occur more than once, over all word characters
        (each word counted once however many repeated n-grams cover it; Rae et al. 2021)."""
        lengths = self._words.lengths
        if len(lengths) < n:
            return 0.0
        covered: set[int] = set()
        for start in self._repeated(n).starts:
            covered.update(range(start, start + n))
        return sum(map(lengths.__getitem__, covered)) / self._words.chars
