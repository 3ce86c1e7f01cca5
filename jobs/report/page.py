"""`tokenmill report DIR`: one self-contained HTML page about a run, DIR/report.html.

It reads what the jobs wrote, through Beam's file systems (DIR may be local or `gs://`, `s3://`,
`hdfs://`), and an amount of it that does not grow with the corpus: DIR/ledger.json (the funnel and
the removal reasons, exact), DIR/run.json for the config the thresholds come from, a bounded sample of
the curated and rejected shards (jobs/report/sample.py: languages, signal histograms of kept and
removed documents, duplicate clusters, example documents per removal reason),
DIR/tokens/manifest.json (tokens per source; the mixture along the training order from one token
shard per stretch of it) and a training run's metrics.jsonl and `tokenmill eval`'s eval.json (DIR/run by default). A section whose
inputs are absent is left out; a new section is a function of `RunOutput` added to SECTIONS. Charts
are inline SVG (jobs/report/charts.py): the page needs no network and no script.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cached_property
from html import escape
from typing import Callable, Optional

import click
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from tokenmill.jobs.report.charts import PALETTE, Bars, Line, fmt, hbars, histogram, lines
from tokenmill.jobs.report.evaluation import evaluation_html
from tokenmill.jobs.report.sample import ShardSample, read_json, read_lines
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
REMOVED_COLUMNS = ["source", "stage", "reason", "duplicate_of"]


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    html: str


class RunOutput:
    """An output folder as the report sees it: the ledger, the config, and what the sections read,
    each read once, when first asked for."""

    def __init__(self, root: str, ledger: dict, config: Config, origin: str, run: Optional[str]):
        self.root, self.ledger, self.config, self.origin, self.run = root, ledger, config, origin, run

    @cached_property
    def kept(self) -> ShardSample:
        return ShardSample.of(f"{self.root}/curated", self.ledger["kept"])

    @cached_property
    def removed(self) -> ShardSample:
        return ShardSample.of(f"{self.root}/rejected", {source: sum(reasons.values())
                                                        for source, reasons in self.ledger["removed"].items()})

    @cached_property
    def signal_columns(self) -> list[str]:
        """The measured signal columns (numeric, not the base or reject columns) of the sampled shards."""
        schema = {**self.kept.schema(), **self.removed.schema()}
        return sorted(name for name, kind in schema.items()
                      if name not in BASE_COLUMNS and name not in REJECT_COLUMNS
                      and (pa.types.is_integer(kind) or pa.types.is_floating(kind)))

    @cached_property
    def kept_rows(self) -> pa.Table:
        return self.kept.table(["lang", "lang_score", *self.signal_columns])

    @cached_property
    def removed_rows(self) -> pa.Table:
        return self.removed.table([*REMOVED_COLUMNS, "lang", "lang_score", *self.signal_columns])

    @property
    def sources(self) -> list[str]:
        return sorted(self.ledger["input"])


def sample_note(rows: int, total: int, what: str) -> str:
    """"1,234 kept documents", or "a sample of 20,000 of 1,234,567 kept documents"."""
    return f"{rows:,} {what}" if rows >= total else f"a sample of {rows:,} of {total:,} {what}"


def values(table: pa.Table, column: str) -> pa.Array:
    """The non-null values of `column`."""
    array = table.column(column).combine_chunks() if column in table.column_names else pa.nulls(0)
    return array.filter(pc.is_valid(array))


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


def histogram_of(groups: dict[str, pa.Array], bins: int = HISTOGRAM_BINS) -> Optional[Histogram]:
    """Counts per group on shared bins; log bins when the values span more than three decades and are
    all positive. None when no group holds a value."""
    present = [array for array in groups.values() if len(array)]
    if not present:
        return None
    low = min(pc.min(array).as_py() for array in present)
    high = max(pc.max(array).as_py() for array in present)
    constant = high == low
    log_x = low > 0 and high / low > 1000
    if constant:
        low, high = low - 0.5, high + 0.5
    edges = np.geomspace(low, high, bins + 1) if log_x else np.linspace(low, high, bins + 1)
    parts = {group: np.histogram(array.to_numpy(zero_copy_only=False), bins=edges)[0].tolist()
             for group, array in groups.items()}
    return Histogram(edges.tolist(), parts, log_x, sum(len(array) for array in present), constant)


# Sections ------------------------------------------------------------------------------------------

def stage_order(ledger: dict) -> list[str]:
    """read, then the registry's stages, then any stage the ledger names that the registry does not."""
    seen = {key.split("/")[0] for part in ("removed", "errors") for per in ledger[part].values() for key in per}
    known = ["read", *STAGES]
    return known + sorted(seen - set(known))


