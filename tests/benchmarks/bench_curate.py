"""Benchmark: what curating a crawl costs with the default chain, stage by stage, in CPU time.

    python tests/benchmarks/bench_curate.py [--copies 1] [--repeat 3]
        [--datatrove-python /work/venv-datatrove/bin/python]          (or all benchmarks: run_all.py)

Input: WARC files written to a temporary folder from the real pages of ../shared/corpus: the HTML
test pages of web-bulk (Readability's and trafilatura's) as HTTP response records, and the records
of the WARC files in web/. `--copies` repeats the pages, each copy's pages edited (exact dedup keeps
them, near dedup removes them).

Every figure is CPU time of the measuring process and its workers (`getrusage`): pages per
CPU-second is pages/s per core, which the machine's other load changes far less than wall time.

- per stage: the stage's filter called in a loop in one process, without Beam (the plain loop, the
  baseline), twice, each time a new instance over the same pages: the first pass pays what a process
  builds on first use (models, matchers, compiled rules), the second is timed; the chain's steady
  rate adds up the stages' costs per input page.
  (Differences between pipeline runs with one stage more were tried: on a shared machine they are
  noise for all but the heaviest stages.)
- pipeline: `tokenmill curate` with the whole default chain (FnApiRunner, one worker, a fresh
  process per run), on all pages and on a quarter of them (every fourth page, and the WARC files of
  web/). Their difference is the steady cost of three quarters of the pages, start-up and first-use
  costs cancelling out; what the full run costs beyond its pages' steady cost is its fixed cost.
  Each is the fastest of `--repeat` runs; against the plain loop, it gives Beam's cost.
- small run: the whole chain on one page, after imports: what `tokenmill curate` costs to start.
- DataTrove: its FineWeb chain's steps (warcio, trafilatura, lid.176, Gopher, C4, FineWeb, MinHash
  signatures, PII formatter) on the same pages, in its own environment (`--datatrove-python`; set up
  with `python -m venv X; X/bin/pip install "datatrove[processing]==0.10.1" lxml_html_clean spacy warcio`).
- core-hours for 3×10⁹ pages (a monthly Common Crawl): 3×10⁹ / (pages per CPU-second) / 3600.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from benchtable import Row, machine

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("TOKENMILL_CORPUS", REPO.parent / "shared" / "corpus"))
HTML_PAGES = ("readability_testpages_source_html.tar.gz", "trafilatura_testpages_html_part-shared.tar.gz")
CHAIN = ["clean-text", "langid", "quality", "exact-dedup", "near-dedup", "toxicity", "pii"]  # the default, in order
CRAWL_PAGES = 3e9
DATATROVE_STAGES = {"read + extract": "read + extract (warcio, trafilatura)", "langid": "langid (lid.176 ftz, k=-1)",
                    "quality": "quality (Gopher, C4, FineWeb)", "near-dedup": "near-dedup (MinHash signatures)",
                    "pii": "pii (e-mail, IP formatter)"}


def cpu_seconds() -> float:
    """CPU seconds of this process and of its children that have ended."""
    import resource

    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def make_input(folder: Path, copies: int) -> int:
    """WARC files of real pages in `folder`/all, every fourth page of them in `folder`/sample, the
    first alone in `folder`/one; returns the pages' HTML bytes."""
    from tokenmill.jobs.sample.build import warc_record

    pages = []
    for name in HTML_PAGES:
        with tarfile.open(CORPUS / "web-bulk" / name) as tar:
            members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
            pages += [(f"https://pages.example/{name.split('_')[0]}/{i}", tar.extractfile(m).read())
                      for i, m in enumerate(members)]
    records = [warc_record(f"{url}?copy={copy}", html.decode("utf-8", "replace") + (f"<p>copy {copy}</p>" if copy else ""))
               for copy in range(copies) for url, html in pages]
    for kind, chosen in (("all", records), ("sample", records[::4]), ("one", records[:1])):
        (folder / kind).mkdir()
        for part in range(0, len(chosen), 100):
            (folder / kind / f"pages-{part // 100:03d}.warc.gz").write_bytes(b"".join(chosen[part:part + 100]))
        if kind != "one":
            for path in sorted((CORPUS / "web").glob("*.warc.gz")):  # Common Crawl and crawler WARC files, as they are
                (folder / kind / f"crawl-{path.name}").write_bytes(path.read_bytes())
    return copies * sum(len(html) for _, html in pages) + sum(p.stat().st_size for p in (CORPUS / "web").glob("*.warc.gz"))


