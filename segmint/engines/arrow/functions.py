"""The built-in functions on the arrow engine: one builder per function, each making a
`pyarrow.compute.Expression` from its arguments' expressions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from segmint.language import ast
from segmint.language.functions import is_builtin
from segmint.language.types import Kind
from segmint.plugin.api import CallArgs, Function

MICROS_PER_DAY = 86_400_000_000


def _local(call: CallArgs, i: int) -> Any:
    """A date or timestamp argument as seen on the run's wall clock."""
    value = call.args[i]
    if call.types[i].kind is Kind.TIMESTAMP:
        return value.cast(pa.timestamp("us", tz=call.timezone))
    return value


def _length(call: CallArgs) -> Any:
    if call.types[0].kind is Kind.LIST:
        return pc.list_value_length(call.args[0]).cast(pa.int64())
    return pc.utf8_length(call.args[0]).cast(pa.int64())


def _round(call: CallArgs) -> Any:
    digits = 0
    if len(call.nodes) > 1:
        node = call.nodes[1]
        digits = int(node.value) if isinstance(node, ast.Literal) and node.value is not None else 0
    return pc.round(call.args[0], ndigits=digits, round_mode="half_towards_infinity")


def _days(call: CallArgs) -> Any:
    micros = call.args[0].cast(pa.int64()).cast(pa.float64())
    return pc.divide(micros, pa.scalar(float(MICROS_PER_DAY)))


BUILDERS: dict[str, Callable[[CallArgs], Any]] = {
    "lower": lambda c: pc.utf8_lower(c.args[0]),
    "upper": lambda c: pc.utf8_upper(c.args[0]),
    "length": _length,
    "abs": lambda c: pc.abs_checked(c.args[0]),
    "round": _round,
    "coalesce": lambda c: pc.coalesce(*c.args),
    "days": _days,
    "year": lambda c: pc.year(_local(c, 0)),
    "month": lambda c: pc.month(_local(c, 0)),
    "day_of_week": lambda c: pc.day_of_week(_local(c, 0), count_from_zero=False, week_start=1),
}


def arrow_builder(function: Function) -> Callable[[CallArgs], Any] | None:
    """How the arrow engine builds a call of `function`: its own for a built-in, the
    plugin's ``arrow`` builder otherwise (None when it has none)."""
    if is_builtin(function):
        return BUILDERS[function.name]
    return function.builder("arrow")
