"""The language's built-in functions: their signatures and result types.

The type checker uses the declared parameter and result types before any data is read;
every engine implements every built-in function (the arrow engine's builders are in
segmint/engines/arrow/functions.py). Plugins add functions beside these.
"""

from __future__ import annotations

from collections.abc import Sequence

from segmint.plugin.api import Function
from segmint.language.types import ANY_LIST, DATE, DURATION, NUMBER, STRING, TIMESTAMP, Type, unify


def _coalesce_type(types: Sequence[Type]) -> Type:
    result = types[0]
    for other in types[1:]:
        result = unify(result, other) or result
    return result


BUILTIN_FUNCTIONS: tuple[Function, ...] = (
    Function("lower", (STRING,), STRING, description="the string in lower case"),
    Function("upper", (STRING,), STRING, description="the string in upper case"),
    Function("length", ((STRING, ANY_LIST),), NUMBER,
             description="characters of a string, or items of a list"),
    Function("abs", (NUMBER,), NUMBER, description="absolute value"),
    Function("round", (NUMBER, NUMBER), NUMBER, min_args=1,
             description="round half away from zero to a literal number of digits (default 0)"),
    Function("coalesce", (None,), _coalesce_type, variadic=True, min_args=1,
             description="the first argument that is not null"),
    Function("days", (DURATION,), NUMBER, description="a duration as a number of days (fractional)"),
    Function("year", ((DATE, TIMESTAMP),), NUMBER, description="the calendar year"),
    Function("month", ((DATE, TIMESTAMP),), NUMBER, description="the month, 1 to 12"),
    Function("day_of_week", ((DATE, TIMESTAMP),), NUMBER,
             description="ISO day of the week: Monday 1 to Sunday 7"),
)

_BUILTIN_BY_NAME = {function.name: function for function in BUILTIN_FUNCTIONS}


def is_builtin(function: Function) -> bool:
    """Whether `function` is one of the language's own (not a plugin's of the same name)."""
    return _BUILTIN_BY_NAME.get(function.name) is function


def result_type(function: Function, types: Sequence[Type]) -> Type:
    """The type a call returns, given its argument types."""
    if isinstance(function.returns, Type):
        return function.returns
    return function.returns(types)
