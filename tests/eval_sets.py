"""Evaluation sets made of the sample's text, for `tokenmill eval` and the figures it is checked against.

`write_text_set`: JSONL documents, some longer than a window. `write_choice_files`: a HellaSwag, an
ARC and a PIQA file (its labels apart, as PIQA's release keeps them), each question the start of a
sentence with its true continuation among continuations of other sentences.
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

ITEMS = 24  # questions per multiple-choice file


def held_out_texts(sample_texts: list[str]) -> list[str]:
    """A few long documents (several windows each), short ones, and one with non-ASCII bytes."""
    return [t[:3000] for t in sample_texts[:4]] + [t[:160] for t in sample_texts[4:8]] + ["Hello, wörld ✓."]


def write_text_set(path: Path, texts: list[str]) -> str:
    """`texts` as JSONL at `path`; returns the `NAME=FORMAT:GLOB` flag, named `held`."""
    path.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)),
                    encoding="utf-8")
    return f"held=jsonl:{path}"


def write_choice_files(texts: list[str], folder: Path) -> dict[str, Path]:
    sentences = [s for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if 10 <= len(s.split()) <= 40]
    rng = random.Random(7)
    rng.shuffle(sentences)
    halves = [(" ".join(s.split()[:6]), " ".join(s.split()[6:])) for s in sentences[:40]]
    rows: dict[str, list] = {"hellaswag": [], "arc": [], "piqa": []}
    for i, (head, tail) in enumerate(halves[:ITEMS]):
        others = [halves[(i + k) % len(halves)][1] for k in (7, 19, 31)]
        gold = i % 4
        endings = others[:gold] + [tail] + others[gold:]
        rows["hellaswag"].append({"activity_label": "Python", "ctx_a": head, "ctx_b": "", "endings": endings,
                                  "label": str(gold)})
        rows["arc"].append({"question": head, "answerKey": "ABCD"[gold],
                            "choices": {"text": endings, "label": list("ABCD")}})
        rows["piqa"].append({"goal": head, "sol1": tail if i % 2 == 0 else others[0],
                             "sol2": others[0] if i % 2 == 0 else tail})
    paths = {}
    for name, records in rows.items():
        paths[name] = folder / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    (folder / "piqa-labels.lst").write_text("".join(f"{i % 2}\n" for i in range(ITEMS)))
    return paths
