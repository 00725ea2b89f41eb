"""The duckdb engine against the arrow engine (the reference) on the traps of SQL: each case
is evaluated on both, and the membership must be the same table, byte for byte; the
expected column is asserted too, so a bug both engines share still fails."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest

import segmint
from segmint.errors import ConfigError, EvaluationError, RuleError

pytest.importorskip("duckdb")

T, F, N = True, False, None


def both(rules: str, table: pa.Table, **kwargs) -> pa.Table:
    """The membership on the arrow engine, checked equal to the duckdb engine's."""
    want = segmint.evaluate(rules, table, **kwargs)
    got = segmint.evaluate(rules, table, engine="duckdb", **kwargs)
    assert got.schema == want.schema
    assert got.to_pylist() == want.to_pylist()
    assert got.equals(want)
    return got


def profiles(**columns) -> pa.Table:
    n = len(next(iter(columns.values())))
    return pa.table({"customer_id": pa.array(range(1, n + 1), pa.int64()), **columns})


CASES = [
    # NaN is null: neither side of a comparison, `is null` true, not ranked
    (dict(x=[1.0, math.nan, None, 3.0]), "x > 0", [T, F, F, T]),
    (dict(x=[1.0, math.nan, None, 3.0]), "x is null", [F, T, T, F]),
    (dict(x=[1.0, math.nan, None, 3.0]), "not (x > 0)", [F, F, F, F]),
    (dict(x=[1.0, math.nan, 2.0, 3.0]), "x in top 50%", [F, F, T, T]),
    # division by zero is null, not infinity and not an error
    (dict(x=[1, 2, 0], y=[0, 1, 0]), "x / y is null", [T, F, T]),
    (dict(x=[1.0, -2.0, 0.0], y=[0.0, -0.0, 0.0]), "x / y > 0 or x / y <= 0", [F, F, F]),
    (dict(x=[5, 2]), "x / 2 == 2.5", [T, F]),
    # three-valued logic: null and/or/not
    (dict(a=[T, T, F, F, N, N], b=[N, F, N, T, N, T]), "a and b", [F, F, F, F, F, F]),
    (dict(a=[T, T, F, F, N, N], b=[N, F, N, T, N, T]), "a or b", [T, T, F, T, F, T]),
    (dict(a=[T, T, F, F, N, N], b=[N, F, N, T, N, T]), "not (a and b)", [F, T, T, T, F, F]),
    # in with nulls, exactly SQL's
    (dict(c=["DE", "US", None]), 'c in ("DE", null)', [T, F, F]),
    (dict(c=["DE", "US", None]), 'not (c in ("DE", null))', [F, F, F]),
    (dict(c=["DE", "US", None]), 'c not in ("FR")', [T, T, F]),
    (dict(i=[2**53 + 1, 1], f=[float(2**53), 1.0]), "i in (f, 7)", [T, T]),  # item by item, as floats
    # text tests and regular expressions (RE2 on both)
    (dict(s=["abc", "ABC", "", None, "a\nc"]), 's starts with "a"', [T, F, F, F, T]),
    (dict(s=["abc", "ABC", "", None, "a\nc"]), 's ends with ""', [T, T, T, F, T]),
    (dict(s=["abc", "ABC", "", None, "a\nc"]), 's matches "^a.c$"', [T, F, F, F, F]),
    (dict(s=["abc", "ABC", "", None, "a\nc"]), 's matches "(?i)^abc"', [T, T, F, F, F]),
    (dict(s=["ab", "B", "é", "a"]), 's < "b"', [T, T, F, T]),
    (dict(s=["ab", "Ä", "é"]), 'upper(s) == "AB" or lower(s) == "ä" or length(s) == 1', [T, T, T]),
    # lists: [] holds nothing (not even null), a null list is null, `contains null` unknown
    (dict(l=[["a"], [], None, ["b", None]]), 'l contains "a"', [T, F, F, F]),
    (dict(l=[["a"], [], None, ["b", None]]), 'not (l contains "a")', [F, T, F, T]),
    (dict(l=[["a"], [], None, ["b", None]]), 'l contains all ("a", "b")', [F, F, F, F]),
    (dict(l=[["a"], [], None, ["b", None]]), 'l contains any ("b", "z")', [F, F, F, T]),
    (dict(l=[["a"], [], None, ["b", None]]), "(l contains null) is null", [T, F, T, T]),
    (dict(l=[["a"], [], None, ["b", None]]), "l contains all (null)", [T, T, F, T]),
    # top / bottom: k = ceil(n * P / 100), ties at the cut all in, nulls never
    (dict(m=[10, 9, 9, 9, 5, 4, 3, 1, None, None]), "m in top 20%", [T, T, T, T, F, F, F, F, F, F]),
    (dict(m=[10, 9, 9, 9, 5, 4, 3, 1, None, None]), "m in bottom 25%", [F, F, F, F, F, F, T, T, F, F]),
    (dict(m=[10, 9, 9, 9, 5, 4, 3, 1, None, None]), "m in top 10%", [T] + [F] * 9),
    (dict(m=[10, 9, 9, 9, 5, 4, 3, 1, None, None]), "m in top 0%", [F] * 10),
    (dict(m=[10, 9, 9, 9, 5, 4, 3, 1, None, None]), "m in top 33.3%", [T, T, T, T] + [F] * 6),
    (dict(m=[0.0, -0.0, 1.0]), "m in bottom 34%", [T, T, F]),
    (dict(s=["b", "a", "c", None]), "s in top 34%", [T, F, T, F]),
    # durations, dates and timestamps
    (dict(d=[dt.date(2024, 6, 15), dt.date(2024, 5, 16), dt.date(2024, 5, 15), None]), "d within 30d",
     [T, T, F, F]),
    (dict(d=[dt.date(2024, 6, 15), dt.date(2024, 5, 16)]), "today - d >= 30d", [F, T]),
    (dict(d=[dt.date(2024, 6, 15), dt.date(2024, 5, 16)]), "d + 36h > 2024-06-16", [T, F]),
    (dict(r=pa.array([dt.timedelta(days=3), None, dt.timedelta(hours=1)], pa.duration("s"))),
     "r > 2d and days(r) == 3", [T, F, F]),
    (dict(r=pa.array([dt.timedelta(microseconds=3), dt.timedelta(microseconds=5)], pa.duration("us"))),
     "r / 2 == 2 * 1h / 3600000000", [T, T]),  # 1.5 and 2.5 microseconds round to even
    (dict(t=pa.array([dt.datetime(2024, 6, 15, 13), dt.datetime(2024, 6, 15, 11)], pa.timestamp("ms", "UTC"))),
     "t within 12h and year(t) == 2024 and day_of_week(t) == 6", [T, F]),
    (dict(x=[2.5, -2.5, 0.5, None]), "round(x) == 3 or round(x) == -3", [T, T, F, F]),
    (dict(x=[25, -25, 14]), "round(x, -1) == 30 or round(x, -1) == -30", [T, T, F]),
    (dict(x=[1, None], y=[None, 2]), "coalesce(x, y, 0) > 0", [T, T]),
]


