"""ablation.html: one offline page (inline SVG, no script) from ablation.json and the proxies' metrics.

The loss curves of the arms side by side (each arm's training loss averaged over its seeds, in at
most `CURVE_POINTS` buckets of steps), then a table per evaluation set: each arm's value per seed,
mean, standard deviation and range, and each arm's difference from the first against the seed
spread (jobs/ablate/summary.py).
"""
from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Optional

import numpy as np

from tokenmill.jobs.report.charts import Line, lines
from tokenmill.jobs.report.page import METRICS_FILE, STYLE

PAGE_FILE = "ablation.html"
CURVE_POINTS = 200


def loss_curve(run_dir: Path) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """(steps, losses) of a run's metrics.jsonl, the last logged loss of each step."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return None
    losses = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else {}
        if isinstance(row.get("loss"), (int, float)):
            losses[row["step"]] = float(row["loss"])
    if not losses:
        return None
    steps = np.array(sorted(losses))
    return steps, np.array([losses[s] for s in steps])


def bucketed(curves: list[tuple[np.ndarray, np.ndarray]], points: int = CURVE_POINTS) -> tuple[list, list]:
    """The seeds' losses averaged, then averaged within at most `points` equal buckets of steps."""
    last = int(min(curve[0].max() for curve in curves))
    edges = np.linspace(0, last + 1, min(points, last + 1) + 1)
    xs, ys = [], []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = [losses[(steps >= low) & (steps < high)] for steps, losses in curves]
        if all(len(values) for values in inside):
            xs.append(float((low + high) / 2))
            ys.append(float(np.mean([values.mean() for values in inside])))
    return xs, ys


def figure_table(set_name: str, figure: str, data: dict, order: list[str]) -> str:
    arms, baseline = {name: data["arms"][name] for name in order}, order[0]
    seeds = sorted(next(iter(arms.values()))["values"], key=int)
    better = "lower" if data["lower_is_better"] else "higher"
    head = "".join(f"<th>seed {s}</th>" for s in seeds)
    rows = []
    for arm, stats in arms.items():
        cells = "".join(f"<td>{stats['values'][s]:.4f}</td>" for s in seeds)
        std = f"{stats['std']:.4f}" if stats["std"] is not None else "–"
        rows.append(f"<tr><td>{escape(arm)}</td>{cells}<td><b>{stats['mean']:.4f}</b></td><td>{std}</td>"
                    f"<td>{stats['range']:.4f}</td></tr>")
    comparisons = []
    for arm in order[1:]:
        versus = data[f"versus_{baseline}"][arm]
        ratio = versus["difference_over_spread"]
        verdict = ("no seed spread to compare with" if ratio is None
                   else "beyond the seed spread" if ratio > 1 else "within the seed spread")
        comparisons.append(
            f"<tr><td>{escape(arm)} − {escape(baseline)}</td><td>{versus['difference']:+.4f}</td>"
            f"<td>{versus['seed_spread']:.4f}</td><td>{'–' if ratio is None else f'{ratio:.1f}×'}</td>"
            f"<td>{'better' if versus['better'] else 'worse'}, {verdict}</td></tr>")
    return (f"<h3>{escape(set_name)}: {escape(figure.replace('_', ' '))} <small>({better} is better)</small></h3>"
            f"<table><tr><th>arm</th>{head}<th>mean</th><th>std</th><th>range</th></tr>{''.join(rows)}</table>"
            f"<table><tr><th>difference</th><th>of means</th><th>seed spread</th><th>÷ spread</th><th></th></tr>"
            f"{''.join(comparisons)}</table>")


def arms_table(summary: dict) -> str:
    rows = []
    for name in summary["settings"]["arms"]:
        arm = summary["arms"][name]
        curate, pack = arm.get("curate") or {}, arm.get("pack") or {}
        kept = sum((curate.get("kept") or {}).values())
        read = sum((curate.get("input") or {}).values())
        documents = sum(s["documents"] for s in (pack.get("sources") or {}).values())
        available = sum(s["tokens_available"] for s in (pack.get("sources") or {}).values())
        epochs = ", ".join(f"{s} {v['epochs']:.2f}" for s, v in (pack.get("sources") or {}).items())
        losses = [run.get("loss") for run in arm["runs"].values() if run.get("loss") is not None]
        rows.append(f"<tr><td>{escape(name)}</td><td>{f'{kept:,} of {read:,}' if read else 'given'}</td>"
                    f"<td>{documents:,}</td><td>{available:,}</td><td>{pack.get('total_tokens', 0):,}</td>"
                    f"<td>{escape(epochs)}</td><td>{', '.join(f'{x:.3f}' for x in losses)}</td></tr>")
    return ("<table><tr><th>arm</th><th>documents kept</th><th>documents packed</th><th>tokens available</th>"
            "<th>tokens trained on</th><th>epochs</th><th>final loss per seed</th></tr>" + "".join(rows) + "</table>")


def write_page(output: Path, summary: dict) -> Path:
    settings = summary["settings"]
    series = []
    for name in settings["arms"]:
        runs = summary["arms"][name]["runs"].values()
        curves = [curve for run in runs if (curve := loss_curve(output / run["run"])) is not None]
        if curves:
            series.append(Line(name, *bucketed(curves)))
    parts = [
        f"<p>{len(summary['arms'])} arms, {settings['seeds']} seeds each: {settings['model']} proxies, "
        f"{settings['tokens']:,} tokens, {settings['steps']:,} steps of {settings['batch_size']} rows of "
        f"{settings['seq_len']} tokens, vocabulary {settings['vocab_size']:,}, learning rate {settings['lr']:g}. "
        f"Every arm is compared with the first, {escape(settings['baseline'])}.</p>",
        "<h2>Arms</h2>", arms_table(summary),
        "<h2>Training loss</h2>",
        lines(series, "training loss, mean over seeds", "step", "loss") if series else "<p>No metrics found.</p>",
        "<h2>Evaluation</h2>",
    ]
    for set_name, entry in summary["sets"].items():
        for figure, data in entry["figures"].items():
            parts.append(figure_table(set_name, figure, data, settings["arms"]))
    page = output / PAGE_FILE
    page.write_text(f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>tokenmill ablation: '
                    f'{escape(output.name)}</title><style>{STYLE}</style></head><body>'
                    f'<h1>tokenmill ablation <small>{escape(str(output))}</small></h1>{"".join(parts)}</body></html>',
                    encoding="utf-8")
    return page
