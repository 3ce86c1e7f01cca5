"""Benchmark: does the report's time and memory stay flat as the output grows?

    python tests/benchmarks/bench_report.py [--scales 1,8,64] [--pythonpath DIR]

The output is generated as `tokenmill run` lays one out: a ledger and a run card; curated/ and
rejected/ shards of two sources (web and books, 24 signal columns, 1,000-character texts); token
shards of 129 ids a row with their manifest. The base (1x) holds, per source, 16 curated shards of
2,000 rows, 16 rejected shards of 500 and 32 token shards of 512 rows; scale N holds N times as many
shards and counts (the copies are hard links to the base's files, so 64x costs no disk).

Each report is `tokenmill report OUT` in a fresh process: wall seconds, CPU seconds and the peak
resident memory of its process tree (sampled from /proc every 50 ms). `--pythonpath` points at a
folder holding another `tokenmill` package to measure instead (e.g. `git archive` of an earlier
commit unpacked as DIR/tokenmill), which gives the before-and-after rows.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchtable import machine  # noqa: E402
from process_tree import run_measured  # noqa: E402
from tokenmill.transforms.write import document_schema  # noqa: E402

SOURCES = ("web", "books")
CURATED_SHARDS, CURATED_ROWS, REJECTED_SHARDS, REJECTED_ROWS = 16, 2_000, 16, 500
TOKEN_SHARDS, TOKEN_ROWS, ROW_TOKENS = 32, 512, 129
SIGNALS = {f"signal_{i:02d}": "float" if i % 3 else "int" for i in range(24)}
REASONS = ["langid/low_confidence", "quality/gopher_word_count", "quality/c4_too_few_sentences",
           "exact-dedup/duplicate", "near-dedup/duplicate", "toxicity/bad_word_ratio"]
WORDS = [f"w{i}" for i in range(5_000)]


def shard(source: str, rows: int, rejected: bool, rng: random.Random) -> pa.Table:
    schema = document_schema(SIGNALS, rejected=rejected)
    columns = {
        "id": [f"{source}-{i}" for i in range(rows)], "source": [source] * rows,
        "text": [" ".join(rng.choices(WORDS, k=170)) for _ in range(rows)],
        "url": [f"https://example.org/{source}/{i}" for i in range(rows)],
        "lang": rng.choices(["en", "de", "fr"], weights=[8, 1, 1], k=rows),
        "lang_score": [rng.random() for _ in range(rows)], "meta": ['{"path": "a.warc.gz"}'] * rows,
    }
    for name, kind in SIGNALS.items():
        columns[name] = [rng.lognormvariate(3, 2) if kind == "float" else rng.randrange(10_000) for _ in range(rows)]
    if rejected:
        keys = rng.choices(REASONS, k=rows)
        columns["stage"], columns["reason"] = [k.split("/")[0] for k in keys], [k.split("/")[1] for k in keys]
        columns["duplicate_of"] = [f"{source}-{rng.randrange(50)}" if k.endswith("duplicate") else None for k in keys]
        columns["rewritten_text"] = [None] * rows
    return pa.table(columns, schema=schema)


def make_output(root: Path, base: Path, scale: int) -> None:
    """The base's files linked `scale` times over under `root`, with a ledger and manifest to match."""
    ledger = {"input": {}, "kept": {}, "removed": {}, "errors": {}, "notes": {}, "unread_files": {}, "balanced": True}
    for source in SOURCES:
        for kind, shards, rows in (("curated", CURATED_SHARDS, CURATED_ROWS), ("rejected", REJECTED_SHARDS,
                                                                                REJECTED_ROWS)):
            (root / kind / source).mkdir(parents=True)
            for i in range(shards * scale):
                os.link(base / f"{kind}-{source}.parquet", root / kind / source / f"part-{i:05d}-0000.parquet")
        kept, removed = CURATED_SHARDS * CURATED_ROWS * scale, REJECTED_SHARDS * REJECTED_ROWS * scale
        ledger["kept"][source], ledger["input"][source] = kept, kept + removed
        ledger["removed"][source] = {key: removed // len(REASONS) + (i < removed % len(REASONS))
                                     for i, key in enumerate(REASONS)}
        ledger["errors"][source] = ledger["notes"][source] = ledger["unread_files"][source] = {}
    (root / "ledger.json").write_text(json.dumps(ledger))
    (root / "tokens").mkdir()
    shards = []
    for i in range(TOKEN_SHARDS * scale):
        os.link(base / "tokens.parquet", root / "tokens" / f"shard-{i:05d}.parquet")
        shards.append({"number": i, "path": f"shard-{i:05d}.parquet", "rows": TOKEN_ROWS, "sha256": "0" * 64})
    rows = TOKEN_SHARDS * TOKEN_ROWS * scale
    (root / "tokens" / "manifest.json").write_text(json.dumps({
        "total_rows": rows, "total_tokens": rows * ROW_TOKENS, "row_tokens": ROW_TOKENS, "shards": shards,
        "tokenizer": {"sha256": "0" * 64, "vocab_size": 32768},
        "sources": {s: {"tokens_available": rows * ROW_TOKENS // 2, "tokens_used": rows * ROW_TOKENS // 2,
                        "epochs": 1.0} for s in SOURCES},
        "phases": [{"start_row": 0, "end_row": rows, "weights": {"web": 0.5, "books": 0.5}}]}))


