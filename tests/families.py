"""Duplicate families as a crawl holds them, built with the standard library from any base text.

- a site template: copies of one page, each with a share of its words replaced independently;
- a drift chain: versions of an article, each replacing one word of the version before (neighbours
  are near-duplicates, the two ends are not);
- exact copies and a paragraph every page repeats (a cookie banner) are plain repetitions.

The tests build their pages from generated words; the benchmark from real pages.
"""
from __future__ import annotations

import random
import string


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """`size` distinct made-up words of 3 to 9 letters."""
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))] = None
    return list(words)


def page(words: list[str], length: int, rng: random.Random) -> str:
    """A page of `length` words drawn from `words`, in sentences of 12."""
    drawn = [rng.choice(words) for _ in range(length)]
    return " ".join(" ".join(drawn[i:i + 12]).capitalize() + "." for i in range(0, length, 12))


def replace_words(text: str, count: int, words: list[str], rng: random.Random) -> str:
    """`text` with `count` of its words (at distinct positions) replaced by words drawn from `words`."""
    tokens = text.split(" ")
    for position in rng.sample(range(len(tokens)), min(count, len(tokens))):
        tokens[position] = rng.choice(words)
    return " ".join(tokens)


def template_family(text: str, copies: int, share: float, words: list[str], rng: random.Random) -> list[str]:
    """`copies` copies of `text`, each with `share` of its words replaced, independently of the others."""
    count = max(1, round(share * len(text.split(" "))))
    return [replace_words(text, count, words, rng) for _ in range(copies)]


def drift_chain(text: str, versions: int, words: list[str], rng: random.Random) -> list[str]:
    """`versions` versions of `text`, the first `text` itself, each one word away from the one before."""
    chain = [text]
    while len(chain) < versions:
        chain.append(replace_words(chain[-1], 1, words, rng))
    return chain
