"""Reader throughput: documents/s and MB/s (of input files) for every format, on real files.

    python tests/benchmarks/bench_readers.py

Each reader runs alone, in this process, over the files of its kind in ../shared/corpus (the
Python standard library for code; the project's own LaTeX fixtures; a Parquet written from web-bulk).
"""
from __future__ import annotations

import gzip
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpus"

from tokenmill.transforms.formats import READERS, ReadOptions  # noqa: E402


def inputs(tmp: Path) -> dict[str, list[Path]]:
    bulk = sorted((CORPUS / "web-bulk").glob("*.jsonl.gz"))
    rows = [json.loads(line) for path in bulk for line in gzip.open(path, "rt") if line.strip()]
    parquet = tmp / "bulk.parquet"
    pq.write_table(pa.table({"text": [r["text"] for r in rows]}), parquet, row_group_size=512)
    stdlib = Path(json.__file__).parent.parent
    return {
        "warc": sorted((CORPUS / "web").glob("*.warc.gz")),
        "wet": sorted((CORPUS / "web").glob("*.wet.gz")),
        "jsonl": bulk,
        "text": sorted((CORPUS / "books").glob("*.txt")),
        "book": sorted((CORPUS / "books").glob("*.txt")),
        "mediawiki": [CORPUS / "wiki" / "enwiki-pages-articles-shortened.xml.bz2"],
        "code": sorted(stdlib.glob("*.py"))[:300],
        "latex": [REPO / "tests" / "fixtures" / "latex" / "paper" / "main.tex",
                  REPO / "tests" / "fixtures" / "latex" / "standalone.tex"],
        "parquet": [parquet],
    }


def count_documents(fmt: str, files: list[Path]) -> int:
    return sum(1 for f in files for r in READERS[fmt](str(f), fmt, ReadOptions()) if hasattr(r, "text"))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        print(f"\n{'format':10} {'files':>6} {'input MB':>9} {'documents':>10} {'docs/s':>9} {'MB/s':>7} {'traced peak MB':>15}")
        for fmt, files in inputs(Path(tmp)).items():
            size = sum(f.stat().st_size for f in files) / 1e6
            start = time.perf_counter()
            docs = count_documents(fmt, files)
            seconds = time.perf_counter() - start
            tracemalloc.start()  # a second pass for memory: tracing slows the first one down many times
            count_documents(fmt, files)
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
            print(f"{fmt:10} {len(files):6d} {size:9.1f} {docs:10d} {docs / seconds:9,.0f} {size / seconds:7.1f} "
                  f"{peak:15.0f}")


if __name__ == "__main__":
    main()
