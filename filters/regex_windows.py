"""Where in a text a regular expression can match: runs of the characters its matches can hold.

A match of a pattern whose every consumed character lies in a bounded class (its alphabet) lies
inside one maximal run of that class; its lookarounds and word boundaries read at most `reach`
characters on either side. So running the pattern on each run, with `reach` characters of context
on both sides, and keeping the matches inside the run, finds exactly the matches of the whole text:
no match crosses the character that ends a run.
"""
from __future__ import annotations

import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

_PARSED_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE  # the `regex` module's values too


@dataclass(frozen=True)
class Shape:
    """What a pattern's matches can consume (`alphabet`, character-class items) and how far around
    a position its assertions look (`reach`)."""

    alphabet: tuple[str, ...]
    reach: int


def pattern_shape(pattern: str, flags: int = 0) -> Shape:
    """The alphabet and reach of `pattern`; ValueError for a construct with no such bound (`.`, a
    negated class, an unbounded lookaround, a back-reference). Reads CPython's private parser
    (`re._parser`; `filters.pii_contract` keeps it to checked Python versions)."""
    from re import _constants as _c, _parser

    categories = {_c.CATEGORY_DIGIT: r"\d", _c.CATEGORY_WORD: r"\w", _c.CATEGORY_SPACE: r"\s"}
    items: list[str] = []
    reach = 0

    def walk(parsed) -> None:
        nonlocal reach
        for op, av in parsed:
            if op is _c.LITERAL:
                items.append(re.escape(chr(av)))
            elif op is _c.IN:
                items.extend(_class_item(item_op, item, pattern, _c, categories) for item_op, item in av)
            elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
                walk(av[2])
            elif op is _c.SUBPATTERN:
                walk(av[-1])
            elif op is _c.ATOMIC_GROUP:
                walk(av)
            elif op is _c.BRANCH:
                for branch in av[1]:
                    walk(branch)
            elif op in (_c.ASSERT, _c.ASSERT_NOT):
                _, high = av[1].getwidth()
                if high >= _c.MAXREPEAT:
                    raise ValueError(f"no reach for an unbounded lookaround in {pattern!r}")
                reach = max(reach, high + 1)  # a negative lookahead's pattern may need one more character
            elif op is _c.AT:  # \b and ^ read a neighbour; \A and $ need one to tell a window from the text
                reach = max(reach, 1)
            else:
                raise ValueError(f"no alphabet for {op} in {pattern!r}")

    walk(_parser.parse(pattern, flags & _PARSED_FLAGS))
    return Shape(tuple(dict.fromkeys(items)), reach)


def _class_item(item_op, item, pattern: str, _c, categories) -> str:
    if item_op is _c.LITERAL:
        return re.escape(chr(item))
    if item_op is _c.RANGE:
        return f"{re.escape(chr(item[0]))}-{re.escape(chr(item[1]))}"
    if item_op is _c.CATEGORY and item in categories:
        return categories[item]
    raise ValueError(f"no alphabet for {item_op} {item} in {pattern!r}")


class Runs:
    """Maximal runs of an alphabet in a text, found around a position.

    The alphabet's members are those `engine` (`re` or `regex`, the one the pattern served runs
    on) matches under the pattern's flags, so case folding (`[a-z]` under IGNORECASE also takes
    the Kelvin sign) is that engine's own; they are then spelled out as plain ranges, on first use
    (a worker that never meets the alphabet's pre-scan never spells it out)."""

    def __init__(self, alphabet: tuple[str, ...], flags: int = 0, engine=None):
        import regex

        self.alphabet, self.flags, self.engine = alphabet, flags, engine or regex
        self._forward = self._backward = None

    def holds(self, character: str) -> bool:
        """Whether `character` belongs to the alphabet."""
        return self.engine.match(f"[{''.join(self.alphabet)}]", character, self.flags) is not None

    def around(self, text: str, position: int) -> tuple[int, int]:
        """(start, end) of the run holding text[position]; (position, position) when that
        character is not in the alphabet."""
        if self._forward is None:
            import regex

            members = explicit_class(self.alphabet, self.flags, self.engine)
            self._forward = re.compile(f"[{members}]*")
            self._backward = regex.compile(f"(?r)[{members}]*")
        end = self._forward.match(text, position).end()
        if end == position:
            return position, position
        return self._backward.match(text, 0, position).start(), end


