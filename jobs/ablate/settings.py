"""What an ablation compares (its arms) and what every arm shares (the proxy's shape and training).

An arm is a curation config, curated by the ablation, or a folder an earlier `tokenmill curate`
filled (its `curated/`), taken as it is. An arm brings its sources, stages and curate settings
(what is compared) and its mixture (`pack.mixture`, `pack.phases`, `pack.epochs`, the sources'
weights). Everything that shapes a proxy is shared, so only the data differs: one tokenizer, the
sequence length and packing, the token budget, the model and its training. Those come from
`--settings FILE` (its `tokenizer:`, `pack:` and `train:` sections) over the defaults of the proxy
size below; the arms' own sections of that kind are not used.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from tokenmill.pipeline.config import Config, load_config
from tokenmill.pipeline.pack_config import PackConfig, TokenizerConfig, pack_config, tokenizer_config
from tokenmill.pipeline.schema import ConfigError
from tokenmill.pipeline.train_config import TrainConfig, train_config

ARM_PACK_KEYS = ("mixture", "phases", "epochs")  # the arm's own: its mixture is part of what is compared


@dataclass(frozen=True)
class Proxy:
    """Defaults for a proxy size: context, vocabulary, peak learning rate, rows a step."""

    seq_len: int
    vocab_size: int
    lr: float
    batch_size: int


# The GPT-2 sizes' learning rates are GPT-3's for the nearest size (Brown et al. 2020, table 2.1:
# 125M 6e-4, 350M 3e-4, 760M 2.5e-4, 1.3B 2e-4); tiny and small use the bundled sample's 3e-3.
PROXIES: dict[str, Proxy] = {
    "tiny": Proxy(256, 8192, 3e-3, 16),
    "small": Proxy(256, 8192, 3e-3, 16),
    "gpt2-124m": Proxy(1024, 32768, 6e-4, 16),
    "gpt2-350m": Proxy(1024, 32768, 3e-4, 16),
    "gpt2-774m": Proxy(1024, 32768, 2.5e-4, 16),
    "gpt2-1.5b": Proxy(1024, 32768, 2e-4, 16),
}
ARM_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Arm:
    name: str
    config: Config                 # the arm's config (for a curated folder: the one its card records, if any)
    curated_from: Optional[Path]   # a curate output folder taken as it is; None: the ablation curates `config`


def arm_from(given: str) -> Arm:
    """A `--config` value: a YAML file (curated by the ablation) or a curate output folder."""
    path = Path(given)
    if path.is_dir():
        if not (path / "curated").is_dir():
            raise ConfigError(f"--config {given}: a folder must be a curate output (holding curated/)")
        from tokenmill.jobs.report.page import card_config

        config, _ = card_config(str(path))
        return Arm(_arm_name(path.name, given), config or Config(origin=str(path)), path)
    return Arm(_arm_name(path.stem, given), load_config(given), None)


def _arm_name(name: str, given: str) -> str:
    if not ARM_NAME.match(name):
        raise ConfigError(f"--config {given}: the arm is named after the file or folder, {name!r}; use letters, "
                          f"digits, '_' or '-'")
    return name


def check_arms(arms: list[Arm]) -> None:
    if len(arms) < 2:
        raise ConfigError("an ablation compares at least two --config")
    names = [arm.name for arm in arms]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"two arms are named {repeated[0]!r} (after their file or folder): rename one")


@dataclass(frozen=True)
class Shared:
    """What every arm's proxy shares."""

    tokens: int
    model: str
    seeds: int
    tokenizer: TokenizerConfig
    pack: PackConfig           # the shared keys; each arm's mixture is applied over it
    train: TrainConfig         # without seed and steps, which the ablation sets
    raw: Config                # the settings file as loaded (its tokenizer/pack/train mappings)


def shared_settings(settings_path: Optional[str], tokens: int, model: str, seeds: int,
                    device: Optional[str]) -> Shared:
    """The shared settings: `--settings` over the proxy's defaults, the flags over both."""
    if model not in PROXIES:
        raise ConfigError(f"--model {model}: expected one of {', '.join(PROXIES)}")
    if tokens < 1 or seeds < 1:
        raise ConfigError("--tokens and --seeds must be at least 1")
    proxy = PROXIES[model]
    raw = load_config(settings_path)
    where = raw.origin
    tokenizer = {"vocab_size": proxy.vocab_size, **raw.tokenizer}
    pack = {"seq_len": proxy.seq_len, **{k: v for k, v in raw.pack.items() if k not in ARM_PACK_KEYS},
            "total_tokens": tokens}
    train = {"lr": proxy.lr, "batch_size": proxy.batch_size, **raw.train}
    train["model"] = {**dict(train.get("model") or {}), "size": model}
    if device:
        train["device"] = device
    shared_raw = Config(tokenizer=tokenizer, pack=pack, train=train, origin=where)
    return Shared(tokens, model, seeds, tokenizer_config(tokenizer, where), pack_config(pack, where),
                  train_config(train, f"{where}: train"), shared_raw)


def arm_config(arm: Arm, shared: Shared) -> Config:
    """The arm's config for packing: its sources and mixture, the shared tokenizer and pack settings."""
    pack = {**shared.raw.pack, **{k: v for k, v in arm.config.pack.items() if k in ARM_PACK_KEYS}}
    return dataclasses.replace(arm.config, tokenizer=dict(shared.raw.tokenizer), pack=pack)
