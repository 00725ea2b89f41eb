"""coalesce of a timestamp and a date lifts the date to its midnight in the run's zone."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest


TABLE = pa.table({
    "customer_id": [1, 2],
    "ts": pa.array([None, dt.datetime(2026, 1, 1, 12)], pa.timestamp("us", "UTC")),
    "d": pa.array([dt.date(2026, 1, 5)] * 2),
})


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_a_date_in_coalesce_is_local_midnight(evaluate, timezone: str) -> None:
    rules = "segment same: coalesce(ts, d) == d\nsegment early: coalesce(ts, d) < 2026-01-05\n"
    result = evaluate(rules, TABLE, timezone=timezone, as_of="2026-02-01")
    assert result.column("same").to_pylist() == [True, False]
    assert result.column("early").to_pylist() == [False, True]
