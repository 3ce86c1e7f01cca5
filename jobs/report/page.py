"""`tokenmill report DIR`: one self-contained HTML page about a run, DIR/report.html.

It reads what the jobs wrote and nothing else: DIR/ledger.json (the funnel and the removal reasons),
the curated and rejected Parquet shards (languages, signal histograms of kept and removed documents,
duplicate clusters, example documents per removal reason; only the columns needed, batch by batch, so
memory stays flat), DIR/tokens/manifest.json and the token shards (tokens per source, the mixture
along the training order), a training run's metrics.jsonl and eval.json (DIR/run by default) and
DIR/run.json for the config the thresholds come from. A section whose inputs are absent is left out.
Charts are inline SVG (jobs/report/charts.py): the page needs no network and no script.
"""
from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Iterator, Optional

import click
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tokenmill.jobs.report.charts import PALETTE, Bars, Line, fmt, hbars, histogram, lines
from tokenmill.jobs.report.evaluation import evaluation_html
from tokenmill.jobs.run_card import CARD_FILE, read_cards
from tokenmill.pipeline.config import Config, SourceConfig, load_config
from tokenmill.pipeline.ledger import LEDGER_FILE
from tokenmill.pipeline.schema import ConfigError, from_mapping
from tokenmill.pipeline.stages import STAGES, settings_for, source_stages
from tokenmill.transforms.write import BASE_COLUMNS, REJECT_COLUMNS

REPORT_FILE = "report.html"
HISTOGRAM_BINS = 40
EXAMPLES_PER_REASON = 3
EXAMPLE_CHARS = 300
MIXTURE_POINTS = 60
METRICS_FILE = "metrics.jsonl"


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    html: str


