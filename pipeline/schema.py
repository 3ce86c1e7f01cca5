"""Typed config sections: YAML mappings → dataclasses, with one clear line per mistake.

Every section of a tokenmill config is a dataclass; `from_mapping` builds one from the parsed
YAML, checking each key against the dataclass fields and each value against its type hint.
A mistake raises `ConfigError` whose message names the file and the dotted key, e.g.
``run.yaml: stages.langid.threshold: expected a number, got 'high'``.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar, Union

T = TypeVar("T")


class ConfigError(ValueError):
    """A config mistake, already phrased for the user (file: key: problem)."""


def from_mapping(cls: type[T], data: Any, where: str) -> T:
    """Build the dataclass `cls` from `data`, a mapping parsed from YAML.

    `where` prefixes every message: the file and the dotted path of this section
    (``"run.yaml: stages.langid"``).
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {_describe(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    keys = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(keys) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"{_join(where, unknown[0])}: unknown key (expected one of: {known})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        if name in keys:
            values[name] = coerce(hints[name], keys[name], _join(where, name))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{_join(where, name)}: required key is missing")
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from None


def coerce(hint: Any, value: Any, where: str) -> Any:
    """Check `value` against the type hint `hint`, converting where YAML is loose (int → float)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(arg, value, where)
            except ConfigError as err:
                errors.append(str(err).rsplit(": ", 1)[-1])
        raise ConfigError(f"{where}: {errors[0] if errors else 'invalid value'}")
    if origin is typing.Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ConfigError(f"{where}: expected one of {allowed}, got {value!r}")
        return value
    if origin in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {_describe(value)}")
        item = args[0] if args else Any
        items = [coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {_describe(value)}")
        key_t, val_t = args if args else (Any, Any)
        return {coerce(key_t, k, where): coerce(val_t, v, _join(where, str(k))) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {_describe(value)}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_describe(value)}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_describe(value)}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_describe(value)}")
        return value
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {_describe(value)}")
    return value


def _join(where: str, key: str) -> str:
    head, sep, path = where.partition(": ")
    return f"{head}: {path}.{key}" if sep and path else f"{where}: {key}" if not sep else f"{head}: {key}"


def _describe(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return type(value).__name__
    return repr(value)
