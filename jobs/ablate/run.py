"""The ablation's parts, in order: curate each arm, one tokenizer for all, pack each arm to the same
token budget, train a proxy per arm and seed, evaluate every proxy on the same sets.

    DIR/arms/<arm>/            ledger.json, curated/ (or the given curate folder's, used in place),
                               tokenizer.json (the shared one), tokens/, seed-<n>/ (a training run
                               with its eval.json)
    DIR/tokenizer/             the union of the arms' curated shards (links), and tokenizer.json
    DIR/ablation-parts.json    the finished parts (jobs/ablate/parts.py)
    DIR/ablation.json, DIR/ablation.html

The tokenizer is trained on a sample of the union, each arm an equal share of it (split among its
sources by its own mixture), so the proxies share a vocabulary and no arm's text shapes it more
than another's: the sample is at most the number of arms times the smallest arm's text, so a
larger arm cannot give more than a smaller one has. Every arm is packed to `tokens` and every proxy
trains for the same steps: one pass over the training rows, which are as many in every arm. Seeds
set the proxies' initialisation; the data order is the pack's, the same for every seed.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Callable, Optional, Sequence

from tokenmill.jobs.ablate.parts import Parts, part_key
from tokenmill.jobs.ablate.settings import Arm, Shared, arm_config
from tokenmill.jobs.run_card import file_list_sha256, input_files
from tokenmill.pipeline.config import Config
from tokenmill.pipeline.schema import ConfigError
from tokenmill.pipeline.train_config import TrainConfig

TOKENIZER_DIR = "tokenizer"


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """The sets every proxy is evaluated on, and how."""

    text: Sequence[str]
    choice: Sequence[str]
    stride: Optional[int]
    batch_size: int


class Interrupted(Exception):
    """A proxy's training was stopped by SIGTERM or Ctrl-C, with a checkpoint; run again to resume."""


def arm_folder(output: Path, arm: Arm) -> Path:
    return output / "arms" / arm.name


def curated_folder(output: Path, arm: Arm) -> Path:
    return (arm.curated_from or arm_folder(output, arm)) / "curated"


def curate_part(parts: Parts, output: Path, arm: Arm, runner: Optional[str], workers: Optional[int]) -> str:
    """Curate the arm (unless it is a given curate folder); returns the arm's key."""
    if arm.curated_from is not None:
        return part_key("curated", file_list_sha256(input_files([str(arm.curated_from / "curated")])))
    from tokenmill.jobs.curate import curate
    from tokenmill.pipeline.ledger import DataLost, summary_lines

    folder = arm_folder(output, arm)
    paths = [path for source in arm.config.sources.values() for path in source.paths]
    key = part_key("curate", dataclasses.replace(arm.config, origin=""), file_list_sha256(input_files(paths)))

    def produce():
        try:
            ledger = curate(arm.config, str(folder), runner=runner, workers=workers)
        except DataLost as lost:
            raise ConfigError(f"curate {arm.name}: data lost ({folder}/ledger.json): " + "; ".join(lost.causes)) from None
        for line in summary_lines(ledger):
            parts.echo(f"curate {arm.name}: {line}")
        return {name: ledger[name] for name in ("input", "kept", "removed", "errors")}

    parts.run(f"curate/{arm.name}", key, (folder / "ledger.json").is_file(), produce)
    return key


def union_weights(arms: Sequence[Arm], shared: Shared, union: Path) -> dict[str, float]:
    """{"<arm>.<source>": weight}: each arm an equal share, split by its own mixture (by its sources
    alike when it names none)."""
    from tokenmill.jobs.pack import resolve_phases
    from tokenmill.pipeline.pack_config import pack_config
    from tokenmill.transforms.mix import average_weights

    weights = {}
    for arm in arms:
        config = arm_config(arm, shared)
        phases, _ = resolve_phases(config, pack_config(config.pack, config.origin), None)
        sources = sorted(p.name.split(".", 1)[1] for p in union.iterdir() if p.name.startswith(f"{arm.name}."))
        own = average_weights(phases) if any(w for _, w in phases) else {}
        own = {s: own.get(s, 0.0) for s in sources} if own else {s: 1.0 for s in sources}
        total = sum(own.values()) or 1.0
        weights.update({f"{arm.name}.{s}": w / total / len(arms) for s, w in own.items() if w > 0})
    return weights


