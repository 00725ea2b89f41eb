"""Work the metrics of one run share: what is computed from an orders table (its keys
grouped, its per-customer totals) is kept while that table lives, so purchase, rfm, clv
and acquisition make one pass over the orders between them, not one each."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")
_KEPT: dict[tuple[int, Hashable], Any] = {}


def shared(table: Any, what: Hashable, make: Callable[[], T]) -> T:
    """`make()`, or what it gave before for the same `table` (the same object) and `what`;
    forgotten when the table is."""
    key = (id(table), what)
    if key not in _KEPT:
        value = make()
        try:
            weakref.finalize(table, _KEPT.pop, key, None)
        except TypeError:  # an object without weak references: not kept
            return value
        _KEPT[key] = value
    return _KEPT[key]
