"""Validation of a plugin's options (a table of a project file) against its ``Options`` class.

A plugin declares its options as an attrs class whose field annotations say what each
option takes; `build_options` checks a mapping read from TOML against them and turns every
mistake into a `ConfigError` that names the place, the plugin and the option, so users never
see a ``TypeError`` from inside a plugin.
"""

from __future__ import annotations

import collections.abc
import datetime as dt
import json
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

import attrs

from segmint.errors import ConfigError, PluginError
from segmint.semantics.names import did_you_mean


@attrs.frozen
class OptionDoc:
    """One option as ``segmint plugins`` and the docs show it."""

    name: str
    type: str
    required: bool
    default: str | None = None
    help: str = ""


def build_options(
    options_cls: type, mapping: Mapping[str, Any], *, plugin: str, where: str
) -> Any:
    """An instance of `options_cls` from `mapping`, or a `ConfigError` saying what is wrong."""
    fields = [f for f in _fields(options_cls, plugin) if f.init]
    known = {f.alias: f for f in fields}
    _check_unknown(mapping, known, plugin, where)
    _check_missing(mapping, fields, plugin, where)
    kwargs = {}
    for name, value in mapping.items():
        field = known[name]
        if field.converter is not None:
            kwargs[name] = value
            continue
        try:
            kwargs[name] = _convert(value, field.type)
        except _Mismatch:
            raise ConfigError(
                f"option '{name}' of plugin '{plugin}' must be {describe_type(field.type)},"
                f" got {show_value(value)}",
                file=where,
            ) from None
    for name, value in kwargs.items():
        _check_alone(known[name], value, plugin, where)
    try:
        return options_cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(_validator_message(exc, plugin), file=where) from None


def describe_options(options_cls: type) -> list[OptionDoc]:
    """The options an ``Options`` class declares, with types, defaults and help text."""
    docs = []
    for f in _fields(options_cls, options_cls.__name__):
        if not f.init:
            continue
        required = f.default is attrs.NOTHING
        docs.append(
            OptionDoc(
                name=f.alias,
                type=describe_type(f.type),
                required=required,
                default=None if required else _show_default(f.default),
                help=str(f.metadata.get("help", "")),
            )
        )
    return docs


def describe_type(tp: Any) -> str:
    """How a message names what an option takes: "a string", "a list of strings"…"""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(show_value(a) for a in args)
    if _is_union(origin):
        return " or ".join(describe_type(a) for a in args if a is not type(None))
    if origin in _SEQUENCES:
        return "a list of " + _plural(args[0] if args else Any)
    if origin in _MAPPINGS:
        return "a table of " + _plural(args[1] if len(args) == 2 else Any)
    return _SINGULAR.get(tp, "a path" if _is_path_type(tp) else f"a {getattr(tp, '__name__', tp)}")


