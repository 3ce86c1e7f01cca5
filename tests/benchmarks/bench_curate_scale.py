"""Benchmark: does curation stay flat in memory as the corpus grows, and what crosses the shuffles?

    python tests/benchmarks/bench_curate_scale.py [--base 250] [--scales 1,4,16,64] [--workers 1,2]
                                                  [--chains default,exact-dedup,near-dedup]
                                                  [--layouts files,one-file] [--families]

The corpus: the first `--base` OpenWebText documents of ../shared/corpus/web-bulk, then copies of
them up to `scale` times the base. In every later copy a document is, by a seeded draw, an edited
near-duplicate of its original (20%: sentences deleted, inserted, reordered, typos; the edits of
bench_minhash), an exact copy (5%), or a new page made of sentences drawn from the whole test set
(the rest), so the dedup stages always have work and the kept share stays realistic. Built under
/tmp as gzipped JSONL: layout `files` writes one file per copy (`--base` documents a file, files
being what workers share); layout `one-file` writes every copy into one file, its lines shuffled
(a Common Crawl WARC holds about 40,000 records: `--base 377 --scales 64` gives 24,128 in one file).

`--families` curates a family corpus instead, the duplicate families a crawl is full of
(tests/families.py): a site template (one OpenWebText page in `--template-copies` copies, each
with 1% of its words replaced independently), an article's drift chain (`--chain-versions`
versions, each one word away from the one before), and every other page of the web-bulk sets as
distinct background; it prints what each family kept and the ledger's removals, errors and notes.

Each run is `tokenmill.jobs.curate.curate` in a fresh process. Measured: wall time, CPU time of the
process and its children with docs per CPU-second (what a loaded machine does not distort), the
peak resident memory of the whole process tree (every process under the run, sampled from /proc
every 50 ms, summed), and the bytes that went through the runner's shuffles per input document
(everything the local runner's grouping buffers received: keys, values and combiner accumulators,
encoded as they travel).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CORPUS = Path(os.environ.get("TOKENMILL_CORPUS", REPO.parent / "shared" / "corpus"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_minhash import edit  # noqa: E402
from benchtable import machine  # noqa: E402
from families import drift_chain, template_family  # noqa: E402
from process_tree import run_measured  # noqa: E402

OPENWEBTEXT = "web-bulk/openwebtext_megatron-ds-testset_part-shared.jsonl.gz"
BACKGROUND = ["web-bulk/dclm_annotated_majority_part-shared.jsonl.gz",
              "web-bulk/datajuicer_redpajama-cc-2023-06-refined.jsonl",
              "web-bulk/datajuicer_redpajama-c4-refined.jsonl"]
NEAR_SHARE, EXACT_SHARE = 0.20, 0.05
TEMPLATE_SHARE = 0.01  # each template copy has 1% of its words replaced


def read_texts(name: str) -> list[str]:
    opener = gzip.open if name.endswith(".gz") else open
    with opener(CORPUS / name, "rt", encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in lines if line.strip()]


def openwebtext() -> list[str]:
    return read_texts(OPENWEBTEXT)


def corpus_rows(base: int, scale: int):
    """(copy, row) of the scaled corpus, copy by copy."""
    texts = openwebtext()
    originals = texts[:base]
    pool = [s for t in texts for s in t.replace("\n", " ").split(". ") if len(s.split()) >= 4]
    for copy in range(scale):
        for i, text in enumerate(originals):
            rng = random.Random(copy * 1_000_003 + i)
            draw = rng.random()
            if copy and draw < NEAR_SHARE:
                text = edit(text, rng, 0.05)
            elif copy and draw >= NEAR_SHARE + EXACT_SHARE:
                text = ". ".join(rng.choice(pool) for _ in range(max(3, text.count(". ")))) + "."
            yield copy, {"id": f"{copy:03d}-{i:05d}", "text": text}


def write_jsonl(path: Path, rows) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(row) + "\n" for row in rows)


def make_corpus(folder: Path, base: int, scale: int, layout: str = "files") -> int:
    """The scaled corpus as gzipped JSONL: a file per copy (`files`) or all in one, shuffled
    (`one-file`); returns the document count."""
    if layout == "one-file":
        rows = [row for _, row in corpus_rows(base, scale)]
        random.Random(7).shuffle(rows)
        write_jsonl(folder / "web-000.jsonl.gz", rows)
        return len(rows)
    by_copy: dict[int, list] = {}
    for copy, row in corpus_rows(base, scale):
        by_copy.setdefault(copy, []).append(row)
    for copy, rows in by_copy.items():
        write_jsonl(folder / f"web-{copy:03d}.jsonl.gz", rows)
    return base * scale


FAMILIES = ("template", "chain", "page")


def make_families(folder: Path, template_copies: int, chain_versions: int) -> dict[str, int]:
    """The family corpus in one shuffled file; returns the document count of each family."""
    texts = openwebtext()
    words = [w for t in texts for w in t.split()]
    rng = random.Random(11)
    template, article = texts[0], texts[1]
    background = list(dict.fromkeys(texts[2:] + [t for name in BACKGROUND for t in read_texts(name)]))
    families = {"template": template_family(template, template_copies, TEMPLATE_SHARE, words, rng),
                "chain": drift_chain(article, chain_versions, words, rng), "page": background}
    rows = [{"id": f"{name}-{i:05d}", "text": text} for name, members in families.items()
            for i, text in enumerate(members)]
    rng.shuffle(rows)
    write_jsonl(folder / "web-000.jsonl.gz", rows)
    return {name: len(members) for name, members in families.items()}


RUN = """
import json, sys, time
from apache_beam.runners.portability.fn_api_runner import execution
shuffled = [0]
append = execution.GroupingBuffer.append
def counting_append(self, data):
    shuffled[0] += len(data)
    return append(self, data)