def funnel_section(out: RunOutput) -> Section:
    """Documents left after each stage, per source."""
    ledger = out.ledger
    stages = stage_order(ledger)
    parts = ['<p>Documents left after each stage, per source; the percentage is of the input. '
             f'The ledger {"balances" if ledger.get("balanced") else "<b>does not balance</b>"}: '
             'input = kept + removed + errors for every source.</p>']
    unread = {source: sum(n.values()) for source, n in ledger.get("unread_files", {}).items() if n}
    if unread:
        parts.append("<p><b>Input files read into nothing but errors:</b> "
                     + ", ".join(f"{escape(source)} {n:,}" for source, n in sorted(unread.items())) + "</p>")
    for source in out.sources:
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


def reasons_section(out: RunOutput) -> Section:
    parts = ["<p>Why documents left the pipeline: <code>stage/reason</code> for removals, "
             "<code>error stage/kind</code> for failures.</p>"]
    for source in out.sources:
        rows = [(key, n) for key, n in out.ledger["removed"].get(source, {}).items()]
        rows += [(f"error {key}", n) for key, n in out.ledger["errors"].get(source, {}).items()]
        rows.sort(key=lambda kv: (-kv[1], kv[0]))
        body = hbars(rows, f"removal reasons of {source}", color="#dc6c1f") if rows else "<p>nothing removed</p>"
        parts.append(f"<h3>{escape(source)}</h3>{body}")
    return Section("reasons", "Removal reasons", "".join(parts))


def value_counts(table: pa.Table, column: str) -> Counter:
    present = values(table, column)
    if not len(present):
        return Counter()
    counts = pc.value_counts(present)
    return Counter(dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())))


def languages_section(out: RunOutput) -> Optional[Section]:
    kept, dropped = value_counts(out.kept_rows, "lang"), value_counts(out.removed_rows, "lang")
    if not kept and not out.removed.reads:
        return None
    kept_note = sample_note(out.kept_rows.num_rows, out.kept.documents, "kept documents")
    parts = [f"<p>Top language (fastText lid.176) of the kept documents, in {kept_note}.</p>",
             hbars(kept.most_common(20), "languages of kept documents")]
    if dropped:
        removed_note = sample_note(out.removed_rows.num_rows, out.removed.documents, "removed documents")
        parts += ["<p>Top language of the removed documents (any stage; documents removed at read time "
                  f"were never identified), in {removed_note}.</p>",
                  hbars(dropped.most_common(20), "languages of removed documents", color="#dc6c1f")]
    return Section("languages", "Language distribution", "".join(parts))


def stage_thresholds(config: Config, sources: list[str]) -> dict[str, dict[tuple, list[str]]]:
    """signal → {(low, high): [sources]} from each document stage's filter as `config` sets it up (a
    stage whose side files are not where the report runs has no threshold to draw)."""
    found: dict[str, dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))
    for source in sources:
        known = source in config.sources
        names = source_stages(config, source) if known else [n for n, s in STAGES.items() if s.default]
        for name in names:
            stage = STAGES[name]
            if stage.kind != "document":
                continue
            try:
                doc_filter = stage.build(settings_for(config, name, source if known else None),
                                         config.sources[source] if known else SourceConfig("text", []))
            except ConfigError:
                continue
            for signal, bounds in doc_filter.thresholds().items():
                found[signal][bounds].append(source)
    return found


KEPT_COLOR, REMOVED_COLOR = PALETTE[0], PALETTE[1]