@pytest.mark.parametrize(("columns", "condition", "expected"), CASES)
def test_the_traps_are_the_arrow_engines(columns, condition, expected):
    table = profiles(**columns)
    result = both(f"segment hit: {condition}\n", table, as_of="2024-06-15")
    assert result["hit"].to_pylist() == expected


def test_a_date_is_midnight_in_the_runs_time_zone():
    table = profiles(d=[dt.date(2024, 3, 31), dt.date(2024, 3, 30)],
                     t=pa.array([dt.datetime(2024, 3, 30, 22, 30), dt.datetime(2024, 3, 30, 23, 30)],
                                pa.timestamp("us", "UTC")))
    rules = ("segment after: t >= d\nsegment weekday: day_of_week(t) == 7\n"
             "segment month: month(t) == 3 and t - d < 24h\nsegment near: d + 1d > t\n")
    result = both(rules, table, as_of="2024-06-15", timezone="Europe/Berlin")
    assert result["after"].to_pylist() == [F, T]  # 2024-03-31 is midnight Berlin = 22:00 UTC on the 30th
    assert result["weekday"].to_pylist() == [F, T]  # 23:30 UTC is Sunday 01:30 in Berlin
    naive = profiles(t=pa.array([dt.datetime(2024, 6, 15, 1, 30)], pa.timestamp("us")))
    assert both("segment early: t < 2024-06-15T00:00:00Z\n", naive, timezone="Europe/Berlin")[
        "early"].to_pylist() == [T]  # a zone-free column is read in the run's time zone


def test_segmentations_holdouts_and_references():
    table = pa.table({"customer_id": [f"c{i}" for i in range(400)], "m": [i % 37 for i in range(400)]})
    rules = ("segment big: m in top 30%\n    holdout 25%\n"
             "segment small: not big holdout 12.5%\n"
             "segmentation tier:\n    a: big\n    b: m > 10\n    c: otherwise\n"
             "segment tier_b: tier == \"b\"\n")
    result = both(rules, table, holdout_salt="spring")
    assert 0 < sum(result["big__holdout"].to_pylist()) < sum(result["big"].to_pylist())
    assert set(result["tier"].to_pylist()) == {"a", "b", "c"}


@pytest.mark.parametrize("keys", [
    pa.array([7, 2**63 - 1, -3]), pa.array([1, 40000], pa.int32()), pa.array([2**64 - 1], pa.uint64()),
    pa.array(["alice", "Zoë", "日本", "a:b", ""]), pa.array(["d1", "d2"]).dictionary_encode(),
    pa.array([3.0, 2.5, 1e20]),
])
def test_holdouts_are_the_documented_hash_for_every_key_type(keys):
    both("segment everyone: true holdout 50%\n", pa.table({"customer_id": keys}), holdout_salt="s")


