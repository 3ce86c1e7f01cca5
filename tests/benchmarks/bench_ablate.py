"""Benchmark: a first real ablation. Raw extraction only (`stages: [clean-text]`) against the default
chain, on the raw pages of ../shared/corpus, with equal tokens and tiny proxies on the CPU, evaluated
on held-out text neither training set contains.

    python tests/benchmarks/bench_ablate.py [--output /tmp/tokenmill-ablation] [--tokens 300000] [--seeds 2]

Pages: the Common Crawl and AllenAI-crawler WARC files of corpus/web and the raw HTML test pages of
corpus/web-bulk (Mozilla Readability's and trafilatura's, about 19 MB compressed), the latter
written into WARC files under OUTPUT/input (their bytes as they are, each page's charset its own).
Held-out text: WikiText-2's validation articles (one document an article) and passages of the two
Project Gutenberg books (Frankenstein, A Modest Proposal; boilerplate stripped by the book reader,
passages of whole paragraphs up to 2,000 characters), as JSONL under OUTPUT/eval. The script then
counts the curated documents of each arm that share a 13-word n-gram with those sets (the
decontaminate stage's index), runs `tokenmill ablate` in a child process and prints the table:
bits per byte per set for every seed, mean and range, the difference against the seed spread,
and the proxies' evaluation and training throughput from their run cards (tokens per second of
wall time, and per CPU-second).

The ablation resumes: run the command again after a stop, and only unfinished parts run.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
CORPUS = Path(os.environ.get("TOKENMILL_CORPUS", REPO.parent / "shared" / "corpus"))
HTML_TARBALLS = ("readability_testpages_source_html.tar.gz", "trafilatura_testpages_html_part-shared.tar.gz")
PASSAGE_CHARS = 2000
# Four rows a step: 300,000 tokens are then about 290 steps of 1,024 tokens.
SETTINGS = {"pack": {"rows_per_shard": 256},
            "train": {"batch_size": 4, "checkpoint_every": 100, "eval_every": 10_000, "tensorboard": False,
                      "log_every": 10}}


def write_html_warcs(folder: Path) -> list[Path]:
    """Each HTML tarball of web-bulk as a WARC file of response records, one a page."""
    from tokenmill.jobs.sample.build import warc_record

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in HTML_TARBALLS:
        target = folder / (name.split("_")[0] + ".warc.gz")
        if not target.is_file():
            with tarfile.open(CORPUS / "web-bulk" / name) as tar, open(target.with_suffix(".tmp"), "wb") as out:
                for member in sorted(tar.getmembers(), key=lambda m: m.name):
                    if member.isfile():
                        page = tar.extractfile(member).read()
                        out.write(warc_record(f"https://{name.split('_')[0]}.test/{member.name}", page, "text/html"))
            target.with_suffix(".tmp").rename(target)
        written.append(target)
    return written


def wikitext_articles() -> list[str]:
    """WikiText-2's validation split, one document per article (a ` = Title = ` line starts one)."""
    articles, current = [], []
    for line in (CORPUS / "wiki" / "wikitext-2-raw_valid.txt").read_text(encoding="utf-8").splitlines(keepends=True):
        if re.match(r"^ = [^=].* = $", line.rstrip("\n")) and current:
            articles.append("".join(current).strip())
            current = []
        current.append(line)
    articles.append("".join(current).strip())
    return [a for a in articles if a]


def book_passages() -> list[str]:
    from tokenmill.filters.document import Document
    from tokenmill.transforms.formats import READERS, ReadOptions

    passages = []
    for name in ("pg_frankenstein.txt", "pg_a_modest_proposal.txt"):
        book = next(d for d in READERS["book"](str(CORPUS / "books" / name), "books", ReadOptions())
                    if isinstance(d, Document))
        current = ""
        for paragraph in book.text.split("\n\n"):
            if current and len(current) + len(paragraph) > PASSAGE_CHARS:
                passages.append(current)
                current = ""
            current = f"{current}\n\n{paragraph}" if current else paragraph
        passages.append(current)
    return passages


