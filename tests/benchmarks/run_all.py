"""Every stage benchmark in one table: docs/s and MB/s per stage and end to end, peak memory, time
against the plain-library baseline, and the speed-up from 1 to 2 workers.

    PYTHONPATH=$PWD python tests/benchmarks/run_all.py [--only curate,tokenize]

Each `bench_<name>.py` beside this file that exposes `bench_rows() -> list[benchtable.Row]` is run
at its default scale, in name order; one that does not is listed at the end. The table is Markdown
(docs/benchmarks.md carries the latest one).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))

from benchtable import machine, render  # noqa: E402


def bench_modules() -> list[str]:
    return sorted(path.stem for path in HERE.glob("bench_*.py"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="Comma-separated benchmark names (bench_<name>.py), default all.")
    args = parser.parse_args()
    wanted = {f"bench_{n.strip()}" for n in args.only.split(",")} if args.only else None
    rows, without, took = [], [], {}
    for name in bench_modules():
        if wanted is not None and name not in wanted:
            continue
        module = importlib.import_module(name)
        if not hasattr(module, "bench_rows"):
            without.append(name)
            continue
        started = time.perf_counter()
        rows += module.bench_rows()
        took[name] = time.perf_counter() - started
    timing = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in took.items())
    print(render(rows, f"{machine()}; measured in {timing}"))
    if without:
        print(f"\nNot in the table (no bench_rows()): {', '.join(without)}")


if __name__ == "__main__":
    main()
