"""Which HTML → main-text extractor the WARC reader uses: quality and speed on hand-labelled pages.

    python tests/benchmarks/bench_extraction.py      # trafilatura rows need `pip install '.[trafilatura]'`

The pages and gold are trafilatura's own evaluation set (../shared/corpus/web-bulk): for each page,
snippets that must be extracted ("with") and boilerplate that must not ("without"). A found "with"
snippet is a true positive, a missing one a false negative, a found "without" snippet a false
positive (trafilatura's own scoring). Both extractors run in this process, as the WARC reader calls
them (`options: {extractor: resiliparse | trafilatura}`), and trafilatura's plain `extract()` beside.
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
    start = time.perf_counter()
    texts = [extract(html) for html, _ in pages]
    return texts, time.perf_counter() - start


def main():
    pages = load_pages()
    megabytes = sum(len(html) for html, _ in pages) / 1e6
    runs = {
        "resiliparse main_content (tokenmill)": timed(lambda html: html_to_text(html, None), pages),
        "resiliparse whole page": timed(
            lambda html: extract_plain_text(bytes_to_str(html, detect_encoding(html)), main_content=False), pages),
    }
    if importlib.util.find_spec("trafilatura"):
        import trafilatura

        runs["trafilatura (tokenmill extractor)"] = timed(lambda html: html_to_text(html, None, "trafilatura"), pages)
        runs["trafilatura 2.3.1 extract(), defaults"] = timed(lambda html: trafilatura.extract(html) or "", pages)
    print(f"\n{len(pages)} labelled pages, {megabytes:.1f} MB of HTML\n")
    print(f"{'extractor':40} {'precision':>9} {'recall':>7} {'F1':>6} {'pages/s':>8} {'MB/s':>6}")
    for name, (texts, seconds) in runs.items():
        precision, recall, f1 = score(texts, pages)
        print(f"{name:40} {precision:9.3f} {recall:7.3f} {f1:6.3f} {len(pages) / seconds:8.1f} "
              f"{megabytes / seconds:6.1f}")


if __name__ == "__main__":
    main()
