"""The report's evaluation section: what `tokenmill eval` measured of a run (RUN/eval.json).

A table per text set (bits per byte with its 95% interval, mean loss, tokens and documents, per
checkpoint) and per multiple-choice set (acc and acc_norm with their intervals, questions, chance),
and, when more than one checkpoint was evaluated, each text set's bits per byte along the steps.
"""
from __future__ import annotations

from html import escape
from typing import Callable, Optional

from tokenmill.jobs.eval.results import EVAL_FILE
from tokenmill.jobs.report.charts import Line, lines
from tokenmill.jobs.report.sample import read_json


def _interval(bounds) -> str:
    return f" <small>[{bounds[0]:.4f}, {bounds[1]:.4f}]</small>" if bounds else ""


def _step(entry: dict) -> str:
    step = (entry.get("checkpoint") or {}).get("step")
    return f"{step:,}" if step is not None else escape(entry.get("model", {}).get("name", "–"))


def _per_set_tables(entries: list[dict], kind: str, caption: Callable[[dict], str], header: str,
                    cells: Callable[[dict], str]) -> list[str]:
    """A table per set of `kind` ("text" or "choice"), a row per checkpoint that measured it."""
    tables = []
    for name in sorted({name for entry in entries for name in entry.get(kind, {})}):
        measured = [(entry, entry[kind][name]) for entry in entries if name in entry.get(kind, {})]
        rows = "".join(f"<tr><td>{_step(entry)}</td>{cells(result)}</tr>" for entry, result in measured)
        tables.append(f"<h3>{escape(name)} <small>({caption(measured[-1][1])})</small></h3><table><tr>"
                      f"<th>step</th>{header}</tr>{rows}</table>")
    return tables


def evaluation_html(run: str) -> Optional[str]:
    """The section's HTML, or None when the run (a local folder or gs://, s3://, hdfs://) has no evaluation."""
    data = read_json(f"{run}/{EVAL_FILE}")
    entries = list(data.get("evaluations", [])) if isinstance(data, dict) else []
    if not entries:
        return None
    parts = [f"<p>{len(entries)} evaluated checkpoint{'s' if len(entries) > 1 else ''} in "
             f"{escape(run + '/' + EVAL_FILE)}; intervals are 95%.</p>"]
    parts += _per_set_tables(
        entries, "text", lambda r: "text: bits per byte, lower is better",
        "<th>bits per byte</th><th>loss</th><th>tokens</th><th>documents</th><th>stride</th>",
        lambda r: (f"<td>{r['bits_per_byte']:.4f}{_interval(r['bits_per_byte_ci95'])}</td><td>{r['loss']:.4f}</td>"
                   f"<td>{r['tokens']:,}</td><td>{r['documents']:,}</td><td>{r['stride']} of {r['context']}</td>"))
    parts += _per_set_tables(
        entries, "choice", lambda r: f"multiple choice, {escape(r['layout'])}",
        "<th>acc</th><th>acc_norm</th><th>questions</th><th>chance</th>",
        lambda r: (f"<td>{r['acc']:.4f}{_interval(r['acc_ci95'])}</td><td>{r['acc_norm']:.4f}"
                   f"{_interval(r['acc_norm_ci95'])}</td><td>{r['items']:,}</td><td>{r['chance']:.3f}</td>"))
    stepped = [e for e in entries if (e.get("checkpoint") or {}).get("step") is not None]
    series = [Line(name, [e["checkpoint"]["step"] for e in stepped if name in e.get("text", {})],
                   [e["text"][name]["bits_per_byte"] for e in stepped if name in e.get("text", {})])
              for name in sorted({name for e in entries for name in e.get("text", {})})]
    series = [line for line in series if len(line.xs) > 1]
    if series:
        parts.append("<h3>bits per byte along training</h3>" + lines(series, "bits per byte", "step", "bits per byte"))
    return "".join(parts)
