"""The `tokenizer:` and `pack:` sections of a tokenmill config, as typed dataclasses.

    tokenizer: {vocab_size: 32768, sample_bytes: 100000000, encoder: tiktoken}
    pack:
      seq_len: 2048
      total_tokens: 1000000000          # omitted: the largest total the epoch caps allow
      mixture: {web: 0.6, books: 0.2, wiki: 0.2}
      epochs: {web: 2, books: 4}        # caps; unnamed sources follow the chapter's guidance
      phases:                           # curriculum, like the chapter's get_data_mixture
        - {until: 0.3, weights: {web: 0.7, books: 0.15, wiki: 0.15}}
        - {until: 1.0, weights: {web: 0.3, books: 0.35, wiki: 0.35}}
      packing: concat                   # or bos-bestfit

Mixture weights may also come from `sources.<name>.weight`; `--mixture` on the command line wins
over both. Range checks raise `ValueError`, which `from_mapping` phrases as one line naming the key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from tokenmill.pipeline.schema import ConfigError, from_mapping

# Epoch caps by kind of source: the upper ends of the chapter's guidance (pretraining.md,
# "Data Repetition": web crawl 1-2 epochs, books 2-4, code 2-4, Wikipedia 4-6).
CHAPTER_EPOCH_CAPS = {"web": 2.0, "book": 4.0, "code": 4.0, "wiki": 6.0}
FALLBACK_EPOCH_CAP = 1.0
MAX_TOKEN_ID = 2 ** 31 - 1       # rows files and token shards hold int32 ids
MAX_SHARD_IDS = 2 ** 31 - 1      # ids in one token shard: Arrow's list<int32> offsets are int32


@dataclass
class TokenizerConfig:
    vocab_size: int = 32768
    sample_bytes: int = 100_000_000    # training sample across sources, split by the mixture
    min_frequency: int = 2             # a pair seen fewer times is never merged
    seed: int = 0                      # which documents the sample takes
    encoder: Literal["tiktoken", "hf"] = "tiktoken"   # same ids (tested); tiktoken is faster
    threads: int = 2                   # tiktoken's batch threads
    batch_docs: int = 1024             # documents per encode call

    def __post_init__(self):
        if self.vocab_size < 257 + 1:
            raise ValueError(f"vocab_size: must exceed the 256 bytes plus the end-of-text token, got {self.vocab_size}")
        if self.vocab_size > MAX_TOKEN_ID + 1:
            raise ValueError(f"vocab_size: token ids are stored as int32, so at most {MAX_TOKEN_ID + 1:,}, "
                             f"got {self.vocab_size:,}")
        for name in ("sample_bytes", "min_frequency", "threads", "batch_docs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")


@dataclass
class Phase:
    until: float                       # fraction of the training rows where this phase ends
    weights: dict[str, float]          # source -> weight within this phase


@dataclass
class PackConfig:
    seq_len: int = 2048                # tokens a training sequence sees; rows hold seq_len + 1
    total_tokens: Optional[int] = None  # null: the largest total the epoch caps allow
    mixture: dict[str, float] = field(default_factory=dict)   # source -> weight, in tokens
    epochs: dict[str, float] = field(default_factory=dict)    # source -> epoch cap; unnamed: the chapter's guidance
    phases: list[Phase] = field(default_factory=list)         # curriculum: weights per stretch of the training order
    packing: Literal["concat", "bos-bestfit"] = "concat"
    bestfit_buffer: int = 1000         # documents the best-fit packer chooses among
    seed: int = 0                      # the shuffle of rows within a phase
    rows_per_shard: int = 8192         # rows per token shard
    row_group_rows: int = 1024         # rows per Parquet row group (what a training process decodes at once)
    window_rows: int = 1000            # window in which the delivered mixture is measured

    def __post_init__(self):
        if self.seq_len < 1:
            raise ValueError(f"seq_len: must be at least 1, got {self.seq_len}")
        if self.total_tokens is not None and self.total_tokens < self.seq_len + 1:
            raise ValueError(f"total_tokens: must hold at least one row of seq_len + 1 = {self.seq_len + 1} ids")
        for name in ("bestfit_buffer", "rows_per_shard", "row_group_rows", "window_rows"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.rows_per_shard * (self.seq_len + 1) > MAX_SHARD_IDS:
            raise ValueError(f"rows_per_shard: a token shard's ids sit in one Arrow list column with 32-bit "
                             f"offsets, so rows_per_shard × (seq_len + 1) must be at most {MAX_SHARD_IDS:,}: "
                             f"at seq_len {self.seq_len}, rows_per_shard at most "
                             f"{MAX_SHARD_IDS // (self.seq_len + 1):,}")
        check_weights(self.mixture, "mixture")
        for source, cap in self.epochs.items():
            if cap <= 0:
                raise ValueError(f"epochs.{source}: an epoch cap must be positive, got {cap}")
        previous = 0.0
        for index, phase in enumerate(self.phases):
            if not previous < phase.until <= 1.0:
                raise ValueError(f"phases[{index}].until: must rise through (0, 1], got {phase.until} after {previous}")
            if not phase.weights:
                raise ValueError(f"phases[{index}].weights: at least one source needs a weight")
            check_weights(phase.weights, f"phases[{index}].weights")
            previous = phase.until
        if self.phases and previous != 1.0:
            raise ValueError(f"phases: the last phase must end at until: 1.0, not {previous}")


def check_weights(weights: dict[str, float], where: str) -> None:
    for source, weight in weights.items():
        if weight < 0:
            raise ValueError(f"{where}.{source}: a weight must not be negative, got {weight}")
    if weights and sum(weights.values()) <= 0:
        raise ValueError(f"{where}: the weights sum to zero")


def epoch_cap(source: str, caps: dict[str, float]) -> float:
    """The cap set for `source`, else the chapter's guidance for its kind, else one epoch."""
    if source in caps:
        return caps[source]
    for kind, cap in CHAPTER_EPOCH_CAPS.items():
        if kind in source.lower():
            return cap
    return FALLBACK_EPOCH_CAP


def parse_mixture(flag: str) -> dict[str, float]:
    """`web=0.6,books=0.15` → {"web": 0.6, "books": 0.15} (as given to `--mixture`)."""
    weights = {}
    for item in filter(None, (part.strip() for part in flag.split(","))):
        name, eq, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--mixture {flag}: expected NAME=WEIGHT,..., e.g. web=0.6,books=0.4") from None
        if not eq or not name.strip():
            raise ConfigError(f"--mixture {flag}: expected NAME=WEIGHT,..., e.g. web=0.6,books=0.4")
    try:
        check_weights(weights, "--mixture")
    except ValueError as err:
        raise ConfigError(str(err)) from None
    if not weights:
        raise ConfigError("--mixture: no weights given")
    return weights


def tokenizer_config(raw: dict, where: str) -> TokenizerConfig:
    return from_mapping(TokenizerConfig, raw, f"{where}: tokenizer")


def pack_config(raw: dict, where: str) -> PackConfig:
    return from_mapping(PackConfig, raw, f"{where}: pack")
