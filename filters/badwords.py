"""The LDNOOBW bad-word lists and one Aho-Corasick matcher over a list.

The lists ship as package data in `filters/data/ldnoobw/` (CC BY 4.0, see ATTRIBUTION.md there),
one file per language tag; a directory of files named the same way can replace them, read through
the `SideFiles` given (local by default, remote through the pipeline's). C4 (Raffel et al. 2020,
section 2.2) dropped every page containing a word of the `en` list. Each matcher is built once per
process for its directory and language.

Matching is case-insensitive. In languages written with spaces a listed word counts only as a whole
word (so "ass" is not found in "class"); in languages written without spaces (Chinese, Japanese,
Thai...) any occurrence counts, since there is no word boundary to look for.
"""
from __future__ import annotations

import io
import unicodedata
from pathlib import Path
from typing import NamedTuple, Optional, Union

import ahocorasick

from tokenmill.filters.sanity import UNSPACED_LANGUAGES
from tokenmill.filters.side_files import LOCAL, SideFiles, shared

BUNDLED_DIRECTORY = Path(__file__).resolve().parent / "data" / "ldnoobw"
# lid.176 codes whose LDNOOBW list is filed under another tag.
LIST_ALIASES = {"tl": "fil"}


def list_files(directory: Union[str, Path, None] = None, files: SideFiles = LOCAL) -> dict[str, str]:
    """{language tag: path} of the lists in `directory` (default: the bundled lists): its files named
    without an extension."""
    if directory is None:
        directory, files = str(BUNDLED_DIRECTORY), LOCAL
    prefix = str(directory).rstrip("/") + "/"
    return shared(("badword lists", prefix), lambda: {
        path[len(prefix):]: path for path in files.list(prefix.rstrip("/"))
        if path.startswith(prefix) and "/" not in path[len(prefix):] and "." not in path[len(prefix):]})


def list_languages(directory: Union[str, Path, None] = None, files: SideFiles = LOCAL) -> list[str]:
    """The language tags that have a list in `directory` (default: the bundled lists)."""
    return sorted(list_files(directory, files))


def load_badwords(lang: str, directory: Union[str, Path, None] = None, files: SideFiles = LOCAL) -> frozenset[str]:
    """The lower-cased entries of `lang`'s list; FileNotFoundError if `directory` has none for it."""
    path = list_files(directory, files).get(LIST_ALIASES.get(lang, lang))
    if path is None:
        raise FileNotFoundError(f"no bad-word list for language {lang!r} in {directory or BUNDLED_DIRECTORY}")
    files = files if directory is not None else LOCAL
    with files.open(path) as raw:
        return frozenset(entry for line in io.TextIOWrapper(raw, encoding="utf-8") if (entry := line.strip().lower()))


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
    def for_language(cls, lang: str, directory: Union[str, Path, None] = None,
                     files: SideFiles = LOCAL) -> "BadWordMatcher":
        """The matcher of `lang`'s list, matching whole words unless `lang` is written without spaces;
        one per process for each directory and language, its automaton built."""
        def build() -> BadWordMatcher:
            matcher = cls(load_badwords(lang, directory, files), whole_words=lang not in UNSPACED_LANGUAGES)
            matcher._automaton = matcher._build()
            return matcher

        return shared(("badword matcher", str(directory) if directory is not None else None, lang), build)

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
