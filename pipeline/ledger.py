"""The ledger: where every document went. `input == kept + removed + errors`, per source.

Built from the pipeline's own outputs (not from runner metrics, which some runners report late or
not at all), so it is exact on every runner:

    {"input": {src: n}, "kept": {src: n},
     "removed": {src: {"stage/reason": n}}, "errors": {src: {"stage/kind": n}},
     "notes": {src: {"read/replaced_bytes": n}}, "balanced": true}
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
              "notes": {s: {} for s in sources}}
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


def exit_status(ledger: dict) -> int:
    """The curate command's exit status: 0 only when every document is accounted for."""
    return 0 if ledger.get("balanced") else 1
