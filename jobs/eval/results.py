"""RUN/eval.json: every evaluation of a run, one entry per evaluated checkpoint.

    {"evaluations": [
      {"checkpoint": {"step": 400, "file": "step-00000400.pt"},
       "model": {"name": "...", "params": 641344, "context": 256, "tokenizer_sha256": "..."},
       "text": {"wiki": {"bits_per_byte": 1.91, "bits_per_byte_ci95": [1.87, 1.95], "loss": 4.8,
                         "tokens": 301233, "bytes": 1087513, "documents": 60, "unread": {},
                         "stride": 128, "context": 256, "source": "wiki=jsonl:...", "files_sha256": "..."}},
       "choice": {"hellaswag": {"layout": "hellaswag", "items": 1000, "acc": 0.27, "acc_stderr": 0.014,
                                "acc_ci95": [0.24, 0.30], "acc_norm": 0.26, ..., "chance": 0.25,
                                "skipped": {}, "path": "..."}}}]}

A checkpoint evaluated again keeps its entry: the sets measured now replace theirs, the others stay.
Entries are in step order (a Hugging Face folder's single entry has no step); keys are sorted and
nothing depends on the clock, so the same evaluation writes the same bytes. The file is replaced
atomically.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

EVAL_FILE = "eval.json"


def read_evaluations(path: Path) -> list[dict[str, Any]]:
    """The entries of an eval.json ([] when there is none)."""
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return list(data.get("evaluations", [])) if isinstance(data, dict) else []


def entry_key(entry: dict) -> tuple:
    checkpoint = entry.get("checkpoint") or {}
    return (checkpoint.get("step") is None, checkpoint.get("step") or 0, entry.get("model", {}).get("name", ""))


def record_evaluation(path: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Merge `entry` into `path`'s evaluations; returns the merged entry."""
    entries = read_evaluations(path)
    same = [e for e in entries if _same_model(e, entry)]
    merged = same[0] if same else {"checkpoint": entry.get("checkpoint"), "text": {}, "choice": {}}
    merged["model"] = entry["model"]
    for kind in ("text", "choice"):
        merged.setdefault(kind, {}).update(entry.get(kind, {}))
    entries = sorted([e for e in entries if not _same_model(e, entry)] + [merged], key=entry_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps({"evaluations": entries}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return merged


def _same_model(a: dict, b: dict) -> bool:
    step_a, step_b = (a.get("checkpoint") or {}).get("step"), (b.get("checkpoint") or {}).get("step")
    if step_a is not None or step_b is not None:
        return step_a == step_b
    return a.get("model", {}).get("name") == b.get("model", {}).get("name")
