"""Benchmark: what the default PII and quality stages do to real pages nobody here wrote, before and
after issue 19's defaults (PII context rules and score threshold; C4's bad-word rule off).

    python tests/benchmarks/bench_real_pages.py

Pages: every web-bulk JSONL document of ../shared/corpus (OpenWebText, C4, RedPajama, DCLM, 4chan)
and the text resiliparse extracts from the Readability test pages (Guardian, NYT, BBC, Wikipedia...).
"Before" is the same code with the old settings: `PiiFilter(min_score=0, in_context=False)` and
`C4(bad_words=True)`. Reported: characters replaced by PII masking per MB of text; precision per
type on the hand-labelled spans (tests/fixtures/pii_labels.jsonl); pages the quality chain removes
with and without C4's bad-word rule, and what the toxicity stage's ratio removes of them and of the
labelled Jigsaw comments; the PII stage's docs/s against presidio with the same seven recognizers.
"""
from __future__ import annotations

import csv
import gzip
import json
import os
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
CORPUS = Path(os.environ.get("TOKENMILL_CORPUS", REPO.parent / "shared" / "corpus"))

from pii_labels import labels, pages, precision  # noqa: E402
from tokenmill.filters.document import Document  # noqa: E402
from tokenmill.filters.pii import PiiFilter  # noqa: E402
from tokenmill.filters.pii_scan import PATTERN_ENTITIES  # noqa: E402
from tokenmill.filters.presidio_engine import LANGUAGE, build_analyzer  # noqa: E402
from tokenmill.filters.quality import C4, QualityFilter  # noqa: E402
from tokenmill.filters.toxicity import ToxicityFilter  # noqa: E402
from tokenmill.pipeline.stages import QualitySettings, WEB_RULE_SETS  # noqa: E402
from tokenmill.transforms.formats.warc import html_to_text  # noqa: E402