execution.GroupingBuffer.append = counting_append
from tokenmill.jobs.curate import curate
from tokenmill.pipeline.config import Config, SourceConfig
from tokenmill.pipeline.ledger import DataLost
folder, stages, workers = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
start = time.perf_counter()
try:
    ledger, failed = curate(Config(sources={"web": SourceConfig("jsonl", [folder + "/web-*.jsonl.gz"])}),
                            folder + "/out", stages, workers=workers), False
except DataLost as lost:  # errors past curate.max_error_share: the outputs are published, the run fails
    ledger, failed = lost.ledger, True
seconds = time.perf_counter() - start
import pyarrow.parquet as pq
kept = pq.read_table(folder + "/out/curated", columns=["id"]).column("id").to_pylist()
print(json.dumps({"seconds": seconds, "shuffled": shuffled[0], "ledger": ledger, "kept_ids": kept, "failed": failed}))
"""


def run(folder: Path, stages, workers: int, pythonpath: str = "") -> dict:
    """One curate run in a fresh process (`pythonpath`: a folder holding another `tokenmill` to time)."""
    run = run_measured([sys.executable, "-c", RUN, str(folder), json.dumps(stages), str(workers)],
                       {"PYTHONPATH": pythonpath})
    if run.returncode:
        raise RuntimeError(f"curate failed with {run.returncode}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["peak"], result["cpu"] = run.peak, run.cpu
    return result


CHAINS = {"default": None, "dedup": ["exact-dedup", "near-dedup"], "exact-dedup": ["exact-dedup"],
          "near-dedup": ["near-dedup"]}


MEASURED = "wall s | CPU s | docs per CPU-s | peak MB (tree) | shuffled B/doc"


def measured(r: dict, docs: int) -> str:
    """The cells of MEASURED, which every table shares."""
    return (f"{r['seconds']:.1f} | {r['cpu']:.1f} | {docs / r['cpu']:,.0f} | {r['peak'] / 2**20:,.0f} | "
            f"{r['shuffled'] / docs:,.0f}")


def scale_table(args) -> None:
    print(f"curate at scale: {args.base} OpenWebText documents x copies "
          f"({NEAR_SHARE:.0%} edited near-duplicates, {EXACT_SHARE:.0%} exact); {machine()}\n")
    print(f"| layout | chain | copies | docs | workers | {MEASURED} | kept |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for layout in args.layouts.split(","):
        for scale in (int(s) for s in args.scales.split(",")):
            with tempfile.TemporaryDirectory(prefix="tokenmill-scale-") as tmp:
                docs = make_corpus(Path(tmp), args.base, scale, layout)
                for chain in args.chains.split(","):
                    for workers in (int(w) for w in args.workers.split(",")):
                        r = run(Path(tmp), CHAINS[chain], workers, args.pythonpath)
                        kept = sum(r["ledger"]["kept"].values())
                        print(f"| {layout} | {chain} | {scale}x | {docs:,} | {workers} | {measured(r, docs)} | "
                              f"{kept:,} |", flush=True)


def dedup_removals(removed: dict[str, int]) -> str:
    """The dedup stages' removals by reason, the other stages' as one count."""
    dedup = {key: n for key, n in sorted(removed.items()) if "dedup/" in key}
    others = sum(removed.values()) - sum(dedup.values())
    return ", ".join([f"{key} {n:,}" for key, n in dedup.items()] + ([f"other stages {others:,}"] if others else []))


def family_table(args) -> None:
    with tempfile.TemporaryDirectory(prefix="tokenmill-families-") as tmp:
        sizes = make_families(Path(tmp), args.template_copies, args.chain_versions)
        docs = sum(sizes.values())
        print(f"family corpus, one file of {docs:,} documents: a template in {sizes['template']:,} copies "
              f"({TEMPLATE_SHARE:.0%} of the words replaced in each), a drift chain of {sizes['chain']:,} versions "
              f"(one word each), {sizes['page']:,} distinct pages; {machine()}\n")
        print(f"| chain | workers | {MEASURED} | "
              + " | ".join(f"{name} kept (of {sizes[name]:,})" for name in FAMILIES)
              + " | removed | errors | ledger notes |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in FAMILIES)
              + " | --- | --- | --- |")
        for chain in args.chains.split(","):
            for workers in (int(w) for w in args.workers.split(",")):
                r = run(Path(tmp), CHAINS[chain], workers, args.pythonpath)
                kept = {name: sum(1 for i in r["kept_ids"] if i.startswith(name + "-")) for name in FAMILIES}
                ledger = r["ledger"]
                print(f"| {chain} | {workers} | {measured(r, docs)} | "
                      + " | ".join(f"{kept[name]:,}" for name in FAMILIES)
                      + f" | {dedup_removals(ledger['removed']['web'])} | {ledger['errors']['web'] or ''}"
                      + (" (the run failed: DataLost)" if r["failed"] else "") + " | "
                      f"{ledger.get('notes', {}).get('web', {}) or ''} |",
                      flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=int, default=250)
    parser.add_argument("--scales", default="1,4,16,64")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--chains", default="default,near-dedup", help=f"some of {', '.join(CHAINS)} "
                        "(dedup: exact-dedup and near-dedup alone)")
    parser.add_argument("--layouts", default="files", help="files (--base documents a file), one-file, or both")
    parser.add_argument("--families", action="store_true", help="Curate the family corpus instead.")
    parser.add_argument("--template-copies", type=int, default=4000)
    parser.add_argument("--chain-versions", type=int, default=2000)
    parser.add_argument("--pythonpath", default="", help="A folder holding the tokenmill package to measure "
                        "(e.g. an export of an earlier commit); default: the installed one.")
    args = parser.parse_args()
    if args.families:
        family_table(args)
    else:
        scale_table(args)


if __name__ == "__main__":
    main()
