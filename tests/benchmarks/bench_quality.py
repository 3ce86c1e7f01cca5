"""Quality rule sets: pages per CPU-second (pages/s per core) per rule set and for the chain, against
DataTrove's filters on the same pages.

    python tests/benchmarks/bench_quality.py [--datatrove-python /work/venv-datatrove/bin/python]

DataTrove is not a tokenmill dependency: it runs in its own environment (`python -m venv X;
X/bin/pip install datatrove==0.10.1 regex spacy`), on the same 1,378 web-bulk pages, and both sides
report keep/drop per page. Every page is treated as English, as DataTrove's filters assume. Times are
CPU seconds of each process (`time.process_time`): on a shared machine wall time measures the load.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from corpus_texts import web_bulk_texts  # noqa: E402

from tokenmill.filters.document import Document  # noqa: E402
from tokenmill.filters.quality import C4, FineWeb, GopherQuality, GopherRepetition, QualityFilter  # noqa: E402

DATATROVE_SCRIPT = """
import json, sys, time
from datatrove.data import Document
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter, C4QualityFilter, FineWebQualityFilter
texts = json.load(sys.stdin)
out = {}
for name, make in (("gopher_quality", GopherQualityFilter), ("gopher_repetition", GopherRepetitionFilter),
                   ("c4", C4QualityFilter), ("fineweb", FineWebQualityFilter)):
    f = make()
    start = time.process_time()
    keep = []
    for i, t in enumerate(texts):
        r = f.filter(Document(text=t, id=str(i)))
        keep.append(bool(r if isinstance(r, bool) else r[0]))
    out[name] = {"seconds": time.process_time() - start, "keep": keep}
print(json.dumps(out))
"""

RULE_SETS = {
    "gopher_quality": GopherQuality,
    "gopher_repetition": GopherRepetition,
    "c4": lambda: C4(bad_words=False),   # DataTrove runs C4's bad words as a separate filter
    "fineweb": FineWeb,
}


def ours(texts, rule_sets):
    quality = QualityFilter(rule_sets)
    start = time.process_time()
    keep = [quality(Document(str(i), "web", t, lang="en")) is None for i, t in enumerate(texts)]
    return time.process_time() - start, keep


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datatrove-python")
    args = parser.parse_args()
    texts = web_bulk_texts()
    theirs = {}
    if args.datatrove_python:
        result = subprocess.run([args.datatrove_python, "-c", DATATROVE_SCRIPT], input=json.dumps(texts),
                                capture_output=True, text=True, check=True)
        theirs = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"\n{len(texts)} web-bulk pages, {sum(map(len, texts)) / 1e6:.1f} MB; one process\n")
    print(f"{'rule set':20} {'pages/s per core':>16} {'kept':>6} {'DataTrove':>10} {'speed-up':>9} {'agreement':>10}")
    for name, make in RULE_SETS.items():
        seconds, keep = ours(texts, [make()])
        row = f"{name:20} {len(texts) / seconds:16,.0f} {sum(keep) / len(keep):6.1%}"
        if name in theirs:
            other = theirs[name]
            agree = sum(a == b for a, b in zip(keep, other["keep"])) / len(keep)
            row += (f" {len(texts) / other['seconds']:10,.0f} {other['seconds'] / seconds:8.1f}x {agree:10.1%}")
        print(row)
    seconds, keep = ours(texts, [make() for make in RULE_SETS.values()])
    row = f"{'whole chain':20} {len(texts) / seconds:16,.0f} {sum(keep) / len(keep):6.1%}"
    if theirs:
        total = sum(t["seconds"] for t in theirs.values())
        chain = [all(t["keep"][i] for t in theirs.values()) for i in range(len(texts))]
        row += (f" {len(texts) / total:10,.0f} {total / seconds:8.1f}x "
                f"{sum(a == b for a, b in zip(keep, chain)) / len(keep):10.1%}")
    print(row)


if __name__ == "__main__":
    main()
