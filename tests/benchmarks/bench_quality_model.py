"""Quality beyond heuristics: a classifier trained here against the DCLM labels, and the new stages' speed.

    TOKENMILL_CORPUS=../shared/corpus python tests/benchmarks/bench_quality_model.py

1. `tokenmill classifier train` on other ../shared/corpus data: OpenWebText (pages linked from
   Reddit, as DCLM's ELI5 positives) and English Wikipedia against raw crawl (Common Crawl and
   AllenAI WARC pages, cc_net documents, RedPajama CC, 4chan threads). No DCLM page is in it.
2. On the DCLM-labelled pages of web-bulk (311, majority labels): the share of each label kept by the
   heuristic chain (clean-text, langid, the web quality rules) alone and with the classifier, at the
   cut that keeps the same share of high-quality pages and at fixed top fractions; the classifier's AUC.
3. docs/s of each new stage against the heuristic chain on the same pages, one process.
"""
from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
CORPUS = Path(os.environ.get("TOKENMILL_CORPUS") or REPO.parent / "shared" / "corpus")

from benchtable import Row, machine, render  # noqa: E402

from tokenmill.filters.clean_text import CleanText  # noqa: E402
from tokenmill.filters.decontaminate import Decontaminate  # noqa: E402
from tokenmill.filters.document import Document  # noqa: E402
from tokenmill.filters.langid import LanguageFilter  # noqa: E402
from tokenmill.filters.quality import QualityFilter  # noqa: E402
from tokenmill.filters.quality_model import ModelRule, QualityModelFilter, signal_name  # noqa: E402
from tokenmill.filters.url_filter import UrlFilter  # noqa: E402
from tokenmill.jobs.classifier import roc_auc  # noqa: E402
from tokenmill.pipeline.stages import WEB_RULE_SETS, QualitySettings  # noqa: E402

POSITIVES = ["owt=jsonl:{c}/web-bulk/openwebtext_*.jsonl.gz", "wiki=mediawiki:{c}/wiki/enwiki*.xml.bz2"]
NEGATIVES = ["chan=jsonl:{c}/web-bulk/paloma_4chan*.jsonl.gz", "cc=warc:{c}/web/*.warc.gz",
             "ccnet=jsonl:{c}/web/cc_derived_docs/dolma_cc_en_head*", "rpcc=jsonl:{c}/web-bulk/datajuicer_redpajama-cc*"]
EVAL_ITEMS = 100_000


def train_classifier(folder: Path) -> tuple[Path, str]:
    model = folder / "quality.bin"
    args = [sys.executable, "-m", "tokenmill", "classifier", "train", "--output", str(model)]
    for flag, specs in (("--positive", POSITIVES), ("--negative", NEGATIVES)):
        for spec in specs:
            args += [flag, spec.format(c=CORPUS)]
    result = subprocess.run(args, capture_output=True, text=True, check=True,
                            env=os.environ)
    return model, result.stdout.strip()


def dclm_pages() -> tuple[list[str], list[bool]]:
    rows = [json.loads(line) for line in gzip.open(CORPUS / "web-bulk" / "dclm_annotated_majority_part-shared.jsonl.gz", "rt")]
    return [r["text"] for r in rows], [str(r["label"]) == "1" for r in rows]


def run_filters(texts: list[str], filters, urls=None) -> tuple[float, list[Document], list[bool]]:
    """Seconds, the documents (with their signals) and whether each passed every filter."""
    docs = [Document(str(i), "web", text, urls[i] if urls else None) for i, text in enumerate(texts)]
    for doc_filter in filters:
        doc_filter.setup()
    start = time.perf_counter()
    kept = [all(f(doc) is None for f in filters) for doc in docs]
    return time.perf_counter() - start, docs, kept


def shares(kept: list[bool], labels: list[bool]) -> tuple[float, float]:
    high = sum(k and l for k, l in zip(kept, labels)) / sum(labels)
    low = sum(k and not l for k, l in zip(kept, labels)) / (len(labels) - sum(labels))
    return high, low


def eval_items() -> list[str]:
    """EVAL_ITEMS benchmark-sized items (20 words, a passage or a question with its choices) cut from
    real text at a 5-word stride: WikiText-2, Frankenstein and Shakespeare."""
    words = " ".join((CORPUS / name).read_text(encoding="utf-8", errors="replace")
                     for name in ("wiki/wikitext-2-raw_valid.txt", "books/pg_frankenstein.txt",
                                  "books/tinyshakespeare.txt")).split()
    return [" ".join(words[i:i + 20]) for i in range(0, len(words) - 20, 5)][:EVAL_ITEMS]


def blocklist(folder: Path) -> dict[str, str]:
    """A UT1-format category of 100,000 made-up domains and 10,000 URLs (none of the pages' hosts)."""
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(5, 12))) for _ in range(110_000)]
    adult = folder / "adult"
    adult.mkdir()
    (adult / "domains").write_text("".join(f"{w}.com\n" for w in words[:100_000]))
    (adult / "urls").write_text("".join(f"{w}.net/page/{i}\n" for i, w in enumerate(words[100_000:])))
    return {"adult": str(adult)}