def pipeline_run(pattern: str, out: str, stages: list[str], workers: int) -> dict:
    """One `tokenmill curate` run (call in a fresh process): CPU seconds after the imports, and the ledger."""
    from tokenmill.jobs.curate import curate
    from tokenmill.pipeline.config import Config, SourceConfig

    start, wall = cpu_seconds(), time.perf_counter()
    ledger = curate(Config(sources={"web": SourceConfig("warc", [pattern])}), out, stages, workers=workers)
    return {"cpu": cpu_seconds() - start, "wall": time.perf_counter() - wall, "ledger": ledger}


def startup_phases(pattern: str, out: str) -> dict:
    """Where a small run's CPU seconds go (call in a fresh process): imports, the plan (config checks,
    input listing), building the graph (with Beam's options and type checks), each stage's set-up, and
    the rest of the run (Beam's runner, the page's processing, first-use builds, the outputs)."""
    import functools

    start = cpu_seconds()
    import tokenmill.jobs.curate as job
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    from tokenmill.pipeline.config import SourceConfig
    from tokenmill.pipeline.stages import STAGES

    phases = {"imports": cpu_seconds() - start}

    def timed(owner, name, label):
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            began = cpu_seconds()
            try:
                return original(*args, **kwargs)
            finally:
                phases[label] = phases.get(label, 0.0) + cpu_seconds() - began
        setattr(owner, name, wrapper)

    for stage in CHAIN:
        if STAGES[stage].build is not None:
            timed(type(STAGES[stage].build(STAGES[stage].settings(), SourceConfig("warc", [pattern]))), "setup",
                  f"set-up: {stage}")
    timed(job, "plan_curation", "plan")
    timed(job, "build_pass_one", "graph")
    timed(job, "build_curation", "graph")
    timed(fn_runner.FnApiRunner, "run_pipeline", "run")
    from tokenmill.pipeline.config import Config

    start = cpu_seconds()
    job.curate(Config(sources={"web": SourceConfig("warc", [pattern])}), out, CHAIN)
    phases["after imports"] = cpu_seconds() - start
    phases["run"] -= sum(cpu for label, cpu in phases.items() if label.startswith("set-up"))
    return phases


