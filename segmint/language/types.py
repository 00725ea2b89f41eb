"""The language's value types and how Arrow types map onto them.

The type checker works on these types only, so it stays independent of any backend;
`arrow_type_to_type` is the one bridge from a source's Arrow schema.
"""

from __future__ import annotations

import enum

import attrs
import pyarrow as pa


class Kind(enum.Enum):
    NUMBER = "number"
    STRING = "string"
    BOOL = "bool"
    DATE = "date"
    TIMESTAMP = "timestamp"
    DURATION = "duration"
    LIST = "list"
    NULL = "null"
    OTHER = "other"
    ERROR = "error"  # the type of an expression that already failed to check


@attrs.frozen
class Type:
    """A language type; lists carry their element type."""

    kind: Kind
    element: Type | None = None

    def __str__(self) -> str:
        if self.kind is Kind.LIST:
            return f"list of {self.element}" if self.element else "list"
        return self.kind.value

    @property
    def is_null(self) -> bool:
        return self.kind is Kind.NULL


NUMBER = Type(Kind.NUMBER)
STRING = Type(Kind.STRING)
BOOL = Type(Kind.BOOL)
DATE = Type(Kind.DATE)
TIMESTAMP = Type(Kind.TIMESTAMP)
DURATION = Type(Kind.DURATION)
NULL = Type(Kind.NULL)
OTHER = Type(Kind.OTHER)
ERROR = Type(Kind.ERROR)
ANY_LIST = Type(Kind.LIST)


def list_of(element: Type) -> Type:
    return Type(Kind.LIST, element)


#: Types whose values can be ordered (compared with < and used in top/bottom N%).
ORDERED = frozenset({Kind.NUMBER, Kind.STRING, Kind.DATE, Kind.TIMESTAMP, Kind.DURATION})
#: Date and timestamp compare with each other (a date is midnight in the run's time zone).
TEMPORAL = frozenset({Kind.DATE, Kind.TIMESTAMP})


def comparable(a: Type, b: Type) -> bool:
    """Whether `a == b` or `a < b` type-checks (null compares with anything)."""
    if a.is_null or b.is_null or a.kind is Kind.ERROR or b.kind is Kind.ERROR:
        return True
    if a.kind in TEMPORAL and b.kind in TEMPORAL:
        return True
    return a.kind is b.kind and a.kind not in (Kind.OTHER, Kind.LIST)


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two values (for coalesce and list literals), or None."""
    if a.kind is Kind.ERROR or b.kind is Kind.ERROR:
        return ERROR
    if a.is_null:
        return b
    if b.is_null:
        return a
    if a.kind in TEMPORAL and b.kind in TEMPORAL:
        return a if a.kind is b.kind else TIMESTAMP
    if a.kind is b.kind:
        if a.kind is Kind.LIST:
            element = unify(a.element or NULL, b.element or NULL)
            return None if element is None else list_of(element)
        return a
    return None


def arrow_type_to_type(t: pa.DataType) -> Type:
    """The language type of an Arrow column type (dictionaries by their values)."""
    if pa.types.is_dictionary(t):
        return arrow_type_to_type(t.value_type)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return NUMBER
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is_string_view(t):
        return STRING
    if pa.types.is_boolean(t):
        return BOOL
    if pa.types.is_date(t):
        return DATE
    if pa.types.is_timestamp(t):
        return TIMESTAMP
    if pa.types.is_duration(t):
        return DURATION
    if pa.types.is_null(t):
        return NULL
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return list_of(arrow_type_to_type(t.value_type))
    return OTHER


def _is_string_view(t: pa.DataType) -> bool:
    is_view = getattr(pa.types, "is_string_view", None)
    return bool(is_view and is_view(t))


def matches(actual: Type, expected: Type | tuple[Type, ...] | None) -> bool:
    """Whether a value of type `actual` may be passed where `expected` is declared."""
    if expected is None or actual.is_null or actual.kind is Kind.ERROR:
        return True
    if isinstance(expected, tuple):
        return any(matches(actual, option) for option in expected)
    if expected.kind is Kind.LIST and expected.element is None:
        return actual.kind is Kind.LIST
    return actual == expected or (actual.kind is expected.kind and expected.kind is not Kind.LIST)


def describe(expected: Type | tuple[Type, ...] | None) -> str:
    """A declared parameter type in words ("a date or timestamp")."""
    if expected is None:
        return "any value"
    if isinstance(expected, tuple):
        return " or ".join(str(option) for option in expected)
    return str(expected)
