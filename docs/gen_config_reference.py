"""Write docs/reference/config.md, the configuration reference, from the config's dataclasses.

    python docs/gen_config_reference.py            # rewrite the page
    python docs/gen_config_reference.py --check    # exit 1 when the committed page is stale

Every key comes from the code that reads it: the sections of `pipeline.config.Config`, the settings
dataclass of every stage in `pipeline.stages.STAGES`, and the dataclasses of the sections later jobs own
(`tokenizer:`, `pack:`, `train:`, `plan:`). A key's type is its type hint, its default the dataclass
default, and its description the comment on the line that declares it; a section's text is its
dataclass's docstring. A new key or stage appears here when the page is regenerated, and
tests/test_docs.py fails until it is.
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
from pathlib import Path
from typing import Any, Iterator, Literal, NamedTuple, Union

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "reference" / "config.md"
COMMAND = "python docs/gen_config_reference.py"


class Key(NamedTuple):
    """One row of the reference: a dotted key, its type, its default and what it means."""

    name: str
    type: str
    default: str
    description: str


def job_sections() -> dict[str, type]:
    """The sections `Config` keeps as raw mappings for later jobs, by name, with the dataclass each
    job builds from it (pipeline/config.py: job_section_problems)."""
    from tokenmill.pipeline.pack_config import PackConfig, TokenizerConfig
    from tokenmill.pipeline.train_config import PlanConfig, TrainConfig

    return {"tokenizer": TokenizerConfig, "pack": PackConfig, "train": TrainConfig, "plan": PlanConfig}


# The topic page that explains each section (and each stage), linked from its heading.
PAGES = {
    "sources": "../sources.md", "curate": "../curation.md#config", "runner": "../scale.md",
    "tokenizer": "../tokenizer-and-packing.md#tokenizer", "pack": "../tokenizer-and-packing.md",
    "train": "../training.md#training", "plan": "../training.md#planning",
    "clean-text": "../curation.md#clean-text", "url": "../curation.md#url-filtering",
    "langid": "../curation.md#language-id", "quality": "../quality.md#quality-rules",
    "decontaminate": "../curation.md#decontamination", "exact-dedup": "../dedup.md#exact-dedup",
    "near-dedup": "../dedup.md#near-duplicate-removal", "paragraph-dedup": "../dedup.md#paragraph-dedup",
    "quality-model": "../quality.md#quality-classifiers", "toxicity": "../safety.md#toxicity",
    "pii": "../safety.md#pii",
}

# Fields of `Config` that are not sections of keys.
NOT_SECTIONS = {"origin"}  # set by the loader, never read from the file


def field_comments(cls: type) -> dict[str, str]:
    """The comment ending each field's declaration line in the class's source, by field name."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments, line_names = {}, {}
    names = {f.name for f in dataclasses.fields(cls)}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.start[1] == 4 and tok.string in names:
            line_names.setdefault(tok.start[0], tok.string)
        elif tok.type == tokenize.COMMENT and tok.start[0] in line_names:
            comments[line_names[tok.start[0]]] = tok.string.lstrip("#").strip()
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
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (list, tuple):
        return f"list of {type_name(args[0]) if args else 'any'}"
    if origin is dict:
        return f"mapping of {type_name(args[1]) if args else 'any'}"
    if dataclasses.is_dataclass(hint):
        return "mapping"
    return {int: "integer", float: "number", bool: "true or false", str: "string"}.get(hint, getattr(hint, "__name__", str(hint)))


def value_text(value: Any) -> str:
    """A default as it would be written in the YAML file."""
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


def keys_of(cls: type, prefix: str) -> Iterator[Key]:
    """The rows of dataclass `cls` under the dotted `prefix`; a nested dataclass (or a list or mapping
    of them) is expanded into its own keys."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        hint, name = hints[field.name], f"{prefix}.{field.name}"
        inner, args = nested_dataclass(hint), typing.get_args(hint)
        default = default_of(field)
        if dataclasses.is_dataclass(hint):
            yield Key(name, "mapping", "", comments.get(field.name) or about(hint))
            yield from keys_of(hint, name)
            continue
        shown = "required" if default is dataclasses.MISSING else f"`{value_text(default)}`"
        yield Key(name, type_name(hint), shown, comments.get(field.name, ""))
        if inner is not None:
            below = f"{name}[]" if typing.get_origin(hint) in (list, tuple) else f"{name}.<name>"
            yield from keys_of(inner, below)


def nested_dataclass(hint: Any):
    """The dataclass a list or mapping holds (`list[Phase]`, `dict[str, QualityModelEntry]`), if any."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (list, tuple, dict) and args and dataclasses.is_dataclass(args[-1]):
        return args[-1]
    return None


