"""The engine-neutral plan the SQL compiler follows (dependency layers, window bounds).

These move to `segmint.semantics` with the engine seam; until then they are the same
definitions as the Arrow engine's.
"""

from __future__ import annotations

import datetime as dt

from segmint.language import ast
from segmint.language.checker import CheckedRules
from segmint.semantics.asof import AsOf


def layers(checked: CheckedRules) -> list[list[str]]:
    """Statements grouped so each group depends only on earlier groups."""
    depth: dict[str, int] = {}
    for name in checked.order:
        depth[name] = 1 + max((depth[d] for d in checked.depends.get(name, ())), default=-1)
    grouped: dict[int, list[str]] = {}
    for name in checked.order:
        grouped.setdefault(depth[name], []).append(name)
    return [grouped[level] for level in sorted(grouped)]


def window_bounds(window: ast.Window | None, as_of: AsOf) -> tuple[dt.datetime | None, dt.datetime]:
    """The first and last instant (both inclusive) a window covers, never after as_of."""
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
    return AsOf.resolve(value, timezone).instant
