"""Benchmark: curate one big file on the local runner and on Flink and Spark embedded in their job
servers: peak memory of the whole process tree (the JVM included), docs/s, and the ratio.

    python tests/benchmarks/bench_engines_memory.py [--base 375] [--scales 1,4,16,64]
                                                    [--engines fnapi,flink,spark] [--stages exact-dedup,near-dedup|all]
                                                    [--job-server-heap 1g]

One gzipped JSONL file of `base` x `scale` documents (375 x 64 = 24,000): the OpenWebText pages of
bench_curate_scale.py, copied with edited near-duplicates (20%), exact copies (5%) and new pages.
Each run is `tokenmill curate` in a fresh process, by default with exact and near dedup only (the stages
whose shuffles grow with the corpus; `--stages all` runs the default chain, whose per-document stages
cost twenty times more CPU and leave the shuffles as they are):
`fnapi` on Beam's FnApiRunner; `flink` with `--runner FlinkRunner --flink_master [local] --parallelism 2`
and `spark` with `--runner SparkRunner --spark_master_url local[2]`, both through the job server that
deploy/job-server.sh fetches, with LOOPBACK SDK workers; `--job-server-heap` caps that JVM's heap
(`--job_server_jvm_property=-Xmx...`: left alone, Java takes up to a quarter of the machine's memory and
the heap grows with the input, though Flink and Spark spill what does not fit). Measured: wall time, docs/s (wall and per
CPU-second of the whole tree), peak resident memory of every process under the run (sampled from /proc
every 50 ms, summed) and each engine's peak over the local runner's.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from bench_curate_scale import make_corpus  # noqa: E402
from process_tree import run_measured  # noqa: E402
from benchtable import machine  # noqa: E402


def one_file(folder: Path, base: int, scale: int) -> tuple[Path, int]:
    """bench_curate_scale's corpus of `scale` copies, as one gzipped file (its members one after another)."""
    parts = folder / "parts"
    parts.mkdir()
    docs = make_corpus(parts, base, scale)
    path = folder / "web.jsonl.gz"
    with path.open("wb") as out:
        for part in sorted(parts.glob("web-*.jsonl.gz")):
            out.write(part.read_bytes())
    shutil.rmtree(parts)
    return path, docs


def engine_args(engine: str, heap: str) -> list[str]:
    if engine == "fnapi":
        return []
    jar = subprocess.run([str(REPO / "deploy" / "job-server.sh"), engine], check=True, capture_output=True,
                         text=True).stdout.strip()
    jvm = [f"--job_server_jvm_property=-Xmx{heap}"] if heap else []
    if engine == "flink":
        return ["--runner", "FlinkRunner", "--flink_master", "[local]", "--parallelism", "2",
                "--flink_job_server_jar", jar, "--environment_type", "LOOPBACK", *jvm]
    return ["--runner", "SparkRunner", "--spark_master_url", "local[2]", "--spark_job_server_jar", jar,
            "--environment_type", "LOOPBACK", *jvm]


def run(path: Path, output: Path, stages: str, args: list[str]) -> dict:
    """`tokenmill curate` in a fresh process: wall and CPU seconds of its whole tree, and its peak memory."""
    command = [sys.executable, "-m", "tokenmill", "curate", "--source", f"web=jsonl:{path}", "--output", str(output),
               *([] if stages == "all" else ["--stages", stages]), *args]
    run = run_measured(command, {"PYTHONPATH": str(REPO), "SPARK_LOCAL_IP": "127.0.0.1"})
    if run.returncode:
        raise RuntimeError(f"curate failed with {run.returncode}: {run.stdout[-2000:]}")
    ledger = json.loads((output / "ledger.json").read_text())
    return {"seconds": run.seconds, "cpu": run.cpu, "peak": run.peak, "kept": sum(ledger["kept"].values())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=int, default=375)
    parser.add_argument("--scales", default="1,4,16,64")
    parser.add_argument("--engines", default="fnapi,flink")
    parser.add_argument("--stages", default="exact-dedup,near-dedup", help="curate's --stages, or all (the default chain)")
    parser.add_argument("--job-server-heap", default="", help="the job server JVM's -Xmx (e.g. 1g); default: Java's")
    args = parser.parse_args()
    engines = args.engines.split(",")
    runner_args = {engine: engine_args(engine, args.job_server_heap) for engine in engines}
    heap = f", job server heap {args.job_server_heap}" if args.job_server_heap else ""
    print(f"curate one file: {args.base} OpenWebText documents x copies, stages {args.stages}{heap}; {machine()}\n")
    print("| engine | copies | docs | wall s | docs/s | docs per CPU-s | peak MB (tree) | peak / FnApiRunner's | kept |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scale in (int(s) for s in args.scales.split(",")):
        with tempfile.TemporaryDirectory(prefix="tokenmill-engines-") as tmp:
            path, docs = one_file(Path(tmp), args.base, scale)
            local_peak = None
            for engine in engines:
                r = run(path, Path(tmp) / f"out-{engine}", args.stages, runner_args[engine])
                local_peak = r["peak"] if engine == "fnapi" else local_peak
                ratio = f"{r['peak'] / local_peak:.2f}" if local_peak else ""
                print(f"| {engine} | {scale}x | {docs:,} | {r['seconds']:.0f} | {docs / r['seconds']:,.0f} | "
                      f"{docs / r['cpu']:,.0f} | {r['peak'] / 2**20:,.0f} | {ratio} | {r['kept']:,} |", flush=True)


if __name__ == "__main__":
    main()