def make_base(base: Path) -> None:
    rng = random.Random(1)
    for source in SOURCES:
        pq.write_table(shard(source, CURATED_ROWS, False, rng), base / f"curated-{source}.parquet",
                       compression="zstd", row_group_size=1024)
        pq.write_table(shard(source, REJECTED_ROWS, True, rng), base / f"rejected-{source}.parquet",
                       compression="zstd", row_group_size=1024)
    ids = np.random.default_rng(1).integers(0, 32768, size=TOKEN_ROWS * ROW_TOKENS, dtype=np.int32)
    offsets = np.arange(0, (TOKEN_ROWS + 1) * ROW_TOKENS, ROW_TOKENS, dtype=np.int32)
    pq.write_table(pa.table({"tokens": pa.ListArray.from_arrays(pa.array(offsets), pa.array(ids)),
                             "source": [SOURCES[i % 2] for i in range(TOKEN_ROWS)],
                             "phase": pa.array([0] * TOKEN_ROWS, type=pa.int32())}),
                   base / "tokens.parquet", compression="zstd", row_group_size=256)


def report(out: Path, pythonpath: str) -> dict:
    """`tokenmill report OUT` in a fresh process: wall and CPU seconds, peak tree RSS in bytes."""
    run = run_measured([sys.executable, "-m", "tokenmill", "report", str(out)], {"PYTHONPATH": pythonpath},
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if run.returncode:
        raise RuntimeError(f"the report failed: {run.stderr[-2000:]}")
    return {"wall": run.seconds, "cpu": run.cpu, "peak": run.peak}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="1,8,64")
    parser.add_argument("--pythonpath", default="", help="A folder holding the tokenmill package to measure; "
                        "default: this checkout.")
    args = parser.parse_args()
    print(f"tokenmill report on generated outputs ({', '.join(SOURCES)}; per source and 1x: "
          f"{CURATED_SHARDS} curated shards of {CURATED_ROWS:,} rows, {REJECTED_SHARDS} rejected of "
          f"{REJECTED_ROWS}, {TOKEN_SHARDS} token shards of {TOKEN_ROWS}); {machine()}\n")
    print("| scale | documents | shards | wall s | CPU s | peak MB (tree) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="tokenmill-report-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        make_base(base)
        for scale in (int(s) for s in args.scales.split(",")):
            out = Path(tmp) / f"x{scale}"
            make_output(out, base, scale)
            r = report(out, args.pythonpath)
            documents = sum(json.loads((out / "ledger.json").read_text())["input"].values())
            shards = len(SOURCES) * (CURATED_SHARDS + REJECTED_SHARDS) * scale + TOKEN_SHARDS * scale
            print(f"| {scale}x | {documents:,} | {shards:,} | {r['wall']:.1f} | {r['cpu']:.1f} | "
                  f"{r['peak'] / 2**20:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
