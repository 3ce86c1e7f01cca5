"""The LDNOOBW bad-word lists and one Aho-Corasick matcher over a list.

The lists ship as package data in `filters/data/ldnoobw/` (CC BY 4.0, see ATTRIBUTION.md there),
one file per language tag; a directory of files named the same way can replace them. C4 (Raffel et
al. 2020, section 2.2) dropped every page containing a word of the `en` list.

Matching is case-insensitive. In languages written with spaces a listed word counts only as a whole
word (so "ass" is not found in "class"); in languages written without spaces (Chinese, Japanese,
Thai...) any occurrence counts, since there is no word boundary to look for.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, Optional, Union

import ahocorasick

from tokenmill.filters.sanity import UNSPACED_LANGUAGES

BUNDLED_DIRECTORY = Path(__file__).resolve().parent / "data" / "ldnoobw"
# lid.176 codes whose LDNOOBW list is filed under another tag.
LIST_ALIASES = {"tl": "fil"}


def list_languages(directory: Union[str, Path, None] = None) -> list[str]:
    """The language tags that have a list in `directory` (default: the bundled lists)."""
    folder = Path(directory) if directory is not None else BUNDLED_DIRECTORY
    return sorted(p.name for p in folder.iterdir() if p.is_file() and "." not in p.name)


@lru_cache(maxsize=64)
def _read_list(path: Path) -> frozenset[str]:
    with open(path, encoding="utf-8") as f:
        return frozenset(entry for line in f if (entry := line.strip().lower()))


def load_badwords(lang: str, directory: Union[str, Path, None] = None) -> frozenset[str]:
    """The lower-cased entries of `lang`'s list; FileNotFoundError if `directory` has none for it."""
    folder = Path(directory) if directory is not None else BUNDLED_DIRECTORY
    path = folder / LIST_ALIASES.get(lang, lang)
    if not path.is_file():
        raise FileNotFoundError(f"no bad-word list for language {lang!r} in {folder}")
    return _read_list(path)


class Match(NamedTuple):
    start: int
    end: int
    word: str


def _is_word_char(ch: str) -> bool:
    # Combining marks (Devanagari and Thai vowel signs) belong to the word they follow.
    return ch.isalnum() or ch == "_" or unicodedata.category(ch)[0] == "M"


def _lower_with_offsets(text: str) -> tuple[str, Optional[list[int]]]:
    """`text` lower-cased, and, when lower-casing changed its length (as for "İ"), the index in
    `text` of every character of the result (None when the offsets are the same)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered, None
    origin: list[int] = []
    for i, ch in enumerate(text):
        origin.extend([i] * len(ch.lower()))
    return lowered, origin


class BadWordMatcher:
    """Find the entries of a word list in text, all entries in one pass (Aho-Corasick).

    `whole_words=True` accepts a match only between non-word characters (languages with spaces);
    overlapping matches resolve to the leftmost, then longest, so "ball gag" counts once, not
    also as "ball". The automaton is built lazily and not pickled: the object stays small.
    """

    def __init__(self, words: frozenset[str] | set[str], whole_words: bool = True):
        self.words = frozenset(w.lower() for w in words if w)
        self.whole_words = whole_words
        self._automaton = None

    @classmethod
    def for_language(cls, lang: str, directory: Union[str, Path, None] = None) -> "BadWordMatcher":
        """The matcher of `lang`'s list, matching whole words unless `lang` is written without spaces."""
        return cls(load_badwords(lang, directory), whole_words=lang not in UNSPACED_LANGUAGES)

    def _build(self):
        automaton = ahocorasick.Automaton()
        for word in sorted(self.words):
            automaton.add_word(word, len(word))
        automaton.make_automaton()
        return automaton

    def find(self, text: str) -> list[Match]:
        """The non-overlapping listed words in `text`, in order, with their offsets in `text`."""
        if not self.words or not text:
            return []
        if self._automaton is None:
            self._automaton = self._build()
        lowered, origin = _lower_with_offsets(text)
        n = len(lowered)
        candidates = []
        for last, length in self._automaton.iter(lowered):
            start, end = last - length + 1, last + 1
            if self.whole_words and (
                (start > 0 and _is_word_char(lowered[start - 1])) or (end < n and _is_word_char(lowered[end]))
            ):
                continue
            candidates.append((start, -length))
        candidates.sort()
        matches: list[Match] = []
        reached = 0
        for start, negative_length in candidates:
            end = start - negative_length
            if start < reached:
                continue
            reached = end
            word = lowered[start:end]
            if origin is not None:
                start, end = origin[start], origin[end - 1] + 1
            matches.append(Match(start, end, word))
        return matches

    def count(self, text: str) -> int:
        """How many listed words `text` contains (non-overlapping, as `find`)."""
        return len(self.find(text))

    def __getstate__(self):
        return {**self.__dict__, "_automaton": None}
