"""What the quality rules measure, computed once per text and shared by every rule set.

Each property is computed on first use and cached, so a chain that never asks for 10-grams never
counts them. Words: runs of non-space characters, except that each Chinese, Japanese or Thai
character counts as a word of its own (those scripts put no spaces between words).

Nothing here loops in Python over the characters of a text, and little over its words: the text is
split once (by `str.split` where none of its distinct tokens holds a CJK or Thai character: it then
splits exactly as the word pattern does); each distinct token is classified once (word or
punctuation, bare form, letters) and its occurrences are counted in numpy through integer token ids;
repeated word n-grams are found level by level from integer word ids, only where an n-gram can repeat
(the (n-1)-grams at its start and at the next word both repeat), by sorting in numpy where many places
are left and by a dict where few are, never by building tuples of strings. Every value is the one the
plain per-word definitions give, exactly (tests/test_quality_reference.py compares them row by row
with the earlier implementation; tests/test_quality.py with the definitions).

Where the install built `_scan` (filters/quality/_scan.c: one pass in C over the text for the word
counts, letters and bare forms, and the n-gram levels over integer word ids), the word statistics come
from it instead: the same values, without a Python call per token (tests/test_quality_scan.py compares
the two paths on every code point and on generated and real text).
"""
from __future__ import annotations

import re
from collections import Counter
from itertools import chain, compress, islice, repeat
from operator import itemgetter, not_
from typing import NamedTuple, Optional, Union

import numpy as np

try:  # the C word scan, built where the install found a C compiler
    from tokenmill.filters.quality import _scan
except ImportError:
    _scan = None

_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f"
UNSPACED_CHARACTER = re.compile(f"[{_UNSPACED}]")
WORD = re.compile(f"[{_UNSPACED}]|[^\\s{_UNSPACED}]+")
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
PUNCTUATION_STRING = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~«»“”‘’…–—"
TERMINAL_PUNCTUATION = (".", "!", "?", '"', "'", "”", "’", "。", "！", "？", "…")
SENTENCE_ENDS = ".!?"


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
    """A text's words in order: each one's id (equal bare forms, equal ids; below `vocabulary`), in
    numpy and as a list; the characters of the bare forms before each word (`chars_before[i]`: of the
    first i words), in numpy and as a list; and the total."""

    ids: np.ndarray
    id_list: list[int]
    chars_before: np.ndarray
    chars_before_list: list[int]
    chars: int
    vocabulary: int


class _Repeats(NamedTuple):
    """The word n-grams of one n that occur more than once: their starts, ascending, and a key per
    start (equal keys, equal n-grams; each key below the number of starts looked at); and the most
    frequent one's count and first start. Numpy arrays from `IN_BULK` starts on, lists below."""

    starts: Union[np.ndarray, list[int]]
    keys: Union[np.ndarray, list[int]]
    top: tuple[int, int]


class _Counts(NamedTuple):
    """What `_scan.words` counts in a text (its docstring says how)."""

    whitespace_tokens: int
    sentence_ends: int
    tokens: int
    words: int
    word_chars: int
    tokens_with_letter: int


class _Scanned(NamedTuple):
    """What `_scan.words` finds in a text: its counts, then the words' bare forms and ids."""

    counts: _Counts
    forms: str  # the distinct bare forms, joined by newlines
    distinct: int
    word_ids: bytes
    chars_before: bytes
    bare_chars: int


NOTHING_REPEATS = _Repeats([], [], (0, 0))
IN_BULK = 256  # candidate n-grams from which numpy's sort beats a dict (its calls cost more to start)


def _repeats(starts: list[int], keys: list[int]) -> _Repeats:
    """The n-grams of `keys` (starting at `starts`) that occur more than once among them."""
    counts = Counter(keys)
    if not counts:
        return NOTHING_REPEATS
    key, top = max(counts.items(), key=itemgetter(1))  # the first of the most frequent
    repeated = list(map((1).__lt__, map(counts.__getitem__, keys)))  # count > 1, at C speed
    rank = dict(zip(counts, range(len(counts))))
    return _Repeats(list(compress(starts, repeated)), list(map(rank.__getitem__, compress(keys, repeated))),
                    (top, starts[keys.index(key)]))


