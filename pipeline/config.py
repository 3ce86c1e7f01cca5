"""The tokenmill config file: YAML → typed sections, validated on load with one clear line per mistake.

    sources:                      # one entry per source of the mix
      web:
        format: warc              # warc | wet | jsonl | text (see transforms/formats)
        paths: ["data/*.warc.gz"] # globs; local, gs://, s3://, hdfs://
        weight: 0.6               # mixture weight, in tokens
        stages: [langid, quality, exact-dedup]   # default: every stage, in pipeline order
        overrides: {quality: {rule_sets: [sanity, gopher_repetition]}}   # per-source settings over `stages:`
        options: {text_field: text}              # format-specific reader options
    stages:                       # settings per stage (pipeline/stages.py lists them)
      langid: {languages: [en], threshold: 0.65}
    curate: {keep_rejected: false, rows_per_shard: 20000, max_document_mb: 20,
             max_error_share: 0.01, max_unread_files: 0}   # past either, the run fails (after writing)
    runner: {name: FnApiRunner, workers: 1, options: []}

Sections that later jobs own (`tokenizer`, `pack`, `train`, `plan`) are kept as raw mappings here,
to which those jobs add their command-line flags; they are checked on load all the same, so that
one message lists every mistake of the file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from tokenmill.pipeline.pack_config import pack_config, tokenizer_config
from tokenmill.pipeline.schema import ConfigError, collect_mapping, raise_problems
from tokenmill.pipeline.train_config import plan_config, train_config

SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class SourceConfig:
    format: str                           # warc | wet | jsonl | text | book | mediawiki | code | latex | parquet
    paths: list[str]                      # globs, local or gs://, s3://, hdfs://; relative to the config file
    weight: float = 1.0                   # mixture weight, in tokens
    stages: Optional[list[str]] = None    # the stages this source goes through; null: its format's default chain
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage -> settings over `stages:`, for this source
    options: dict[str, Any] = field(default_factory=dict)  # reader options (text_field, extractor, ...)


@dataclass
class CurateConfig:
    keep_rejected: bool = False           # also write removed documents to OUT/rejected/<source>/
    rows_per_shard: int = 20_000          # rows per curated Parquet file
    max_document_mb: float = 20.0         # a larger document is removed as read/too_large, never loaded whole
    max_error_share: float = 0.01         # past this share of a source's documents failing, the run exits non-zero
    max_unread_files: int = 0             # input files a source may lose whole before the run exits non-zero

    def __post_init__(self):
        if self.rows_per_shard < 1:
            raise ValueError("rows_per_shard: must be at least 1")
        if self.max_document_mb <= 0:
            raise ValueError("max_document_mb: must be positive")
        if not 0.0 <= self.max_error_share <= 1.0:
            raise ValueError("max_error_share: must be between 0 and 1")
        if self.max_unread_files < 0:
            raise ValueError("max_unread_files: must not be negative")


@dataclass
class RunnerConfig:
    name: str = "FnApiRunner"             # Beam runner: FnApiRunner (local), DataflowRunner, FlinkRunner, SparkRunner, ...
    workers: int = 1                      # local worker processes (FnApiRunner)
    options: list[str] = field(default_factory=list)  # Beam pipeline options, e.g. ["--project=p", "--region=r"]


@dataclass
class Config:
    sources: dict[str, SourceConfig] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    curate: CurateConfig = field(default_factory=CurateConfig)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    tokenizer: dict[str, Any] = field(default_factory=dict)
    pack: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    output: Optional[str] = None  # not read: every command takes --output
    # Where the config came from, for messages and for resolving relative paths.
    origin: str = "<command line>"


# Checks that need the stage registry and the readers, which import Beam: pipeline/stages.py adds its
# own when it is imported, as every command that curates does, so that `train` and `plan` load a
# config without importing Beam. Each takes the config and returns its problems, one line each.
CONFIG_CHECKS: list[Callable[[Config], list[str]]] = []


def load_config(path: Optional[str]) -> Config:
    """Read and validate a config file (None: the defaults, sources from the command line).

    Every mistake in the file is reported at once, in one `ConfigError`."""
    if path is None:
        return Config()
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    problems = []
    if isinstance(data, dict) and "origin" in data:
        problems.append(f"{path}: origin: unknown key")
        data = {key: value for key, value in data.items() if key != "origin"}
    config = collect_mapping(Config, data, path, problems)
    if config is None:
        raise_problems(problems)
    config.origin = path
    base = file.parent
    for name, source in config.sources.items():
        source.paths = [p if "://" in p or Path(p).is_absolute() else str(base / p) for p in source.paths]
    raise_problems(problems + config_problems(config) + job_section_problems(config))
    return config


def job_section_problems(config: Config) -> list[str]:
    """The mistakes of the sections later jobs own, one line each."""
    problems = []
    for build, raw in ((tokenizer_config, config.tokenizer), (pack_config, config.pack)):
        try:
            build(raw, config.origin)
        except ConfigError as err:
            problems.extend(err.problems)
    for build, raw, key in ((train_config, config.train, "train"), (plan_config, config.plan, "plan")):
        try:
            build(raw, f"{config.origin}: {key}")
        except ConfigError as err:
            problems.extend(err.problems)
    return problems


def parse_source_flag(flag: str) -> tuple[str, SourceConfig]:
    """`NAME=FORMAT:GLOB` (as given to `--source`) → (name, SourceConfig)."""
    name, eq, rest = flag.partition("=")
    fmt, colon, pattern = rest.partition(":")
    if not (eq and colon and name and fmt and pattern):
        raise ConfigError(f"--source {flag}: expected NAME=FORMAT:GLOB, e.g. web=warc:'data/*.warc.gz'")
    return name, SourceConfig(format=fmt, paths=[pattern])


def validate_sources(config: Config) -> None:
    """Raise one `ConfigError` listing every problem of the sources and stages, if any."""
    raise_problems(config_problems(config))


def config_problems(config: Config) -> list[str]:
    """The mistakes of the sources and stages, one line each: this module's checks, then `CONFIG_CHECKS`."""
    where = config.origin
    problems = []
    for name, source in config.sources.items():
        if not SOURCE_NAME.match(name):
            problems.append(f"{where}: sources.{name}: a source name is letters, digits, '_', '-' or '.'")
        if not source.paths:
            problems.append(f"{where}: sources.{name}.paths: at least one path or glob is needed")
        if source.weight < 0:
            problems.append(f"{where}: sources.{name}.weight: must not be negative")
    for check in CONFIG_CHECKS:
        problems.extend(check(config))
    return problems
