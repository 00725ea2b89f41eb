"""Type rules of the operators: what `a + b` gives for the types of a and b, and the one type
a list of values shares."""

from __future__ import annotations

from segmint.language.types import DURATION, NULL, NUMBER, TEMPORAL, TIMESTAMP, Kind, Type, unify


def unify_all(types: list[Type]) -> Type | None:
    """The one type all of `types` fit, or None when they do not share one."""
    result: Type | None = NULL
    for found in types:
        result = unify(result, found) if result is not None else None
    return result


def arithmetic_type(op: str, left: Type, right: Type) -> Type | None:
    """The result type of `left op right`, or None when the operation has no meaning."""
    kinds = (left.kind, right.kind)
    if Kind.NULL in kinds:
        other = right if left.kind is Kind.NULL else left
        return other if other.kind in (Kind.NUMBER, Kind.DURATION, Kind.NULL) else (
            other if op in "+-" and other.kind in TEMPORAL else None)
    if kinds == (Kind.NUMBER, Kind.NUMBER):
        return NUMBER
    if op in "+-":
        if left.kind in TEMPORAL and right.kind is Kind.DURATION:
            return TIMESTAMP
        if op == "+" and left.kind is Kind.DURATION and right.kind in TEMPORAL:
            return TIMESTAMP
        if op == "-" and left.kind in TEMPORAL and right.kind in TEMPORAL:
            return DURATION
        if kinds == (Kind.DURATION, Kind.DURATION):
            return DURATION
    if op == "*" and Kind.DURATION in kinds and Kind.NUMBER in kinds:
        return DURATION
    if op == "/" and kinds == (Kind.DURATION, Kind.NUMBER):
        return DURATION
    return None