def signals_section(out: RunOutput) -> Optional[Section]:
    groups = {"kept": out.kept_rows, "removed": out.removed_rows} if out.removed.reads else {"kept": out.kept_rows}
    colors = {"kept": KEPT_COLOR, "removed": REMOVED_COLOR}
    thresholds = stage_thresholds(out.config, out.sources)
    legend = " and ".join(f'<span style="color:{colors[group]}">{group}</span>' for group in groups)
    sampled = " and ".join(sample_note(table.num_rows, sample.documents, f"{group} documents")
                           for (group, table), sample in zip(groups.items(), (out.kept, out.removed)))
    parts = [f"<p>Every measured value over the {legend} documents{' (stacked)' if len(groups) > 1 else ''} "
             f"({sampled}); the red lines are the thresholds a document must clear (from {escape(out.origin)}). "
             "A signal is measured only on the documents that reach its stage.</p>"]
    constant = []
    for column in ["lang_score", *out.signal_columns]:
        result = histogram_of({group: values(table, column) for group, table in groups.items()})
        if result is None:
            continue
        if result.constant and column not in thresholds:
            constant.append(f"<code>{escape(column)}</code> = {fmt(result.edges[0] + 0.5)}")
            continue
        marks = []
        for (low, high), where in sorted(thresholds.get(column, {}).items(), key=lambda kv: str(kv[0])):
            scope = "" if len(where) == len(out.sources) else f" ({', '.join(where)})"
            marks += [(low, f"min {fmt(low)}{scope}")] if low is not None else []
            marks += [(high, f"max {fmt(high)}{scope}")] if high is not None else []
        scale = ", log scale" if result.log_x else ""
        bars = [Bars(group, counts, colors[group]) for group, counts in result.parts.items()]
        parts.append(f"<h3><code>{escape(column)}</code> <small>{fmt(result.n)} documents{scale}</small></h3>"
                     + histogram(result.edges, bars, f"histogram of {column}", result.log_x, marks))
    if constant:
        parts.append(f"<p>The same on every document: {', '.join(constant)}.</p>")
    return Section("signals", "Quality signals", "".join(parts)) if len(parts) > 1 else None


def examples_section(out: RunOutput, per_reason: int = EXAMPLES_PER_REASON) -> Optional[Section]:
    """The first sampled documents removed for each reason (in shard order), their first characters:
    what a rule actually catches. Reads the text of the rejected sample a batch at a time and stops
    once every reason the ledger names has its examples."""
    removed = out.ledger["removed"]
    wanted = {(source, key) for source, reasons in removed.items() for key in reasons}
    found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for batch in out.removed.batches(["source", "stage", "reason", "id", "text"], batch_rows=256):
        for source, stage, reason, doc_id, text in zip(*(batch.column(i).to_pylist() for i in range(5))):
            examples = found[(source, f"{stage}/{reason}")]
            if len(examples) < per_reason:
                examples.append((doc_id, (text or "")[:EXAMPLE_CHARS]))
        if all(len(found[key]) >= per_reason for key in wanted):
            break
    if not any(found.values()):
        return None
    parts = [f"<p>The first {per_reason} documents removed for each reason in "
             f"{sample_note(out.removed_rows.num_rows, out.removed.documents, 'removed documents')}, cut to "
             f"their first {EXAMPLE_CHARS} characters.</p>"]
    for source in sorted(removed):
        reasons = sorted(removed[source].items(), key=lambda kv: (-kv[1], kv[0]))
        shown = [(key, found[(source, key)]) for key, _ in reasons if found.get((source, key))]
        unseen = [key for key, _ in reasons if not found.get((source, key))]
        if not reasons:
            continue
        parts.append(f"<h3>{escape(source)}</h3>")
        if unseen:
            names = ", ".join(f"<code>{escape(key)}</code>" for key in unseen)
            parts.append(f"<p>No example in the sample of: {names}.</p>")
        for key, examples in shown:
            items = "".join(f'<li><code>{escape(str(doc_id))}</code><blockquote>{escape(text) or "<i>no text</i>"}'
                            f'{"…" if len(text) == EXAMPLE_CHARS else ""}</blockquote></li>'
                            for doc_id, text in examples)
            parts.append(f'<h4>{escape(key)} <small>{fmt(removed[source][key])} removed</small></h4>'
                         f'<ul class="examples">{items}</ul>')
    return Section("examples", "Examples of removed documents", "".join(parts))


