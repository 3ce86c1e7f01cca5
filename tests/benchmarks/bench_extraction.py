"""Which HTML → main-text extractor the WARC reader uses: quality and speed on hand-labelled pages.

    python tests/benchmarks/bench_extraction.py      # trafilatura rows need `pip install '.[trafilatura]'`

The pages and gold are trafilatura's own evaluation set (../shared/corpus/web-bulk): for each page,
snippets that must be extracted ("with") and boilerplate that must not ("without"). A found "with"
snippet is a true positive, a missing one a false negative, a found "without" snippet a false
positive (trafilatura's own scoring). Both extractors run in this process, as the WARC reader calls
them (`options: {extractor: resiliparse | trafilatura | trafilatura-fast}`; the last is trafilatura
without its fallback extractors, `fast=True`), and trafilatura's plain `extract()` beside. Speed is
pages per CPU-second of this process (`time.process_time`), which the other jobs on a shared machine
distort less than wall time (printed beside it); each extractor's best of three rounds, taken in turns.
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import os
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
CORPUS = Path(os.environ.get("TOKENMILL_CORPUS") or REPO.parent / "shared" / "corpus") / "web-bulk"

from resiliparse.extract.html2text import extract_plain_text  # noqa: E402
from resiliparse.parse.encoding import bytes_to_str, detect_encoding  # noqa: E402

from tokenmill.filters.extract.html import html_to_text  # noqa: E402


def load_pages():
    gold = json.loads(gzip.decompress((CORPUS / "trafilatura_evaldata_part-shared.json.gz").read_bytes()))
    by_file = {entry["file"]: entry for entry in gold.values()}
    pages = []
    with tarfile.open(CORPUS / "trafilatura_testpages_html_part-shared.tar.gz") as archive:
        for member in archive.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if member.isfile() and name in by_file:
                pages.append((archive.extractfile(member).read(), by_file[name]))
    return pages


def score(texts, pages):
    tp = fn = fp = tn = 0
    for text, (_, gold) in zip(texts, pages):
        for snippet in gold.get("with", []):
            tp, fn = (tp + 1, fn) if snippet in text else (tp, fn + 1)
        for snippet in gold.get("without", []):
            fp, tn = (fp + 1, tn) if snippet in text else (fp, tn + 1)
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return precision, recall, 2 * precision * recall / max(1e-9, precision + recall)


def timed(extract, pages):
    """The texts, CPU seconds and wall seconds of extracting every page."""
    cpu, wall = time.process_time(), time.perf_counter()
    texts = [extract(html) for html, _ in pages]
    return texts, time.process_time() - cpu, time.perf_counter() - wall


def best_of(extractors: dict, pages, rounds: int) -> dict:
    """Each extractor's texts and its fastest round (CPU and wall seconds), the extractors taking turns
    round by round so that a burst of load on the machine does not fall on one of them only."""
    best = {}
    for round_number in range(rounds):
        names = list(extractors) if round_number % 2 == 0 else list(reversed(extractors))
        for name in names:
            texts, cpu, wall = timed(extractors[name], pages)
            _, best_cpu, best_wall = best.get(name, (None, cpu, wall))
            best[name] = (texts, min(cpu, best_cpu), min(wall, best_wall))
    return {name: best[name] for name in extractors}


def main(rounds: int = 3):
    pages = load_pages()
    megabytes = sum(len(html) for html, _ in pages) / 1e6
    extractors = {
        "resiliparse main_content (tokenmill)": lambda html: html_to_text(html, None),
        "resiliparse whole page": lambda html: extract_plain_text(bytes_to_str(html, detect_encoding(html)),
                                                                  main_content=False),
    }
    if importlib.util.find_spec("trafilatura"):
        import trafilatura

        for name in ("trafilatura", "trafilatura-fast"):
            extractors[f"{name} (tokenmill extractor)"] = lambda html, name=name: html_to_text(html, None, name)
        extractors["trafilatura 2.3.1 extract(), defaults"] = lambda html: trafilatura.extract(html) or ""
    runs = best_of(extractors, pages, rounds)
    print(f"\n{len(pages)} labelled pages, {megabytes:.1f} MB of HTML; speed: the best of {rounds} rounds\n")
    print(f"{'extractor':50} {'precision':>9} {'recall':>7} {'F1':>6} {'pages/CPU-s':>11} {'MB/CPU-s':>8} "
          f"{'pages/s wall':>12}")
    for name, (texts, cpu, wall) in runs.items():
        precision, recall, f1 = score(texts, pages)
        print(f"{name:50} {precision:9.3f} {recall:7.3f} {f1:6.3f} {len(pages) / cpu:11.1f} "
              f"{megabytes / cpu:8.1f} {len(pages) / wall:12.1f}")


if __name__ == "__main__":
    main()