def clean_text_changes() -> None:
    """What clean-text changes, per collection: documents and characters (spaces replaced, span repaired)."""
    from tokenmill.jobs.sample.build import sample_config_path
    from tokenmill.transforms.formats import READERS, ReadOptions

    sample = Path(sample_config_path()).parent
    collections = {"bundled sample (web.warc.gz, docs.jsonl.gz)": [("warc", sample / "web.warc.gz"),
                                                                   ("jsonl", sample / "docs.jsonl.gz")],
                   "../shared/corpus/web WARC pages": [("warc", p) for p in sorted((CORPUS / "web").glob("*.warc.gz"))
                                                       if "wat" not in p.name and "wet" not in p.name],
                   "../shared/corpus/web-bulk JSONL": [("jsonl", p) for p in sorted((CORPUS / "web-bulk").glob("*.jsonl*"))]}
    print(f"\n{'clean-text on':48} {'docs':>6} {'changed':>8} {'spaces':>8} {'mojibake':>9} {'chars changed':>14}")
    for name, files in collections.items():
        docs = [d for fmt, path in files for d in READERS[fmt](str(path), "x", ReadOptions())
                if isinstance(d, Document) and d.text]
        _, docs, _ = run_filters([d.text for d in docs], [CleanText()])
        spaces = sum(d.signals["unicode_spaces"] for d in docs)
        repaired = sum(d.signals["mojibake_chars"] for d in docs)
        changed = sum(1 for d in docs if d.signals["unicode_spaces"] or d.signals["mojibake_chars"])
        chars = sum(len(d.text) for d in docs)
        print(f"{name:48} {len(docs):6} {changed / len(docs):8.1%} {spaces:8,} "
              f"{sum(1 for d in docs if d.signals['mojibake_chars']):9} {(spaces + repaired) / chars:14.2%}")


def main() -> None:
    texts, labels = dclm_pages()
    megabytes = sum(map(len, texts)) / 1e6
    folder = Path(tempfile.mkdtemp(prefix="bench_quality_model_"))
    started = time.perf_counter()
    model, log = train_classifier(folder)
    print(f"\n`tokenmill classifier train` ({time.perf_counter() - started:.0f} s): {log}")

    settings = QualitySettings()
    heuristics = [CleanText(), LanguageFilter(["en"]), QualityFilter([getattr(settings, n) for n in WEB_RULE_SETS])]
    chain_s, _, chain_kept = run_filters(texts, heuristics)
    scorer = QualityModelFilter([ModelRule("bench", str(model), threshold=0.0)])
    model_s, docs, _ = run_filters(texts, [CleanText(), scorer])
    model_s -= run_filters(texts, [CleanText()])[0]
    scores = [doc.signals[signal_name("bench")] for doc in docs]
    auc = roc_auc(scores, labels)

    print(f"\n{len(texts)} DCLM-labelled pages ({sum(labels)} high, {len(labels) - sum(labels)} low); "
          f"classifier ROC AUC on them {auc:.3f}\n")
    print(f"{'rule':58} {'high kept':>9} {'low kept':>9} {'gap':>6}")
    high0, low0 = shares(chain_kept, labels)
    print(f"{'heuristic chain':58} {high0:9.1%} {low0:9.1%} {high0 - low0:6.2f}")
    ranked = sorted(scores, reverse=True)
    for fraction in (0.9, 0.7, 0.5):
        cut = ranked[max(0, round(fraction * len(ranked)) - 1)]
        high, low = shares([k and s >= cut for k, s in zip(chain_kept, scores)], labels)
        print(f"{f'heuristic chain + classifier, top {fraction:.0%} of pages':58} {high:9.1%} {low:9.1%} {high - low:6.2f}")
    # The classifier alone, at the cut that keeps the heuristic chain's share of high-quality pages.
    high_scores = sorted((s for s, l in zip(scores, labels) if l), reverse=True)
    cut = high_scores[max(0, round(high0 * len(high_scores)) - 1)]
    high, low = shares([s >= cut for s in scores], labels)
    print(f"{f'classifier alone, score >= {cut:.3f} (same high share)':58} {high:9.1%} {low:9.1%} {high - low:6.2f}")

    items = eval_items()
    started = time.perf_counter()
    (folder / "eval.txt").write_text("\n".join(items))
    decontaminate = Decontaminate({"bench": str(folder / "eval.txt")})
    decontaminate.setup()
    built = time.perf_counter() - started
    decontam_s, _, decontam_kept = run_filters(texts, [decontaminate])
    # Every 100th item planted in the middle of a page (its words, the punctuation and case changed).
    planted = [text[:len(text) // 2] + " " + items[i * 100].upper().replace(" ", ", ") + " " + text[len(text) // 2:]
               for i, text in enumerate(texts)]
    found = sum(decontaminate.match(text) is not None for text in planted)
    urls = [f"https://www.site{i}.example.org/articles/{i}/page.html" for i in range(len(texts))]
    url_s, _, url_kept = run_filters(texts, [UrlFilter(blocklist(folder), ["casino"], ["porn"])], urls)
    clean_s, clean_docs, _ = run_filters(texts, [CleanText()])
    changed = sum(1 for d in clean_docs if d.signals["unicode_spaces"] or d.signals["mojibake_chars"])

    print(f"\ndecontaminate: {len(items):,} evaluation items indexed in {built:.1f} s; "
          f"{len(texts) - sum(decontam_kept)} of {len(texts)} pages flagged; with an item planted in each page "
          f"(upper case, commas between words), {found} of {len(texts)} found")
    print(f"url: {len(texts) - sum(url_kept)} of {len(texts)} pages blocked by 100,000 domains and 10,000 URLs")
    print(f"clean-text: {changed} of {len(texts)} pages changed\n")
    rows = [Row("quality-model", "heuristic chain (clean-text, langid, quality)", 1, len(texts) / chain_s,
                megabytes / chain_s, None, None, "")]
    for name, seconds in (("clean-text", clean_s), ("url", url_s), ("decontaminate", decontam_s),
                          ("quality-model (fastText)", model_s)):
        rows.append(Row("quality-model", name, 1, len(texts) / seconds, megabytes / seconds, None, seconds / chain_s,
                        "the heuristic chain"))
    print(render(rows, f"{machine()}; {len(texts)} pages, {megabytes:.1f} MB"))
    clean_text_changes()


if __name__ == "__main__":
    main()
