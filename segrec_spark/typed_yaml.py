"""Typed settings from YAML: the builder that turns parsed YAML into frozen dataclasses.

The bottom of the import graph: configuration (:mod:`segrec_spark.config`), the data contract
(:mod:`segrec_spark.contract`) and every stage's ``settings.py`` build and validate their
dataclasses with :func:`build` and :func:`require`, and nothing here imports from the package.
An unknown key, a value of the wrong type or a value that a dataclass's own ``validate`` rejects
raises :class:`ConfigError` with the dotted key, e.g.
``spark.shuffle_partitions: expected int, found str 'four'``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar, get_args, get_origin

import yaml

T = TypeVar("T")


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text, so a bad date is reported with its key, not by YAML."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (list, Sequence, tuple):
        (inner, *_) = get_args(tp) or (Any,)
        return f"list of {_type_name(inner)}"
    if origin in (dict, Mapping):
        return f"mapping of {_type_name(get_args(tp)[1])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp) if a is not type(None))
    return getattr(tp, "__name__", str(tp))


def found(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` as type ``tp`` or raise ConfigError naming ``key``."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{key}: expected {_type_name(tp)}, found {found(value)}")
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise ConfigError(f"{key}: expected {_type_name(tp)}, found {found(value)}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping of settings, found {found(value)}")
        return build(tp, value, key)
    if origin in (list, tuple, Sequence):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, found {found(value)}")
        (inner, *_) = get_args(tp) or (Any,)
        items = [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items)
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected {_type_name(tp)}, found {found(value)}")
        _, inner = get_args(tp) or (str, Any)
        return {str(k): _coerce(v, inner, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    elif tp is dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a date YYYY-MM-DD, found {found(value)}")
    else:
        raise ConfigError(f"{key}: unsupported setting type {tp!r}")
    raise ConfigError(f"{key}: expected {_type_name(tp)}, found {found(value)}")


def build(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise ConfigError."""
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    where = f"{prefix}." if prefix else ""
    for key in data:
        if key not in known:
            allowed = ", ".join(sorted(known))
            raise ConfigError(f"{where}{key}: unknown setting (allowed here: {allowed})")
    kwargs = {}
    for name, fld in known.items():
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], f"{where}{name}")
        elif fld.default is dataclasses.MISSING and fld.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}{name}: required setting is missing")
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if callable(check):
        try:
            check()
        except ConfigError as exc:
            raise ConfigError(f"{where}{exc}") from None
    return obj


def require(condition: bool, key: str, message: str) -> None:
    """Raise ConfigError for ``key`` when ``condition`` does not hold (for ``validate`` methods)."""
    if not condition:
        raise ConfigError(f"{key}: {message}")
