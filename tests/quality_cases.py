"""Texts for the quality rules' row-by-row reference test, made from what the clone and its pinned
packages hold (no corpus text): the bundled sample's web pages and articles, Faker's sentences in
eight scripts, and seeded rewrites of them that push each rule to and past its threshold (repeated
lines, paragraphs and n-grams, bullets, ellipses, hashes, numbers, code, boilerplate) and put the
characters where tokenisers disagree in the way (Greek final sigma, dotted I, the Kelvin sign,
superscripts, fractions, CJK and Thai, non-breaking and odd Unicode spaces, CRLF).

`quality_cases()` returns (name, lang, text) triples; `tests/fixtures/quality_reference.jsonl.gz`
holds what the rule sets measured and decided on each (`tests/test_quality_reference.py`).
"""
from __future__ import annotations

import gzip
import json
import random
from functools import cache
from pathlib import Path

from tokenmill.filters.document import Document
from tokenmill.transforms.formats import READERS, ReadOptions

SAMPLE = Path(__file__).resolve().parents[1] / "jobs" / "sample"
SCRIPTS = {"ru_RU": "ru", "ar_AA": "ar", "zh_CN": "zh", "ja_JP": "ja", "el_GR": "el", "he_IL": "he", "th_TH": "th",
           "de_DE": "de", "en_US": "en", "tr_TR": "tr"}
ODD_CHARACTERS = ["ΟΔΟΣ", "ΣΟΦΟΣ.", "İstanbul", "\u212aelvin", "x²", "½", "Ⅻ", "٣", "๓", "ǅ", "ß", "ﬁ", "…", "–", "—",
                  "“quoted”", "‘single’", "«guillemets»", "\u00a0", "\u2009", "\u3000", "\u200b", "\x1c", "\x85",
                  "\t", "\r\n", "e\u0301", "🙂", "＃", "#hash", "...", "*", "•", "[1]", "[edit]", "[citation needed]",
                  "{", "}", "lorem ipsum", "JavaScript", "uses cookies", "privacy policy", "日本語", "中文", "ภาษาไทย",
                  "ー", "・", "Ｆｕｌｌ", "'", '"', "’", "？", "。", "！"]
BOILERPLATE = ["Home | About | Contact", "Share this:", "Click here to subscribe.", "All rights reserved.",
               "Please enable JavaScript to view the comments.", "This site uses cookies.", "Read more...",
               "Posted by admin", "Tags: news, weather", "© 2024 Example Ltd.", "1 2 3 4 5 Next »", "#",
               "- Item one", "• Item two", "* Item three", "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
               "def f(x): return {x: 1}", "x = [1, 2, 3]  # a list", "...", "…and more…",
               "The mapping {a: 1} sends the key to its value."]


@cache
def sample_texts() -> list[str]:
    """The bundled sample's web pages (as extracted from its WARC file) and its articles."""
    pages = [d.text for d in READERS["warc"](str(SAMPLE / "web.warc.gz"), "web", ReadOptions()) if isinstance(d, Document)]
    with gzip.open(SAMPLE / "docs.jsonl.gz", "rt", encoding="utf-8") as lines:
        articles = [json.loads(line)["text"] for line in lines]
    return pages + articles


@cache
def faker_texts() -> list[tuple[str, str]]:
    """(lang, text): paragraphs of Faker sentences per locale, seeded."""
    from faker import Faker

    texts = []
    for locale, lang in SCRIPTS.items():
        fake = Faker(locale)
        fake.seed_instance(29)
        for i in range(4):
            paragraphs = ["\n".join(fake.sentences(4 + i)) for _ in range(2 + i)]
            texts.append((lang, "\n\n".join(paragraphs)))
    return texts


def _passages(text: str, rng: random.Random, size: int) -> str:
    """A stretch of about `size` characters of `text`, cut at a line break."""
    if len(text) <= size:
        return text
    start = text.rfind("\n", 0, rng.randrange(len(text) - size)) + 1
    return text[start:start + size]


