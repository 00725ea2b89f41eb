"""The instants a time window covers (`last 30d`, `between 180d ago and 90d ago`, `since X`,
`between X and Y`), relative to the run's as_of: the same bounds for every engine."""

from __future__ import annotations

import datetime as dt

from segmint.language import ast
from segmint.semantics.asof import AsOf


def window_bounds(window: ast.Window | None, as_of: AsOf) -> tuple[dt.datetime | None, dt.datetime]:
    """The first and last instant (both inclusive) a window covers, never after as_of.

    `last D`: as_of - D .. as_of. `between D1 ago and D2 ago`: as_of - D1 .. as_of - D2.
    `since X`: X .. as_of. `between X and Y`: X .. Y. A date X is its midnight and a date Y
    its last microsecond, in the run's time zone (the whole of both days is in).
    """
    end = as_of.instant
    if window is None:
        return None, end
    if window.kind == "last":
        return end - window.start.value, end
    if window.kind == "ago":
        assert window.end is not None
        return end - window.start.value, min(end, end - window.end.value)
    start = _instant(window.start.value, as_of.timezone, start=True)
    if window.kind == "since":
        return start, end
    assert window.end is not None
    return start, min(end, _instant(window.end.value, as_of.timezone, start=False))


def _instant(value: dt.date | dt.datetime, timezone: str, *, start: bool) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return AsOf.resolve(value, timezone).instant
    if start:
        return AsOf.resolve(dt.datetime.combine(value, dt.time()), timezone).instant
    return AsOf.resolve(value, timezone).instant  # a date's as_of is its last microsecond

