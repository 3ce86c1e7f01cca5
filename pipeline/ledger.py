"""The ledger: where every document went. `input == kept + removed + errors`, per source.

Built from the pipeline's own outputs (not from runner metrics, which some runners report late or
not at all), so it is exact on every runner:

    {"input": {src: n}, "kept": {src: n},
     "removed": {src: {"stage/reason": n}}, "errors": {src: {"stage/kind": n}},
     "notes": {src: {"read/replaced_bytes": n}}, "unread_files": {src: {"stage/kind": files}},
     "balanced": true}

`unread_files` counts the input files a run lost whole (their reader gave nothing but failures), by the
first failure; each such failure is among the errors too. `data_loss` turns a ledger into the reasons
a run failed to keep its input: an unbalanced count, a file lost whole, or errors above a share.
"""
from __future__ import annotations

import json
from collections import defaultdict

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from tokenmill.transforms.files import write_file

LEDGER_FILE = "ledger.json"
SUMMARY_REASONS = 4  # removal reasons named per source in the terminal summary


def assemble(counts: list[tuple[tuple[str, str, str], int]], sources: list[str]) -> dict:
    """Event counts → the ledger mapping, with every source present and the balance checked."""
    ledger = {"input": {s: 0 for s in sources}, "kept": {s: 0 for s in sources},
              "removed": {s: {} for s in sources}, "errors": {s: {} for s in sources},
              "notes": {s: {} for s in sources}, "unread_files": {s: {} for s in sources}}
    for (category, source, key), n in counts:
        if category in ("input", "kept"):
            ledger[category][source] = ledger[category].get(source, 0) + n
        else:
            ledger[category].setdefault(source, {})[key] = n
    ledger["balanced"] = all(
        ledger["input"].get(s, 0) == ledger["kept"].get(s, 0) + sum(ledger["removed"].get(s, {}).values())
        + sum(ledger["errors"].get(s, {}).values())
        for s in set(ledger["input"]) | set(ledger["kept"]))
    return ledger


def write_ledger(ledger: dict, output: str) -> str:
    data = (json.dumps(ledger, indent=2, sort_keys=True) + "\n").encode("utf-8")
    return write_file(f"{output.rstrip('/')}/{LEDGER_FILE}", data)


class WriteLedger(beam.PTransform):
    """Ledger events → ledger.json under `output`; outputs the path once written.

    An event is (category, source, key): ("input", source, "") for every item a reader produced
    (document, read-time reject, read failure), and one outcome per item: ("kept", ...),
    ("removed", source, "stage/reason"), ("errors", source, "stage/kind"); ("notes", ...) count what
    the readers repaired. Inputs and outcomes are emitted by different passes, so the balance is a
    real check. Events are counted by a combiner: a few bytes per source and key reach one worker.
    """

    def __init__(self, output: str, sources: list[str]):
        super().__init__()
        self.output = output
        self.sources = sorted(sources)

    def expand(self, events):
        sources, output = self.sources, self.output
        return (
            events
            | "Count" >> beam.combiners.Count.PerElement()
            | "Gather" >> beam.combiners.ToList()
            | "Write" >> beam.Map(lambda counts: write_ledger(assemble(counts, sources), output))
        )


def read_ledger(output: str) -> dict:
    with FileSystems.open(f"{output.rstrip('/')}/{LEDGER_FILE}") as f:
        return json.loads(f.read().decode("utf-8"))


def summary_lines(ledger: dict) -> list[str]:
    """A few lines for the terminal: per source, input → kept, the top removal reasons and how many
    more there are."""
    lines = []
    for source in sorted(ledger["input"]):
        n_in, n_kept = ledger["input"][source], ledger["kept"].get(source, 0)
        reasons = defaultdict(int)
        for key, n in ledger["removed"].get(source, {}).items():
            reasons[key] += n
        for key, n in ledger["errors"].get(source, {}).items():
            reasons[f"error {key}"] += n
        ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        top = ", ".join(f"{k} {n}" for k, n in ranked[:SUMMARY_REASONS])
        if len(ranked) > SUMMARY_REASONS:
            rest = ranked[SUMMARY_REASONS:]
            top += (f" and {len(rest)} more reason{'s' if len(rest) > 1 else ''} "
                    f"({sum(n for _, n in rest)} documents; see ledger.json)")
        share = f" ({100 * n_kept / n_in:.1f}%)" if n_in else ""
        lines.append(f"{source}: {n_in} in → {n_kept} kept{share}" + (f"; {top}" if top else ""))
    lines.append("ledger balanced" if ledger.get("balanced") else "LEDGER DOES NOT BALANCE")
    return lines


class DataLost(RuntimeError):
    """A run that wrote what it could but lost input: `causes` says what, one line each."""

    def __init__(self, ledger: dict, causes: list[str]):
        super().__init__("\n".join(causes))
        self.ledger, self.causes = ledger, causes


def data_loss(ledger: dict, max_error_share: float, max_unread_files: int = 0) -> list[str]:
    """Why a run with this ledger lost data, one line per cause ([] when it did not): documents the
    ledger does not account for; a source with more than `max_unread_files` input files it could read
    nothing from; a source whose errors exceed `max_error_share` of its documents."""
    causes = []
    for source in sorted(ledger["input"]):
        n_in = ledger["input"][source]
        errors = ledger["errors"].get(source, {})
        removed = sum(ledger["removed"].get(source, {}).values())
        accounted = ledger["kept"].get(source, 0) + removed + sum(errors.values())
        if accounted != n_in:
            causes.append(f"{source}: the ledger does not balance: {n_in:,} documents in, {accounted:,} accounted for")
        unread = ledger.get("unread_files", {}).get(source, {})
        if sum(unread.values()) > max_unread_files:
            causes.append(f"{source}: {sum(unread.values()):,} input file{'s' if sum(unread.values()) > 1 else ''} "
                          f"could not be read at all ({_ranked(unread)}; curate.max_unread_files is "
                          f"{max_unread_files})")
        if n_in and sum(errors.values()) > max_error_share * n_in:
            causes.append(f"{source}: {sum(errors.values()):,} of {n_in:,} documents failed "
                          f"({sum(errors.values()) / n_in:.2%}, more than curate.max_error_share "
                          f"{max_error_share:.2%}: {_ranked(errors)})")
    return causes


def _ranked(counts: dict[str, int], shown: int = SUMMARY_REASONS) -> str:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    more = f" and {len(ranked) - shown} more" if len(ranked) > shown else ""
    return ", ".join(f"{key} {n:,}" for key, n in ranked[:shown]) + more
