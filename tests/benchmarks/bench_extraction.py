"""Which HTML → main-text extractor the WARC reader uses: quality and speed on hand-labelled pages.

    python tests/benchmarks/bench_extraction.py [--trafilatura-python /path/to/venv/bin/python]

The pages and gold are trafilatura's own evaluation set (../shared/corpus/web-bulk): for each page,
snippets that must be extracted ("with") and boilerplate that must not ("without"). A found "with"
snippet is a true positive, a missing one a false negative, a found "without" snippet a false
positive (trafilatura's own scoring). trafilatura runs in its own environment (it is not a
tokenmill dependency) and is timed there on the same pages.
"""
from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpus" / "web-bulk"

from resiliparse.extract.html2text import extract_plain_text  # noqa: E402
from resiliparse.parse.encoding import bytes_to_str, detect_encoding  # noqa: E402

from tokenmill.transforms.formats.warc import html_to_text  # noqa: E402

TRAFILATURA_SCRIPT = """
import json, sys, time, trafilatura
pages = json.load(sys.stdin)
start = time.perf_counter()
out = [trafilatura.extract(bytes.fromhex(html)) or "" for html in pages]
print(json.dumps({"seconds": time.perf_counter() - start, "texts": out}))
"""


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
    start = time.perf_counter()
    texts = [extract(html) for html, _ in pages]
    return texts, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trafilatura-python", help="a Python with trafilatura installed")
    args = parser.parse_args()
    pages = load_pages()
    megabytes = sum(len(html) for html, _ in pages) / 1e6
    runs = {
        "resiliparse main_content (tokenmill)": timed(lambda html: html_to_text(html, None), pages),
        "resiliparse whole page": timed(
            lambda html: extract_plain_text(bytes_to_str(html, detect_encoding(html)), main_content=False), pages),
    }
    if args.trafilatura_python:
        result = subprocess.run([args.trafilatura_python, "-c", TRAFILATURA_SCRIPT], capture_output=True, text=True,
                                input=json.dumps([html.hex() for html, _ in pages]), check=True)
        data = json.loads(result.stdout)
        runs["trafilatura 2.3.1 extract()"] = (data["texts"], data["seconds"])
    print(f"\n{len(pages)} labelled pages, {megabytes:.1f} MB of HTML\n")
    print(f"{'extractor':40} {'precision':>9} {'recall':>7} {'F1':>6} {'pages/s':>8} {'MB/s':>6}")
    for name, (texts, seconds) in runs.items():
        precision, recall, f1 = score(texts, pages)
        print(f"{name:40} {precision:9.3f} {recall:7.3f} {f1:6.3f} {len(pages) / seconds:8.1f} "
              f"{megabytes / seconds:6.1f}")


if __name__ == "__main__":
    main()
