"""Benchmark: does curation stay flat in memory as the corpus grows, and what crosses the shuffles?

    python tests/benchmarks/bench_curate_scale.py [--base 250] [--scales 1,4,16,64] [--workers 1,2]
                                                  [--chains default,exact-dedup,near-dedup]

The corpus: the first `--base` OpenWebText documents of ../shared/corpus/web-bulk, then copies of
them up to `scale` times the base. In every later copy a document is, by a seeded draw, an edited
near-duplicate of its original (20%: sentences deleted, inserted, reordered, typos; the edits of
bench_minhash), an exact copy (5%), or a new page made of sentences drawn from the whole test set
(the rest), so the dedup stages always have work and the kept share stays realistic. Built under
/tmp, one gzipped JSONL file per copy (files are what workers share).

Each run is `tokenmill.jobs.curate.curate` in a fresh process. Measured: wall time, docs/s, the
peak resident memory of the whole process tree (every process under the run, sampled from /proc
every 50 ms, summed), and the bytes that went through the runner's shuffles per input document
(everything the local runner's grouping buffers received: keys, values and combiner accumulators,
encoded as they travel).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = Path(os.environ.get("TOKENMILL_CORPUS", REPO.parent / "shared" / "corpus"))
sys.path.insert(0, str(HERE))

from bench_minhash import edit  # noqa: E402
from benchtable import machine  # noqa: E402

OPENWEBTEXT = "web-bulk/openwebtext_megatron-ds-testset_part-shared.jsonl.gz"
NEAR_SHARE, EXACT_SHARE = 0.20, 0.05


def openwebtext() -> list[str]:
    with gzip.open(CORPUS / OPENWEBTEXT, "rt", encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines if line.strip()]


def make_corpus(folder: Path, base: int, scale: int) -> int:
    """`scale` gzipped JSONL files of `base` documents each; returns the document count."""
    texts = openwebtext()
    originals = texts[:base]
    pool = [s for t in texts for s in t.replace("\n", " ").split(". ") if len(s.split()) >= 4]
    for copy in range(scale):
        with gzip.open(folder / f"web-{copy:03d}.jsonl.gz", "wt", encoding="utf-8") as out:
            for i, text in enumerate(originals):
                rng = random.Random(copy * 1_000_003 + i)
                draw = rng.random()
                if copy and draw < NEAR_SHARE:
                    text = edit(text, rng, 0.05)
                elif copy and draw >= NEAR_SHARE + EXACT_SHARE:
                    text = ". ".join(rng.choice(pool) for _ in range(max(3, text.count(". ")))) + "."
                out.write(json.dumps({"id": f"{copy:03d}-{i:05d}", "text": text}) + "\n")
    return base * scale


RUN = """
import json, sys, time
from apache_beam.runners.portability.fn_api_runner import execution
shuffled = [0]
append = execution.GroupingBuffer.append
def counting_append(self, data):
    shuffled[0] += len(data)
    return append(self, data)
execution.GroupingBuffer.append = counting_append
from tokenmill.jobs.curate import curate
from tokenmill.pipeline.config import Config, SourceConfig
folder, stages, workers = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
start = time.perf_counter()
ledger = curate(Config(sources={"web": SourceConfig("jsonl", [folder + "/web-*.jsonl.gz"])}), folder + "/out",
                stages, workers=workers)
print(json.dumps({"seconds": time.perf_counter() - start, "shuffled": shuffled[0], "ledger": ledger}))
"""


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def run(folder: Path, stages, workers: int, pythonpath: str = "") -> dict:
    """One curate run in a fresh process (`pythonpath`: a folder holding another `tokenmill` to time)."""
    process = subprocess.Popen([sys.executable, "-c", RUN, str(folder), json.dumps(stages), str(workers)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONPATH": pythonpath})
    peak = [0]

    def sample():
        while process.poll() is None:
            peak[0] = max(peak[0], tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    sampler.join()
    if process.returncode:
        raise RuntimeError(f"curate failed with {process.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak"] = peak[0]
    return result


CHAINS = {"default": None, "exact-dedup": ["exact-dedup"], "near-dedup": ["near-dedup"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=int, default=250)
    parser.add_argument("--scales", default="1,4,16,64")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--chains", default="default,near-dedup")
    parser.add_argument("--pythonpath", default="", help="A folder holding the tokenmill package to measure "
                        "(e.g. an export of an earlier commit); default: the installed one.")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    print(f"curate at scale: {args.base} OpenWebText documents x copies "
          f"({NEAR_SHARE:.0%} edited near-duplicates, {EXACT_SHARE:.0%} exact); {machine()}\n")
    print("| chain | copies | docs | workers | wall s | docs/s | peak MB (tree) | shuffled B/doc | kept |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scale in scales:
        with tempfile.TemporaryDirectory(prefix="tokenmill-scale-") as tmp:
            docs = make_corpus(Path(tmp), args.base, scale)
            for chain in args.chains.split(","):
                for workers in (int(w) for w in args.workers.split(",")):
                    r = run(Path(tmp), CHAINS[chain], workers, args.pythonpath)
                    kept = sum(r["ledger"]["kept"].values())
                    print(f"| {chain} | {scale}x | {docs:,} | {workers} | {r['seconds']:.1f} | "
                          f"{docs / r['seconds']:,.0f} | {r['peak'] / 2**20:,.0f} | {r['shuffled'] / docs:,.0f} | "
                          f"{kept:,} |", flush=True)


if __name__ == "__main__":
    main()
