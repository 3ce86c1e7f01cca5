"""Benchmark: the curate pipeline per stage and end to end, against a plain Python loop over the
same libraries (gzip + json, fastText lid.176, the sanity rules, a dict of content hashes, pyarrow).

    python tests/benchmarks/bench_curate.py [--copies 4]

The input is every web-bulk JSONL document in ../shared/corpus, repeated `--copies` times (each copy
made distinct, so dedup keeps them). Each measurement runs in its own process, so peak memory is
that measurement's own. Per-stage pipeline figures are differences between runs with one stage
more; the Beam overhead is the ratio of the pipeline's end-to-end time to the plain loop's.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
STAGE_RUNS = [("read", []), ("langid", ["langid"]), ("quality", ["langid", "quality"]),
              ("exact-dedup", ["langid", "quality", "exact-dedup"])]


def make_input(folder: Path, copies: int) -> tuple[Path, int, int]:
    docs = []
    for path in sorted((CORPUS / "web-bulk").glob("*.jsonl*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            docs += [json.loads(line) for line in lines if line.strip()]
    target = folder / "bulk.jsonl.gz"
    size = 0
    with gzip.open(target, "wt", encoding="utf-8") as out:
        for copy in range(copies):
            for i, doc in enumerate(docs):
                text = doc["text"] if copy == 0 else f"{doc['text']}\n(copy {copy})"
                size += len(text.encode("utf-8"))
                out.write(json.dumps({"id": f"{copy}-{i}", "text": text}) + "\n")
    return target, len(docs) * copies, size


def plain_loop(path: str, out: str) -> dict:
    """The same work without Beam: one process, one pass, stage by stage."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from filters.langid import bundled_model_path, load_fasttext_model, predict_languages
    from filters.normalize import content_hash
    from filters.sanity import SanityFilter
    from filters.document import Document

    times = {}
    t = time.perf_counter()
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        docs = [json.loads(line) for line in lines]
    times["read"] = time.perf_counter() - t
    t = time.perf_counter()
    model = load_fasttext_model(str(bundled_model_path()))
    langs = predict_languages(model, [d["text"] for d in docs])
    docs = [dict(d, lang=l, lang_score=s) for d, (l, s) in zip(docs, langs) if l == "en" and s >= 0.65]
    times["langid"] = time.perf_counter() - t
    t = time.perf_counter()
    sanity = SanityFilter()
    docs = [d for d in docs if sanity(Document(d["id"], "bulk", d["text"], lang=d["lang"])) is None]
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
    from jobs.curate import curate
    from pipeline.config import Config, SourceConfig

    t = time.perf_counter()  # after the imports: Beam's own import (about 1.5 s) is not the pipeline's work
    curate(Config(sources={"bulk": SourceConfig("jsonl", [path])}), out, stages, workers=workers)
    return time.perf_counter() - t


def measure_in_subprocess(kind: str, *args) -> tuple[object, float]:
    code = (f"import json, sys; sys.path.insert(0, {str(REPO)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r});"
            f"import bench_curate as b; print(json.dumps(b.{kind}(*{args!r})))")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    peak_mb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return json.loads(result.stdout.strip().splitlines()[-1]), peak_mb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path, n_docs, n_bytes = make_input(Path(tmp), args.copies)
        mb = n_bytes / 1e6
        plain, plain_peak = measure_in_subprocess("plain_loop", str(path), tmp)
        rows = []
        previous = 0.0
        for name, stages in STAGE_RUNS:
            seconds, peak = measure_in_subprocess("pipeline_run", str(path), f"{tmp}/o-{name}", stages, 1)
            stage_s = seconds - previous if name != "read" else seconds
            plain_s = plain[name] + (plain["write"] if name == "read" else 0)
            rows.append((f"{name}" + (" + write" if name == "read" else ""), stage_s, plain_s, peak))
            previous = seconds
        total_1 = previous
        total_2, peak_2 = measure_in_subprocess("pipeline_run", str(path), f"{tmp}/o-2w", STAGE_RUNS[-1][1], 2)
        plain_total = sum(plain.values())
        print(f"\n{n_docs} documents, {mb:.1f} MB of text (web-bulk JSONL x{args.copies}); 2 cores\n")
        print(f"{'stage':22} {'pipeline docs/s':>16} {'MB/s':>8} {'plain docs/s':>13} {'plain MB/s':>11} "
              f"{'pipeline/plain time':>20} {'peak MB':>8}")
        for name, s, p, peak in rows:
            print(f"{name:22} {n_docs / max(s, 1e-9):16,.0f} {mb / max(s, 1e-9):8.1f} {n_docs / p:13,.0f} "
                  f"{mb / p:11.1f} {s / p:20.2f} {peak:8.0f}")
        print(f"{'end to end, 1 worker':22} {n_docs / total_1:16,.0f} {mb / total_1:8.1f} {n_docs / plain_total:13,.0f} "
              f"{mb / plain_total:11.1f} {total_1 / plain_total:20.2f} {plain_peak:8.0f}")
        print(f"{'end to end, 2 workers':22} {n_docs / total_2:16,.0f} {mb / total_2:8.1f} {'':13} {'':11} "
              f"{total_2 / plain_total:20.2f} {peak_2:8.0f}")
        print(f"\nspeed-up from 1 to 2 workers: {total_1 / total_2:.2f}x "
              f"(pipeline start-up included; peak MB of the plain loop: {plain_peak:.0f})")


if __name__ == "__main__":
    main()
