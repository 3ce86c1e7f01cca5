"""The one benchmark table: the row every benchmark returns, and its rendering.

A benchmark module `tests/benchmarks/bench_<name>.py` plugs into `run_all.py` by exposing
`bench_rows() -> list[Row]` (its defaults are the published scale). The table is Markdown, so the
same text goes to the terminal and into docs/benchmarks.md.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import Optional, Sequence


@dataclass(frozen=True)
class Row:
    bench: str                    # the benchmark, e.g. "curate"
    measurement: str              # a stage, or "end to end"
    workers: Optional[int]        # local worker processes; None where that does not apply
    docs_per_s: Optional[float]
    mb_per_s: Optional[float]     # MB of document text per second
    peak_mb: Optional[float]      # peak resident memory of the measuring process and its children
    vs_baseline: Optional[float]  # tokenmill's time / the plain-library baseline's time on the same work
    baseline: str = ""            # what the baseline is


def _cell(value: Optional[float], spec: str) -> str:
    return "" if value is None else format(value, spec)


def speedups(rows: Sequence[Row]) -> list[tuple[str, str, float]]:
    """(bench, measurement, docs/s with 2 workers / docs/s with 1) wherever both were measured."""
    by_key = {(r.bench, r.measurement, r.workers): r for r in rows}
    return [(bench, name, by_key[(bench, name, 2)].docs_per_s / r.docs_per_s)
            for (bench, name, workers), r in by_key.items()
            if workers == 1 and (bench, name, 2) in by_key and r.docs_per_s and by_key[(bench, name, 2)].docs_per_s]


def render(rows: Sequence[Row], header: str = "") -> str:
    lines = [header, ""] if header else []
    lines += ["| bench | measurement | workers | docs/s | MB/s | peak MB | time vs baseline | baseline |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        lines.append(f"| {r.bench} | {r.measurement} | {'' if r.workers is None else r.workers} | "
                     f"{_cell(r.docs_per_s, ',.0f')} | {_cell(r.mb_per_s, '.2f')} | {_cell(r.peak_mb, ',.0f')} | "
                     f"{_cell(r.vs_baseline, '.2f')}{'×' if r.vs_baseline is not None else ''} | {r.baseline} |")
    gains = speedups(rows)
    if gains:
        lines.append("")
        lines += [f"Speed-up from 1 to 2 workers, {bench} {name}: {gain:.2f}×" for bench, name, gain in gains]
    return "\n".join(lines)


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}"
