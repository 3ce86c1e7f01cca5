"""Benchmark: how much of the curated corpus the tokenizer's sample reads, against reading every shard's
id and text (what drawing it cost before).

    python tests/benchmarks/bench_sample.py [--copies 16] [--samples 100000,1000000,10000000]

The corpus is the real books, WikiText, OpenWebText and multilingual text of ../shared/corpus
(bench_tokenize's `texts`, `--copies` distinct copies), written as `tokenmill curate` writes curated
shards (transforms/write.py's ShardWriter: zstd, row groups of 1,024 documents, 20,000 documents a
file). For each sample size `train_tokenizer` runs in this process (FnApiRunner, one worker, a
4,096-token vocabulary) with every FileSystems.open counted: the bytes read from curated shards
(footers, the id column, the text of the row groups holding a chosen document) against the shards'
total size. The baseline reads each shard's id and text columns, in the same process.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from bench_tokenize import texts  # noqa: E402
from benchtable import machine  # noqa: E402


class CountedReads:
    """A file opened through FileSystems, counting the bytes read from it."""

    def __init__(self, handle, counts: dict, path: str):
        self.handle, self.counts, self.path = handle, counts, path

    def read(self, size=-1):
        data = self.handle.read(size)
        self.counts[self.path] = self.counts.get(self.path, 0) + len(data)
        return data

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def write_curated(folder: Path, copies: int) -> int:
    """The corpus as curated shards; returns the documents' text bytes."""
    from tokenmill.filters.document import Document
    from tokenmill.transforms.write import ShardWriter, document_row, document_schema

    schema, size = document_schema({}), 0
    for source, docs in texts(copies).items():
        with ShardWriter(str(folder / source / "part-00000"), schema, rows_per_file=20_000) as writer:
            for index, text in enumerate(docs):
                doc_id = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{source}/{index}')}"
                writer.write(document_row(Document(doc_id, source, text, "", "en", 1.0, {}), schema))
                size += len(text.encode())
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--samples", default="100000,1000000,10000000", help="sample_bytes values, comma-separated")
    args = parser.parse_args()

    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    from tokenmill.jobs.tokenizer import train_tokenizer

    counts: dict[str, int] = {}
    open_file = FileSystems.open
    FileSystems.open = lambda path, *a, **k: CountedReads(open_file(path, *a, **k), counts, path)
    with tempfile.TemporaryDirectory(prefix="tokenmill-sample-") as folder:
        curated = Path(folder) / "curated"
        text_bytes = write_curated(curated, args.copies)
        shards = sorted(str(p) for p in curated.glob("*/*.parquet"))
        corpus = sum(Path(p).stat().st_size for p in shards)

        def curated_read() -> int:
            return sum(n for path, n in counts.items() if path in shards)

        counts.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        for path in shards:
            with FileSystems.open(path) as handle:
                for _ in pq.ParquetFile(handle).iter_batches(columns=["id", "text"]):
                    pass
        rows = [("id and text of every shard", "", curated_read(), time.perf_counter() - wall,
                 time.process_time() - cpu)]
        for sample in (int(n) for n in args.samples.split(",")):
            counts.clear()
            wall, cpu = time.perf_counter(), time.process_time()
            summary = train_tokenizer(str(curated), f"{folder}/tok-{sample}/tokenizer.json", vocab_size=4096,
                                      sample_bytes=sample)
            drawn = sum(summary["sample_bytes"].values()) / 1e6
            rows.append((f"tokenizer sample of {sample / 1e6:g} MB", f"{drawn:.2f}", curated_read(),
                         time.perf_counter() - wall, time.process_time() - cpu))
    print(f"The tokenizer's sample: bytes read from {len(shards)} curated shards of {corpus / 1e6:.1f} MB "
          f"({text_bytes / 1e6:.1f} MB of text; {machine()})\n")
    print("| reading | MB drawn | MB read | share of the shards | wall s | CPU s (this process) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, drawn, read, seconds, cpu_seconds in rows:
        print(f"| {name} | {drawn} | {read / 1e6:.2f} | {100 * read / corpus:.1f}% | {seconds:.1f} "
              f"| {cpu_seconds:.1f} |")


if __name__ == "__main__":
    main()