def _repeats_in_bulk(starts: np.ndarray, keys: np.ndarray) -> _Repeats:
    """`_repeats` by sorting in numpy, for many candidates."""
    if not len(keys):
        return NOTHING_REPEATS
    order = np.argsort(keys, kind="stable")  # equal keys stay in text order
    ordered = keys[order]
    group_start = np.empty(len(keys), dtype=bool)
    group_start[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=group_start[1:])
    firsts = np.flatnonzero(group_start)
    sizes = np.empty(len(firsts), dtype=np.intp)
    np.subtract(firsts[1:], firsts[:-1], out=sizes[:-1])
    sizes[-1] = len(keys) - firsts[-1]
    rank, repeated = np.empty(len(keys), dtype=np.intp), np.empty(len(keys), dtype=bool)
    rank[order] = np.cumsum(group_start) - 1
    repeated[order] = np.repeat(sizes > 1, sizes)
    top = sizes.max()
    first_of_top = order[firsts[sizes == top]].min()  # a group's first element is its first occurrence
    top_start = int(starts[first_of_top])
    starts, keys = starts[repeated], rank[repeated]
    if len(starts) < IN_BULK:
        starts, keys = starts.tolist(), keys.tolist()
    return _Repeats(starts, keys, (int(top), top_start))


class TextStats:
    def __init__(self, text: str, **known):
        """`known`: values of the cached properties already known (`rewrite` knows the lines)."""
        self.text = text
        self.rewritten: Optional[TextStats] = None
        self.__dict__.update(known)

    def rewrite(self, lines: list[str], text: str) -> str:
        """`text`, these lines (none holding a newline) joined; its statistics, started with the lines,
        become `rewritten`."""
        self.rewritten = TextStats(text, lines=list(map(str.strip, lines)) or [""])
        return text

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
    def _scanned(self) -> Optional[_Scanned]:
        """The C scan's values; None where `_scan` is not built (the properties below then compute the
        same values in Python)."""
        if _scan is None:
            return None
        values = _scan.words(self.text, PUNCTUATION_STRING, SENTENCE_ENDS)
        counted = len(_Counts._fields)
        return _Scanned(_Counts(*values[:counted]), *values[counted:])

    @cached
    def _counts(self) -> Optional[_Counts]:
        """The C scan's counts: the whole scan's where it ran, else a scan that only counts (what C4's
        cleaned text needs); None without C."""
        if "_scanned" in self.__dict__:
            return self._scanned and self._scanned.counts
        return _Counts(*_scan.words(self.text, PUNCTUATION_STRING, SENTENCE_ENDS, False)) if _scan else None

    @property
    def whitespace_word_count(self) -> int:
        """`len(text.split())`."""
        counts = self._counts
        return counts.whitespace_tokens if counts else len(self.whitespace_words)

    @property
    def sentence_ends(self) -> int:
        """Whitespace words ending in ".", "!" or "?": the sentences C4's pattern `[.!?](?:\\s|$)` counts
        (`\\s` is `str.split`'s whitespace)."""
        counts = self._counts
        if counts:
            return counts.sentence_ends
        return sum(map(str.endswith, self.whitespace_words, repeat(tuple(SENTENCE_ENDS))))

    @cached
    def _distinct_whitespace_words(self) -> dict[str, None]:
        return dict.fromkeys(self.whitespace_words)

    @cached
    def tokens(self) -> list[str]:
        """The word pattern's tokens, punctuation-only ones included: the whitespace words unless a
        CJK or Thai character stands among them (looked for in the distinct ones)."""
        if UNSPACED_CHARACTER.search("".join(self._distinct_whitespace_words)):
            return WORD.findall(self.text)
        return self.whitespace_words

    @cached
    def _vocabulary(self) -> _Vocabulary:
        spaced = self.tokens is self.whitespace_words
        distinct = self._distinct_whitespace_words if spaced else dict.fromkeys(self.tokens)
        index = dict(zip(distinct, range(len(distinct))))
        ids = np.fromiter(map(index.__getitem__, self.tokens), dtype=np.intp, count=len(self.tokens))
        stripped = list(map(str.strip, index, repeat(PUNCTUATION_STRING)))
        return _Vocabulary(list(index), stripped, ids, np.bincount(ids, minlength=len(index)),
                           np.fromiter(map(bool, stripped), dtype=bool, count=len(index)))

    @property
    def token_count(self) -> int:
        counts = self._counts
        return counts.tokens if counts else len(self.tokens)

    @cached
    def word_count(self) -> int:
        """Tokens that are not pure punctuation (Gopher counts words without symbols)."""
        if self._counts:
            return self._counts.words
        if "_vocabulary" in self.__dict__:  # counted by distinct token already
            return int(self._vocabulary.counts[self._vocabulary.is_word].sum())
        tokens = self.tokens  # one pass, no ids; a token of letters and digits only needs no stripping
        alphanumeric = list(map(str.isalnum, tokens))
        return sum(alphanumeric) + sum(map(bool, map(str.strip, compress(tokens, map(not_, alphanumeric)),
                                                     repeat(PUNCTUATION_STRING))))

    @cached
    def word_chars(self) -> int:
        if self._counts:
            return self._counts.word_chars
        vocabulary = self._vocabulary
        lengths = np.fromiter(map(len, vocabulary.tokens), dtype=np.intp, count=len(vocabulary.tokens))
        return int((vocabulary.counts * lengths)[vocabulary.is_word].sum())

    @cached
    def tokens_with_letter(self) -> int:
        """Tokens holding a letter (`str.isalpha`; a "..." token holds none)."""
        if self._counts:
            return self._counts.tokens_with_letter
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
    def _bare_ids(self) -> dict[str, int]:
        """Each bare form, with an id: the index of the last distinct token of that form."""
        return dict(zip(self._bare, range(len(self._bare))))

    @cached
    def bare_words(self) -> set[str]:
        """The distinct words lower-cased, the punctuation around them removed ("Frank," and "Frank."
        are one word)."""
        if self._scanned:
            return set(self._scanned.forms.split("\n")) if self._scanned.distinct else set()
        return set(self._bare_ids) - {""}

    def bare_words_among(self, words: frozenset[str]) -> set[str]:
        """Those of `words` that are among `bare_words` (what the stop-word rule reads): a substring
        search in the C scan's newline-joined forms, without a string per form."""
        if self._scanned:
            forms = f"\n{self._scanned.forms}\n"
            return {word for word in words if word and "\n" not in word and f"\n{word}\n" in forms}
        return words & self.bare_words

    @cached
    def _words(self) -> _Words:
        """The words in text order: what the repetition n-grams read."""
        vocabulary, bare = self._vocabulary, self._bare
        by_token = np.fromiter(map(self._bare_ids.__getitem__, bare), dtype=np.intp, count=len(bare))
        ids = by_token[vocabulary.ids[vocabulary.is_word[vocabulary.ids]]]
        chars_before = np.zeros(len(ids) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, bare), dtype=np.int64, count=len(bare))[ids], out=chars_before[1:])
        return _Words(ids, ids.tolist(), chars_before, chars_before.tolist(), int(chars_before[-1]), len(bare))

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
        return [_repeats_in_bulk(starts, ids[starts] * vocabulary + ids[starts + 1])]

    @cached
    def _repeated_words(self) -> _Repeats:
        ids = self._words.id_list
        return _repeats(list(range(len(ids))), ids)

    def _scanned_ngrams(self, n: int) -> tuple[int, int, int]:
        """`_scan.ngrams`' row for n (top count, its bare characters, the bare characters covered),
        computed for every n up to at least 10 at the first call."""
        if n < 1:
            raise ValueError(f"n-grams of {n} words")
        rows = self.__dict__.get("_ngram_rows")
        if rows is None or len(rows) < n:
            scanned = self._scanned
            rows = self.__dict__["_ngram_rows"] = _scan.ngrams(scanned.word_ids, scanned.chars_before,
                                                                scanned.distinct, max(n, 10))
        return rows[n - 1]

    def _repeated(self, n: int) -> _Repeats:
        """The repeated word n-grams. One repeats only where the (n-1)-grams at its start and at the
        next word both repeat, so only those starts are looked at; its key is the (n-1)-gram's key (a
        rank below the number of its candidates) times the number of distinct tokens, plus the n-th
        word's id: exact, no hashing, and within 64 bits."""
        if n < 2:
            if n < 1:
                raise ValueError(f"n-grams of {n} words")
            return self._repeated_words
        levels = self._ngrams
        ids, base = self._words.id_list, self._words.vocabulary
        while len(levels) < n - 1:
            previous, last = levels[-1], len(levels) + 1  # the n-th word of an n-gram at p is at p + n - 1
            if not len(previous.starts):  # nothing repeats any more
                levels.append(previous)
            elif len(previous.starts) >= IN_BULK:
                levels.append(self._next_in_bulk(previous, last))
            else:
                following = set(previous.starts)
                kept = [(p, key) for p, key in zip(previous.starts, previous.keys) if p + 1 in following]
                levels.append(_repeats([p for p, _ in kept], [key * base + ids[p + last] for p, key in kept]))
        return levels[n - 2]

    def _next_in_bulk(self, previous: _Repeats, last: int) -> _Repeats:
        """The next level's repeats from `previous`, in numpy (the n-th word of an n-gram at p is at
        p + `last`)."""
        starts, keys = previous.starts, previous.keys
        following = np.searchsorted(starts, starts + 1)  # where p + 1 would stand among the starts
        kept = starts[np.minimum(following, len(starts) - 1)] == starts + 1
        starts = starts[kept]
        return _repeats_in_bulk(starts, keys[kept] * self._words.vocabulary + self._words.ids[starts + last])

    def top_ngram_char_share(self, n: int) -> float:
        """Characters of the most frequent word n-gram, as written (words joined by a space), times
        its count, over the characters of the text (Rae et al. 2021: the fraction of characters
        contained within the most frequent n-gram). Of n-grams as frequent, the first to occur."""
        if self._scanned:
            count, chars, _ = self._scanned_ngrams(n)
            return (chars + n - 1) * count / len(self.text) if count else 0.0
        words = self._words
        if len(words.id_list) < n or not self.text:
            return 0.0
        repeats = self._repeated(n)
        if not len(repeats.keys):
            return 0.0
        count, start = repeats.top
        chars = words.chars_before_list[start + n] - words.chars_before_list[start]
        return (chars + n - 1) * count / len(self.text)

    def duplicated_ngram_char_share(self, n: int) -> float:
        """Characters of words covered by word n-grams that occur more than once, over all word characters
        (each word counted once however many repeated n-grams cover it; Rae et al. 2021)."""
        if self._scanned:
            return self._scanned_ngrams(n)[2] / self._scanned.bare_chars if self._scanned.counts.words >= n else 0.0
        words = self._words
        if len(words.id_list) < n:
            return 0.0
        starts = self._repeated(n).starts
        if not len(starts):
            return 0.0
        # the n-grams' spans, ascending and all n words long: each covers up to the next one's start
        if isinstance(starts, list):
            ends = map(min, map(n.__add__, starts), chain(islice(starts, 1, None), (len(words.id_list),)))
            before = words.chars_before_list.__getitem__
            return (sum(map(before, ends)) - sum(map(before, starts))) / words.chars
        ends = starts + n
        np.minimum(ends[:-1], starts[1:], out=ends[:-1])
        return int(words.chars_before[ends].sum() - words.chars_before[starts].sum()) / words.chars
