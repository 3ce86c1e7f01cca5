"""The trainer stage: a GPT trained on packed token shards (`train`, `tokenmill train`). It needs PyTorch
(`pip install 'tokenmill[train]'`); importing this package does not import torch, so that curate, the
tokenizer and pack, and `tokenmill run --skip-train`, run where torch is not installed."""

import importlib.util

__all__ = ["TrainResult", "TrainingDiverged", "train"]

NEEDS_TORCH = "needs PyTorch, which curation does not install: pip install 'tokenmill[train]'"


def torch_installed() -> bool:
    """Whether PyTorch can be imported (looked up, not imported: `tokenmill eval --help` stays light)."""
    return importlib.util.find_spec("torch") is not None


def __getattr__(name: str):
    """`from tokenmill.jobs.train import train` imports the trainer, and torch, when it is asked for."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tokenmill.jobs.train import trainer
    return getattr(trainer, name)
