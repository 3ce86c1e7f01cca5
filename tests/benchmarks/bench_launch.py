"""Benchmark: what launching a curate costs the submitting machine, for 10 files and for a crawl's 100,000.

    python tests/benchmarks/bench_launch.py [--files 10,100000]

For each count, empty files named like Common Crawl's WARC files (one monthly crawl is about 90,000)
are made under /tmp in 100 segment folders, and a fresh process launches a curate of them with the
bundled sample's stage settings, up to the moment the runner would take over: listing and planning
(`plan_curation`), building the graph (`build_curation`), serialising it as a runner receives it
(`pipeline.to_runner_api().SerializeToString()`, what Dataflow refuses past 20 MB) and writing the
manifest the workers read (`prepare_run`). Printed: wall and CPU seconds per step, the graph's and
the manifest's bytes, and the process's peak resident memory. No file is read; the pipeline never runs.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from benchtable import machine  # noqa: E402

WARC = ("crawl-data/CC-MAIN-2024-10/segments/1707947473347.{segment}/warc/"
        "CC-MAIN-20240220211055-20240221001055-{file:05d}.warc.gz")


def make_files(root: Path, count: int) -> str:
    """`count` empty WARC-named files under `root`; returns the glob that matches them."""
    for index in range(count):
        path = root / WARC.format(segment=index % 100, file=index)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return str(root / "crawl-data" / "CC-MAIN-2024-10" / "segments" / "*" / "warc" / "*.warc.gz")


def launch(pattern: str, output: str) -> dict:
    """The launching steps, timed in this process (run as `--one`)."""
    import apache_beam as beam

    from tokenmill.jobs.sample.build import sample_config_path
    from tokenmill.pipeline.config import SourceConfig, load_config
    from tokenmill.pipeline.curate import build_curation, manifest_path, plan_curation, prepare_run
    from tokenmill.pipeline.runner import make_runner

    config = load_config(sample_config_path())
    config.sources = {"web": SourceConfig("warc", [pattern])}
    steps, sizes = {}, {}

    def timed(name, step):
        wall, cpu = time.perf_counter(), time.process_time()
        result = step()
        steps[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        return result

    plan = timed("list and plan", lambda: plan_curation(config, output))
    pipeline = beam.Pipeline(runner=make_runner("FnApiRunner"))
    timed("build the graph", lambda: build_curation(pipeline, config, plan))
    sizes["graph"] = len(timed("serialise the graph", lambda: pipeline.to_runner_api().SerializeToString()))
    timed("write the manifest", lambda: prepare_run(plan))
    sizes["manifest"] = Path(manifest_path(plan.output)).stat().st_size
    return {"files": len(plan.inputs), "steps": steps, "bytes": sizes,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", default="10,100000", help="file counts, comma-separated")
    parser.add_argument("--one", nargs=2, metavar=("PATTERN", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(launch(*args.one)))
        return
    results = []
    for count in (int(n) for n in args.files.split(",")):
        with tempfile.TemporaryDirectory(prefix="tokenmill-launch-") as folder:
            pattern = make_files(Path(folder) / "in", count)
            run = subprocess.run([sys.executable, __file__, "--one", pattern, f"{folder}/out"], capture_output=True,
                                 text=True, check=True, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
            results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    print(f"Launching a curate ({machine()}; wall s / CPU s per step)\n")
    names = list(results[0]["steps"])
    print("| files | " + " | ".join(names) + " | graph bytes | manifest bytes | peak MB |")
    print("| ---: |" + " ---: |" * (len(names) + 3))
    for r in results:
        cells = [f"{r['steps'][n][0]:.2f} / {r['steps'][n][1]:.2f}" for n in names]
        print(f"| {r['files']:,} | " + " | ".join(cells)
              + f" | {r['bytes']['graph']:,} | {r['bytes']['manifest']:,} | {r['peak_mb']:,.0f} |")


if __name__ == "__main__":
    main()
