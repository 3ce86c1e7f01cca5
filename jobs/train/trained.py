"""A trained model read back from its run folder: the checkpoint, the model's shape and the tokenizer.

`tokenmill generate` and `tokenmill export` start here. Either checkpoint layout is read by one
process; the model's shape comes from the checkpoint (`model_config`), the tokenizer from
`RUN/tokenizer.json` (copied there by the trainer from beside the token folder) or a given path,
checked against the hash the token manifest recorded.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tokenmill.jobs.train.checkpoint import list_checkpoints, load_checkpoint, load_model_state
from tokenmill.jobs.train.model import GPT, GPTConfig


@dataclass
class Trained:
    model: GPT
    step: int
    tokenizer: dict  # the token manifest's tokenizer entry: sha256, vocab_size, eot_id, ...
    checkpoint: Path


def find_checkpoint(run_dir: Path, step: Optional[int] = None) -> Path:
    """The checkpoint of `step` in RUN/checkpoints, or the newest one."""
    found = dict(list_checkpoints(Path(run_dir) / "checkpoints"))
    if not found:
        raise FileNotFoundError(f"{run_dir}: no checkpoints (train with `tokenmill train --out {run_dir}`)")
    if step is None:
        return found[max(found)]
    if step not in found:
        raise FileNotFoundError(f"{run_dir}: no checkpoint of step {step} (kept: "
                                f"{', '.join(map(str, sorted(found)))})")
    return found[step]


def load_trained(run_dir: Path, step: Optional[int] = None) -> Trained:
    """The model of a run's checkpoint, on the CPU, in eval mode."""
    path = find_checkpoint(run_dir, step)
    meta = load_checkpoint(path)
    if "model_config" not in meta:
        raise ValueError(f"{path}: written before checkpoints recorded the model's shape; "
                         f"train it again with this version")
    model = GPT(GPTConfig(**meta["model_config"]))
    model.load_state_dict(load_model_state(path, model.state_dict()))
    return Trained(model.eval(), int(meta["step"]), dict(meta.get("tokenizer", {})), path)


def tokenizer_path(run_dir: Path, trained: Trained, given: Optional[Path] = None) -> Path:
    """The tokenizer.json the run was trained with: `given`, else RUN/tokenizer.json; its hash
    must be the one the token manifest recorded."""
    path = Path(given) if given is not None else Path(run_dir) / "tokenizer.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no tokenizer (pass --tokenizer OUT/tokenizer.json, the one "
                                f"that packed the run's tokens)")
    expected = trained.tokenizer.get("sha256")
    if expected and hashlib.sha256(path.read_bytes()).hexdigest() != expected:
        raise ValueError(f"{path}: not the tokenizer that packed this run's tokens (sha256 differs)")
    return path


def eot_id(trained: Trained) -> Optional[int]:
    value = trained.tokenizer.get("eot_id")
    return int(value) if value is not None else None

