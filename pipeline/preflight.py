"""What a config needs before a file is read: the side files its stages name (evaluation sets,
blocklists, word lists, models) and the optional packages its settings ask for. Both are checked
when the config loads, through Beam's file systems (so `gs://`, `s3://` and `hdfs://` paths are
looked up where they are), one line per problem saying what to fix; otherwise a worker would find
out, and a missing extractor would cost every file of its source.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Iterable, Optional

from tokenmill.filters.decontaminate import read_items
from tokenmill.transforms.side_files import BEAM_FILES, is_file


@dataclass(frozen=True)
class SideFile:
    """A file (or a folder, for UT1 categories, word lists and Hugging Face models) a stage reads."""

    key: str       # the settings key that names it, e.g. "sets.mmlu"
    path: str
    folder: bool = False


@dataclass(frozen=True)
class Extra:
    """An optional package, and the command that installs it."""

    module: str
    install: str


TRAFILATURA = Extra("trafilatura", "pip install 'tokenmill[trafilatura]'")
TRANSFORMERS = Extra("transformers", "pip install 'tokenmill[hf]'")
PROFANITY_CHECK = Extra("profanity_check", "pip install 'tokenmill[toxicity]'")
SPACY = Extra("spacy", "pip install spacy")


def side_file_problems(where: str, needed: Iterable[SideFile]) -> list[str]:
    """One line for each side file or folder that is not there (a folder must hold a file)."""
    problems = []
    for side in needed:
        try:
            if side.folder and not BEAM_FILES.list(side.path):
                problems.append(f"{where}.{side.key}: {side.path} is not a folder with files in it")
            elif not side.folder and not is_file(side.path):
                problems.append(f"{where}.{side.key}: {side.path} is not a file")
        except ValueError as err:  # no file system for the scheme (gs:// without apache-beam[gcp])
            problems.append(f"{where}.{side.key}: {err}")
    return problems


def eval_set_problem(where: str, side: SideFile, fields: Optional[list[str]]) -> Optional[str]:
    """The first item of an evaluation set, read on the launcher: a file in the wrong format is named now,
    not by every worker."""
    try:
        next(read_items(side.path, fields, BEAM_FILES), None)
    except (ValueError, OSError, UnicodeDecodeError) as err:
        return f"{where}.{side.key}: {err}"
    return None


def is_installed(module: str) -> bool:
    """Whether `module` can be imported (found without importing it, so a check costs nothing)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or the module masked in sys.modules
        return False


def extra_problem(where: str, extra: Extra, needed_for: str) -> Optional[str]:
    """One line naming the missing package and its install command, or None when it is installed."""
    if is_installed(extra.module):
        return None
    return f"{where}: {needed_for} needs the {extra.module!r} package, which is not installed: {extra.install}"