def in_subprocess(function: str, *args) -> dict:
    """`function(*args)` of this module in a fresh process; its result, with the process's peak resident MB."""
    code = (f"import json, resource, sys; sys.path.insert(0, {str(REPO)!r}); sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"import bench_curate as b; result = b.{function}(*{args!r}); "
            "result['peak_mb'] = max(resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024; "
            "print(json.dumps(result))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    return json.loads(done.stdout.strip().splitlines()[-1])


def fastest(repeat: int, function: str, *args) -> dict:
    return min((in_subprocess(function, *args) for _ in range(repeat)), key=lambda r: r["cpu"])


def reaching(ledger: dict, chain: list[str]) -> dict[str, int]:
    """Pages that reach each stage of `chain` (read + extract: every page read), from a run's ledger."""
    removed = {}
    for key, count in ledger["removed"].get("web", {}).items():
        removed[key.split("/")[0]] = removed.get(key.split("/")[0], 0) + count
    read_errors = sum(n for key, n in ledger["errors"].get("web", {}).items() if key.startswith("read/"))
    left = ledger["input"]["web"] - read_errors
    found = {"read + extract": ledger["input"]["web"]}
    for stage in chain:
        found[stage] = left
        left -= removed.get(stage, 0)
    return found


def warc_documents(pattern: str) -> list:
    """The documents the WARC files matching `pattern` hold, read and extracted as curate reads them."""
    import glob

    from tokenmill.filters.document import Document
    from tokenmill.transforms.formats import READERS, ReadOptions

    return [doc for path in sorted(glob.glob(pattern)) for doc in READERS["warc"](path, "web", ReadOptions())
            if isinstance(doc, Document)]


def plain_loop(pattern: str, first_pass: bool = True) -> dict:
    """CPU seconds and pages per stage of the same filters called in a loop, without Beam. Each stage
    runs twice over copies of its pages, each time in a new instance: the first pays what a process
    builds on first use (models, matchers, compiled rules), the second is the steady pass (`cpu`);
    `first` is what the first pass cost beyond the second. Without `first_pass`, once."""
    from tokenmill.filters.minhash import MinHasher
    from tokenmill.filters.normalize import content_hash
    from tokenmill.pipeline.config import SourceConfig
    from tokenmill.pipeline.stages import STAGES, NearDedupSettings

    def copies(docs):
        return [dataclasses.replace(d, meta=dict(d.meta), signals=dict(d.signals)) for d in docs]

    result = {"cpu": {}, "pages": {}, "first": {}}
    start = cpu_seconds()
    docs = warc_documents(pattern)
    result["cpu"]["read + extract"], result["pages"]["read + extract"] = cpu_seconds() - start, len(docs)
    source = SourceConfig("warc", [pattern])
    for stage in CHAIN:
        result["pages"][stage] = len(docs)
        if stage == "exact-dedup":
            start = cpu_seconds()
            seen = {}
            for doc in docs:
                seen.setdefault(content_hash(doc.text), doc)
            docs = list(seen.values())
        elif stage == "near-dedup":  # the pass-1 work: signatures (LSH and components run on keys, in pass 2)
            settings = NearDedupSettings()
            start = cpu_seconds()
            MinHasher(settings.num_perm, settings.seed, settings.shingle_words).signatures([doc.text for doc in docs])
        else:
            passes = []
            for pages in ((copies(docs), docs) if first_pass else (docs,)):
                start = cpu_seconds()
                chain_filter = STAGES[stage].build(STAGES[stage].settings(), source)
                chain_filter.setup()
                verdicts = chain_filter.filter_batch(pages)
                passes.append(cpu_seconds() - start)
            docs = [doc for doc, reason in zip(docs, verdicts) if reason is None]
            result["first"][stage] = passes[0] - passes[-1]
            result["cpu"][stage] = passes[-1]
            continue
        result["cpu"][stage] = cpu_seconds() - start
    return result


DATATROVE_SCRIPT = r"""
import glob, json, resource, sys, time
def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime
from warcio.archiveiterator import ArchiveIterator
from fasttext.FastText import _FastText
from datatrove.data import Document
from datatrove.pipeline.extractors import Trafilatura
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter, LanguageFilter)
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature
from datatrove.pipeline.formatters import PIIFormatter
pattern, model = sys.argv[1], sys.argv[2]
cpus, pages = {}, {}
start = cpu()
extractor, docs = Trafilatura(favour_precision=True), []
for path in sorted(glob.glob(pattern)):
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "response":
                continue
            html = record.content_stream().read().decode("utf-8", "replace")
            try:
                text = extractor.extract(html)
            except Exception:
                text = None
            if text:
                docs.append(Document(text=text, id=str(len(docs))))
pages["read + extract"], cpus["read + extract"] = len(docs), cpu() - start
language = LanguageFilter(languages=["en"])
language.model._model = _FastText(model)  # the lid.176 model file given, not downloaded
steps = [("langid", [language]),
         ("quality", [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(filter_no_terminal_punct=False),
                      FineWebQualityFilter()])]
for name, filters in steps:
    pages[name] = len(docs)
    start = cpu()
    for f in filters:
        docs = [d for d in docs if (lambda r: r if isinstance(r, bool) else r[0])(f.filter(d))]
    cpus[name] = cpu() - start
signature = MinhashDedupSignature(output_folder="/tmp/unused-datatrove-signatures")
pages["near-dedup"] = len(docs)
start = cpu()
for d in docs:
    signature.get_signature(signature.get_shingles(d.text))
cpus["near-dedup"] = cpu() - start
formatter = PIIFormatter()
pages["pii"] = len(docs)
start = cpu()
for d in docs:
    d.text = formatter.format(d.text)
cpus["pii"] = cpu() - start
print(json.dumps({"cpu": cpus, "pages": pages}))
"""


def datatrove(python: str, pattern: str) -> dict:
    from tokenmill.filters.langid import bundled_model_path

    done = subprocess.run([python, "-c", DATATROVE_SCRIPT, pattern, str(bundled_model_path())], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def core_hours(pages_per_cpu_second: float) -> float:
    return CRAWL_PAGES / pages_per_cpu_second / 3600


def measure(copies: int = 1, repeat: int = 3, datatrove_python: str | None = None) -> dict:
    """Every run: the whole chain on all pages, on the sample and on one page (1 worker), on all
    pages with 2 workers; the plain loop; DataTrove."""
    with tempfile.TemporaryDirectory() as tmp:
        html_bytes = make_input(Path(tmp), copies)
        every, sample, one = (f"{tmp}/{kind}/*.warc.gz" for kind in ("all", "sample", "one"))
        runs = {kind: fastest(repeat, "pipeline_run", pattern, f"{tmp}/out-{kind}", CHAIN, 1)
                for kind, pattern in (("all", every), ("sample", sample), ("one", one))}
        runs["two workers"] = fastest(1, "pipeline_run", every, f"{tmp}/out-2w", CHAIN, 2)
        phases = in_subprocess("startup_phases", one, f"{tmp}/out-phases")
        theirs = datatrove(datatrove_python, every) if datatrove_python else None
        plain = in_subprocess("plain_loop", every)
    return {"html_mb": html_bytes / 1e6, "runs": runs, "plain": plain, "datatrove": theirs, "startup": phases}


def steady(m: dict) -> tuple[int, float, float]:
    """(pages, the pipeline's steady CPU-s per page, the full run's fixed CPU-s)."""
    every, sample = m["runs"]["all"], m["runs"]["sample"]
    pages, sampled = every["ledger"]["input"]["web"], sample["ledger"]["input"]["web"]
    per_page = (every["cpu"] - sample["cpu"]) / (pages - sampled)
    return pages, per_page, every["cpu"] - pages * per_page


def plain_per_page(plain: dict) -> float:
    """The plain loop's steady CPU seconds per input page."""
    return sum(plain["cpu"].values()) / plain["pages"]["read + extract"]


def stage_table(m: dict) -> list[dict]:
    """One row per stage: pages reaching it in the pipeline; the plain loop's steady CPU seconds and
    pages, its first-use CPU seconds and its share of the chain's CPU; DataTrove's."""
    plain, theirs = m["plain"], m["datatrove"]
    arriving = reaching(m["runs"]["all"]["ledger"], CHAIN)
    chain = plain_per_page(plain)
    rows = []
    for stage in ["read + extract"] + CHAIN:
        row = {"stage": stage, "pages": arriving[stage], "cpu": plain["cpu"][stage], "timed": plain["pages"][stage],
               "first": plain["first"].get(stage), "share": plain["cpu"][stage] / plain["pages"]["read + extract"] / chain}
        if theirs and stage in theirs["cpu"]:
            row["datatrove_cpu"], row["datatrove_pages"] = theirs["cpu"][stage], theirs["pages"][stage]
        rows.append(row)
    return rows


def per_core(pages: int, cpu: float) -> str:
    return f"{pages / cpu:,.0f}" if cpu > 0 else "below noise"


def report(m: dict) -> str:
    pages, per_page, fixed = steady(m)
    runs = m["runs"]
    plain = plain_per_page(m["plain"])
    lines = [f"curate: {pages:,} pages of real HTML ({m['html_mb']:.0f} MB) in WARC files; CPU seconds; {machine()}", "",
             "| stage | pages in | pages/s per core | first-use CPU-s | share of the chain's CPU | DataTrove pages/s per core |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in stage_table(m):
        first = "" if row["first"] is None else f"{row['first']:.2f}"
        theirs = (f"{per_core(row['datatrove_pages'], row['datatrove_cpu'])} ({DATATROVE_STAGES[row['stage']]})"
                  if "datatrove_cpu" in row else "")
        lines.append(f"| {row['stage']} | {row['pages']:,} | {per_core(row['timed'], row['cpu'])} | {first} | "
                     f"{row['share']:.0%} | {theirs} |")
    lines += ["", "| whole chain | pages/s per core | core-hours for 3×10⁹ pages |", "| --- | ---: | ---: |",
              f"| stages in a plain loop, steady | {1 / plain:,.0f} | {core_hours(1 / plain):,.0f} |",
              f"| pipeline, steady, 1 worker | {1 / per_page:,.0f} | {core_hours(1 / per_page):,.0f} |",
              f"| pipeline, as run (fixed cost included), 1 worker | {pages / runs['all']['cpu']:,.0f} | "
              f"{core_hours(pages / runs['all']['cpu']):,.0f} |",
              f"| pipeline, as run, 2 workers | {pages / runs['two workers']['cpu']:,.0f} | "
              f"{core_hours(pages / runs['two workers']['cpu']):,.0f} |"]
    if m["datatrove"]:
        theirs = sum(m["datatrove"]["cpu"].values())
        lines.append(f"| DataTrove FineWeb chain (no dedup clustering) | {pages / theirs:,.0f} | "
                     f"{core_hours(pages / theirs):,.0f} |")
    lines += ["", f"Pipeline steady: {per_page / plain:.2f}× the plain loop's CPU per page. Fixed cost of a run of the "
              f"whole chain, 1 worker: {fixed:.2f} CPU-s. A small run (the whole chain on one page, after imports): "
              f"{runs['one']['cpu']:.2f} CPU-s ({runs['one']['wall']:.1f} s wall).",
              f"Peak memory: {runs['all']['peak_mb']:,.0f} MB (1 worker), {runs['two workers']['peak_mb']:,.0f} MB (2 workers).",
              "", "Where a small run's CPU seconds go (one page, the whole chain, a fresh process): " +
              ", ".join(f"{label} {cpu:.2f}" for label, cpu in m["startup"].items() if label != "peak_mb") + "."]
    return "\n".join(lines)


def bench_rows(copies: int = 1) -> list[Row]:
    """For run_all.py: pages per CPU-second of each stage (plain loop), and of the pipeline's whole
    chain at steady state against the stages in a plain loop."""
    m = measure(copies)
    rows = [Row("curate", f"{row['stage']} (per core)", None, row["timed"] / row["cpu"] if row["cpu"] > 0 else None,
                None, None, None, "") for row in stage_table(m)]
    pages, per_page, _ = steady(m)
    rows.append(Row("curate", "whole chain, steady (per core)", 1, 1 / per_page, m["html_mb"] / (pages * per_page),
                    m["runs"]["all"]["peak_mb"], per_page / plain_per_page(m["plain"]), "stages in a plain loop"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="Runs per measurement; the fastest counts.")
    parser.add_argument("--datatrove-python", help="The Python of an environment with datatrove installed.")
    parser.add_argument("--json", help="Also write the raw measurements here.")
    args = parser.parse_args()
    m = measure(args.copies, args.repeat, args.datatrove_python)
    if args.json:
        Path(args.json).write_text(json.dumps(m, indent=1))
    print(report(m))


if __name__ == "__main__":
    main()