def test_aggregates_over_events():
    table = profiles(m=[1, 2, 3, 4])
    at = [dt.datetime(2024, 6, d, tzinfo=dt.timezone.utc) for d in (1, 10, 10, 14, 16)]
    events = pa.table({
        "customer_id": pa.array([1, 1, 1, 2, 2], pa.int64()),
        "timestamp": pa.array(at, pa.timestamp("us", "UTC")),
        "amount": [10.0, 20.0, None, 5.0, 7.0],
        "channel": ["web", "app", "web", None, "web"],
        "paid": [True, False, None, True, False],
    })
    rules = "\n".join([
        "segment a: count(orders) >= 3",
        "segment b: exists(orders where channel == \"web\", last 7d)",
        "segment c: sum(orders.amount, between 2024-06-01 and 2024-06-10) == 30",
        "segment d: avg(orders.amount) > 6 and max(orders.amount) >= 5 and min(orders.timestamp) < now",
        "segment e: count_distinct(orders.channel) == 2 or count_distinct(orders.channel) is null",
        "segment f: first(orders.channel) == \"web\" and last(orders.channel) == \"web\"",
        "segment g: last(orders.paid) and not first(orders.paid)",
        "segment h: count(orders.amount, between 30d ago and 5d ago) == 1",
        "segment i: count(orders where amount * 2 > 15 and channel is not null, since 2024-06-02) >= 1",
        "",
    ])
    result = both(rules, table, as_of="2024-06-15", events={"orders": events})
    assert result["a"].to_pylist() == [T, F, F, F]  # the event of the 16th is after as_of


def test_integer_overflow_is_an_error_naming_the_segment():
    table = profiles(i=[1, 2**62])
    for rules in ("segment ok: i > 0\nsegment boom: i * 4 > 0\n",
                  # SQL could skip the overflowing row (the AND is already false): still an error
                  "segment ok: i > 0\nsegment boom: i < 2 and i * 4 > 0\n",
                  "segment ok: i > 0\nsegment boom: -(i * 2 - 1) - i * 2 < 0\n"):
        for engine in ("arrow", "duckdb"):
            with pytest.raises(EvaluationError, match="segment 'boom': integer overflow"):
                segmint.evaluate(rules, table, engine=engine)


def test_overflow_in_an_aggregates_where_names_the_segment():
    events = pa.table({"customer_id": [1], "timestamp": pa.array([dt.date(2024, 1, 1)]), "n": [2**62]})
    rules = "segment fine: true\nsegment boom: count(orders where n * 4 > 0) > 0\n"
    with pytest.raises(EvaluationError, match="segment 'boom': integer overflow"):
        segmint.evaluate(rules, profiles(m=[1]), engine="duckdb", as_of="2024-06-01",
                         events={"orders": events})


def test_bad_keys_are_data_errors_on_duckdb_too():
    with pytest.raises(segmint.DataError, match="duplicate customer key 5 \\(rows 1 and 3\\)"):
        segmint.evaluate("segment a: true", pa.table({"customer_id": [5, 6, 5]}), engine="duckdb")
    with pytest.raises(segmint.DataError, match="row 2.*empty|empty.*row 2"):
        segmint.evaluate("segment a: true", pa.table({"customer_id": [5, None]}), engine="duckdb")


def test_memory_limit_options_are_checked(tmp_path):
    from segmint.plugin.engines import engine_named
    from segmint.plugin.host import get_registry

    engine = engine_named("duckdb", get_registry(), options={"memory_limit": "512MiB", "threads": 1},
                          state_dir=tmp_path)
    assert engine.settings().memory_limit == 512 * 2**20
    assert engine.settings().temp_directory == tmp_path / "duckdb"
    for bad, message in (("1MB", "too small"), ("lots", "size like"), ("-4GB", "size like")):
        with pytest.raises(ConfigError, match=message):
            engine_named("duckdb", get_registry(), options={"memory_limit": bad})
    with pytest.raises(ConfigError, match="unknown option|memory_limt"):
        engine_named("duckdb", get_registry(), options={"memory_limt": "4GB"})


def test_a_rule_the_dialect_cannot_express_is_refused_with_its_position():
    from segmint.api import check_rules
    from segmint.engines.sql import compile_membership

    checked = check_rules('segment uk:\n    email matches "(?i)\\\\.co\\\\.uk$"\n',
                          pa.schema([("customer_id", pa.int64()), ("email", pa.string())]))
    with pytest.raises(RuleError) as raised:
        compile_membership(checked, dialect="postgres", key="customer_id")
    assert raised.value.line == 2
    assert "segment 'uk': the postgres dialect's regular expressions cannot match" in str(raised.value)
    assert compile_membership(checked, dialect="duckdb", key="customer_id")  # RE2: fine
