"""AdamW with weight-decay groups, and the warmup-then-cosine learning-rate schedule."""
from __future__ import annotations

import functools
import math

import torch
from torch import nn

from tokenmill.pipeline.train_config import TrainConfig


def make_optimizer(model: nn.Module, cfg: TrainConfig, fused: bool) -> torch.optim.AdamW:
    """AdamW (Loshchilov & Hutter 2019); decay only the matrices, never biases or norm gains.

    Matrices (embeddings included) are the ≥2-D parameters; biases and LayerNorm weights are 1-D.
    `fused` picks the single-kernel CUDA implementation.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
                             fused=fused)


def warmup_cosine(step: int, *, warmup: int, total: int, min_ratio: float) -> float:
    """LR multiplier: linear warmup to 1, then cosine decay to `min_ratio` at `total` steps.

    The GPT-3 recipe (Brown et al. 2020, appendix B) with decay to 10% of the peak by default.
    Step `s` (counted from 0) trains at multiplier f(s); past `total` it stays at `min_ratio`.
    """
    if step < warmup:
        return (step + 1) / warmup
    if step >= total:
        return min_ratio
    progress = (step - warmup) / max(1, total - warmup)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """The schedule of `cfg`. Its shape is a partial, which LambdaLR does not checkpoint, so a
    resumed run follows the schedule of its current config (e.g. more `steps`)."""
    shape = functools.partial(warmup_cosine, warmup=cfg.warmup_steps, total=cfg.steps,
                              min_ratio=cfg.min_lr_ratio)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, shape)