def duplicates_section(out: RunOutput) -> Optional[Section]:
    """Cluster size = the kept document plus every document removed as its duplicate, in the sample."""
    rows = out.removed_rows.filter(pc.is_valid(out.removed_rows.column("duplicate_of")))
    clusters: dict[str, Counter] = defaultdict(Counter)
    for stage, original in zip(rows.column("stage").to_pylist(), rows.column("duplicate_of").to_pylist()):
        clusters[stage][original] += 1
    if not clusters:
        return None
    parts = ["<p>Documents removed as duplicates, grouped by the document kept in their place: a cluster's "
             f"size counts the kept one too; from "
             f"{sample_note(out.removed_rows.num_rows, out.removed.documents, 'removed documents')}.</p>"]
    for stage in sorted(clusters):
        sizes = Counter(n + 1 for n in clusters[stage].values())
        removed = sum(n.get(f"{stage}/duplicate", 0) for n in out.ledger["removed"].values())
        bars = [(f"size {size}", count) for size, count in sorted(sizes.items())]
        parts.append(f"<h3>{escape(stage)} <small>{fmt(len(clusters[stage]))} clusters in the sample, "
                     f"{fmt(removed)} removed in all, largest {max(sizes)}</small></h3>"
                     + hbars(bars, f"{stage} cluster sizes", color="#a23fb5",
                             annotate=[f"{fmt(c)} clusters" for _, c in bars]))
    return Section("duplicates", "Duplicate clusters", "".join(parts))


def tokens_section(out: RunOutput) -> Optional[Section]:
    tokens = f"{out.root}/tokens"
    manifest = read_json(f"{tokens}/manifest.json")
    if manifest is None:
        return None
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
                  f"1/{MIXTURE_POINTS} of the training order (solid; read from the token shard in the middle of "
                  "each stretch) against the weight asked for that stretch (dashed; phases change it).</p>", mixture]
    return Section("tokens", "Tokens and mixture", "".join(parts))


