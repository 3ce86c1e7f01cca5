"""Benchmark: the toxicity stage's word-list scoring against C4's way of matching the list, and the
scores' precision and recall on the labelled Jigsaw comments.

    python tests/benchmarks/bench_toxicity.py            (or all benchmarks: run_all.py)

Baseline: one regular expression alternating every `en` entry between word boundaries on the
lower-cased text (as C4's filter did), counting matches, in the same process on the same pages.
"""
from __future__ import annotations

import csv
import re
import resource
import sys
import time
from pathlib import Path

from benchtable import Row, machine, render
from corpus_texts import web_bulk_texts

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpus"

from tokenmill.filters.badwords import load_badwords  # noqa: E402
from tokenmill.filters.document import Document  # noqa: E402
from tokenmill.filters.toxicity import ToxicityFilter  # noqa: E402



def timed(fn, texts):
    start = time.perf_counter()
    out = [fn(t) for t in texts]
    return out, time.perf_counter() - start


def bench_rows() -> list[Row]:
    texts = web_bulk_texts()
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    words = sorted(load_badwords("en"), key=len, reverse=True)
    c4 = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)")
    stage = ToxicityFilter(mode="off")
    stage.word_score("warm up", "en"), c4.findall("warm up")
    baseline_counts, baseline_s = timed(lambda t: len(c4.findall(t.lower())), texts)
    counts, stage_s = timed(lambda t: stage.word_score(t, "en")[0], texts)
    flagged_both = sum(1 for a, b in zip(counts, baseline_counts) if (a > 0) == (b > 0))
    assert flagged_both == len(texts), "the matcher and C4's regex disagree on which pages hold a listed word"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    baseline = "C4-style alternation regex over the en list, lower-cased text"
    return [
        Row("toxicity", "word list: C4 regex (baseline)", 1, len(texts) / baseline_s, mb / baseline_s, peak, 1.0, baseline),
        Row("toxicity", "word list: Aho-Corasick matcher", 1, len(texts) / stage_s, mb / stage_s, peak,
            stage_s / baseline_s, baseline),
    ]


def jigsaw_table() -> str:
    with open(CORPUS / "toxicity" / "jigsaw_test_examples_ibm-max.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    truth = [r["toxic"] == "1" for r in rows]
    texts = [r["comment_text"] for r in rows]
    scorers = {
        "word list, C4 rule (any listed word)": [v == "bad_words" for v in
                                                  (ToxicityFilter(mode="any")(Document("d", "s", t, lang="en")) for t in texts)],
        "word list, ratio > 0.02 (default)": [v == "bad_word_ratio" for v in
                                               (ToxicityFilter()(Document("d", "s", t, lang="en")) for t in texts)],
    }
    try:
        from profanity_check import predict_prob

        scorers["alt-profanity-check, score > 0.5"] = [p > 0.5 for p in predict_prob(texts)]
    except ImportError:
        pass
    lines = ["| scorer | flagged | toxic found (of 13) | precision | recall |", "| --- | ---: | ---: | ---: | ---: |"]
    for name, flagged in scorers.items():
        tp = sum(f and t for f, t in zip(flagged, truth))
        lines.append(f"| {name} | {sum(flagged)} | {tp} | {tp / max(sum(flagged), 1):.2f} | {tp / sum(truth):.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(bench_rows(), f"Toxicity word-list scoring ({machine()})"))
    print()
    print(jigsaw_table())
