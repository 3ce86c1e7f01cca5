"""Quality rule sets: pages per CPU-second (pages/s per core) per rule set and for the chain, against
DataTrove's filters on the same pages.

    python tests/benchmarks/bench_quality.py [--pages web-bulk|warc] [--datatrove-python /work/venv-datatrove/bin/python]
        [--before f957687]

Pages: the 1,378 web-bulk JSONL pages (the default), or `warc`, the 193 English pages that
bench_curate.py's WARC files bring to the quality stage (10,300 characters on average).
DataTrove is not a tokenmill dependency: it runs in its own environment (`python -m venv X;
X/bin/pip install datatrove==0.10.1 regex spacy`), on the same pages, and both sides
report keep/drop per page. Every page is treated as English, as DataTrove's filters assume. Times are
CPU seconds of each process (`time.process_time`): on a shared machine wall time measures the load.
`--before COMMIT` also times the web chain of the rules as they were at that commit (read with `git
show` into a temporary package), in the same process, alternating with today's, three rounds each.
"""
from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from corpus_texts import warc_english_texts, web_bulk_texts  # noqa: E402

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

PAGES = {"web-bulk": web_bulk_texts, "warc": warc_english_texts}
RULE_SETS = {
    "gopher_quality": GopherQuality,
    "gopher_repetition": GopherRepetition,
    "c4": lambda: C4(bad_words=False),   # DataTrove runs C4's bad words as a separate filter
    "fineweb": FineWeb,
}


def ours(texts, rule_sets, chain=QualityFilter):
    quality = chain(rule_sets)
    start = time.process_time()
    keep = [quality(Document(str(i), "web", t, lang="en")) is None for i, t in enumerate(texts)]
    return time.process_time() - start, keep


def rules_at(commit: str, folder: Path):
    """The quality rule package as it was at `commit`, importable from `folder`."""
    package = folder / f"quality_{commit}"
    package.mkdir()
    names = subprocess.run(["git", "-C", str(REPO), "ls-tree", "--name-only", f"{commit}:filters/quality"],
                           capture_output=True, text=True, check=True).stdout.split()
    for name in (n for n in names if n.endswith(".py")):
        source = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:filters/quality/{name}"],
                                capture_output=True, text=True, check=True).stdout
        (package / name).write_text(source.replace("tokenmill.filters.quality.", f"quality_{commit}."))
    sys.path.insert(0, str(folder))
    return importlib.import_module(f"quality_{commit}")


def before_and_now(texts, commit: str) -> str:
    """pages/s per core of the web chain at `commit` and today, on the same pages, alternating."""
    import tokenmill.filters.quality as now

    with tempfile.TemporaryDirectory() as tmp:
        then = rules_at(commit, Path(tmp))
        seconds = {"then": 0.0, "now": 0.0}
        for _ in range(3):
            for name, module in (("then", then), ("now", now)):
                chain = [module.Sanity(), module.GopherRepetition(), module.GopherQuality(), module.C4(), module.FineWeb()]
                seconds[name] += ours(texts, chain, module.QualityFilter)[0]
    rate = {name: 3 * len(texts) / s for name, s in seconds.items()}
    return (f"web chain at {commit}: {rate['then']:,.0f} pages/s per core; now: {rate['now']:,.0f} "
            f"({seconds['then'] / seconds['now']:.1f}x)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--datatrove-python")
    parser.add_argument("--before", help="A commit whose rules are timed beside today's.")
    parser.add_argument("--pages", choices=sorted(PAGES), default="web-bulk")
    args = parser.parse_args()
    texts = PAGES[args.pages]()
    theirs = {}
    if args.datatrove_python:
        result = subprocess.run([args.datatrove_python, "-c", DATATROVE_SCRIPT], input=json.dumps(texts),
                                capture_output=True, text=True, check=True)
        theirs = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"\n{len(texts)} {args.pages} pages, {sum(map(len, texts)) / 1e6:.1f} MB; one process\n")
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
    if args.before:
        print(before_and_now(texts, args.before))


if __name__ == "__main__":
    main()
