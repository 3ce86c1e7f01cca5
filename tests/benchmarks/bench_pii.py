"""Benchmark: the PII stage's scanner against presidio as usually called, its set-up per worker, and its accuracy.

    python tests/benchmarks/bench_pii.py            (or all benchmarks: run_all.py)

Set-up per worker: CPU seconds, each in a fresh process, of the stage's set-up (`PiiFilter.setup`),
of its first pages (alphabets spelled out and phone region rules compiled on first use: the 100 gold
sentences meet every recognizer), and of presidio's (importing it, an AnalyzerEngine with the seven
recognizers and an AnonymizerEngine).

Baselines, in the same process, on every whole document: presidio as usually called,
`AnalyzerEngine.analyze` with all its predefined English recognizers (17, no spaCy model); and
`AnalyzerEngine.analyze` with only the seven the stage runs by default (e-mail, phone, credit card,
IP, IBAN, US SSN, crypto). The scanner's spans are asserted equal to both engines' spans of those
seven types on every document. Accuracy: precision and recall per entity type against the gold
spans of ../shared/corpus/pii (a prediction is right when it overlaps a gold span of its type; URLs
on), the gold spans of covered types left in the scrubbed text, and the share of Faker's phone
numbers (every locale that writes them) and cards (every kind) left behind.
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
CORPUS = Path(os.environ.get("TOKENMILL_CORPUS", REPO.parent / "shared" / "corpus"))

from tokenmill.filters.document import Document  # noqa: E402
from tokenmill.filters.pii import SWEEP_SCORE, PiiFilter  # noqa: E402
from tokenmill.filters.pii_scan import PATTERN_ENTITIES, PiiScanner  # noqa: E402
from tokenmill.filters.presidio_engine import LANGUAGE, build_default_analyzer  # noqa: E402

COVERED = PATTERN_ENTITIES + ("URL",)
GOLD_NAMES = {"DOMAIN_NAME": "URL"}


def gold() -> list[dict]:
    return json.loads((CORPUS / "pii" / "presidio_generated_small.json").read_text(encoding="utf-8"))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def key(results) -> list:
    """The spans of the entity types the stage covers, comparable across engines."""
    return sorted((r.entity_type, r.start, r.end, round(r.score, 6)) for r in results if r.entity_type in PATTERN_ENTITIES)


def timed(fn, texts):
    start = time.perf_counter()
    out = [fn(t) for t in texts]
    return out, time.perf_counter() - start


def speed_rows(name: str, texts: list[str], repeats: int) -> list[Row]:
    """Each path after one untimed pass over `texts` by other instances (what every engine compiles
    once is compiled); each pass starts with empty result caches, and each path's time is its best
    of `repeats` passes (the machine is shared)."""
    default = build_default_analyzer()
    warm, warm_stage = PiiScanner(PATTERN_ENTITIES), PiiFilter(PATTERN_ENTITIES)
    for text in texts:
        default.analyze(text, LANGUAGE), warm.analyze(text), warm.analyze_plainly(text), warm_stage(Document("d", "s", text))
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    usual_s = plain_s = fast_s = stage_s = float("inf")
    for _ in range(repeats):
        scanner = PiiScanner(PATTERN_ENTITIES)
        stage = PiiFilter(PATTERN_ENTITIES)
        stage.setup()
        usual, seconds = timed(lambda t: default.analyze(t, LANGUAGE), texts)
        usual_s = min(usual_s, seconds)
        plain, seconds = timed(scanner.analyze_plainly, texts)
        plain_s = min(plain_s, seconds)
        fast, seconds = timed(scanner.analyze, texts)
        fast_s = min(fast_s, seconds)
        for reference in (usual, plain):
            mismatched = [i for i, (a, b) in enumerate(zip(fast, reference)) if key(a) != key(b)]
            assert not mismatched, f"{name}: the scanner differs from presidio on documents {mismatched[:10]}"
        stage_s = min(stage_s, timed(lambda t: stage(Document("d", "s", t)), texts)[1])
    n = len(texts)
    usual_name = "presidio as usually called: AnalyzerEngine, its 17 recognizers"
    return [
        Row("pii", f"{name}: {usual_name}", 1, n / usual_s, mb / usual_s, peak_mb(), 1.0, usual_name),
        Row("pii", f"{name}: presidio, the stage's 7 recognizers", 1, n / plain_s, mb / plain_s, peak_mb(),
            plain_s / usual_s, usual_name),
        Row("pii", f"{name}: scanner (same spans)", 1, n / fast_s, mb / fast_s, peak_mb(), fast_s / usual_s, usual_name),
        Row("pii", f"{name}: stage (scan, sweep, scrub)", 1, n / stage_s, mb / stage_s, peak_mb(),
            stage_s / usual_s, usual_name),
    ]


SETUP_SCRIPT = """
import json, resource, sys
def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
texts = json.loads(sys.stdin.read())
start = cpu()
if sys.argv[1] == "stage":
    from tokenmill.filters.document import Document
    from tokenmill.filters.pii import PiiFilter
    stage = PiiFilter()
    stage.setup()
    setup = cpu() - start
    for text in texts:
        stage(Document("d", "s", text))