def show_value(value: Any) -> str:
    """A value written as TOML writes it, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, PurePath):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {show_value(v)}" for k, v in value.items()) + "}"
    return str(value)


class _Mismatch(Exception):
    """A value that does not fit a type; the caller words the message."""


_SINGULAR = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dt.date: "a date",
    dt.datetime: "a date and time",
    Any: "a value",
}
_PLURAL = {str: "strings", int: "integers", float: "numbers", bool: "booleans"}
_SEQUENCES = {list, tuple, collections.abc.Sequence}
_MAPPINGS = {dict, collections.abc.Mapping}


def _fields(options_cls: type, plugin: str) -> tuple[attrs.Attribute, ...]:
    try:
        return attrs.fields(attrs.resolve_types(options_cls))
    except (NameError, TypeError) as exc:
        raise PluginError(f"plugin '{plugin}': its Options class is invalid: {exc}") from None


def _check_unknown(
    mapping: Mapping[str, Any], known: Mapping[str, attrs.Attribute], plugin: str, where: str
) -> None:
    unknown = [k for k in mapping if k not in known]
    if not unknown:
        return
    names = ", ".join(f"'{k}'" for k in unknown)
    noun = "option" if len(unknown) == 1 else "options"
    hint = did_you_mean(unknown[0], known) if len(unknown) == 1 else ""
    listed = f"known options: {', '.join(sorted(known))}" if known else "it takes no options"
    raise ConfigError(f"unknown {noun} {names} of plugin '{plugin}'{hint}; {listed}", file=where)


def _check_missing(
    mapping: Mapping[str, Any], fields: list[attrs.Attribute], plugin: str, where: str
) -> None:
    missing = [f.alias for f in fields if f.default is attrs.NOTHING and f.alias not in mapping]
    if len(missing) == 1:
        raise ConfigError(f"option '{missing[0]}' of plugin '{plugin}' is required", file=where)
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        raise ConfigError(f"options {names} of plugin '{plugin}' are required", file=where)


def _convert(value: Any, tp: Any) -> Any:
    """`value` as type `tp` (paths from strings, floats from integers), or `_Mismatch`."""
    if tp is None or tp is Any:
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if _is_union(origin):
        return _convert_union(value, args)
    if origin is typing.Literal:
        if any(type(value) is type(a) and value == a for a in args):
            return value
        raise _Mismatch
    if origin in _SEQUENCES:
        return _convert_sequence(value, origin, args)
    if origin in _MAPPINGS:
        if not isinstance(value, Mapping):
            raise _Mismatch
        key_t, value_t = args if len(args) == 2 else (Any, Any)
        return {_convert(k, key_t): _convert(v, value_t) for k, v in value.items()}
    return _convert_scalar(value, tp)


def _convert_union(value: Any, args: tuple[Any, ...]) -> Any:
    if value is None and type(None) in args:
        return None
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _convert(value, arg)
        except _Mismatch:
            pass
    raise _Mismatch


def _convert_sequence(value: Any, origin: Any, args: tuple[Any, ...]) -> Any:
    if not isinstance(value, (list, tuple)):
        raise _Mismatch
    element = args[0] if args else Any
    items = [_convert(v, element) for v in value]
    return tuple(items) if origin is tuple else items


def _convert_scalar(value: Any, tp: Any) -> Any:
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch
    if tp is int and isinstance(value, bool):
        raise _Mismatch
    if _is_path_type(tp) and isinstance(value, (str, PurePath)):
        return tp(value)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise _Mismatch
    return value


def _check_alone(field: attrs.Attribute, value: Any, plugin: str, where: str) -> None:
    """Run one field's validator on its own, so its error can name the option.

    Validators that need the other fields (they get no instance here) fail with another
    exception and are left to the constructor.
    """
    if field.validator is None or field.converter is not None:
        return
    try:
        field.validator(None, field, value)
    except (TypeError, ValueError) as exc:
        text = str(exc.args[0]) if exc.args else str(exc)
        raise ConfigError(
            f"option '{field.alias}' of plugin '{plugin}' is invalid: {text}", file=where
        ) from None
    except Exception:
        pass


def _validator_message(exc: Exception, plugin: str) -> str:
    attribute = next((a for a in exc.args if isinstance(a, attrs.Attribute)), None)
    text = str(exc.args[0]) if exc.args else str(exc)
    if attribute is not None:
        return f"option '{attribute.alias}' of plugin '{plugin}' is invalid: {text}"
    return f"invalid options of plugin '{plugin}': {text}"


def _show_default(default: Any) -> str:
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return "" if default.takes_self else show_value(default.factory())
    return "none" if default is None else show_value(default)


def _is_union(origin: Any) -> bool:
    return origin is typing.Union or origin is types.UnionType


def _is_path_type(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, PurePath)


def _plural(tp: Any) -> str:
    if _is_path_type(tp):
        return "paths"
    if typing.get_origin(tp) is typing.Literal:
        return describe_type(tp).replace("one of", "values among", 1)
    return _PLURAL.get(tp, "values")
