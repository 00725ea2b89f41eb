"""Duration literals as the rules language writes them (``365d``, ``12mo``), for options.

Lengths are fixed, as in the language: ``h`` = 3600 s, ``d`` = 86400 s, ``w`` = 7 d,
``mo`` = 30 d, ``y`` = 365 d. CLV horizons are named after their literal (``clv_12mo``).
"""

from __future__ import annotations

import datetime as dt
import re

UNIT_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400, "y": 365 * 86400}
_LITERAL = re.compile(r"(\d+)(h|d|w|mo|y)")
DAY = dt.timedelta(days=1)


def parse_duration(value: str | dt.timedelta) -> dt.timedelta:
    """The length of a literal such as ``30d``; a `timedelta` passes through."""
    if isinstance(value, dt.timedelta):
        return value
    match = _LITERAL.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a duration like 30d, 2w, 12mo or 1y")
    return dt.timedelta(seconds=int(match[1]) * UNIT_SECONDS[match[2]])


def days(value: dt.timedelta) -> float:
    """A duration in (possibly fractional) days."""
    return value / DAY
