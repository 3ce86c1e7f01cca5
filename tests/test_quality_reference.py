"""The quality rules decide and measure exactly as they did before they were made fast, row by row.

`tests/fixtures/quality_reference.jsonl.gz` holds, for every generated case of `tests/quality_cases.py`
and each rule-set configuration below, the reason (or none), every signal value and a digest of the
text the rules leave (C4 rewrites it), as the rules computed them at commit bb3bac2 (one string per
word, tuples of strings per n-gram). Regenerate only for a deliberate change of a rule:
``python -m tests.test_quality_reference``. The corpus tier checks the same on real pages
(tests/test_quality_reference_corpus.py).
"""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from tokenmill.filters.document import Document
from tokenmill.filters.quality import C4, CodeRules, FineWeb, GopherQuality, GopherRepetition, QualityFilter, Sanity
from tokenmill.pipeline.config import SourceConfig
from tokenmill.pipeline.stages import STAGES, QualitySettings

FIXTURE = Path(__file__).parent / "fixtures" / "quality_reference.jsonl.gz"
NEVER = float("inf")


def configurations() -> dict[str, QualityFilter]:
    """The web and book chains as the pipeline builds them, the code rules, and every rule set with every
    bound open (so that each signal is measured on every text, not only up to the first drop)."""
    def chain(fmt):
        return STAGES["quality"].build(QualitySettings(), SourceConfig(fmt, ["x"]))

    open_rules = [
        Sanity(min_chars=1, min_words_per_char=0.0),
        GopherRepetition(max_duplicate_lines=NEVER, max_duplicate_paragraphs=NEVER, max_duplicate_line_chars=NEVER,
                         max_duplicate_paragraph_chars=NEVER, max_top_ngram_share={n: NEVER for n in (2, 3, 4)},
                         max_duplicated_ngram_share={n: NEVER for n in range(5, 11)}),
        GopherQuality(min_words=0, max_words=10**9, min_mean_word_length=0.0, max_mean_word_length=NEVER,
                      max_hash_ratio=NEVER, max_ellipsis_ratio=NEVER, max_bullet_lines=NEVER, max_ellipsis_lines=NEVER,
                      min_alpha_words=0.0, min_stop_words=0),
        C4(min_sentences=0, drop_lorem_ipsum=False, drop_curly_bracket=False),
        FineWeb(min_punctuated_lines=0.0, max_short_lines=NEVER, max_duplicate_line_chars=NEVER,
                max_newlines_per_word=NEVER),
        CodeRules(max_line_length=10**9, max_mean_line_length=NEVER, min_alphanumeric=0.0),
    ]
    return {"web": chain("jsonl"), "book": chain("book"), "code": chain("code"), "open": QualityFilter(open_rules)}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def measure(quality: QualityFilter, text: str, lang) -> dict:
    """What `quality` decides and measures on `text`: the row the reference holds."""
    doc = Document("d", "s", text, lang=lang)
    reason = quality(doc)
    return {"reason": reason, "signals": doc.signals, "text": digest(doc.text)}


def rows(cases) -> list[dict]:
    """One row per case and configuration, in a fixed order."""
    chains = configurations()
    return [{"case": name, "config": config, "input": digest(text), **measure(quality, text, lang)}
            for name, lang, text in cases for config, quality in chains.items()]


def read_rows(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def write_rows(path: Path, found: list[dict]) -> None:
    with gzip.GzipFile(path, "wb", mtime=0) as out:
        out.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in found).encode("utf-8"))


def differences(found: list[dict], reference: list[dict]) -> list[str]:
    """Each row that differs from the reference, with what differs."""
    assert len(found) == len(reference), "the cases changed: regenerate the reference only for a rule change"
    problems = []
    for new, old in zip(found, reference):
        where = f"{old['case']} [{old['config']}]"
        if new["input"] != old["input"]:
            problems.append(f"{where}: the input text changed (case generator or extractor), not the rules")
            continue
        changed = {key: (old[key], new[key]) for key in ("reason", "text") if new[key] != old[key]}
        changed.update({name: (old["signals"].get(name), value) for name, value in new["signals"].items()
                        if old["signals"].get(name) != value or type(old["signals"].get(name)) is not type(value)})
        changed.update({name: (value, None) for name, value in old["signals"].items() if name not in new["signals"]})
        if changed:
            problems.append(f"{where}: {changed}")
    return problems


@pytest.fixture(scope="module")
def cases():
    from tests.quality_cases import quality_cases

    return quality_cases()


def test_the_cases_cover_every_rule(cases):
    """The generated texts reach every reason of the web chain, so the comparison below tests each rule."""
    reasons = {row["reason"] for row in read_rows(FIXTURE) if row["config"] == "web"}
    assert reasons >= {None, "too_short", "gopher_duplicate_lines", "gopher_duplicate_paragraphs",
                       "gopher_top_3gram", "gopher_duplicated_5gram", "gopher_word_count", "gopher_stop_words", "gopher_bullet_lines",
                       "gopher_alpha_words", "gopher_hash_ratio", "gopher_ellipsis_lines", "c4_too_few_sentences", "c4_curly_bracket",
                       "c4_lorem_ipsum", "fineweb_duplicate_line_chars"}


def test_decisions_and_signals_are_the_reference_ones(cases, quality_scan):
    problems = differences(rows(cases), read_rows(FIXTURE))
    assert not problems, f"{len(problems)} rows differ, e.g.:\n" + "\n".join(problems[:10])


if __name__ == "__main__":
    from tests.quality_cases import quality_cases

    write_rows(FIXTURE, rows(quality_cases()))
    print(f"wrote {FIXTURE}")
