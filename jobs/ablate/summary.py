"""ablation.json: each arm's data and proxies, and each evaluation figure with its spread over seeds.

For every set and figure (bits per byte of a text set, lower is better; `acc` and `acc_norm` of a
multiple-choice set, higher is better) each arm gets its seeds' values, their mean, standard
deviation and range. Each arm after the first is compared with the first: the difference of the
means against the seed spread, the larger of the two arms' ranges over seeds. A difference
within that spread is what another seed could give; with two or three seeds the spread itself is
rough, so a difference a few times the spread is the least to read as a real one.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from tokenmill.jobs.ablate.settings import Arm, Shared

# set kind -> (figure, lower is better)
FIGURES = {"text": (("bits_per_byte", True),), "choice": (("acc", False), ("acc_norm", False))}
ABLATION_FILE = "ablation.json"


def seed_stats(values: dict[int, float]) -> dict:
    array = np.array(list(values.values()), dtype=np.float64)
    return {"values": {str(seed): value for seed, value in sorted(values.items())}, "mean": float(array.mean()),
            "std": float(array.std(ddof=1)) if len(array) > 1 else None,
            "min": float(array.min()), "max": float(array.max()), "range": float(array.max() - array.min())}


def compare(arm: dict, baseline: dict, lower_is_better: bool) -> dict:
    difference = arm["mean"] - baseline["mean"]
    spread = max(arm["range"], baseline["range"])
    return {"difference": difference, "seed_spread": spread,
            "difference_over_spread": abs(difference) / spread if spread > 0 else None,
            "better": (difference < 0) if lower_is_better else (difference > 0)}


def summarize(arms: Sequence[Arm], output: Path, shared: Shared, evaluation, records: dict, results: dict,
              steps: int) -> dict:
    """ablation.json's content, written to DIR/ablation.json."""
    names = [arm.name for arm in arms]
    sets: dict = {}
    for kind, figures in FIGURES.items():
        for set_name in results[(names[0], 1)][kind]:
            entry = {"kind": kind, "figures": {}}
            for figure, lower in figures:
                per_arm = {arm: seed_stats({seed: results[(arm, seed)][kind][set_name][figure]
                                            for seed in range(1, shared.seeds + 1)}) for arm in names}
                entry["figures"][figure] = {
                    "lower_is_better": lower, "arms": per_arm,
                    "versus_" + names[0]: {arm: compare(per_arm[arm], per_arm[names[0]], lower) for arm in names[1:]}}
            first = results[(names[0], 1)][kind][set_name]
            entry["size"] = first.get("documents", first.get("items"))
            sets[set_name] = entry
    summary = {
        "settings": {"tokens": shared.tokens, "model": shared.model, "seeds": shared.seeds, "steps": steps,
                     "seq_len": shared.pack.seq_len, "vocab_size": shared.tokenizer.vocab_size,
                     "batch_size": shared.train.batch_size, "lr": shared.train.lr, "arms": names,
                     "baseline": names[0],
                     "text": list(evaluation.text), "choice": list(evaluation.choice), "stride": evaluation.stride},
        "tokenizer": records.get("tokenizer", {}).get("result"),
        "arms": {arm.name: _arm_entry(arm, records, shared.seeds) for arm in arms},
        "sets": sets,
    }
    (output / ABLATION_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary


def _arm_entry(arm: Arm, records: dict, seeds: int) -> dict:
    def result(part: str) -> Optional[dict]:
        return records.get(part, {}).get("result")

    return {"config": str(arm.curated_from) if arm.curated_from else arm.config.origin,
            "curate": result(f"curate/{arm.name}"), "pack": result(f"pack/{arm.name}"),
            "runs": {str(seed): {"run": f"arms/{arm.name}/seed-{seed}",
                                 **(result(f"train/{arm.name}/seed-{seed}") or {})} for seed in range(1, seeds + 1)}}