def about(cls: type) -> str:
    """The first sentence of the class's docstring, else of its module's (where a rule set cites its paper)."""
    doc = section_text(cls) or inspect.getdoc(sys.modules[cls.__module__]) or ""
    return " ".join(doc.split("\n\n")[0].split())


def section_text(cls: type) -> str:
    """The dataclass's docstring, unless it is the one `dataclass` makes up from the fields."""
    doc = cls.__doc__ or ""
    return "" if doc.startswith(f"{cls.__name__}(") else inspect.cleandoc(doc)


def table(keys: list[Key]) -> list[str]:
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key in keys:
        meaning = key.description.replace("|", r"\|")
        lines.append(f"| `{key.name}` | {key.type} | {key.default} | {meaning} |")
    return lines


def render() -> str:
    from tokenmill.pipeline.config import Config
    from tokenmill.pipeline.stages import STAGES

    jobs = job_sections()
    hints = typing.get_type_hints(Config)
    out = ["# Configuration reference", "",
           f"<!-- Generated by `{COMMAND}` from the config's dataclasses: do not edit by hand. -->", "",
           "Every key a tokenmill config file (YAML) may hold, its type, its default and what it means, as "
           "the code declares them. Every key is optional unless its default says `required`; an unknown "
           "key, or a value of the wrong type, is an error naming the file and the key when the config loads. "
           "`<name>` stands for a name you choose (a source, a model), `[]` for each item of a list. "
           "Command-line flags, where a command has them, win over the file.", ""]
    for field in dataclasses.fields(Config):
        name = field.name
        if name in NOT_SECTIONS:
            continue
        hint = hints[name]
        if name == "sources":
            out += [f"## {name}", "", f"Each source of the mix ([what they are]({PAGES['sources']})).", ""]
            out += table(list(keys_of(typing.get_args(hint)[1], "sources.<name>"))) + [""]
        elif name == "stages":
            out += [f"## {name}", "",
                    "Settings per stage, in pipeline order ([the stages](../curation.md#the-stages-in-pipeline-order)). "
                    "A source's `overrides.<stage>` takes the same keys, for that source alone.", ""]
            for stage in STAGES.values():
                kind = "document" if stage.kind == "document" else "corpus"
                runs = "runs by default" if stage.default else "runs when a source's `stages:` or `--stages` names it"
                out += [f"### `stages.{stage.name}`", "", f"A {kind} stage; {runs}."
                        + (f" [What it does]({PAGES[stage.name]})." if stage.name in PAGES else ""), ""]
                text = section_text(stage.settings)
                out += [text, ""] if text else []
                keys = list(keys_of(stage.settings, f"stages.{stage.name}"))
                out += table(keys) + [""] if keys else ["No settings.", ""]
        elif dataclasses.is_dataclass(hint) or name in jobs:
            cls = hint if dataclasses.is_dataclass(hint) else jobs[name]
            out += [f"## {name}", ""]
            text = section_text(cls)
            out += [text, ""] if text else []
            out += [f"[What it does]({PAGES[name]}).", ""] if name in PAGES else []
            out += table(list(keys_of(cls, name))) + [""]
        elif typing.get_origin(hint) is dict:
            raise SystemExit(f"Config.{name} is a section this generator has no dataclass for: add it to job_sections()")
        else:
            out += [f"## {name}", "", "| key | type | default |", "| --- | --- | --- |",
                    f"| `{name}` | {type_name(hint)} | `{value_text(default_of(field))}` |", ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str]) -> int:
    page = render()
    if "--check" in argv:
        if not PAGE.is_file() or PAGE.read_text(encoding="utf-8") != page:
            print(f"{PAGE.relative_to(REPO)} is stale: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(page, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
