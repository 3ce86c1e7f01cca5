"""Typed config sections: YAML mappings → dataclasses, with one clear line per mistake.

Every section of a tokenmill config is a dataclass; `from_mapping` builds one from the parsed
YAML, checking each key against the dataclass fields and each value against its type hint.
A mistake is a line naming the file and the dotted key, e.g.
``run.yaml: stages.langid.threshold: expected a number, got 'high'``; every mistake of a section is
found before `ConfigError` is raised, so one message lists them all.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Optional, TypeVar, Union

T = TypeVar("T")

# What a value that failed its check becomes while the rest of the section is still being checked.
_INVALID = object()


class ConfigError(ValueError):
    """Config mistakes, already phrased for the user (file: key: problem), one line each."""

    def __init__(self, *problems: str):
        self.problems = [line for problem in problems for line in str(problem).splitlines()]
        super().__init__("\n".join(self.problems))


def raise_problems(problems: list[str]) -> None:
    """Raise one `ConfigError` holding every problem found, if there is any."""
    if problems:
        raise ConfigError(*problems)


def from_mapping(cls: type[T], data: Any, where: str) -> T:
    """Build the dataclass `cls` from `data`, a mapping parsed from YAML.

    `where` prefixes every message: the file and the dotted path of this section
    (``"run.yaml: stages.langid"``).
    """
    problems: list[str] = []
    built = collect_mapping(cls, data, where, problems)
    raise_problems(problems)
    return built


def collect_mapping(cls: type[T], data: Any, where: str, problems: list[str]) -> Optional[T]:
    """`from_mapping` that appends each mistake to `problems` and goes on: the section is built from
    what is valid (defaults in place of wrong values), or None when it cannot be built at all."""
    built = _build(cls, data, where, problems)
    return None if built is _INVALID else built


def _build(cls: type, data: Any, where: str, problems: list[str]) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a mapping, got {_describe(data)}")
        return _INVALID
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    keys = {str(k).replace("-", "_"): v for k, v in data.items()}
    known = ", ".join(sorted(fields))
    problems.extend(f"{_join(where, key)}: unknown key (expected one of: {known})"
                    for key in sorted(set(keys) - set(fields)))
    hints = typing.get_type_hints(cls)
    values, complete = {}, True
    for name, field in fields.items():
        if name in keys:
            value = _coerce(hints[name], keys[name], _join(where, name), problems)
            if value is not _INVALID:
                values[name] = value
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            problems.append(f"{_join(where, name)}: required key is missing")
            complete = False
    if not complete:
        return _INVALID
    try:
        return cls(**values)
    except ConfigError as err:
        problems.extend(err.problems)
    except (TypeError, ValueError) as err:
        problems.append(f"{where}: {err}")
    return _INVALID


def coerce(hint: Any, value: Any, where: str) -> Any:
    """Check `value` against the type hint `hint`, converting where YAML is loose (int → float)."""
    problems: list[str] = []
    value = _coerce(hint, value, where, problems)
    raise_problems(problems)
    return value


def _coerce(hint: Any, value: Any, where: str, problems: list[str]) -> Any:
    """The checked value, or `_INVALID` after appending what is wrong with it to `problems`."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        first_problem = None
        for arg in (a for a in args if a is not type(None)):
            attempt: list[str] = []
            checked = _coerce(arg, value, where, attempt)
            if not attempt:
                return checked
            first_problem = first_problem or attempt[0].rsplit(": ", 1)[-1]
        problems.append(f"{where}: {first_problem or 'invalid value'}")
        return _INVALID
    if origin is typing.Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            problems.append(f"{where}: expected one of {allowed}, got {value!r}")
            return _INVALID
        return value
    if origin in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            problems.append(f"{where}: expected a list, got {_describe(value)}")
            return _INVALID
        item = args[0] if args else Any
        items = [_coerce(item, v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
        items = [i for i in items if i is not _INVALID]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a mapping, got {_describe(value)}")
            return _INVALID
        key_t, val_t = args if args else (Any, Any)
        checked = {_coerce(key_t, k, where, problems): _coerce(val_t, v, _join(where, str(k)), problems)
                   for k, v in value.items()}
        return {k: v for k, v in checked.items() if k is not _INVALID and v is not _INVALID}
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, problems)
    expected = _expected(hint, value)
    if expected:
        problems.append(f"{where}: expected {expected}, got {_describe(value)}")
        return _INVALID
    return float(value) if hint is float else value


def _expected(hint: Any, value: Any) -> Optional[str]:
    """What a scalar `hint` expects, when `value` is not it (None when it is)."""
    if hint is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "a number"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is str:
        return None if isinstance(value, str) else "a string"
    if isinstance(hint, type) and not isinstance(value, hint):
        return hint.__name__
    return None


def _join(where: str, key: str) -> str:
    head, sep, path = where.partition(": ")
    return f"{head}: {path}.{key}" if sep and path else f"{where}: {key}" if not sep else f"{head}: {key}"


def _describe(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return type(value).__name__
    return repr(value)
