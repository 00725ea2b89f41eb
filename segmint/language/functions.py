"""The language's built-in functions, as `Function` values plugins can sit beside.

Each builds a `pyarrow.compute.Expression` from its arguments' expressions; the type
checker uses the declared parameter and result types before any data is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from segmint.language import ast
from segmint.plugin.api import Function
from segmint.language.types import ANY_LIST, DATE, DURATION, NUMBER, STRING, TIMESTAMP, Kind, Type, unify

MICROS_PER_DAY = 86_400_000_000


@attrs.frozen
class CallArgs:
    """What a function's builder gets: argument expressions, their types and syntax."""

    args: tuple[Any, ...]
    types: tuple[Type, ...]
    nodes: tuple[Any, ...]
    timezone: str = "UTC"


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


def _coalesce_type(types: Sequence[Type]) -> Type:
    result = types[0]
    for other in types[1:]:
        result = unify(result, other) or result
    return result


def _days(call: CallArgs) -> Any:
    micros = call.args[0].cast(pa.int64()).cast(pa.float64())
    return pc.divide(micros, pa.scalar(float(MICROS_PER_DAY)))


BUILTIN_FUNCTIONS: tuple[Function, ...] = (
    Function("lower", (STRING,), STRING, lambda c: pc.utf8_lower(c.args[0]),
             description="the string in lower case"),
    Function("upper", (STRING,), STRING, lambda c: pc.utf8_upper(c.args[0]),
             description="the string in upper case"),
    Function("length", ((STRING, ANY_LIST),), NUMBER, _length,
             description="characters of a string, or items of a list"),
    Function("abs", (NUMBER,), NUMBER, lambda c: pc.abs_checked(c.args[0]),
             description="absolute value"),
    Function("round", (NUMBER, NUMBER), NUMBER, _round, min_args=1,
             description="round half away from zero to a literal number of digits (default 0)"),
    Function("coalesce", (None,), _coalesce_type, lambda c: pc.coalesce(*c.args), variadic=True,
             min_args=1, description="the first argument that is not null"),
    Function("days", (DURATION,), NUMBER, _days,
             description="a duration as a number of days (fractional)"),
    Function("year", ((DATE, TIMESTAMP),), NUMBER,
             lambda c: pc.year(_local(c, 0)), description="the calendar year"),
    Function("month", ((DATE, TIMESTAMP),), NUMBER,
             lambda c: pc.month(_local(c, 0)), description="the month, 1 to 12"),
    Function("day_of_week", ((DATE, TIMESTAMP),), NUMBER,
             lambda c: pc.day_of_week(_local(c, 0), count_from_zero=False, week_start=1),
             description="ISO day of the week: Monday 1 to Sunday 7"),
)


def result_type(function: Function, types: Sequence[Type]) -> Type:
    """The type a call returns, given its argument types."""
    if isinstance(function.returns, Type):
        return function.returns
    return function.returns(types)
