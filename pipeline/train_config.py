"""The `train:` and `plan:` sections of a tokenmill config, as typed dataclasses.

Built with `pipeline.schema.from_mapping`, so a mistake is one line naming the file and key
(range checks raise `ValueError`, which `from_mapping` phrases the same way),
e.g. ``run.yaml: train.model.size: expected one of 'tiny', 'gpt2-124m', ..., got 'huge'``.
Defaults follow GPT-2 / GPT-3 small training practice (Radford et al. 2019; Brown et al. 2020,
table 2.1: AdamW β=(0.9, 0.95), weight decay 0.1, warmup then cosine decay to 10%).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from tokenmill.pipeline.schema import from_mapping

ModelSize = Literal["tiny", "small", "gpt2-124m", "gpt2-350m", "gpt2-774m", "gpt2-1.5b"]


@dataclass(frozen=True)
class ModelConfig:
    """A named GPT size, or a custom one where `n_layer`, `n_head` and `n_embd` override it.

    The vocabulary size and the context length come from the token manifest, never from here.
    """

    size: ModelSize = "tiny"
    n_layer: Optional[int] = None
    n_head: Optional[int] = None
    n_embd: Optional[int] = None
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}: must be at least 1, got {value}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: batch, optimiser, schedule, checkpoints, safety rails and metrics.

    `batch_size` is rows per micro-batch per process; one optimiser step sees
    `batch_size × grad_accum × world_size` rows of `seq_len` tokens. `parallel: fsdp` shards
    parameters, gradients and optimiser state over the processes (FSDP2, Zhao et al. 2023);
    `activation_checkpointing` recomputes each block's activations in the backward pass.
    `data_lanes` bounds how many processes the run can later resume on.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    steps: int = 1000
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 6e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    grad_clip: float = 1.0
    seed: int = 1337
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compile: Optional[bool] = None  # None: on for CUDA, off on CPU
    parallel: Literal["ddp", "fsdp"] = "ddp"
    activation_checkpointing: bool = False
    data_lanes: Optional[int] = None  # None: the number of processes the run starts with
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    eval_every: int = 100
    eval_batches: int = 8
    eval_fraction: float = 0.01
    log_every: int = 1
    spike_window: int = 100
    spike_threshold: float = 3.0
    max_rollbacks: int = 3
    peak_flops: Optional[float] = None
    tensorboard: bool = True

    def __post_init__(self) -> None:
        positive = ("steps", "batch_size", "grad_accum", "checkpoint_every", "keep_checkpoints",
                    "eval_every", "eval_batches", "log_every", "spike_window")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "grad_clip", "spike_threshold"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be positive, got {getattr(self, name)}")
        for name in ("warmup_steps", "max_rollbacks", "weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must not be negative, got {getattr(self, name)}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"min_lr_ratio: must be in [0, 1], got {self.min_lr_ratio}")
        if not 0.0 < self.eval_fraction < 1.0:
            raise ValueError(f"eval_fraction: must be in (0, 1), got {self.eval_fraction}")
        if self.data_lanes is not None and self.data_lanes < 1:
            raise ValueError(f"data_lanes: must be at least 1, got {self.data_lanes}")
        if self.spike_window < 3:
            raise ValueError(f"spike_window: must be at least 3, got {self.spike_window}")


@dataclass(frozen=True)
class PlanConfig:
    """Defaults for `tokenmill plan`: which scaling-law fit, hardware and the data's epoch caps.

    `epoch_caps` bounds how often a source may be repeated, by source name, over the caps the
    packer recorded in the manifest; `default` covers sources with neither (else 1 epoch).
    """

    constants: Literal["epoch2024", "chinchilla", "chapter"] = "epoch2024"
    tokens_per_param: Optional[float] = None
    gpu: str = "h100"
    mfu: float = 0.4
    price_per_gpu_hour: Optional[float] = None
    epoch_caps: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 < self.mfu <= 1.0:
            raise ValueError(f"mfu: must be in (0, 1], got {self.mfu}")
        if self.tokens_per_param is not None and self.tokens_per_param <= 0:
            raise ValueError(f"tokens_per_param: must be positive, got {self.tokens_per_param}")
        if any(cap <= 0 for cap in self.epoch_caps.values()):
            raise ValueError("epoch_caps: every cap must be positive")


def train_config(data: object, where: str) -> TrainConfig:
    """The `train:` section (`where` names the file and key, e.g. ``"run.yaml: train"``)."""
    return from_mapping(TrainConfig, data, where)


def plan_config(data: object, where: str) -> PlanConfig:
    """The `plan:` section."""
    return from_mapping(PlanConfig, data, where)
