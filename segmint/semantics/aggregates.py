"""What aggregates over events give where the events do not decide: a customer with no
matching event, and `first`/`last` among events at the same instant. The same on every
engine (rules-language.md, "Aggregates over events").
"""

from __future__ import annotations

#: What a customer with no matching event gets, by aggregate: count 0, exists false.
#: Every other aggregate (sum, avg, min, max, count_distinct, first, last) gives null.
EMPTY_RESULTS: dict[str, int | bool] = {"count": 0, "exists": False}


def empty_result(function: str) -> int | bool | None:
    """The value of aggregate `function` over no matching event (None: null)."""
    return EMPTY_RESULTS.get(function)


def takes_earliest(function: str) -> bool:
    """How `first` and `last` choose: `first` takes the earliest matching event with a value
    and, among events at that instant, the smallest value (numbers by size, text by its
    bytes, false before true); `last` the latest instant and the largest value there. So
    the answer never depends on the order of rows."""
    if function not in ("first", "last"):
        raise ValueError(f"{function}() does not choose an event")
    return function == "first"
