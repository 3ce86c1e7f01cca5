"""The default chain's CPU instructions per page at steady state, in the pipeline and in a plain
loop of the same filters: what Beam and the pipeline's own work add, measured where a shared
machine's load does not move the figure (valgrind's cachegrind, `cachegrind.py`).

    python tests/benchmarks/bench_curate_instructions.py

Input: bench_curate.py's WARC files (695 real pages, and the quarter of them in `sample`). Each of
four fresh processes runs under cachegrind: `tokenmill curate` (FnApiRunner, 1 worker) on all pages and
on the quarter, and the plain loop (every stage once, without Beam) on each. The difference between
all pages and the quarter, over the pages between them, is the steady cost a page, imports and
first-use builds cancelling; the rest of a full run is its fixed cost. Under valgrind a run takes
about 50 times its CPU time (the four runs: about 4 minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_curate import CHAIN, make_input, pipeline_run, plain_loop, warc_documents  # noqa: E402
from cachegrind import instructions  # noqa: E402

KINDS = ("all", "sample")


def child(way: str, pattern: str, out: str) -> None:
    if way == "pipeline":
        pipeline_run(pattern, out, CHAIN, 1)
    else:
        plain_loop(pattern, first_pass=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, metavar=("WAY", "PATTERN", "OUT"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        make_input(Path(tmp), copies=1)
        pages = {kind: len(warc_documents(f"{tmp}/{kind}/*.warc.gz")) for kind in KINDS}
        runs = [(way, kind) for way in ("pipeline", "plain loop") for kind in KINDS]
        with ThreadPoolExecutor(2) as pool:
            counts = dict(zip(runs, pool.map(lambda run: instructions(
                [sys.executable, __file__, "--child", run[0], f"{tmp}/{run[1]}/*.warc.gz", f"{tmp}/out-{run[0]}-{run[1]}"]),
                runs)))
    between = pages["all"] - pages["sample"]
    print(f"\n{pages['all']} pages (the quarter: {pages['sample']}); the default chain; instructions\n")
    print(f"{'':12} {'a page, steady':>15} {'fixed':>16}")
    steady = {}
    for way in ("pipeline", "plain loop"):
        steady[way] = (counts[(way, "all")] - counts[(way, "sample")]) / between
        fixed = counts[(way, "all")] - steady[way] * pages["all"]
        print(f"{way:12} {steady[way] / 1e6:13.2f} M {fixed / 1e9:14.2f} G")
    print(f"\npipeline / plain loop, a page at steady state: {steady['pipeline'] / steady['plain loop']:.3f}")


if __name__ == "__main__":
    main()