def link_union(output: Path, arms: Sequence[Arm]) -> Path:
    """DIR/tokenizer/union/<arm>.<source>/: links to every arm's curated shards."""
    union = output / TOKENIZER_DIR / "union"
    shutil.rmtree(union, ignore_errors=True)
    for arm in arms:
        curated = curated_folder(output, arm).resolve()
        for source in sorted(p for p in curated.iterdir() if p.is_dir()):
            target = union / f"{arm.name}.{source.name}"
            target.mkdir(parents=True)
            for shard in sorted(source.glob("*.parquet")):
                (target / shard.name).symlink_to(shard)
    return union


def text_bytes(curated: Path) -> int:
    """The text a curated folder holds, from its shards' Parquet footers."""
    from tokenmill.transforms.tokenize import text_column_bytes

    total = 0
    for shard in sorted(curated.glob("*/*.parquet")):
        with open(shard, "rb") as handle:
            total += text_column_bytes(handle, str(shard))
    return total


def tokenizer_part(parts: Parts, output: Path, arms: Sequence[Arm], arm_keys: Sequence[str], shared: Shared,
                   runner: Optional[str], workers: Optional[int]) -> tuple[Path, str]:
    """One tokenizer for every arm, on a sample of their union; returns its path and the part's key."""
    from tokenmill.jobs.tokenizer import train_tokenizer

    path = output / TOKENIZER_DIR / "tokenizer.json"
    smallest = min(text_bytes(curated_folder(output, arm)) for arm in arms)
    settings = {**shared.raw.tokenizer, "sample_bytes": min(shared.tokenizer.sample_bytes, len(arms) * smallest)}
    key = part_key("tokenizer", arm_keys, [arm.name for arm in arms], settings, shared.pack.seq_len)

    def produce():
        union = link_union(output, arms)
        config = Config(tokenizer=settings, pack={"seq_len": shared.pack.seq_len})
        summary = train_tokenizer(str(union), str(path), config, mixture=union_weights(arms, shared, union),
                                  runner=runner, workers=workers)
        parts.echo(f"tokenizer: vocabulary {summary['vocab_size']:,} from "
                   + ", ".join(f"{s} {b / 1e6:.2f} MB" for s, b in summary["sample_bytes"].items()))
        return {"vocab_size": summary["vocab_size"], "sample_bytes": summary["sample_bytes"]}

    parts.run("tokenizer", key, path.is_file(), produce)
    return path, key


def pack_part(parts: Parts, output: Path, arm: Arm, arm_key: str, tokenizer: Path, tokenizer_key: str,
              shared: Shared, runner: Optional[str], workers: Optional[int]) -> str:
    """Pack the arm to the shared token budget with the shared tokenizer; returns the part's key."""
    from tokenmill.jobs.pack import pack

    folder = arm_folder(output, arm)
    config = arm_config(arm, shared)
    key = part_key("pack", arm_key, tokenizer_key, config.pack)

    def produce():
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copyfile(tokenizer.parent / name, folder / name)  # the trainer keeps the one beside tokens/
        manifest = pack(str(curated_folder(output, arm)), str(folder / "tokenizer.json"), str(folder / "tokens"),
                        config, runner=runner, workers=workers)
        parts.echo(f"pack {arm.name}: {manifest['total_rows']:,} rows, {manifest['total_tokens']:,} tokens")
        return {"total_rows": manifest["total_rows"], "total_tokens": manifest["total_tokens"],
                "sources": {name: {k: source[k] for k in ("documents", "tokens_available", "tokens_used", "epochs")}
                            for name, source in manifest["sources"].items()}}

    parts.run(f"pack/{arm.name}", key, (folder / "tokens" / "manifest.json").is_file(), produce)
    return key


def training_steps(tokens_dir: Path, train_cfg: TrainConfig) -> int:
    """One pass over the training rows (the held-out shards left out), in whole steps."""
    from tokenmill.jobs.train.data import hold_out

    manifest = json.loads((tokens_dir / "manifest.json").read_text())
    train_shards, _ = hold_out(manifest["shards"], train_cfg.eval_fraction)
    rows = sum(int(s["rows"]) for s in train_shards)
    steps = rows // (train_cfg.batch_size * train_cfg.grad_accum)
    if steps < 1:
        raise ConfigError(f"{tokens_dir}: {rows} training rows fill no step of {train_cfg.batch_size} × "
                          f"{train_cfg.grad_accum} rows; raise --tokens")
    return steps


