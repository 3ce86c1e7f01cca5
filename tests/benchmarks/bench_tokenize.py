"""Benchmark: encoding speed of `tokenizers` against tiktoken on the same trained vocabulary, and
`tokenmill pack` end to end against a plain loop over the same libraries.

    python tests/benchmarks/bench_tokenize.py [--copies 3] [--vocab-size 32768]   (or all: run_all.py)

The text is the real books, WikiText, OpenWebText and multilingual sentences of ../shared/corpus,
repeated `--copies` times (each copy made distinct). Each measurement runs in its own process, so
peak memory is its own. The plain loop reads the curated Parquet, encodes with tiktoken, joins the
documents with the end-of-text id and cuts rows, with no Beam, no mixing and no shards.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchtable import Row, machine, render  # noqa: E402

CORPUS = Path(os.environ.get("TOKENMILL_CORPUS") or REPO.parent / "shared" / "corpus")
SEQ_LEN = 2047


def texts(copies: int) -> dict[str, list[str]]:
    from tests import pack_corpus

    base = {"books": pack_corpus.books(CORPUS, 10**9), "wiki": pack_corpus.wiki(CORPUS, 10**9),
            "web": pack_corpus.web(CORPUS, 10**9), "multi": pack_corpus.multilingual(CORPUS)}
    return {name: [t if c == 0 else f"{t}\n(copy {c})" for c in range(copies) for t in docs]
            for name, docs in base.items()}


def prepare(folder: Path, copies: int, vocab_size: int) -> dict:
    from tokenmill.jobs.tokenizer import train_tokenizer
    from tests import pack_corpus

    sources = texts(copies)
    pack_corpus.write_curated(folder / "curated", sources, parts=4)
    started = time.perf_counter()
    train_tokenizer(str(folder / "curated"), str(folder / "tokenizer.json"), vocab_size=vocab_size,
                    sample_bytes=5_000_000)
    return {"train_s": time.perf_counter() - started,
            "docs": sum(len(d) for d in sources.values()),
            "mb": sum(len(t.encode()) for d in sources.values() for t in d) / 1e6}


def measure(name: str, folder: Path) -> dict:
    import pyarrow.parquet as pq

    from tokenmill.transforms.tokenize import Encoder

    tokenizer_json = (folder / "tokenizer.json").read_text()
    curated = folder / "curated"
    docs = [t for path in sorted(curated.glob("*/*.parquet")) for t in pq.read_table(path).column("text").to_pylist()]
    started = time.perf_counter()
    result: dict = {}
    if name == "hf-encode_batch":
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(tokenizer_json)
        result["ids"] = sum(len(e.ids) for e in tokenizer.encode_batch(docs, add_special_tokens=False))
    elif name.startswith("encoder-"):
        kind, threads = name.split("-")[1], int(name.split("-")[2])
        encoder = Encoder(tokenizer_json, kind, threads)
        result["ids"] = sum(len(ids) for start in range(0, len(docs), 1024)
                            for ids in encoder.encode_batch(docs[start:start + 1024]))
    elif name == "plain-pack":
        import numpy as np

        encoder = Encoder(tokenizer_json, "tiktoken", 2)
        width, stream = SEQ_LEN + 1, []
        for start in range(0, len(docs), 1024):
            for ids in encoder.encode_batch(docs[start:start + 1024]):
                stream += ids + [0]
        rows = np.asarray(stream[:len(stream) // width * width], dtype=np.int32).reshape(-1, width)
        np.save(folder / "plain.npy", rows)
        result["rows"] = len(rows)
    elif name == "tokenmill-pack":
        from tokenmill.jobs.pack import pack

        manifest = pack(str(curated), str(folder / "tokenizer.json"), str(folder / "tokens"), seq_len=SEQ_LEN,
                        mixture={"web": 0.4, "books": 0.3, "wiki": 0.2, "multi": 0.1})
        result["rows"] = manifest["total_rows"]
    result["seconds"] = time.perf_counter() - started
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


MEASUREMENTS = [("hf-encode_batch", None), ("encoder-hf-1", "hf-encode_batch"),
                ("encoder-tiktoken-1", "hf-encode_batch"), ("encoder-tiktoken-2", "hf-encode_batch"),
                ("plain-pack", None), ("tokenmill-pack", "plain-pack")]


def bench_rows(copies: int = 3, vocab_size: int = 32768) -> list[Row]:
    """Each measurement in its own process; the time against its baseline on the same text."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        info = prepare(folder, copies, vocab_size)
        rows, seconds = [], {}
        for name, baseline in MEASUREMENTS:
            out = subprocess.run([sys.executable, __file__, "--measure", name, "--folder", str(folder)],
                                 capture_output=True, text=True, check=True, cwd=REPO)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            seconds[name] = result["seconds"]
            rows.append(Row("tokenize", name, None, info["docs"] / result["seconds"], info["mb"] / result["seconds"],
                            result["peak_mb"], result["seconds"] / seconds[baseline] if baseline else 1.0,
                            baseline or "itself"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--vocab-size", type=int, default=32768)
    parser.add_argument("--measure")
    parser.add_argument("--folder")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.folder))))
        return
    print(render(bench_rows(args.copies, args.vocab_size),
                 f"tokenize: corpus text x{args.copies}, vocabulary {args.vocab_size:,}; {machine()}"))


if __name__ == "__main__":
    main()
