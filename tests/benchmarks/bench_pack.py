"""Benchmark: `tokenmill pack` at 1×, 4× and 16× a real corpus, with 1 and 2 workers, against a plain
read-encode-cut loop in one process on the same curated shards.

    python tests/benchmarks/bench_pack.py [--scales 1,4,16] [--vocab-size 32768]   (or all: run_all.py)

The text is the real books, WikiText, OpenWebText and multilingual sentences of ../shared/corpus
(tests/benchmarks/bench_tokenize.py's `texts`), repeated N times with each copy made distinct, and
written as curated shards (two per source per copy, so shards keep their size as the corpus grows).
`tokenmill pack` runs as the command a user types, in its own process; peak memory is the largest
sum of the resident memory of that process and all its descendants (Beam's workers included),
sampled every 50 ms. The plain loop reads each shard a batch at a time, encodes with tiktoken (two
threads, as pack does), appends the end-of-text id and writes whole rows of seq_len + 1 ids: no
Beam, no mixing, no shards. "time vs baseline" is pack's time over the plain loop's at that scale.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tokenize import texts  # noqa: E402
from benchtable import Row, machine, render  # noqa: E402

SEQ_LEN = 2047
MIXTURE = "web=0.4,books=0.3,wiki=0.2,multi=0.1"


def tree_rss_mb(root: int) -> float:
    """The resident memory of process `root` and all its descendants, in MB (from /proc)."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    stack += [int(child) for child in children.read().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def run_measured(args: list[str]) -> tuple[float, float, str]:
    """(seconds, peak MB of the process tree, stdout) of a command."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, tree_rss_mb(process.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    out = process.stdout.read()
    if process.returncode:
        raise RuntimeError(f"{args} failed with {process.returncode}")
    return seconds, peak, out


def plain_loop(curated: str, tokenizer: str, out: str) -> dict:
    """Read, encode and cut every curated shard in one process; returns the tokens written."""
    import numpy as np
    import pyarrow.parquet as pq

    from tokenmill.transforms.tokenize import Encoder

    encoder = Encoder(Path(tokenizer).read_text(), "tiktoken", 2)
    width, tokens = SEQ_LEN + 1, 0
    with open(out, "wb") as sink:
        for path in sorted(Path(curated).glob("*/*.parquet")):
            rest = np.zeros(0, dtype=np.int32)
            for batch in pq.ParquetFile(path).iter_batches(batch_size=1024, columns=["text"]):
                ids = encoder.encode_batch([t for t in batch.column("text").to_pylist() if t])
                stream = np.concatenate([rest, *(np.asarray(d + [0], dtype=np.int32) for d in ids)])
                whole = len(stream) // width * width
                sink.write(stream[:whole].tobytes())
                tokens += whole
                rest = stream[whole:]
    return {"tokens": tokens}


def prepare(folder: Path, scales: list[int], vocab_size: int) -> dict[int, float]:
    """Curated shards for each scale and one tokenizer; returns the MB of text of each scale."""
    from tests import pack_corpus
    from tokenmill.jobs.tokenizer import train_tokenizer

    sizes = {}
    for scale in scales:
        sources = texts(scale)
        pack_corpus.write_curated(folder / f"x{scale}" / "curated", sources, parts=2 * scale)
        sizes[scale] = sum(len(t.encode()) for docs in sources.values() for t in docs) / 1e6
    train_tokenizer(str(folder / f"x{scales[0]}" / "curated"), str(folder / "tokenizer.json"),
                    vocab_size=vocab_size, sample_bytes=5_000_000)
    return sizes


def bench_rows(scales: tuple[int, ...] = (1, 4, 16), vocab_size: int = 32768) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sizes = prepare(folder, list(scales), vocab_size)
        tokenizer = str(folder / "tokenizer.json")
        for scale in scales:
            curated = str(folder / f"x{scale}" / "curated")
            seconds, peak, out = run_measured([sys.executable, __file__, "--plain", curated, tokenizer,
                                               str(folder / "plain.rows")])
            plain_tokens = json.loads(out.strip().splitlines()[-1])["tokens"]
            plain_s = seconds
            rows.append(Row("pack", f"plain loop x{scale}, {plain_tokens / seconds / 1e6:.2f} M tokens/s", 1,
                            None, sizes[scale] / seconds, peak, 1.0, "itself"))
            for workers in (1, 2):
                output = folder / f"x{scale}" / f"tokens-{workers}"
                seconds, peak, _ = run_measured([sys.executable, "-m", "tokenmill", "pack", "--curated", curated,
                                                 "--tokenizer", tokenizer, "--output", str(output), "--seq-len",
                                                 str(SEQ_LEN), "--mixture", MIXTURE, "--workers", str(workers)])
                manifest = json.loads((output / "manifest.json").read_text())
                tokenized = sum(s["tokens_tokenized"] for s in manifest["sources"].values())
                documents = sum(s["documents"] for s in manifest["sources"].values())
                rows.append(Row("pack", f"tokenmill pack x{scale}, {tokenized / seconds / 1e6:.2f} M tokens/s",
                                workers, documents / seconds, sizes[scale] / seconds, peak, seconds / plain_s,
                                f"plain loop x{scale}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="1,4,16")
    parser.add_argument("--vocab-size", type=int, default=32768)
    parser.add_argument("--plain", nargs=3, metavar=("CURATED", "TOKENIZER", "OUT"))
    args = parser.parse_args()
    if args.plain:
        print(json.dumps(plain_loop(*args.plain)))
        return
    scales = tuple(int(s) for s in args.scales.split(","))
    print(render(bench_rows(scales, args.vocab_size),
                 f"pack: corpus text x{'/'.join(map(str, scales))}, vocabulary {args.vocab_size:,}, seq_len "
                 f"{SEQ_LEN}; {machine()}"))


if __name__ == "__main__":
    main()
