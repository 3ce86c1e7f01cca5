"""The C word scan (filters/quality/_scan.c) and the Python path compute the same statistics.

Where the install built `_scan`, `TextStats` takes its word counts, letters, bare forms and n-gram
levels from it; elsewhere the Python path computes them. Both must give the same values on every
character Python knows (whitespace as `str.split` splits, CJK and Thai characters each a word,
letters as `str.isalpha` finds them, lower-casing as `str.lower` does it, final sigma and U+0130
included) and on generated and real text (tests/test_quality_reference.py and its corpus tier
compare the rules' decisions and signals under each path).
"""
from __future__ import annotations

import random
import sys

import pytest

from tokenmill.filters.quality import stats
from tokenmill.filters.quality.stats import TextStats

NGRAMS = range(1, 13)


def counts(s: TextStats) -> tuple:
    return (s.whitespace_word_count, s.sentence_ends, s.token_count, s.word_count, s.word_chars, s.tokens_with_letter)


def measured(text: str, scan_first: bool) -> tuple:
    """Every word statistic of `text`; the whole scan asked for first, or the counts first."""
    s = TextStats(text)
    counted_first = () if scan_first else counts(s)
    repeats = ([s.top_ngram_char_share(n) for n in NGRAMS], [s.duplicated_ngram_char_share(n) for n in NGRAMS])
    among = s.bare_words_among(frozenset({"the", "a", "", "\n", "σ", "i̇stanbul", "οδος", "x²", "hello\nworld"}))
    return (s.bare_words, among, *repeats, *(counted_first or counts(s)))


def both_paths(monkeypatch, texts: list[str], scan_first: bool = True) -> tuple[list, list]:
    """`measured` on each text by the C scan, then by the Python path."""
    in_c = [measured(text, scan_first) for text in texts]
    monkeypatch.setattr(stats, "_scan", None)
    in_python = [measured(text, scan_first) for text in texts]
    monkeypatch.undo()
    return in_c, in_python


def assert_same(monkeypatch, texts: list[str], scan_first: bool = True) -> None:
    in_c, in_python = both_paths(monkeypatch, texts, scan_first)
    differ = [i for i, (c, python) in enumerate(zip(in_c, in_python)) if c != python]
    assert not differ, f"{len(differ)} texts differ, e.g. {texts[differ[0]][:200]!r}"


pytestmark = pytest.mark.parametrize("quality_scan", ["c"], indirect=True)  # skips where no C compiler is at hand


@pytest.mark.parametrize("block", range(0, sys.maxunicode + 1, 0x10000))
def test_every_character_splits_strips_lowers_and_reads_as_in_python(monkeypatch, quality_scan, block):
    """Each code point of a plane, alone, inside a word, between capital sigmas and in quotes: as the
    Python path."""
    tokens = [form for c in map(chr, range(block, block + 0x10000)) for form in (c, f"A{c}b", f"ΣA{c}Σ", f"«{c}»")]
    texts = [" ".join(tokens[i:i + 4096]) for i in range(0, len(tokens), 4096)]
    assert_same(monkeypatch, texts)


def test_each_cjk_and_thai_character_is_a_word(monkeypatch, quality_scan):
    text = "a 中文 b x中y ไทย, 日本語です。"
    assert (TextStats(text).whitespace_word_count, TextStats(text).token_count) == (6, 17)
    assert_same(monkeypatch, [text, text * 30, "中" * 500, "東京 " * 300])


@pytest.mark.parametrize("scan_first", [True, False])
def test_generated_texts_measure_the_same(monkeypatch, quality_scan, scan_first):
    """Random texts over the characters where the two could part (Unicode spaces, punctuation at word
    ends, U+0130, capital and final sigma, title-case digraphs, surrogates) and repetitive templates."""
    rng = random.Random(11)
    alphabet = ["a", "b", "A", "İ", "Σ", "ς", "σ", " ", "\n", "\xa0", "\x1c", "\x85", "\u2028", "\u3000", ".", ",",
                "…", "«", "“", "é", "É", "ß", "ﬁ", "\ud800", "1", "²", "Ǆ", "ǅ", "'", '"', "—", "#", "中", "ไ", "。"]
    words = ["the", "The", "THE", "cat", "cat.", "(cat)", "...", "İstanbul", "ΟΔΟΣ", "οδος", "Οδοσ", "—", "x²", "hello",
             "World"]
    texts = ["", " ", "...", "\n\n"]
    for _ in range(1500):
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200))))
        phrase = [rng.choice(words) for _ in range(rng.randint(1, 8))]
        template = []
        while len(template) < rng.randint(1, 400):
            template += phrase if rng.random() < 0.5 else [rng.choice(words)]
        texts.append(rng.choice([" ", "\n", " \u2028 "]).join(template))
    assert_same(monkeypatch, texts, scan_first)


def test_sample_prose_measures_the_same(monkeypatch, quality_scan, sample_texts):
    assert_same(monkeypatch, sample_texts)
    assert_same(monkeypatch, sample_texts, scan_first=False)
