"""Typed, frozen job configs: defaults in the dataclass, a preset file (TOML or JSON), then
`KEY=VALUE` overrides. Unknown keys and wrong types are errors that name the key."""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any


def _parse_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _coerce(name: str, value: Any, hint) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(name, value, a)
            except TypeError as e:
                errors.append(str(e))
        raise TypeError(f"config key `{name}` expects {hint}, got {value!r}.")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise TypeError(f"config key `{name}` expects a list like [a, b], got {value!r}.")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(name, v, args[0]) for v in value)
        if len(args) != len(value):
            raise TypeError(f"config key `{name}` expects {len(args)} values, got {value!r}.")
        return tuple(_coerce(name, v, a) for v, a in zip(value, args, strict=True))
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise TypeError(f"config key `{name}` expects true/false, got {value!r}.")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TypeError(f"config key `{name}` expects an integer, got {value!r}.")
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise TypeError(f"config key `{name}` expects a number, got {value!r}.")
    if hint is str:
        if isinstance(value, str):
            return value
        raise TypeError(f"config key `{name}` expects a string, got {value!r}.")
    return value


def load_config(cls, path: str | Path | None = None, overrides: list[str] | tuple = ()):
    """`cls(**values)` from the dataclass defaults, the preset file at `path` (`.toml` or
    `.json`) and `overrides` (`["steps=100", "eigenvalue_range=[-1, 1]"]`, values parsed as
    JSON, else taken as strings)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    sources: list[tuple[str, dict]] = []
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"config file {path} does not exist")
        if path.suffix == ".toml":
            data = tomllib.loads(path.read_text())
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
        else:
            raise ValueError(f"config file {path} must be .toml or .json")
        sources.append((str(path), data))
    over = {}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"an override must look like KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        over[k.strip()] = _parse_text(v.strip())
    sources.append(("overrides", over))
    for where, data in sources:
        for k, v in data.items():
            if k not in fields:
                raise ValueError(
                    f"unknown config key `{k}` (from {where}) for {cls.__name__}; valid keys: "
                    + ", ".join(fields)
                )
            values[k] = _coerce(k, v, hints[k])
    return cls(**values)


def config_to_dict(cfg) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(cfg).items()}
