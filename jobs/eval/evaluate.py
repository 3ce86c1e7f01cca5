"""One model on a suite of sets: text sets for bits per byte, multiple-choice sets for accuracy.

A progress bar per set counts the tokens scored (on a terminal; elsewhere its label only), and
the time each set took goes into `Throughput`, in tokens per second of wall time and per CPU-second
of this process (all its threads), so a figure on a shared machine can be read for what it is.
"""
from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import click

from tokenmill.jobs.eval.choice import ChoiceScore, read_choice_set, score_choice_set
from tokenmill.jobs.eval.scoring import ScoringModel
from tokenmill.jobs.eval.text import TextScore, encode_set, score_text
from tokenmill.jobs.run_card import file_list_sha256, input_files
from tokenmill.jobs.sources import source_files
from tokenmill.pipeline.schema import ConfigError
from tokenmill.transforms.read import LOG as READ_LOG


def parse_choice_flag(flag: str) -> tuple[str, Path]:
    """`NAME=PATH` → (name, path)."""
    name, eq, path = flag.partition("=")
    if not (eq and name and path):
        raise ConfigError(f"--choice {flag}: expected NAME=PATH, e.g. hellaswag=data/hellaswag_val.jsonl")
    return name, Path(path)


def check_sets(text_flags: Sequence[str], choice_flags: Sequence[str]) -> None:
    """Every set's flag parses, its files exist and no two sets share a name; before any model loads."""
    names = [source_files(flag)[0] for flag in text_flags]
    for flag in choice_flags:
        name, path = parse_choice_flag(flag)
        if not path.is_file():
            raise ConfigError(f"--choice {flag}: no such file")
        names.append(name)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"set name {repeated[0]!r} given twice: each --text and --choice needs its own name")
    if not names:
        raise ConfigError("nothing to evaluate: give --text NAME=FORMAT:GLOB and/or --choice NAME=PATH")


def set_files(text_flags: Sequence[str], choice_flags: Sequence[str]) -> list[str]:
    """Every file the sets read."""
    return [path for flag in text_flags for path in source_files(flag)[2]] + \
        [str(parse_choice_flag(flag)[1]) for flag in choice_flags]


@dataclass
class Throughput:
    tokens: int = 0           # tokens scored
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    per_set: dict[str, dict] = field(default_factory=dict)

    def add(self, name: str, tokens: int, seconds: float, cpu_seconds: float) -> None:
        self.tokens += tokens
        self.seconds += seconds
        self.cpu_seconds += cpu_seconds
        self.per_set[name] = {"tokens": tokens, "seconds": round(seconds, 3), "cpu_seconds": round(cpu_seconds, 3),
                              "tokens_per_s": round(tokens / seconds, 1) if seconds else None}

    def as_json(self) -> dict:
        return {"tokens": self.tokens, "seconds": round(self.seconds, 3), "cpu_seconds": round(self.cpu_seconds, 3),
                "tokens_per_s": round(self.tokens / self.seconds, 1) if self.seconds else None,
                "tokens_per_cpu_s": round(self.tokens / self.cpu_seconds, 1) if self.cpu_seconds else None,
                "sets": self.per_set}


def _progress(label: str, total: int, show: bool) -> click.progressbar:
    return click.progressbar(length=max(total, 1), label=label, file=sys.stderr,
                             show_eta=True, show_pos=True, hidden=not show)


def evaluate_model(model: ScoringModel, text_flags: Sequence[str], choice_flags: Sequence[str],
                   stride: Optional[int], batch_size: int, show_progress: bool = True,
                   echo: Callable[[str], None] = click.echo) -> tuple[dict, Throughput]:
    """({"text": {name: ...}, "choice": {name: ...}} as eval.json records them, throughput)."""
    stride = stride or max(1, model.context // 2)
    if not 1 <= stride <= model.context:
        raise ConfigError(f"--stride {stride}: must be between 1 and the model's context ({model.context})")
    speed = Throughput()
    results = {"text": dict(text_result(model, flag, stride, batch_size, show_progress, speed, echo)
                            for flag in text_flags),
               "choice": dict(choice_result(model, flag, batch_size, show_progress, speed, echo)
                              for flag in choice_flags)}
    return results, speed


def text_result(model: ScoringModel, flag: str, stride: int, batch_size: int, show_progress: bool,
                speed: Throughput, echo: Callable[[str], None]) -> tuple[str, dict]:
    name, _, files = source_files(flag)
    with quiet(READ_LOG):
        encoded = encode_set(model, flag)
    if not encoded.ids:
        raise ConfigError(f"--text {flag}: no document with text in the set")
    tokens = sum(len(ids) - 1 for ids in encoded.ids)
    started, cpu = time.perf_counter(), time.process_time()
    with _progress(f"{name}: tokens", tokens, show_progress) as bar:
        score: TextScore = score_text(model, encoded, stride, batch_size, lambda spans, scored: bar.update(scored))
    speed.add(name, score.tokens, time.perf_counter() - started, time.process_time() - cpu)
    echo(f"{name}: {score.bits_per_byte:.4f} bits/byte{_interval(score.bits_per_byte_ci95)}, loss "
         f"{score.loss:.4f} over {score.tokens:,} tokens of {score.documents:,} documents "
         f"(windows of {model.context}, stride {stride})")
    return name, {**score.as_json(), "stride": stride, "context": model.context, "source": flag,
                  "files_sha256": file_list_sha256(input_files(files))}


def choice_result(model: ScoringModel, flag: str, batch_size: int, show_progress: bool, speed: Throughput,
                  echo: Callable[[str], None]) -> tuple[str, dict]:
    name, path = parse_choice_flag(flag)
    try:
        choice_set = read_choice_set(path)
    except ValueError as err:
        raise ConfigError(f"--choice {flag}: {err}") from None
    requests = sum(len(item.choices) for item in choice_set.items)
    scored: list[int] = []
    started, cpu = time.perf_counter(), time.process_time()
    with _progress(f"{name}: choices", requests, show_progress) as bar:
        choice: ChoiceScore = score_choice_set(model, choice_set, batch_size,
                                               lambda spans, tokens: (bar.update(spans), scored.append(tokens)))
    speed.add(name, sum(scored), time.perf_counter() - started, time.process_time() - cpu)
    skipped = f", {sum(choice.skipped.values()):,} skipped" if choice.skipped else ""
    echo(f"{name}: acc {choice.acc:.4f}{_interval(choice.acc_ci95)}, acc_norm {choice.acc_norm:.4f}"
         f"{_interval(choice.acc_norm_ci95)} on {choice.items:,} questions ({choice.layout}, chance "
         f"{choice.chance:.3f}{skipped})")
    return name, {**choice.as_json(), "path": str(path)}


@contextmanager
def quiet(logger: logging.Logger):
    """The reader's per-file progress lines held back while a set is read: the set's bar says more."""
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _interval(bounds) -> str:
    return f" [{bounds[0]:.4f}, {bounds[1]:.4f}]" if bounds else ""
