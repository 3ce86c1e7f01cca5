"""Resuming an ablation: a finished part (a curate, the tokenizer, a pack, a training, an evaluation)
is not done again.

Each part has a key, a hash of everything it depends on: its settings and the keys of the parts it
reads (a curate's key also holds its input files' names and sizes). DIR/ablation-parts.json records
each part's key when it starts and what it produced when it finishes; a later run skips a part
that finished with the same key and whose output is still there. Changing a config thus redoes
that arm's curate and everything downstream of it, and nothing else. A part that started with
another key has its folder cleared first (a training's checkpoints of other settings are not
resumed); one that started with the same key and did not finish is run again, and a training
then resumes from its newest checkpoint.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Optional

PARTS_FILE = "ablation-parts.json"


def part_key(*parts: Any) -> str:
    """A stable hash of plain values: dataclasses (as their fields), mappings, lists, numbers, text."""
    canonical = json.dumps(list(parts), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=lambda value: dataclasses.asdict(value) if dataclasses.is_dataclass(value)
                           else str(value))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Parts:
    """The ablation's record of started and finished parts."""

    def __init__(self, folder: Path, echo: Callable[[str], None]):
        self.path = folder / PARTS_FILE
        self.echo = echo
        self.records: dict[str, dict] = json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}

    def run(self, name: str, key: str, present: bool, produce: Callable[[], Any], folder: Optional[Path] = None) -> Any:
        """`produce()`'s result, or the recorded one when part `name` finished with this `key` and its
        output is `present`. `folder`, when given, is cleared first if the part last started with
        another key."""
        recorded = self.records.get(name, {})
        if recorded.get("finished") and recorded.get("key") == key and present:
            self.echo(f"{name}: done before, kept")
            return recorded["result"]
        if folder is not None and recorded.get("key") not in (None, key):
            shutil.rmtree(folder, ignore_errors=True)
        self._write(name, {"key": key, "finished": False, "result": None})
        result = json.loads(json.dumps(produce()))  # as a later run reads it back
        self._write(name, {"key": key, "finished": True, "result": result})
        return result

    def _write(self, name: str, record: dict) -> None:
        self.records[name] = record
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(json.dumps(self.records, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)