def proxy_config(shared: Shared, steps: int, seed: int) -> TrainConfig:
    cfg = dataclasses.replace(shared.train, steps=steps, seed=seed)
    if "warmup_steps" not in shared.raw.train:
        cfg = dataclasses.replace(cfg, warmup_steps=max(1, steps // 10))
    return cfg


def train_part(parts: Parts, output: Path, arm: Arm, pack_key: str, shared: Shared, steps: int,
               seed: int) -> tuple[Path, str]:
    """One proxy of the arm; returns its run folder and the part's key."""
    from tokenmill.jobs.train.checkpoint import list_checkpoints
    from tokenmill.jobs.train.trainer import train

    folder = arm_folder(output, arm)
    run_dir = folder / f"seed-{seed}"
    cfg = proxy_config(shared, steps, seed)
    key = part_key("train", pack_key, cfg)

    def produce():
        result = train(folder / "tokens", run_dir, cfg)
        if result.interrupted:
            raise Interrupted(f"train {arm.name} seed {seed}: stopped at step {result.step}; run the same "
                              f"command again to resume")
        parts.echo(f"train {arm.name} seed {seed}: {result.step} steps, loss {result.loss:.4f}, "
                   f"{result.params:,} parameters")
        return {"step": result.step, "loss": result.loss, "params": result.params,
                "tokens_per_step": result.tokens_per_step}

    finished = steps in dict(list_checkpoints(run_dir / "checkpoints"))
    parts.run(f"train/{arm.name}/seed-{seed}", key, finished, produce, folder=run_dir)
    return run_dir, key


def eval_part(parts: Parts, arm: Arm, run_dir: Path, train_key: str, seed: int, evaluation: Evaluation,
              shared: Shared) -> dict:
    from tokenmill.jobs.eval.command import evaluate_run
    from tokenmill.jobs.eval.evaluate import set_files

    key = part_key("eval", train_key, evaluation, file_list_sha256(input_files(set_files(evaluation.text,
                                                                                          evaluation.choice))))

    def produce():
        entry = evaluate_run(run_dir, [None], evaluation.text, evaluation.choice, evaluation.stride,
                             evaluation.batch_size, shared.train.device,
                             echo=lambda line: parts.echo(f"eval {arm.name} seed {seed}: {line}"))[0]
        return {"text": entry["text"], "choice": entry["choice"]}

    return parts.run(f"eval/{arm.name}/seed-{seed}", key, (run_dir / "eval.json").is_file(), produce)


def run_ablation(arms: Sequence[Arm], output: Path, shared: Shared, evaluation: Evaluation,
                 runner: Optional[str] = None, workers: Optional[int] = None,
                 echo: Callable[[str], None] = print) -> dict:
    """Every part, each skipped when it finished before; returns ablation.json's content."""
    from tokenmill.jobs.ablate.summary import summarize

    output.mkdir(parents=True, exist_ok=True)
    parts = Parts(output, echo)
    arm_keys = [curate_part(parts, output, arm, runner, workers) for arm in arms]
    tokenizer, tokenizer_key = tokenizer_part(parts, output, arms, arm_keys, shared, runner, workers)
    pack_keys = {arm.name: pack_part(parts, output, arm, arm_key, tokenizer, tokenizer_key, shared, runner, workers)
                 for arm, arm_key in zip(arms, arm_keys)}
    steps = {arm.name: training_steps(arm_folder(output, arm) / "tokens", shared.train) for arm in arms}
    if len(set(steps.values())) > 1:
        raise ConfigError(f"the arms' token folders give different training steps ({steps}); pack them with the "
                          f"same settings")
    results = {}
    for arm in arms:
        for seed in range(1, shared.seeds + 1):
            run_dir, train_key = train_part(parts, output, arm, pack_keys[arm.name], shared, steps[arm.name], seed)
            results[(arm.name, seed)] = eval_part(parts, arm, run_dir, train_key, seed, evaluation, shared)
    return summarize(arms, output, shared, evaluation, parts.records, results, steps[arms[0].name])