def shard_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*/*.parquet")) if folder.is_dir() else []


def column_batches(files: list[Path], column: str) -> Iterator[pa.Array]:
    """The non-null values of `column`, batch by batch, from every file that has it."""
    for path in files:
        shard = pq.ParquetFile(path)
        if column in shard.schema_arrow.names:
            for batch in shard.iter_batches(columns=[column], batch_size=65_536):
                values = batch.column(0)
                yield values.filter(pc.is_valid(values))


def numeric_columns(files: list[Path]) -> list[str]:
    """The measured signal columns (numeric, not the base or reject columns), in name order."""
    names = set()
    for path in files:
        for field in pq.read_schema(path):
            if (field.name not in BASE_COLUMNS and field.name not in REJECT_COLUMNS
                    and (pa.types.is_integer(field.type) or pa.types.is_floating(field.type))):
                names.add(field.name)
    return sorted(names)


@dataclass(frozen=True)
class Histogram:
    edges: list[float]
    parts: dict[str, list[int]]  # group (kept, removed) -> count per bin
    log_x: bool
    n: int
    constant: bool  # every value the same: nothing to draw

    @property
    def counts(self) -> list[int]:
        return [sum(column) for column in zip(*self.parts.values())]


def stream_histogram(groups: dict[str, list[Path]], column: str, bins: int = HISTOGRAM_BINS) -> Optional[Histogram]:
    """Two passes over the column in every group's files (range, then counts per group on shared
    bins); log bins when the values span more than three decades and are all positive. None when
    the column holds no value."""
    files = [path for paths in groups.values() for path in paths]
    low, high, n = math.inf, -math.inf, 0
    for values in column_batches(files, column):
        if len(values):
            low, high = min(low, pc.min(values).as_py()), max(high, pc.max(values).as_py())
            n += len(values)
    if not n:
        return None
    constant = high == low
    log_x = low > 0 and high / low > 1000
    if constant:
        low, high = low - 0.5, high + 0.5
    edges = np.geomspace(low, high, bins + 1) if log_x else np.linspace(low, high, bins + 1)
    parts = {}
    for group, paths in groups.items():
        counts = np.zeros(bins, dtype=np.int64)
        for values in column_batches(paths, column):
            counts += np.histogram(values.to_numpy(zero_copy_only=False), bins=edges)[0]
        parts[group] = counts.tolist()
    return Histogram(edges.tolist(), parts, log_x, n, constant)


def value_counts(files: list[Path], column: str) -> Counter:
    counts: Counter = Counter()
    for values in column_batches(files, column):
        for item in pc.value_counts(values).to_pylist():
            counts[item["values"]] += item["counts"]
    return counts


# Sections ------------------------------------------------------------------------------------------

def stage_order(ledger: dict) -> list[str]:
    """read, then the registry's stages, then any stage the ledger names that the registry does not."""
    seen = {key.split("/")[0] for part in ("removed", "errors") for per in ledger[part].values() for key in per}
    known = ["read", *STAGES]
    return known + sorted(seen - set(known))


def funnel_section(ledger: dict) -> Section:
    """Documents left after each stage, per source."""
    stages = stage_order(ledger)
    parts = ['<p>Documents left after each stage, per source; the percentage is of the input. '
             f'The ledger {"balances" if ledger.get("balanced") else "<b>does not balance</b>"}: '
             'input = kept + removed + errors for every source.</p>']
    for source in sorted(ledger["input"]):
        lost = Counter()
        for part in ("removed", "errors"):
            for key, n in ledger[part].get(source, {}).items():
                lost[key.split("/")[0]] += n
        left = ledger["input"][source]
        rows = [("input", left)]
        for stage in stages:
            if lost[stage]:
                left -= lost[stage]
                rows.append((f"after {stage}", left))
        rows.append(("kept", ledger["kept"].get(source, 0)))
        total = rows[0][1] or 1
        notes = [f"{fmt(n)} ({100 * n / total:.1f}%)" for _, n in rows]
        parts.append(f"<h3>{escape(source)}</h3>" + hbars(rows, f"funnel of {source}", annotate=notes))
    return Section("funnel", "Funnel per source", "".join(parts))


def reasons_section(ledger: dict) -> Section:
    parts = ["<p>Why documents left the pipeline: <code>stage/reason</code> for removals, "
             "<code>error stage/kind</code> for failures.</p>"]
    for source in sorted(ledger["input"]):
        rows = [(key, n) for key, n in ledger["removed"].get(source, {}).items()]
        rows += [(f"error {key}", n) for key, n in ledger["errors"].get(source, {}).items()]
        rows.sort(key=lambda kv: (-kv[1], kv[0]))
        body = hbars(rows, f"removal reasons of {source}", color="#dc6c1f") if rows else "<p>nothing removed</p>"
        parts.append(f"<h3>{escape(source)}</h3>{body}")
    return Section("reasons", "Removal reasons", "".join(parts))


def languages_section(curated: list[Path], rejected: list[Path]) -> Optional[Section]:
    kept = value_counts(curated, "lang")
    if not kept and not rejected:
        return None
    parts = ["<p>Top language (fastText lid.176) of the kept documents.</p>",
             hbars(kept.most_common(20), "languages of kept documents")]
    dropped = value_counts(rejected, "lang")
    if dropped:
        parts += ["<p>Top language of the removed documents (any stage; documents removed at read time "
                  "were never identified).</p>", hbars(dropped.most_common(20), "languages of removed documents",
                                                       color="#dc6c1f")]
    return Section("languages", "Language distribution", "".join(parts))


def stage_thresholds(config: Config, sources: list[str]) -> dict[str, dict[tuple, list[str]]]:
    """signal → {(low, high): [sources]} from each document stage's filter as `config` sets it up."""
    found: dict[str, dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))
    for source in sources:
        known = source in config.sources
        names = source_stages(config, source) if known else [n for n, s in STAGES.items() if s.default]
        for name in names:
            stage = STAGES[name]
            if stage.kind != "document":
                continue
            doc_filter = stage.build(settings_for(config, name, source if known else None),
                                     config.sources[source] if known else SourceConfig("text", []))
            for signal, bounds in doc_filter.thresholds().items():
                found[signal][bounds].append(source)
    return found


KEPT_COLOR, REMOVED_COLOR = PALETTE[0], PALETTE[1]


def signals_section(curated: list[Path], rejected: list[Path], config: Config, sources: list[str],
                    origin: str) -> Optional[Section]:
    groups = {"kept": curated, "removed": rejected} if rejected else {"kept": curated}
    colors = {"kept": KEPT_COLOR, "removed": REMOVED_COLOR}
    columns = ["lang_score", *numeric_columns(curated + rejected)]
    thresholds = stage_thresholds(config, sources)
    legend = " and ".join(f'<span style="color:{colors[group]}">{group}</span>' for group in groups)
    parts = [f"<p>Every measured value over the {legend} documents{' (stacked)' if rejected else ''}; "
             f"the red lines are the thresholds a document must clear (from {escape(origin)}). A signal is "
             "measured only on the documents that reach its stage.</p>"]
    constant = []
    for column in columns:
        result = stream_histogram(groups, column)
        if result is None:
            continue
        if result.constant and column not in thresholds:
            constant.append(f"<code>{escape(column)}</code> = {fmt(result.edges[0] + 0.5)}")
            continue
        marks = []
        for (low, high), where in sorted(thresholds.get(column, {}).items(), key=lambda kv: str(kv[0])):
            scope = "" if len(where) == len(sources) else f" ({', '.join(where)})"
            marks += [(low, f"min {fmt(low)}{scope}")] if low is not None else []
            marks += [(high, f"max {fmt(high)}{scope}")] if high is not None else []
        scale = ", log scale" if result.log_x else ""
        bars = [Bars(group, counts, colors[group]) for group, counts in result.parts.items()]
        parts.append(f"<h3><code>{escape(column)}</code> <small>{fmt(result.n)} documents{scale}</small></h3>"
                     + histogram(result.edges, bars, f"histogram of {column}", result.log_x, marks))
    if constant:
        parts.append(f"<p>The same on every document: {', '.join(constant)}.</p>")
    return Section("signals", "Quality signals", "".join(parts)) if len(parts) > 1 else None


def examples_section(ledger: dict, rejected: list[Path], per_reason: int = EXAMPLES_PER_REASON) -> Optional[Section]:
    """The first documents removed for each reason (in shard order), their first characters: what a
    rule actually catches. Reads the rejected shards batch by batch and stops once every reason the
    ledger names has its examples."""
    wanted = {(source, key) for source, reasons in ledger["removed"].items() for key in reasons}
    found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for path in rejected:
        if all(len(found[key]) >= per_reason for key in wanted):
            break
        for batch in pq.ParquetFile(path).iter_batches(columns=["source", "stage", "reason", "id", "text"],
                                                       batch_size=1024):
            for source, stage, reason, doc_id, text in zip(*(batch.column(i).to_pylist() for i in range(5))):
                examples = found[(source, f"{stage}/{reason}")]
                if len(examples) < per_reason:
                    examples.append((doc_id, (text or "")[:EXAMPLE_CHARS]))
    if not any(found.values()):
        return None
    parts = [f"<p>The first {per_reason} documents removed for each reason, cut to their first "
             f"{EXAMPLE_CHARS} characters.</p>"]
    for source in sorted(ledger["removed"]):
        reasons = sorted(ledger["removed"][source].items(), key=lambda kv: (-kv[1], kv[0]))
        shown = [(key, found[(source, key)]) for key, _ in reasons if found.get((source, key))]
        if not shown:
            continue
        parts.append(f"<h3>{escape(source)}</h3>")
        for key, examples in shown:
            items = "".join(f'<li><code>{escape(str(doc_id))}</code><blockquote>{escape(text) or "<i>no text</i>"}'
                            f'{"…" if len(text) == EXAMPLE_CHARS else ""}</blockquote></li>'
                            for doc_id, text in examples)
            parts.append(f'<h4>{escape(key)} <small>{fmt(ledger["removed"][source][key])} removed</small></h4>'
                         f'<ul class="examples">{items}</ul>')
    return Section("examples", "Examples of removed documents", "".join(parts))


def duplicates_section(rejected: list[Path]) -> Optional[Section]:
    """Cluster size = the kept document plus every document removed as its duplicate."""
    clusters: dict[str, Counter] = defaultdict(Counter)
    for path in rejected:
        table = pq.read_table(path, columns=["stage", "duplicate_of"])
        table = table.filter(pc.is_valid(table["duplicate_of"]))
        for stage, original in zip(table["stage"].to_pylist(), table["duplicate_of"].to_pylist()):
            clusters[stage][original] += 1
    if not clusters:
        return None
    parts = ["<p>Documents removed as duplicates, grouped by the document kept in their place: a cluster's "
             "size counts the kept one too.</p>"]
    for stage in sorted(clusters):
        sizes = Counter(n + 1 for n in clusters[stage].values())
        removed = sum(clusters[stage].values())
        rows = [(f"size {size}", count) for size, count in sorted(sizes.items())]
        parts.append(f"<h3>{escape(stage)} <small>{fmt(len(clusters[stage]))} clusters, {fmt(removed)} removed, "
                     f"largest {max(sizes)}</small></h3>"
                     + hbars(rows, f"{stage} cluster sizes", color="#a23fb5",
                             annotate=[f"{fmt(c)} clusters" for _, c in rows]))
    return Section("duplicates", "Duplicate clusters", "".join(parts))


def tokens_section(tokens: Path) -> Optional[Section]:
    manifest_path = tokens / "manifest.json"
    if not manifest_path.is_file():
        return None
    manifest = json.loads(manifest_path.read_text())
    sources, tokenizer = manifest.get("sources", {}), manifest.get("tokenizer", {})
    parts = [f"<p>{fmt(manifest.get('total_tokens', 0))} tokens in {fmt(manifest.get('total_rows', 0))} rows of "
             f"{manifest.get('row_tokens')} tokens; tokenizer {escape(str(tokenizer.get('sha256', ''))[:12])} with "
             f"{fmt(tokenizer.get('vocab_size', 0))} tokens.</p>"]
    for key, title in (("tokens_available", "tokens available"), ("tokens_used", "tokens used in training")):
        rows = [(name, info[key]) for name, info in sorted(sources.items()) if key in info]
        if rows:
            parts.append(f"<h3>{title}</h3>" + hbars(rows, f"{title} per source", color="#2e9e5b"))
    epochs = [(name, info["epochs"]) for name, info in sorted(sources.items()) if "epochs" in info]
    if epochs:
        parts.append("<h3>epochs per source</h3>" + hbars(epochs, "epochs per source", color="#1f9bb4",
                                                          annotate=[f"{e:.2f}" for _, e in epochs]))
    mixture = mixture_chart(tokens, manifest)
    if mixture:
        parts += ["<h3>mixture along the training order</h3><p>Each source's share of the rows in each "
                  f"1/{MIXTURE_POINTS} of the training order (solid) against the weight asked for that stretch "
                  "(dashed; phases change it).</p>", mixture]
    return Section("tokens", "Tokens and mixture", "".join(parts))


def mixture_chart(tokens: Path, manifest: dict) -> Optional[str]:
    """Share per source in MIXTURE_POINTS equal stretches of the rows, in training order (the manifest's
    shard order), streamed; the asked weights from the manifest's phases."""
    files = [tokens / shard["path"] for shard in manifest.get("shards", [])]
    total = manifest.get("total_rows") or sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    if not files or not total:
        return None
    buckets = min(MIXTURE_POINTS, total)
    counts: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(buckets, dtype=np.int64))
    seen = 0
    for values in column_batches(files, "source"):
        names = values.to_numpy(zero_copy_only=False)
        bucket = (np.arange(seen, seen + len(names)) * buckets) // total
        for name in np.unique(names):
            counts[str(name)] += np.bincount(bucket[names == name], minlength=buckets)
        seen += len(names)
    per_bucket = sum(counts.values())
    middles = [(i + 0.5) * total / buckets for i in range(buckets)]
    series = []
    for name in sorted(counts):
        share = counts[name] / np.maximum(per_bucket, 1)
        series.append(Line(f"{name} delivered", middles, share.tolist(), group=name))
        xs, ys = [], []
        for phase in manifest.get("phases", []):
            weight = phase.get("weights", {}).get(name, 0.0)
            xs += [phase["start_row"], phase["end_row"]]
            ys += [weight, weight]
        if xs:
            series.append(Line(f"{name} asked", xs, ys, group=name, dashed=True))
    return lines(series, "mixture along the training order", "row (training order)", "share of rows", (0, 1))


def training_section(run: Path) -> Optional[Section]:
    path = run / METRICS_FILE
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "step" in r]
    if not rows:
        return None

    def series(key):
        points = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        return [p[0] for p in points], [float(p[1]) for p in points]

    parts = [f"<p>{len({r['step'] for r in rows})} logged steps from {escape(str(path))}.</p>"]
    charts = (("training loss", "loss", ["loss", "eval_loss"]), ("learning rate", "learning rate", ["lr"]),
              ("gradient norm", "norm", ["grad_norm"]), ("throughput", "tokens/s", ["tokens_per_s"]))
    for title, label, keys in charts:
        drawn = [Line(key, *series(key)) for key in keys if series(key)[0]]
        if drawn:
            parts.append(f"<h3>{title}</h3>" + lines(drawn, title, "step", label))
    return Section("training", "Training", "".join(parts))


def evaluation_section(run: Path) -> Optional[Section]:
    html = evaluation_html(run)
    return Section("evaluation", "Evaluation", html) if html else None


# Page ----------------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 780px; color: #222; line-height: 1.45 }
h1 { font-size: 1.6em } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em }
h3 { font-size: 1.05em; margin: 1.4em 0 .3em } small { color: #666; font-weight: normal }
table { border-collapse: collapse } td, th { padding: .2em .8em; text-align: right; border-bottom: 1px solid #eee }
td:first-child, th:first-child { text-align: left } nav a { margin-right: 1em } svg.chart { display: block }
h4 { font-size: .95em; margin: 1em 0 .2em } ul.examples { padding-left: 1.2em }
blockquote { margin: .2em 0 .6em; padding: .3em .6em; background: #f6f6f6; white-space: pre-wrap;
             overflow-wrap: anywhere; font-size: .9em }
"""


def totals_table(ledger: dict) -> str:
    rows = []
    for source in sorted(ledger["input"]):
        removed = sum(ledger["removed"].get(source, {}).values())
        errors = sum(ledger["errors"].get(source, {}).values())
        n_in, kept = ledger["input"][source], ledger["kept"].get(source, 0)
        share = f"{100 * kept / n_in:.1f}%" if n_in else "–"
        rows.append(f"<tr><td>{escape(source)}</td><td>{n_in:,}</td><td>{kept:,}</td><td>{share}</td>"
                    f"<td>{removed:,}</td><td>{errors:,}</td></tr>")
    return ("<table><tr><th>source</th><th>input</th><th>kept</th><th>kept %</th><th>removed</th><th>errors</th></tr>"
            + "".join(rows) + "</table>")


def render(output: Path, ledger: dict, sections: list[Section]) -> str:
    nav = "".join(f'<a href="#{s.anchor}">{escape(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{s.anchor}"><h2>{escape(s.title)}</h2>{s.html}</section>' for s in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>tokenmill report: '
            f'{escape(output.name)}</title><style>{STYLE}</style></head><body>'
            f'<h1>tokenmill report <small>{escape(str(output))}</small></h1>'
            f"{totals_table(ledger)}<nav>{nav}</nav>{body}</body></html>")


def card_config(output: Path) -> tuple[Optional[Config], str]:
    """The config the curation of `output` ran with, from its run card (jobs/run_card.py), and where
    it came from; (None, "") when the folder has no card."""
    for job in ("curate", "run"):
        card = read_cards(str(output)).get(job)
        if card and isinstance(card.get("config"), dict):
            mapping = {key: value for key, value in card["config"].items() if key != "origin"}
            config = from_mapping(Config, mapping, f"{output / CARD_FILE}: {job}.config")
            config.origin = f"{card['config'].get('origin', CARD_FILE)}, as {output / CARD_FILE} records it"
            return config, config.origin
    return None, ""


def build_report(output: Path, run: Optional[Path] = None, config_path: Optional[str] = None) -> Path:
    """Write OUTPUT/report.html; returns its path. Without `run` and `config_path`, the training run
    is OUTPUT/run when it holds metrics (as `tokenmill run` lays it out) and the config is the one
    OUTPUT/run.json records."""
    ledger_path = output / LEDGER_FILE
    if not ledger_path.is_file():
        raise ConfigError(f"{output}: no {LEDGER_FILE} here (run `tokenmill curate --output {output}` first)")
    ledger = json.loads(ledger_path.read_text())
    config, origin = (load_config(config_path), config_path) if config_path else card_config(output)
    if config is None:
        config, origin = Config(), "the default settings"
    if run is None and (output / "run" / METRICS_FILE).is_file():
        run = output / "run"
    curated, rejected = shard_files(output / "curated"), shard_files(output / "rejected")
    sources = sorted(ledger["input"])
    candidates = [
        funnel_section(ledger),
        reasons_section(ledger),
        examples_section(ledger, rejected),
        languages_section(curated, rejected),
        signals_section(curated, rejected, config, sources, origin),
        duplicates_section(rejected),
        tokens_section(output / "tokens"),
        training_section(run) if run else None,
        evaluation_section(run) if run else None,
    ]
    page = output / REPORT_FILE
    page.write_text(render(output, ledger, [s for s in candidates if s]), encoding="utf-8")
    return page


@click.command()
@click.argument("output", type=click.Path(file_okay=False, path_type=Path))
@click.option("--run", type=click.Path(file_okay=False, path_type=Path),
              help="A training run folder (its metrics.jsonl gives the loss and learning-rate curves; "
                   "default: OUTPUT/run when it has one).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="The config the run used, for the thresholds drawn on the histograms (default: the one "
                   "OUTPUT/run.json records, else the defaults).")
def report_command(output, run, config_path):
    """Write OUTPUT/report.html about the run in OUTPUT: funnel, reasons and examples, languages, signals,
    duplicates, tokens and mixture, training curves and `tokenmill eval`'s figures."""
    try:
        page = build_report(output, run, config_path)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"report → {page}")