def mixture_chart(tokens: str, manifest: dict) -> Optional[str]:
    """Share per source in MIXTURE_POINTS equal stretches of the rows, in training order (the manifest's
    shard order): for each stretch, the rows of it that lie in the shard holding its middle row, so at
    most MIXTURE_POINTS shards' `source` columns are read; the asked weights from the manifest's phases."""
    shards = manifest.get("shards", [])
    starts = np.cumsum([0] + [shard.get("rows", 0) for shard in shards])
    total = int(starts[-1]) if shards and all("rows" in shard for shard in shards) else 0
    if not total:
        return None
    buckets = min(MIXTURE_POINTS, total)
    bounds = [(b * total // buckets, (b + 1) * total // buckets) for b in range(buckets)]
    counts: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(buckets, dtype=np.int64))
    holding = defaultdict(list)  # shard index -> the stretches whose middle row it holds
    for b, (first, end) in enumerate(bounds):
        holding[int(np.searchsorted(starts, (first + end - 1) // 2, side="right")) - 1].append(b)
    for index, stretches in sorted(holding.items()):
        with FileSystems.open(f"{tokens}/{shards[index]['path']}") as stream:
            names = pq.read_table(stream, columns=["source"]).column("source").to_numpy(zero_copy_only=False)
        rows = np.arange(starts[index], starts[index] + len(names))
        for b in stretches:
            inside = names[(rows >= bounds[b][0]) & (rows < bounds[b][1])]
            for name, n in zip(*np.unique(inside, return_counts=True)):
                counts[str(name)][b] += n
    read = np.zeros(buckets, dtype=np.int64)
    for part in counts.values():
        read += part
    middles = [(first + end) / 2 for first, end in bounds]
    series = []
    for name in sorted(counts):
        stretches = read > 0
        share = counts[name][stretches] / read[stretches]
        series.append(Line(f"{name} delivered", list(np.array(middles)[stretches]), share.tolist(), group=name))
        xs, ys = [], []
        for phase in manifest.get("phases", []):
            weight = phase.get("weights", {}).get(name, 0.0)
            xs += [phase["start_row"], phase["end_row"]]
            ys += [weight, weight]
        if xs:
            series.append(Line(f"{name} asked", xs, ys, group=name, dashed=True))
    return lines(series, "mixture along the training order", "row (training order)", "share of rows", (0, 1))


def training_section(out: RunOutput) -> Optional[Section]:
    if out.run is None:
        return None
    path = f"{out.run}/{METRICS_FILE}"
    rows = [record for line in read_lines(path) if line.strip() and "step" in (record := json.loads(line))]
    if not rows:
        return None

    def series(key):
        points = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        return [p[0] for p in points], [float(p[1]) for p in points]

    parts = [f"<p>{len({r['step'] for r in rows})} logged steps from {escape(path)}.</p>"]
    charts = (("training loss", "loss", ["loss", "eval_loss"]), ("learning rate", "learning rate", ["lr"]),
              ("gradient norm", "norm", ["grad_norm"]), ("throughput", "tokens/s", ["tokens_per_s"]))
    for title, label, keys in charts:
        drawn = [Line(key, *series(key)) for key in keys if series(key)[0]]
        if drawn:
            parts.append(f"<h3>{title}</h3>" + lines(drawn, title, "step", label))
    return Section("training", "Training", "".join(parts))


def evaluation_section(out: RunOutput) -> Optional[Section]:
    html = evaluation_html(out.run) if out.run is not None else None
    return Section("evaluation", "Evaluation", html) if html else None


# The page's sections, in order: each takes the output folder and returns its Section, or None when
# what it shows is absent. A new section is one more function here.
SECTIONS: list[Callable[[RunOutput], Optional[Section]]] = [
    funnel_section, reasons_section, examples_section, languages_section, signals_section, duplicates_section,
    tokens_section, training_section, evaluation_section,
]


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


def render(output: str, ledger: dict, sections: list[Section]) -> str:
    nav = "".join(f'<a href="#{s.anchor}">{escape(s.title)}</a>' for s in sections)
    body = "".join(f'<section id="{s.anchor}"><h2>{escape(s.title)}</h2>{s.html}</section>' for s in sections)
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>tokenmill report: '
            f'{escape(output.rstrip("/").rsplit("/", 1)[-1])}</title><style>{STYLE}</style></head><body>'
            f'<h1>tokenmill report <small>{escape(output)}</small></h1>'
            f"{totals_table(ledger)}<nav>{nav}</nav>{body}</body></html>")


def card_config(output: str) -> tuple[Optional[Config], str]:
    """The config the curation of `output` ran with, from its run card (jobs/run_card.py), and where
    it came from; (None, "") when the folder has no card."""
    for job in ("curate", "run"):
        card = read_cards(output).get(job)
        if card and isinstance(card.get("config"), dict):
            mapping = {key: value for key, value in card["config"].items() if key != "origin"}
            config = from_mapping(Config, mapping, f"{output}/{CARD_FILE}: {job}.config")
            config.origin = f"{card['config'].get('origin', CARD_FILE)}, as {output}/{CARD_FILE} records it"
            return config, config.origin
    return None, ""


def build_report(output: str, run: Optional[str] = None, config_path: Optional[str] = None) -> str:
    """Write OUTPUT/report.html (through Beam's file systems); returns its path. Without `run` and
    `config_path`, the training run is OUTPUT/run when it holds metrics (as `tokenmill run` lays it out)
    and the config is the one OUTPUT/run.json records."""
    output = str(output).rstrip("/")
    ledger = read_json(f"{output}/{LEDGER_FILE}")
    if ledger is None:
        raise ConfigError(f"{output}: no {LEDGER_FILE} here (run `tokenmill curate --output {output}` first)")
    config, origin = (load_config(config_path), config_path) if config_path else card_config(output)
    if config is None:
        config, origin = Config(), "the default settings"
    if run is None and FileSystems.exists(f"{output}/run/{METRICS_FILE}"):
        run = f"{output}/run"
    out = RunOutput(output, ledger, config, origin, str(run).rstrip("/") if run is not None else None)
    page = f"{output}/{REPORT_FILE}"
    with FileSystems.create(page) as sink:
        sink.write(render(output, ledger, [s for section in SECTIONS if (s := section(out))]).encode("utf-8"))
    return page


@click.command()
@click.argument("output")
@click.option("--run", help="A training run folder (its metrics.jsonl gives the loss and learning-rate curves; "
                            "default: OUTPUT/run when it has one).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="The config the run used, for the thresholds drawn on the histograms (default: the one "
                   "OUTPUT/run.json records, else the defaults).")
def report_command(output, run, config_path):
    """Write OUTPUT/report.html about the run in OUTPUT (a local folder or gs://, s3://, hdfs://): funnel,
    reasons and examples, languages, signals, duplicates, tokens and mixture, training curves and
    `tokenmill eval`'s figures."""
    try:
        page = build_report(output, run, config_path)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"report → {page}")