def _rewrite(text: str, rng: random.Random) -> str:
    """`text` with one to four seeded edits that move the rules' measures."""
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        edit = rng.randrange(13)
        if edit == 0 and lines:      # repeat lines
            line = rng.choice(lines)
            for _ in range(rng.randint(1, max(2, len(lines) // 2))):
                lines.insert(rng.randrange(len(lines) + 1), line)
        elif edit == 1:              # repeat a paragraph
            paragraph = "\n".join(lines[:rng.randint(1, 6)])
            lines += ["", paragraph] * rng.randint(1, 4)
        elif edit == 2 and lines:    # a repeated phrase (n-grams)
            words = " ".join(lines).split()
            if len(words) > 12:
                start = rng.randrange(len(words) - 10)
                phrase = " ".join(words[start:start + rng.randint(2, 10)])
                lines[rng.randrange(len(lines))] += (" " + phrase) * rng.randint(1, 12)
        elif edit == 3:              # bullets
            lines = [rng.choice("-*•●·‣") + " " + line if rng.random() < 0.6 else line for line in lines]
        elif edit == 4:              # ellipses at line ends
            lines = [line + rng.choice(("...", "…")) if rng.random() < 0.4 else line for line in lines]
        elif edit == 5:              # boilerplate and code lines
            for _ in range(rng.randint(1, 8)):
                lines.insert(rng.randrange(len(lines) + 1), rng.choice(BOILERPLATE))
        elif edit == 6:              # odd characters inside words and between them
            lines = [" ".join(w + rng.choice(ODD_CHARACTERS) if rng.random() < 0.08 else w for w in line.split(" "))
                     for line in lines]
        elif edit == 7:              # numbers and symbols as words
            lines = [line + " " + " ".join(rng.choice(("1234", "#", "$5", "3.14", "—", "&", "2024"))
                                           for _ in range(rng.randint(1, 6))) for line in lines]
        elif edit == 8:              # short lines (menus)
            lines += [rng.choice(("Home", "News", "Sport", "Weather", "Contact us", "Log in")) for _ in range(rng.randint(3, 30))]
        elif edit == 9:              # short sentences
            lines += [rng.choice(("It is what it is.", "We went home at last.", "So it goes, they said."))
                      for _ in range(rng.randint(5, 40))]
        elif edit == 10:             # every line a bullet
            lines = [rng.choice("-•*") + " " + line for line in lines]
        elif edit == 11:             # case
            lines = [line.upper() if rng.random() < 0.3 else line for line in lines]
        else:                        # a word over a thousand characters, or a cut to a few words
            if rng.random() < 0.5:
                lines.insert(rng.randrange(len(lines) + 1), "x" * 1001 + " and then the rest of the line.")
            else:
                lines = " ".join(lines).split()[:rng.randint(0, 60)]
    return "\n".join(lines)


@cache
def quality_cases() -> list[tuple[str, str, str]]:
    """(name, lang, text) for every case, in a fixed order."""
    rng = random.Random(29)
    cases = [("empty", "en", ""), ("spaces", "en", " \n\t\n "), ("punctuation", "en", "... !!! ??? --- ###"),
             ("one odd character each", "en", " ".join(ODD_CHARACTERS) * 3)]
    samples = sample_texts()
    for i, text in enumerate(samples):
        cases.append((f"sample {i}", "en", _passages(text, rng, 5000)))
    for i, (lang, text) in enumerate(faker_texts()):
        cases.append((f"faker {i} {lang}", lang, text))
    for i in range(300):
        lang, base = (("en", rng.choice(samples)) if rng.random() < 0.7 else rng.choice(faker_texts()))
        text = _rewrite(_passages(base, rng, rng.choice((400, 1500, 4000))), rng)
        cases.append((f"rewrite {i}", rng.choice((lang, lang, lang, None)), text))
    return cases
