"""Benchmark: the PII stage's scanner against presidio as usually called, and its accuracy.

    python tests/benchmarks/bench_pii.py            (or all benchmarks: run_all.py)

Baseline: `AnalyzerEngine.analyze` with every recognizer the stage runs by default (e-mail, phone,
credit card, IP, IBAN, US SSN, crypto), on every whole document, in the same process. The fast
scanner's spans are asserted equal to the baseline's on every document. Accuracy: precision and
recall per entity type against the gold spans of ../shared/corpus/pii (a prediction is right when
it overlaps a gold span of its type; URLs on), and the gold spans of covered types left in the scrubbed text.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""

from benchtable import Row, machine, render
from corpus_texts import web_bulk_texts

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpus"

from filters.document import Document  # noqa: E402
from filters.pii import PiiFilter  # noqa: E402
from filters.pii_scan import PATTERN_ENTITIES, PiiScanner  # noqa: E402

COVERED = PATTERN_ENTITIES + ("URL",)
GOLD_NAMES = {"DOMAIN_NAME": "URL"}


def gold() -> list[dict]:
    return json.loads((CORPUS / "pii" / "presidio_generated_small.json").read_text(encoding="utf-8"))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def key(results) -> list:
    return sorted((r.entity_type, r.start, r.end, round(r.score, 6)) for r in results)


def timed(fn, texts):
    start = time.perf_counter()
    out = [fn(t) for t in texts]
    return out, time.perf_counter() - start


def speed_rows(name: str, texts: list[str], repeats: int = 2) -> list[Row]:
    """The three paths after one untimed pass over `texts` by another scanner (the regular
    expressions every engine compiles once are compiled); each pass starts with empty result
    caches, and each path's time is its best of `repeats` passes (the machine is shared)."""
    warm = PiiScanner(PATTERN_ENTITIES)
    for text in texts:
        warm.analyze(text), warm.analyze_plainly(text)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    plain_s = fast_s = stage_s = float("inf")
    for _ in range(repeats):
        scanner = PiiScanner(PATTERN_ENTITIES)
        stage = PiiFilter(PATTERN_ENTITIES)
        stage.setup()
        plain, seconds = timed(scanner.analyze_plainly, texts)
        plain_s = min(plain_s, seconds)
        fast, seconds = timed(scanner.analyze, texts)
        fast_s = min(fast_s, seconds)
        mismatched = [i for i, (a, b) in enumerate(zip(fast, plain)) if key(a) != key(b)]
        assert not mismatched, f"{name}: fast path differs from presidio on documents {mismatched[:10]}"
        stage_s = min(stage_s, timed(lambda t: stage(Document("d", "s", t)), texts)[1])
    baseline = "AnalyzerEngine.analyze, all recognizers, whole documents"
    return [
        Row("pii", f"{name}: presidio as usually called", 1, len(texts) / plain_s, mb / plain_s, peak_mb(), 1.0, baseline),
        Row("pii", f"{name}: scanner (same spans)", 1, len(texts) / fast_s, mb / fast_s, peak_mb(), fast_s / plain_s, baseline),
        Row("pii", f"{name}: stage (scan, sweep, scrub)", 1, len(texts) / stage_s, mb / stage_s, peak_mb(),
            stage_s / plain_s, baseline),
    ]


def accuracy() -> str:
    stage = PiiFilter(COVERED)
    stage.setup()
    tp, fp, fn, leaks = Counter(), Counter(), Counter(), []
    for record in gold():
        text = record["full_text"]
        spans = stage.find(text)
        truth = [(GOLD_NAMES.get(s["entity_type"], s["entity_type"]), s["start_position"], s["end_position"],
                  s["entity_value"]) for s in record["spans"]]
        truth = [g for g in truth if g[0] in COVERED]
        for s in spans:
            hit = any(g[0] == s.entity_type and g[1] < s.end and s.start < g[2] for g in truth)
            (tp if hit else fp)[s.entity_type] += 1
        for g in truth:
            if not any(g[0] == s.entity_type and g[1] < s.end and s.start < g[2] for s in spans):
                fn[g[0]] += 1
        doc = Document("d", "s", text)
        stage(doc)
        leaks += [g for g in truth if g[3] in doc.text]
    lines = ["| entity | gold | found | precision | recall |", "| --- | ---: | ---: | ---: | ---: |"]
    for e in COVERED:
        found, total = tp[e] + fp[e], tp[e] + fn[e]
        precision = f"{tp[e] / found:.2f}" if found else "–"
        recall = f"{tp[e] / total:.2f}" if total else "–"
        lines.append(f"| {e} | {total} | {found} | {precision} | {recall} |")
    lines.append(f"\nGold spans of covered types left in the scrubbed text: {len(leaks)} "
                 f"of {sum(tp[e] + fn[e] for e in COVERED)}")
    return "\n".join(lines)


def bench_rows() -> list[Row]:
    return (speed_rows("pii gold (100 sentences)", [r["full_text"] for r in gold()])
            + speed_rows("web-bulk (1,378 pages)", web_bulk_texts()))


if __name__ == "__main__":
    print(render(bench_rows(), f"PII scanning ({machine()})"))
    print()
    print(accuracy())
