"""Benchmark: a curate that crashed after staging some of its files, rerun, against an uninterrupted one.

    python tests/benchmarks/bench_resume.py [--crash-at 5]

The input is ../shared/corpus's Common Crawl WARC files and its web-bulk JSONL files, with the
default stages. The uninterrupted run goes first; then a run whose reader raises an I/O error when it
opens its `--crash-at`-th file (the files before it are staged, with their receipts), then the rerun
of the same call. All in this process (FnApiRunner, one worker): wall and CPU seconds, the files and
bytes the rerun read again (from its run card), and whether its output is the uninterrupted run's.
"""
from __future__ import annotations

import argparse
import errno
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from benchtable import machine  # noqa: E402
from corpus_texts import CORPUS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crash-at", type=int, default=5, help="the file whose opening fails")
    args = parser.parse_args()

    from tests.conftest import output_tree
    from tokenmill.jobs.curate import curate
    from tokenmill.jobs.run_card import read_cards
    from tokenmill.pipeline.config import Config, SourceConfig
    from tokenmill.transforms.formats import READERS

    config = lambda: Config(sources={  # noqa: E731
        "web": SourceConfig("warc", [f"{CORPUS}/web/*.warc.gz"]),
        "bulk": SourceConfig("jsonl", [f"{CORPUS}/web-bulk/*.jsonl.gz"])})

    def timed(out: Path) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        curate(config(), str(out))
        return time.perf_counter() - wall, time.process_time() - cpu

    opened, readers = [], dict(READERS)

    def crashing(fmt):
        def read(path, source, options):
            opened.append(path)
            if len(opened) == args.crash_at:
                raise OSError(errno.EIO, "the connection dropped", path)
            yield from readers[fmt](path, source, options)
        return read

    with tempfile.TemporaryDirectory(prefix="tokenmill-resume-") as folder:
        full = timed(Path(folder) / "full")
        READERS.update({fmt: crashing(fmt) for fmt in ("warc", "jsonl")})
        try:
            timed(Path(folder) / "resumed")
        except Exception:  # noqa: BLE001 - the crash asked for
            pass
        READERS.update(readers)
        resumed = timed(Path(folder) / "resumed")
        cards = {name: read_cards(f"{folder}/{name}")["curate"] for name in ("full", "resumed")}
        same = output_tree(Path(folder) / "full") == output_tree(Path(folder) / "resumed")
    inputs, again = cards["full"]["inputs"], cards["resumed"]["staged_files"]
    print(f"Resuming a curate ({machine()}): {inputs['files']} files, {inputs['bytes'] / 1e6:.2f} MB\n")
    print("| run | files read | MB read | files reused | wall s | CPU s | output |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    print(f"| uninterrupted | {inputs['files']} | {inputs['bytes'] / 1e6:.2f} | 0 | {full[0]:.1f} | {full[1]:.1f} | |")
    print(f"| rerun after a crash at file {args.crash_at} | {again['read']} | {again['read_bytes'] / 1e6:.2f} | "
          f"{again.get('reused', 0)} | {resumed[0]:.1f} | {resumed[1]:.1f} | "
          f"{'byte-identical' if same else 'DIFFERENT'} |")


if __name__ == "__main__":
    main()