@lru_cache(maxsize=1)
def _every_character() -> str:
    """Every code point, in order (lone surrogates included), built at C speed."""
    return np.arange(sys.maxunicode + 1, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")


@lru_cache(maxsize=None)
def explicit_class(alphabet: tuple[str, ...], flags: int, engine) -> str:
    """The characters `engine` matches with `[alphabet]` under `flags`, as ranges of a class body:
    from the table shipped with the package where it was built with this Python's and `regex`'s
    Unicode data, else spelled out here (`spell_class`, about 50 ms)."""
    key = (alphabet, flags, engine.__name__)
    ASKED.add(key)
    shipped = shipped_classes().get(key)
    return shipped if shipped is not None else spell_class(alphabet, flags, engine)


ASKED: set[tuple[tuple[str, ...], int, str]] = set()  # every class asked for in this process (what the table ships)
SPELLED_CLASSES = Path(__file__).parent / "data" / "spelled_classes.json"


def spell_class(alphabet: tuple[str, ...], flags: int, engine) -> str:
    """`explicit_class` worked out: each match of the class repeated over every code point is one range."""
    ranges = engine.compile(f"[{''.join(alphabet)}]+", flags).finditer(_every_character())
    return "".join(re.escape(chr(m.start())) + (f"-{re.escape(chr(m.end() - 1))}" if m.end() - 1 > m.start() else "")
                   for m in ranges)


def unicode_versions() -> dict[str, str]:
    """What a spelled-out class depends on: Python's version and Unicode data (`re`), and `regex`'s."""
    import regex

    return {"python": "%d.%d" % sys.version_info[:2], "unicodedata": unicodedata.unidata_version,
            "regex": regex.__version__}


@lru_cache(maxsize=1)
def shipped_classes() -> dict[tuple[tuple[str, ...], int, str], str]:
    """The shipped table of spelled-out classes, by (alphabet, flags, engine's name); empty where it
    was built with other Unicode data than this process has."""
    table = json.loads(SPELLED_CLASSES.read_text(encoding="utf-8"))
    if table["versions"] != unicode_versions():
        return {}
    return {(tuple(alphabet), flags, engine): body for engine, flags, alphabet, body in table["classes"]}


_CLASS = re.compile(r"\[((?:\\.|[^\]\\])+)\]")  # a character class without nested classes
_ESCAPE_OR_COUNT = re.compile(r"\\.|\{\d*,?\d*\}")


def case_free(pattern: str, flags: int, engine) -> tuple[str, int]:
    """`pattern` and `flags` without IGNORECASE, matching what `pattern` matches under `flags`: each
    character class is spelled out as the characters `engine` matches with it case-insensitively.
    (The `regex` engine matches several times faster without the flag.) ValueError for a letter
    outside a class, whose folding would have to be spelled out too."""
    if not flags & engine.IGNORECASE:
        return pattern, flags
    outside = _ESCAPE_OR_COUNT.sub("", _CLASS.sub("", pattern))
    if any(ch.isalpha() for ch in outside):
        raise ValueError(f"a letter outside a character class in {pattern!r}")
    spelled = _CLASS.sub(lambda m: f"[{explicit_class((m.group(1),), flags, engine)}]", pattern)
    return spelled, flags & ~engine.IGNORECASE


def runs_with(text: str, hits: re.Pattern, runs: Runs) -> Iterator[tuple[int, int]]:
    """(start, end) of every run that holds a match of `hits`, in order.

    A hit outside the alphabet is passed over one character at a time, so a hit that begins
    outside every run cannot hide one that begins inside a run."""
    position = 0
    while True:
        hit = hits.search(text, position)
        if hit is None:
            return
        start, end = runs.around(text, hit.start())
        if start == end:
            position = hit.start() + 1
            continue
        yield start, end
        position = end


Window = tuple[int, str, int, int]  # (where it begins in the text, its text, where its run starts and ends in it)


def windows_with(text: str, hits: re.Pattern, runs: Runs, before: int, after: int) -> list[Window]:
    """Each run that holds a match of `hits`, with `before` and `after` characters of context."""
    found = []
    for start, end in runs_with(text, hits, runs):
        begin = max(start - before, 0)
        found.append((begin, text[begin:end + after], start - begin, end - begin))
    return found