def write_sets(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sets = {"wikitext": folder / "wikitext.jsonl", "books": folder / "books.jsonl"}
    for (name, path), texts in zip(sets.items(), (wikitext_articles(), book_passages())):
        path.write_text("".join(json.dumps({"id": f"{name}-{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
                        encoding="utf-8")
    return sets


def write_configs(output: Path, warcs: list[Path]) -> dict[str, Path]:
    paths = [str(CORPUS / "web" / "*.warc.gz"), *map(str, warcs)]
    configs = {"raw": {"sources": {"web": {"format": "warc", "paths": paths, "stages": ["clean-text"]}}},
               "default": {"sources": {"web": {"format": "warc", "paths": paths}}}}
    written = {}
    for name, config in configs.items():
        written[name] = output / f"{name}.yaml"
        written[name].write_text(yaml.safe_dump(config), encoding="utf-8")
    (output / "settings.yaml").write_text(yaml.safe_dump(SETTINGS), encoding="utf-8")
    return written


def contamination(output: Path, sets: dict[str, Path]) -> dict[str, dict[str, int]]:
    """Per arm: curated documents sharing a 13-word n-gram with each held-out set."""
    import pyarrow.parquet as pq

    from tokenmill.filters.decontaminate import Decontaminate

    found = {}
    for arm in ("raw", "default"):
        stage = Decontaminate({name: str(path) for name, path in sets.items()})
        counts = {name: 0 for name in sets} | {"documents": 0}
        for shard in sorted((output / "arms" / arm / "curated").glob("*/*.parquet")):
            for text in pq.read_table(shard, columns=["text"]).column("text").to_pylist():
                counts["documents"] += 1
                hit = stage.match(text)
                if hit:
                    counts[hit[0]] += 1
        found[arm] = counts
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("/tmp/tokenmill-ablation"))
    parser.add_argument("--tokens", type=int, default=300_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the proxies (OMP_NUM_THREADS)")
    args = parser.parse_args()
    output = args.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    warcs = write_html_warcs(output / "input")
    sets = write_sets(output / "eval")
    configs = write_configs(output, warcs)
    command = [sys.executable, "-m", "tokenmill", "ablate", "--config", str(configs["raw"]),
               "--config", str(configs["default"]), "--output", str(output / "ablation"),
               "--tokens", str(args.tokens), "--model", args.model, "--seeds", str(args.seeds),
               "--settings", str(output / "settings.yaml"), "--device", "cpu",
               *[arg for name, path in sets.items() for arg in ("--text", f"{name}=jsonl:{path}")]]
    started = time.perf_counter()
    before = os.times()
    subprocess.run(command, check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO),
                                                        "OMP_NUM_THREADS": str(args.threads)})
    after = os.times()
    wall, cpu = time.perf_counter() - started, (after.children_user + after.children_system
                                                 - before.children_user - before.children_system)
    report(output / "ablation", sets, wall, cpu, args)


def report(folder: Path, sets: dict[str, Path], wall: float, cpu: float, args) -> None:
    summary = json.loads((folder / "ablation.json").read_text())
    settings = summary["settings"]
    print(f"\n{len(summary['arms'])} arms × {settings['seeds']} seeds, {settings['model']} proxies "
          f"({next(iter(next(iter(summary['arms'].values()))['runs'].values()))['params']:,} parameters), "
          f"{settings['tokens']:,} tokens each ({settings['steps']} steps of {settings['batch_size']} × "
          f"{settings['seq_len']}), vocabulary {settings['vocab_size']:,}; this command: {wall / 60:.1f} min wall, "
          f"{cpu / 60:.1f} min CPU (the ablate process, {args.threads} torch thread(s))\n")
    print("| arm | pages read | kept | tokens available | epochs at the budget |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in settings["arms"]:
        arm = summary["arms"][name]
        read, kept = sum(arm["curate"]["input"].values()), sum(arm["curate"]["kept"].values())
        source = arm["pack"]["sources"]["web"]
        print(f"| {name} | {read:,} | {kept:,} | {source['tokens_available']:,} | {source['epochs']:.2f} |")
    seeds = [str(s) for s in range(1, settings["seeds"] + 1)]
    print("\n| set | arm | " + " | ".join(f"seed {s}" for s in seeds)
          + " | mean | range | default − raw | ÷ spread |")
    print("| --- | --- | " + " | ".join("---:" for _ in seeds) + " | ---: | ---: | ---: | ---: |")
    for set_name, entry in summary["sets"].items():
        data = entry["figures"]["bits_per_byte"]
        for arm in settings["arms"]:
            stats = data["arms"][arm]
            versus = data["versus_raw"].get(arm)
            diff = f"{versus['difference']:+.4f}" if versus else ""
            ratio = (f"{versus['difference_over_spread']:.1f}×" if versus and versus["difference_over_spread"]
                     else ("–" if versus else ""))
            print(f"| {set_name} ({entry['size']:,} docs) | {arm} | "
                  + " | ".join(f"{stats['values'][s]:.4f}" for s in seeds)
                  + f" | {stats['mean']:.4f} | {stats['range']:.4f} | {diff} | {ratio} |")
    speeds = []
    for arm in settings["arms"]:
        for seed in seeds:
            cards = json.loads((folder / "arms" / arm / f"seed-{seed}" / "run.json").read_text())
            speeds.append((cards["eval"]["throughput"], cards["train"]["seconds"]))
    tokens = sum(s[0]["tokens"] for s in speeds)
    print(f"\nevaluation: {tokens:,} tokens scored in {sum(s[0]['seconds'] for s in speeds):.0f} s: "
          f"{tokens / sum(s[0]['seconds'] for s in speeds):,.0f} tokens/s, "
          f"{tokens / sum(s[0]['cpu_seconds'] for s in speeds):,.0f} per CPU-second; training "
          f"{sum(s[1] for s in speeds) / len(speeds):.0f} s per proxy")
    print("\ncurated documents sharing a 13-word n-gram with a held-out set:",
          json.dumps(contamination(folder, sets)))


if __name__ == "__main__":
    main()