else:
    from tokenmill.filters.pii_scan import PATTERN_ENTITIES
    from tokenmill.filters.presidio_engine import LANGUAGE, build_analyzer, no_network
    no_network()
    from presidio_anonymizer import AnonymizerEngine
    engine, anonymizer = build_analyzer(PATTERN_ENTITIES), AnonymizerEngine()
    setup = cpu() - start
    for text in texts:
        engine.analyze(text, LANGUAGE, entities=list(PATTERN_ENTITIES))
print(json.dumps({"setup": setup, "first pages": cpu() - start - setup,
                  "presidio imported": "presidio_analyzer" in sys.modules}))
"""


def setup_costs() -> str:
    """CPU seconds of a worker's set-up, and of its first pages, in fresh processes."""
    import subprocess

    texts = json.dumps([r["full_text"] for r in gold()])
    lines = ["| set-up, in a fresh process | set-up CPU-s | first 100 pages CPU-s | presidio imported |",
             "| --- | ---: | ---: | --- |"]
    for kind, label in (("stage", "PII stage (PiiFilter.setup)"),
                        ("presidio", "presidio: import, AnalyzerEngine (7 recognizers), AnonymizerEngine")):
        done = subprocess.run([sys.executable, "-c", SETUP_SCRIPT, kind], input=texts, capture_output=True, text=True,
                              check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        cost = json.loads(done.stdout.strip().splitlines()[-1])
        lines.append(f"| {label} | {cost['setup']:.2f} | {cost['first pages']:.2f} | {cost['presidio imported']} |")
    return "\n".join(lines)


def faker_leaks() -> str:
    """The share of Faker's phone numbers (every locale) and cards (every kind) the stage leaves
    in the text, with presidio alone and with the sweep (tests/test_number_sweep.py asserts them)."""
    try:
        import faker  # noqa: F401  (the dev extra)
    except ImportError:
        return "Faker is not installed (pip install -e '.[dev]'): no leak rates on generated numbers."
    sys.path.insert(0, str(REPO / "tests"))
    from test_number_sweep import faker_cards, faker_values, leak_rate

    from test_number_sweep import TEMPLATES

    swept, alone = PiiFilter(), PiiFilter(number_sweep=False)
    phones, cards = list(faker_values("phone_number", 20)), faker_cards(40)
    bare = [v for v in phones if TEMPLATES[v[1] % len(TEMPLATES)] == "{}"]
    cued = [v for v in phones if TEMPLATES[v[1] % len(TEMPLATES)] != "{}"]
    locales = len({v[0] for v in phones})
    lines = ["| numbers | count | left by presidio alone | left with the sweep |", "| --- | ---: | ---: | ---: |"]
    for label, values in ((f"Faker phone numbers, {locales} locales, after a cue word", cued),
                          (f"Faker phone numbers, {locales} locales, standing alone", bare),
                          (f"Faker cards, {len({v[0] for v in cards})} kinds", cards)):
        lines.append(f"| {label} | {len(values):,} | {leak_rate(alone, values):.1%} | {leak_rate(swept, values):.1%} |")
    return "\n".join(lines)


def swept_on_web() -> str:
    """How many spans the sweep adds on web-bulk (what presidio did not report), to keep an eye on."""
    stage = PiiFilter()
    stage.setup()
    added = Counter(s.entity_type for text in web_bulk_texts() for s in stage.find(text) if s.score == SWEEP_SCORE
                    and s.entity_type in stage.swept)
    return f"Spans the sweep adds on the 1,378 web-bulk pages: {dict(added) or 0}"


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
    return (speed_rows("pii gold (100 sentences)", [r["full_text"] for r in gold()], repeats=15)
            + speed_rows("web-bulk (1,378 pages)", web_bulk_texts(), repeats=2))


if __name__ == "__main__":
    print(setup_costs())
    print()
    print(render(bench_rows(), f"PII scanning ({machine()})"))
    print()
    print(accuracy())
    print()
    print(faker_leaks())
    print()
    print(swept_on_web())
