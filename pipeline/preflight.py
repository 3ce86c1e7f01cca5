"""What a config needs before a file is read: the side files its stages name (evaluation sets,
blocklists, word lists, models) and the optional packages its settings ask for. Both are checked
when the config loads, through Beam's file systems (so `gs://`, `s3://` and `hdfs://` paths are
looked up where they are), one line per problem saying what to fix; otherwise a worker would find
out, and a missing extractor would cost every file of its source.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

from tokenmill.filters.badwords import list_languages
from tokenmill.filters.decontaminate import read_items
from tokenmill.filters.url_filter import LIST_FILES, list_files
from tokenmill.transforms.side_files import BEAM_FILES, is_file


@dataclass(frozen=True)
class SideFile:
    """A file (or a folder, for UT1 categories, word lists and Hugging Face models) a stage reads, and
    optionally a check of what it holds: the problem, in a few words, or None."""

    key: str       # the settings key that names it, e.g. "sets.mmlu"
    path: str
    folder: bool = False
    content: Optional[Callable[[str], Optional[str]]] = None


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
    """One line for each side file or folder that is not there (a folder must hold a file) or holds
    what its stage cannot read."""
    problems = []
    for side in needed:
        try:
            if side.folder and not BEAM_FILES.list(side.path):
                problem = f"{side.path} is not a folder with files in it"
            elif not side.folder and not is_file(side.path):
                problem = f"{side.path} is not a file"
            else:
                problem = side.content(side.path) if side.content else None
        except ValueError as err:  # no file system for the scheme (gs:// without apache-beam[gcp])
            problem = str(err)
        if problem:
            problems.append(f"{where}.{side.key}: {problem}")
    return problems


def eval_set_problem(path: str, fields: Optional[Sequence[str]] = None) -> Optional[str]:
    """An evaluation set's first item, read on the launcher: a set in the wrong format is named now,
    not by every worker."""
    try:
        next(read_items(path, fields, BEAM_FILES), None)
    except (ValueError, OSError, UnicodeDecodeError) as err:
        return str(err)
    return None


def ut1_problem(folder: str) -> Optional[str]:
    """A UT1 category folder must hold a `domains` or a `urls` list."""
    return None if list_files(folder, BEAM_FILES) else f"{folder} holds no UT1 list ({' or '.join(LIST_FILES)})"


def word_lists_problem(folder: str) -> Optional[str]:
    """A word-list folder must hold a list named by a language tag."""
    return None if list_languages(folder, BEAM_FILES) else f"{folder} holds no word list (files named by " \
                                                            "language tag, e.g. en)"


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
