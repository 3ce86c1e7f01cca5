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

from tokenmill.filters.document import Document, Failed, Rejected

LEDGER_FILE = "ledger.json"
SUMMARY_REASONS = 4  # removal reasons named per source in the terminal summary


def _events(item, category):
    if category == "input":
        return [("input", item.doc.source if isinstance(item, Rejected) else item.source, "")]
    if isinstance(item, Rejected):
        return [("removed", item.doc.source, item.key)]
    if isinstance(item, Failed):
        return [("errors", item.source, item.key)]
    return [("kept", item.source, "")]


def _read_notes(item):
    if isinstance(item, Document) and item.meta.get("replaced_bytes"):
        return [("notes", item.source, "read/documents_with_replaced_bytes")]
    return []


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
    path = f"{output.rstrip('/')}/{LEDGER_FILE}"
    with FileSystems.create(path) as sink:
        sink.write((json.dumps(ledger, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return path


class WriteLedger(beam.PTransform):
    """(read outputs, final outputs) → ledger.json under `output`.

    `read` is every item the readers produced (documents, read-time rejects, read failures): the
    input count. `final` is every item at the end of the pipeline: kept documents, and the rejects
    and failures of every stage. Counting both sides independently makes the balance a real check.
    """

    def __init__(self, output: str, sources: list[str]):
        super().__init__()
        self.output = output
        self.sources = sorted(sources)

    def expand(self, pcolls):
        read, final = pcolls
        sources, output = self.sources, self.output
        inputs = read | "InputEvents" >> beam.FlatMap(_events, "input")
        outcomes = final | "OutcomeEvents" >> beam.FlatMap(_events, "outcome")
        notes = read | "NoteEvents" >> beam.FlatMap(_read_notes)
        return (
            (inputs, outcomes, notes)
            | "AllEvents" >> beam.Flatten()
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
