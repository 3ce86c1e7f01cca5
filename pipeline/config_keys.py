"""Every key a config file may hold, read from the dataclasses that parse it: its dotted name, type,
default and meaning (the comment on the line that declares the field).

The configuration reference (docs/gen_config_reference.py writes docs/reference/config.md) and the
defaults that `--help` shows for options backed by a key are both made from here, so neither can
drift from the code. A new field is picked up as it is declared; a new section of `Config` that is kept
as a raw mapping (as `tokenizer:`, `pack:`, `train:` and `plan:` are) needs its dataclass named in
`job_sections`.
"""
from __future__ import annotations

import dataclasses
import inspect
import io
import sys
import textwrap
import tokenize
import types
import typing
from typing import Any, Iterator, Literal, NamedTuple, Union


class Key(NamedTuple):
    """One key of the config: dotted name, type as YAML sees it, default as YAML writes it, meaning."""

    name: str
    type: str
    default: str
    meaning: str


def job_sections() -> dict[str, type]:
    """The sections `Config` keeps as raw mappings for later jobs, with the dataclass each job builds
    from its section (pipeline/config.py: job_section_problems)."""
    from tokenmill.pipeline.pack_config import PackConfig, TokenizerConfig
    from tokenmill.pipeline.train_config import PlanConfig, TrainConfig

    return {"tokenizer": TokenizerConfig, "pack": PackConfig, "train": TrainConfig, "plan": PlanConfig}


def section_class(section: str) -> type:
    """The dataclass that reads a section: `curate`, `pack`, `stages.langid`, `sources.<name>`, ...
    (the stage registry, which imports Beam, only for `stages.*`)."""
    from tokenmill.pipeline.config import Config, SourceConfig

    head, _, rest = section.partition(".")
    if head == "sources":
        return SourceConfig
    if head == "stages":
        from tokenmill.pipeline.stages import STAGES

        return STAGES[rest].settings
    jobs = job_sections()
    if head in jobs:
        return jobs[head]
    return typing.get_type_hints(Config)[head]


def default_text(key: str) -> str:
    """The default of a dotted key (`stages.langid.threshold` → `0.65`), as YAML writes it."""
    parts = key.split(".")
    width = 2 if parts[0] == "stages" else 1
    value: Any = section_class(".".join(parts[:width]))()
    for name in parts[width:]:
        value = getattr(value, name)
    return value_text(value)


def keys_of(cls: type, prefix: str) -> Iterator[Key]:
    """The keys of dataclass `cls` under the dotted `prefix`; a nested dataclass (or a list or mapping
    of them) is expanded into its own keys (`pack.phases[].until`, `stages.quality-model.models.<name>.path`)."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        hint, name = hints[field.name], f"{prefix}.{field.name}"
        if dataclasses.is_dataclass(hint):
            yield Key(name, "mapping", "", comments.get(field.name) or about(hint))
            yield from keys_of(hint, name)
            continue
        default = default_of(field)
        shown = "required" if default is dataclasses.MISSING else f"`{value_text(default)}`"
        yield Key(name, type_name(hint), shown, comments.get(field.name, ""))
        inner = nested_dataclass(hint)
        if inner is not None:
            below = f"{name}[]" if typing.get_origin(hint) in (list, tuple) else f"{name}.<name>"
            yield from keys_of(inner, below)


def field_comments(cls: type) -> dict[str, str]:
    """The comment ending each field's declaration line in the class's source, by field name."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    comments, declared = {}, {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.start[1] == 4 and token.string in names:
            declared.setdefault(token.start[0], token.string)
        elif token.type == tokenize.COMMENT and token.start[0] in declared:
            comments[declared[token.start[0]]] = token.string.lstrip("#").strip()
    return comments


def type_name(hint: Any) -> str:
    """A type hint as a reader of YAML would say it."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return "any"
    if origin in (Union, types.UnionType):
        named = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in args else "")
    if origin is Literal:
        return " or ".join(f"`{a}`" for a in args)
    if origin in (list, tuple):
        return f"list of {type_name(args[0]) if args else 'any'}"
    if origin is dict:
        return f"mapping of {type_name(args[1]) if args else 'any'}"
    if dataclasses.is_dataclass(hint):
        return "mapping"
    names = {int: "integer", float: "number", bool: "true or false", str: "string"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def value_text(value: Any) -> str:
    """A value as it would be written in the YAML file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{value_text(k)}: {value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def default_of(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def nested_dataclass(hint: Any):
    """The dataclass a list or mapping holds (`list[Phase]`, `dict[str, QualityModelEntry]`), if any."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (list, tuple, dict) and args and dataclasses.is_dataclass(args[-1]):
        return args[-1]
    return None


def docstring(cls: type) -> str:
    """The dataclass's docstring, unless it is the one `dataclass` makes up from the fields."""
    doc = cls.__doc__ or ""
    return "" if doc.startswith(f"{cls.__name__}(") else inspect.cleandoc(doc)


def about(cls: type) -> str:
    """The first paragraph of the class's docstring, else of its module's (where a rule set cites its paper)."""
    doc = docstring(cls) or inspect.getdoc(sys.modules[cls.__module__]) or ""
    return " ".join(doc.split("\n\n")[0].split())
