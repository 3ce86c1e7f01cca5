"""Atomic checkpoints, one per step, the last K kept.

A checkpoint is written to a temporary name in the same folder, flushed to disk and renamed
over its final name (`os.replace` is atomic on POSIX), so a crash leaves either the old set
or the new one, never a torn file. Everything in it is a tensor or a plain Python value,
so `torch.load(weights_only=True)` reads it without unpickling arbitrary objects.

Two layouts: `step-NNNNNNNN.pt`, one file that rank 0 writes (a single process, DDP), and
`step-NNNNNNNN/`, a `torch.distributed.checkpoint` folder to which every rank writes its own
shards of the model and optimiser (FSDP), so no rank ever holds the whole model, with the rest
of the state in `meta.pt`. Either is read back on any number of processes.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp

_NAME = re.compile(r"^step-(\d{8})(\.pt)?$")
META = "meta.pt"


def checkpoint_path(directory: Path, step: int) -> Path:
    return directory / f"step-{step:08d}.pt"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))
             and (p.is_file() or (p / META).is_file())]
    return sorted(found)


def latest_checkpoint(directory: Path) -> Path | None:
    found = list_checkpoints(directory)
    return found[-1][1] if found else None


def save_checkpoint(directory: Path, step: int, state: dict[str, Any], keep: int) -> Path:
    """Write `state` as the checkpoint of `step` atomically, then delete all but the newest `keep`."""
    directory.mkdir(parents=True, exist_ok=True)
    final = checkpoint_path(directory, step)
    temp = directory / f".{final.name}.tmp"
    with open(temp, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, final)
    _fsync_dir(directory)
    _prune(directory, keep)
    return final


def save_sharded_checkpoint(directory: Path, step: int, shards: dict[str, Any], meta: dict[str, Any],
                            keep: int, is_main: bool, barrier: Callable[[], None]) -> Path:
    """Every rank calls this: each writes its shards of `shards` (DCP state dicts), rank 0 the
    `meta` and the rename that makes the checkpoint complete; `barrier` joins the ranks."""
    final = directory / f"step-{step:08d}"
    temp = directory / f".{final.name}.tmp"
    if is_main:
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir(parents=True)
    barrier()
    with _one_process_ok():
        dcp.save(shards, checkpoint_id=str(temp), no_dist=not dist.is_initialized())
    if is_main:
        with open(temp / META, "wb") as handle:
            torch.save(meta, handle)
            handle.flush()
            os.fsync(handle.fileno())
        shutil.rmtree(final, ignore_errors=True)
        os.replace(temp, final)
        _fsync_dir(directory)
        _prune(directory, keep)
    barrier()
    return final


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A checkpoint file, or the meta part of a checkpoint folder."""
    path = Path(path)
    return torch.load(path / META if path.is_dir() else path, map_location=device, weights_only=True,
                      mmap=True)  # tensors paged in when used, so reading the meta part is cheap


def load_shards(path: Path, templates: dict[str, Any]) -> None:
    """Fill `templates` (DCP state dicts of this process's model and optimiser) in place from a
    checkpoint folder, resharded to however many processes read it."""
    with _one_process_ok():
        dcp.load(templates, checkpoint_id=str(path), no_dist=not dist.is_initialized())


def load_model_state(path: Path, template: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The model's full state dict from either layout, read by one process (`template`: a model
    of the checkpoint's shape, whose state dict the folder layout is read into)."""
    path = Path(path)
    if path.is_dir():
        state = {"model": dict(template)}
        load_shards(path, state)
        return state["model"]
    return load_checkpoint(path)["model"]


@contextlib.contextmanager
def _one_process_ok():
    """DCP warns on every call without a process group; one process is a use we mean."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def _prune(directory: Path, keep: int) -> None:
    for _, old in list_checkpoints(directory)[:-keep]:
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()


def rng_state(device: torch.device) -> dict[str, Any]:
    """The generators a training step draws from (dropout, init), as tensors."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
