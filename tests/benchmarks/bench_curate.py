"""Benchmark: the curate pipeline per stage and end to end, against a plain Python loop over the
same libraries (gzip + json, fastText lid.176, the quality rule sets, a dict of content hashes, pyarrow).

    python tests/benchmarks/bench_curate.py [--copies 8]      (or all benchmarks: run_all.py)

The input is every web-bulk JSONL document in ../shared/corpus, repeated `--copies` times (each copy
made distinct, so dedup keeps them). Each measurement runs in its own process, so peak memory is
that measurement's own. Per-stage pipeline figures are differences between runs with one stage
more; the Beam overhead is the ratio of the pipeline's end-to-end time to the plain loop's.
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchtable import Row, machine, render

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
STAGE_RUNS = [("read", []), ("langid", ["langid"]), ("quality", ["langid", "quality"]),
              ("exact-dedup", ["langid", "quality", "exact-dedup"])]


def make_input(folder: Path, copies: int) -> tuple[str, int, int]:
    """One gzipped JSONL file per copy (files are the unit that workers share); returns their glob."""
    docs = []
    for path in sorted((CORPUS / "web-bulk").glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            docs += [json.loads(line) for line in lines if line.strip()]
    size = 0
    for copy in range(copies):
        with gzip.open(folder / f"bulk-{copy:03d}.jsonl.gz", "wt", encoding="utf-8") as out:
            for i, doc in enumerate(docs):
                text = doc["text"] if copy == 0 else f"{doc['text']}\n(copy {copy})"
                size += len(text.encode("utf-8"))
                out.write(json.dumps({"id": f"{copy}-{i}", "text": text}) + "\n")
    return str(folder / "bulk-*.jsonl.gz"), len(docs) * copies, size


def plain_loop(path: str, out: str) -> dict:
    """The same work without Beam: one process, one pass, stage by stage."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tokenmill.filters.langid import bundled_model_path, load_fasttext_model, predict_languages
    from tokenmill.filters.normalize import content_hash
    from tokenmill.pipeline.config import SourceConfig
    from tokenmill.pipeline.stages import QualitySettings, STAGES
    from tokenmill.filters.document import Document

    times = {}
    t = time.perf_counter()
    docs = []
    for file in sorted(glob.glob(path)):
        with gzip.open(file, "rt", encoding="utf-8") as lines:
            docs += [json.loads(line) for line in lines]
    times["read"] = time.perf_counter() - t
    t = time.perf_counter()
    model = load_fasttext_model(str(bundled_model_path()))
    langs = predict_languages(model, [d["text"] for d in docs])
    docs = [dict(d, lang=l, lang_score=s) for d, (l, s) in zip(docs, langs) if l == "en" and s >= 0.65]
    times["langid"] = time.perf_counter() - t
    t = time.perf_counter()
    quality = STAGES["quality"].build(QualitySettings(), SourceConfig("jsonl", [path]))  # the pipeline's chain
    docs = [d for d in docs if quality(Document(d["id"], "bulk", d["text"], lang=d["lang"])) is None]
    times["quality"] = time.perf_counter() - t
    t = time.perf_counter()
    seen = {}
    for d in sorted(docs, key=lambda d: d["id"]):
        seen.setdefault(content_hash(d["text"]), d)
    docs = list(seen.values())
    times["exact-dedup"] = time.perf_counter() - t
    t = time.perf_counter()
    pq.write_table(pa.Table.from_pylist(docs), f"{out}/plain.parquet", compression="zstd")
    times["write"] = time.perf_counter() - t
    return times


def pipeline_run(path: str, out: str, stages: list[str], workers: int) -> float:
    from tokenmill.jobs.curate import curate
    from tokenmill.pipeline.config import Config, SourceConfig

    t = time.perf_counter()  # after the imports: Beam's own import (about 1.5 s) is not the pipeline's work
    curate(Config(sources={"bulk": SourceConfig("jsonl", [path])}), out, stages, workers=workers)
    return time.perf_counter() - t


def measure_in_subprocess(kind: str, *args) -> tuple[object, float]:
    """`kind(*args)` in a fresh process: its result, and the peak resident MB of that process and its workers."""
    code = (f"import json, resource, sys; sys.path.insert(0, {str(REPO)!r}); "
            f"sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_curate as b; "
            f"result = b.{kind}(*{args!r}); "
            "peak = max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)); "
            "print(json.dumps([result, peak / 1024]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    value, peak_mb = json.loads(result.stdout.strip().splitlines()[-1])
    return value, peak_mb


def bench_rows(copies: int = 8) -> list[Row]:
    """Per stage (the difference between runs with one stage more) and end to end with 1 and 2 workers."""
    with tempfile.TemporaryDirectory() as tmp:
        path, n_docs, n_bytes = make_input(Path(tmp), copies)
        mb = n_bytes / 1e6
        plain, plain_peak = measure_in_subprocess("plain_loop", str(path), tmp)
        baseline = "plain loop"
        rows = [Row("curate", f"plain loop, {n_docs:,} docs", None, n_docs / sum(plain.values()),
                    mb / sum(plain.values()), plain_peak, 1.0, "itself")]
        previous = 0.0
        for name, stages in STAGE_RUNS:
            seconds, peak = measure_in_subprocess("pipeline_run", str(path), f"{tmp}/o-{name}", stages, 1)
            stage_s = seconds - previous if name != "read" else seconds
            plain_s = plain[name] + (plain["write"] if name == "read" else 0)
            label = name + (" + write" if name == "read" else "")
            if stage_s > 0:
                rows.append(Row("curate", label, 1, n_docs / stage_s, mb / stage_s, peak, stage_s / plain_s, baseline))
            else:  # one stage more ran faster: the stage's cost is below the machine's noise
                rows.append(Row("curate", f"{label} (below noise)", 1, None, None, peak, None, baseline))
            previous = seconds
        for workers in (1, 2):
            if workers == 1:
                total, peak = previous, rows[-1].peak_mb
            else:
                total, peak = measure_in_subprocess("pipeline_run", str(path), f"{tmp}/o-2w", STAGE_RUNS[-1][1], 2)
            rows.append(Row("curate", "end to end", workers, n_docs / total, mb / total, peak,
                            total / sum(plain.values()), baseline))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=8)
    args = parser.parse_args()
    print(render(bench_rows(args.copies), f"curate: web-bulk JSONL x{args.copies} files; {machine()}"))


if __name__ == "__main__":
    main()
