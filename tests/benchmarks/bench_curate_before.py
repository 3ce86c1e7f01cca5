"""Benchmark: `tokenmill curate` with the default chain at an earlier commit and now, alternating.

    python tests/benchmarks/bench_curate_before.py --before 151da4e [--inputs one,sample,all] [--runs 4]
        [--workers 1]

The inputs are bench_curate.py's WARC files (one page; every fourth page with the WARC files of
../shared/corpus/web; all of them). Each run is a fresh process timed from after its imports, in CPU
seconds of the process and its workers, and wall seconds. The commit's code is the repository's tree
at that commit (`git archive`), imported as `tokenmill` ahead of the installed package; the two
alternate run by run, so that the machine's drift falls on both.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_curate import CHAIN, REPO, make_input

RUN = """
import json, resource, time
from tokenmill.jobs.curate import curate
from tokenmill.pipeline.config import Config, SourceConfig

def cpu():
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))

began, wall = cpu(), time.perf_counter()
curate(Config(sources={"web": SourceConfig("warc", [%r])}), %r, %r, workers=%d)
print(json.dumps([cpu() - began, time.perf_counter() - wall]))
"""


def checkout(commit: str, folder: Path) -> Path:
    """A folder from which `import tokenmill` gives the repository as it was at `commit`."""
    tree = folder / "tokenmill"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return folder


def timed_run(python_path: str, pattern: str, out: str, workers: int) -> tuple[float, float]:
    done = subprocess.run([sys.executable, "-c", RUN % (pattern, out, CHAIN, workers)], capture_output=True,
                          text=True, check=True, env={**os.environ, "PYTHONPATH": python_path})
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


def span(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", required=True, help="The commit to compare with.")
    parser.add_argument("--inputs", default="one,sample,all")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make_input(Path(tmp), 1)
        then = str(checkout(args.before, Path(tmp) / "before"))
        print(f"| input | runs | CPU-s at {args.before} | CPU-s now | wall s at {args.before} | wall s now |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for kind in args.inputs.split(","):
            times: dict[str, list[tuple[float, float]]] = {"then": [], "now": []}
            for run in range(args.runs):
                for name, path in (("then", then), ("now", "")):
                    times[name].append(timed_run(path, f"{tmp}/{kind}/*.warc.gz", f"{tmp}/out-{kind}-{name}-{run}",
                                                 args.workers))
            print(f"| {kind} | {args.runs} | " + " | ".join(span([t[i] for t in times[name]])
                                                           for i in (0, 1) for name in ("then", "now")) + " |")


if __name__ == "__main__":
    main()