def real_pages() -> list[tuple[str, str]]:
    """(collection, text) of every page."""
    found = []
    for path in sorted((CORPUS / "web-bulk").glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            found += [(path.name.split("_")[0], json.loads(line)["text"]) for line in lines if line.strip()]
    with tarfile.open(CORPUS / "web-bulk" / "readability_testpages_source_html.tar.gz") as tar:
        found += [("readability", html_to_text(tar.extractfile(m).read(), None)) for m in tar.getmembers() if m.isfile()]
    return found


def covered(spans) -> int:
    """Characters inside the union of the spans."""
    total, reached = 0, 0
    for s in sorted(spans, key=lambda s: s.start):
        if s.end > reached:
            total += s.end - max(s.start, reached)
            reached = s.end
    return total


def pii_section(texts: list[str], mb: float) -> list[str]:
    before, after = PiiFilter(min_score=0.0, in_context=False), PiiFilter()
    before.setup(), after.setup()
    lines = ["| PII | spans | characters replaced | per MB | docs/s |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, stage in (("before (every presidio span, no context rules)", before), ("after (defaults)", after)):
        stage.find("warm up 650-253-0000")
        spans = [stage.find(t) for t in texts]
        stage.setup()  # empty caches: the timed pass finds, checks and masks from scratch
        start = time.perf_counter()
        for t in texts:
            stage(Document("d", "s", t))
        seconds = time.perf_counter() - start
        chars = sum(covered(s) for s in spans)
        lines.append(f"| {name} | {sum(map(len, spans)):,} | {chars:,} | {chars / mb:,.0f} | {len(texts) / seconds:,.0f} |")
    presidio = build_analyzer(PATTERN_ENTITIES)
    presidio.analyze("warm up 650-253-0000", LANGUAGE, entities=list(PATTERN_ENTITIES))
    start = time.perf_counter()
    for t in texts:
        presidio.analyze(t, LANGUAGE, entities=list(PATTERN_ENTITIES))
    lines.append(f"| presidio `analyze`, the same seven recognizers (no masking) | | | | "
                 f"{len(texts) / (time.perf_counter() - start):,.0f} |")
    rows = labels()
    texts_by_page = pages(CORPUS, {r["page"] for r in rows})
    by_place = {(r["page"], r["start"], r["end"], r["entity"]): r for r in rows}
    shown = ("EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS", "CREDIT_CARD", "US_SSN")
    lines += ["", "| precision on labelled spans | " + " | ".join(shown) + " |", "| --- |" + " ---: |" * len(shown)]
    for name, stage in (("before", before), ("after", after)):
        verdicts, unlabelled = [], 0
        for page, text in texts_by_page.items():
            for s in stage.find(text):
                row = by_place.get((page, s.start, s.end, s.entity_type))
                if row is None:
                    unlabelled += 1
                else:
                    verdicts.append((row, True))
        result = precision(verdicts)
        cells = [f"{result[e][0] / result[e][1]:.2f} ({result[e][0]}/{result[e][1]})" if e in result else "none found"
                 for e in shown]
        lines.append(f"| {name} ({unlabelled} spans on unsampled 4chan numbers) | " + " | ".join(cells) + " |")
    return lines


def quality_section(pages_: list[tuple[str, str]]) -> list[str]:
    settings = QualitySettings()
    chains = {bad_words: QualityFilter([getattr(settings, n) if n != "c4" else C4(bad_words=bad_words)
                                        for n in WEB_RULE_SETS]) for bad_words in (True, False)}
    toxicity = ToxicityFilter()
    removed, bad, toxic, total = Counter(), Counter(), Counter(), Counter()
    for collection, text in pages_:
        total[collection] += 1
        for bad_words, chain in chains.items():
            doc = Document("d", collection, text, lang="en")
            reason = chain(doc)
            removed[collection, bad_words] += reason is not None
            bad[collection] += reason == "c4_bad_words"
            if reason is None and not bad_words:
                toxic[collection] += toxicity(doc) is not None
    lines = ["| pages (web chain, English) | pages | quality removes, C4 bad words on (before) | of them `c4_bad_words` "
             "| quality removes, bad words off (default) | then the toxicity ratio removes |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for collection in sorted(total, key=lambda c: (c == "paloma", c)):
        n = total[collection]
        name = "4chan /pol/ (Paloma; toxic by design)" if collection == "paloma" else collection
        lines.append(f"| {name} | {n} | {removed[collection, True]} ({removed[collection, True] / n:.0%}) | "
                     f"{bad[collection]} | {removed[collection, False]} ({removed[collection, False] / n:.0%}) | "
                     f"{toxic[collection]} |")
    with open(CORPUS / "toxicity" / "jigsaw_test_examples_ibm-max.csv", encoding="utf-8") as f:
        comments = list(csv.DictReader(f))
    truth = [r["toxic"] == "1" for r in comments]
    any_word = ToxicityFilter(mode="any")
    lines += ["", f"| labelled Jigsaw comments ({len(comments)}, {sum(truth)} toxic) | removed | toxic among them "
              "| clean among them |", "| --- | ---: | ---: | ---: |"]
    for name, stage in (("C4 rule (one listed word)", any_word), ("toxicity ratio > 0.02 (default)", toxicity)):
        flagged = [stage(Document("d", "s", r["comment_text"], lang="en")) is not None for r in comments]
        tp = sum(f and t for f, t in zip(flagged, truth))
        lines.append(f"| {name} | {sum(flagged)} ({sum(flagged) / len(comments):.0%}) | {tp} | {sum(flagged) - tp} |")
    return lines


def main() -> None:
    pages_ = real_pages()
    texts = [t for _, t in pages_]
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    print(f"{len(texts):,} real pages, {mb:.1f} MB; {os.cpu_count()} cores, one process\n")
    print("\n".join(pii_section(texts, mb)))
    print()
    print("\n".join(quality_section(pages_)))


if __name__ == "__main__":
    main()
