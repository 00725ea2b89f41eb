"""The instants a time window covers, relative to as_of and in the run's time zone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from segmint.language.catalog import Catalog
from segmint.language.checker import check
from segmint.language.parser import parse_rules
from segmint.semantics.asof import AsOf
from segmint.semantics.windows import window_bounds

UTC = dt.timezone.utc
AS_OF = dt.datetime(2024, 6, 15, 12, 0, tzinfo=UTC)


def _t(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def _bounds(window: str, as_of: Any, timezone: str = "UTC") -> tuple[Any, Any]:
    checked = check(parse_rules(f"segment s: count(o, {window}) > 0"), Catalog().with_events(
        {"o": (pa.schema([("k", pa.int64()), ("timestamp", pa.date32())]), "timestamp")}, key="k"))
    return window_bounds(checked.aggregates[0].window, AsOf.resolve(as_of, timezone))


BOUNDS = [
    ("last 7d", AS_OF, "UTC", (AS_OF - dt.timedelta(days=7), AS_OF)),
    ("last 12h", AS_OF, "UTC", (AS_OF - dt.timedelta(hours=12), AS_OF)),
    ("between 180d ago and 90d ago", AS_OF, "UTC",
     (AS_OF - dt.timedelta(days=180), AS_OF - dt.timedelta(days=90))),
    ("since 2024-01-01", AS_OF, "UTC", (_t(2024, 1, 1), AS_OF)),
    ("between 2024-01-01 and 2024-01-31", AS_OF, "UTC",
     (_t(2024, 1, 1), _t(2024, 2, 1) - dt.timedelta(microseconds=1))),
    # a window past as_of stops at as_of
    ("between 2024-06-01 and 2024-12-31", AS_OF, "UTC", (_t(2024, 6, 1), AS_OF)),
    ("between 2024-01-01T08:00:00+01:00 and 2024-01-02T08:00:00Z", AS_OF, "UTC",
     (_t(2024, 1, 1, 7), _t(2024, 1, 2, 8))),
    # dates are whole days in the run's time zone
    ("between 2024-01-01 and 2024-01-01", AS_OF, "Europe/Paris",
     (_t(2023, 12, 31, 23), _t(2024, 1, 1, 23) - dt.timedelta(microseconds=1))),
    # as_of given as a date observes that whole day
    ("last 1d", dt.date(2024, 6, 15), "UTC",
     (_t(2024, 6, 15) - dt.timedelta(microseconds=1), _t(2024, 6, 16) - dt.timedelta(microseconds=1))),
]


@pytest.mark.parametrize(("window", "as_of", "timezone", "expected"), BOUNDS, ids=[b[0] + " " + b[2] for b in BOUNDS])
def test_window_bounds(window, as_of, timezone, expected):
    assert _bounds(window, as_of, timezone) == expected


def test_no_window_is_all_history_up_to_as_of():
    assert window_bounds(None, AsOf.resolve(AS_OF)) == (None, AS_OF)
