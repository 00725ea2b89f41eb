"""The Arrow compiler, node by node: tiny tables in, expected truth values out.

A condition's three-valued result is read through the public API: `truth` evaluates
`segment yes: C` and `segment no: not (C)`, so a row in `yes` is true, in `no` is false,
and in neither is null (SQL's unknown, which counts as out).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from fractions import Fraction
from zoneinfo import ZoneInfo

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import segmint
from segmint import DataError, EvaluationError

T, F, N = True, False, None
AS_OF = "2024-06-15T12:00:00Z"  # a Saturday
UTC = dt.timezone.utc


def table(**columns) -> pa.Table:
    """A profile table with keys 0..n-1 and the given columns."""
    n = len(next(iter(columns.values())))
    return pa.table({"customer_id": pa.array(range(n), pa.int64()), **columns})


#: The same data as the frames users pass: polars exports string views (lists of them too)
#: and categoricals as dictionaries of views; pandas frames backed by Arrow keep the types.
def polars_frame(data: pa.Table) -> pl.DataFrame | None:
    """The data as polars holds it; None for a type polars has not (decimals over 38 digits)."""
    if any(pa.types.is_decimal256(f.type) for f in data.schema):
        return None
    return pl.from_arrow(data)


FRAMES = {
    "polars": polars_frame,
    "pandas": lambda data: data.to_pandas(types_mapper=pd.ArrowDtype),
}


def truth(condition: str, data: pa.Table, **options) -> list[bool | None]:
    """The condition's three-valued answer per row, the same from a pyarrow table, a polars
    frame and a pandas frame of the data (so every construct tested here is tested on each)."""
    rules = f"segment yes: {condition}\nsegment no: not ({condition})\n"
    as_of = options.pop("as_of", AS_OF)

    def answer(frame: object) -> list[bool | None]:
        result = segmint.evaluate(rules, frame, as_of=as_of, **options)
        return [T if y else F if n else N
                for y, n in zip(result["yes"].to_pylist(), result["no"].to_pylist())]

    expected = answer(data)
    for name, convert in FRAMES.items():
        frame = convert(data)
        if frame is not None:
            assert answer(frame) == expected, f"{condition} on a {name} frame"
    return expected


# three-valued logic -----------------------------------------------------------------------

BOOLS = table(a=pa.array([T, T, T, F, F, F, N, N, N]), b=pa.array([T, F, N] * 3))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("a and b", [T, F, N, F, F, F, N, F, N]),
        ("a or b", [T, T, T, T, F, N, T, N, N]),
        ("not a", [F, F, F, T, T, T, N, N, N]),
        ("not (a and b)", [F, T, N, T, T, T, N, T, N]),
        ("a and b or not a", [T, F, N, T, T, T, N, N, N]),
        ("a and true", [T, T, T, F, F, F, N, N, N]),
        ("a or false", [T, T, T, F, F, F, N, N, N]),
        ("a and null", [N, N, N, F, F, F, N, N, N]),
        ("a or null", [T, T, T, N, N, N, N, N, N]),
        ("a == b", [T, F, N, F, T, N, N, N, N]),
        ("a != b", [F, T, N, T, F, N, N, N, N]),
        ("a < b", [F, F, N, T, F, N, N, N, N]),
        ("a is null", [F, F, F, F, F, F, T, T, T]),
        ("a is not null", [T, T, T, T, T, T, F, F, F]),
        ("a in (true, null)", [T, T, T, N, N, N, N, N, N]),
        ("a not in (true)", [F, F, F, T, T, T, N, N, N]),
        ("a in (b)", [T, F, N, F, T, N, N, N, N]),
    ],
)
def test_kleene_logic(condition, expected):
    assert truth(condition, BOOLS) == expected


def test_null_counts_as_out_and_outputs_are_non_null_bools():
    result = segmint.evaluate("segment s: a and b\n", BOOLS)
    assert result.schema.field("s").type == pa.bool_()
    assert result["s"].null_count == 0
    assert result["s"].to_pylist() == [T, F, F, F, F, F, F, F, F]


# comparisons, in, between, is null ----------------------------------------------------------

NUMBERS = table(
    x=pa.array([1, 2, None, 3, 2**63 - 1], pa.int64()),
    y=pa.array([2, 2, 5, None, 2**63 - 1], pa.int64()),
    f=pa.array([0.5, math.nan, None, -1.0, 2.0**63]),
)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("x == y", [F, T, N, N, T]),
        ("x != y", [T, F, N, N, F]),
        ("x < y", [T, F, N, N, F]),
        ("x <= y", [T, T, N, N, T]),
        ("x > y", [F, F, N, N, F]),
        ("x >= y", [F, T, N, N, T]),
        ("x == null", [N, N, N, N, N]),
        ("null != x", [N, N, N, N, N]),
        # integers beyond 2**53 compare exactly with integers ...
        ("x == 9223372036854775806", [F, F, N, F, F]),
        ("x == 9223372036854775807", [F, F, N, F, T]),
        # ... and as the nearest double with floats, as SQL does
        ("x == f", [F, N, N, F, T]),
        ("f > 9007199254740993", [F, N, N, F, T]),
        ("x > 1.5", [F, T, N, T, T]),
        # a NaN read from data is null
        ("f > 0", [T, N, N, F, T]),
        ("f == f", [T, N, N, T, T]),
        ("f is null", [F, T, T, F, F]),
        ("f is not null", [T, F, F, T, T]),
        ("coalesce(f, 7) == 7", [F, T, T, F, F]),
        # in and not in, with SQL's answer for null items
        ("x in (1, 3)", [T, F, N, T, F]),
        ("x in (1, null)", [T, N, N, N, N]),
        ("x not in (1, 3)", [F, T, N, F, T]),
        ("x not in (1, null)", [F, N, N, N, N]),
        ("x in (null)", [N, N, N, N, N]),
        ("x in (1.0, 2.5)", [T, F, N, F, F]),
        ("f in (0.5, -1)", [T, N, N, T, F]),
        ("x in (y, 3)", [F, T, N, T, T]),
        ("x not in (y, 3)", [T, F, N, F, F]),
        ("null in (1, 2)", [N, N, N, N, N]),
        # between is inclusive; a null bound is unknown, and can still be decided by the other
        ("x between 1 and 2", [T, T, N, F, F]),
        ("x not between 1 and 2", [F, F, N, T, T]),
        ("x between y and 3", [F, T, N, N, F]),
        ("x between null and 2", [N, N, N, F, F]),
        ("x between 2 and null", [F, N, N, N, N]),
        ("f between -1 and 0.5", [T, N, N, T, F]),
    ],
)
def test_comparisons(condition, expected):
    assert truth(condition, NUMBERS) == expected


def test_between_and_in_with_items_compare_item_by_item():
    # x >= y is an exact integer comparison even though x <= f is one of doubles
    data = table(x=pa.array([-(2**63)], pa.int64()), y=pa.array([-(2**63 - 1)], pa.int64()),
                 f=pa.array([0.0]))
    assert truth("x between y and f", data) == [F]
    assert truth("x in (y, f)", data) == [F]
    assert truth("x in (y, -9.223372036854775807e18)", data) == [T]  # x == the double


def test_minus_zero_is_zero():
    data = table(f=pa.array([-0.0, 0.0, 1.0]))
    assert truth("f in (0)", data) == [T, T, F]
    assert truth("f == 0", data) == [T, T, F]
    assert truth("f not in (-0.0)", data) == [F, F, T]


STRINGS = table(s=pa.array(["apple", "Apple", "", None, "banana", "épée"]))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("s == \"apple\"", [T, F, F, N, F, F]),
        ("s < \"b\"", [T, T, T, N, F, F]),  # byte order: upper case before lower case
        ("s in (\"apple\", \"\")", [T, F, T, N, F, F]),
        ("s in (\"apple\", null)", [T, N, N, N, N, N]),
        ("s between \"a\" and \"b\"", [T, F, F, N, F, F]),
        ("s starts with \"a\"", [T, F, F, N, F, F]),
        ("s starts with \"\"", [T, T, T, N, T, T]),
        ("s ends with \"na\"", [F, F, F, N, T, F]),
        ("s contains \"pp\"", [T, T, F, N, F, F]),
        ("s contains \"\"", [T, T, T, N, T, T]),
        ("s contains null", [N, N, N, N, N, N]),
        ("s contains any (\"pl\", \"nan\")", [T, T, F, N, T, F]),
        ("s contains any (\"pl\", null)", [T, T, N, N, N, N]),
        ("s contains all (\"a\", \"n\")", [F, F, F, N, T, F]),
        ("s contains all (\"a\", null)", [N, F, F, N, N, F]),
        ("s matches \"^[aA]pp\"", [T, T, F, N, F, F]),
        ("s matches \"an\"", [F, F, F, N, T, F]),  # a search, not a full match
        ("s matches \"^$\"", [F, F, T, N, F, F]),
        ("s matches \"^.{4}$\"", [F, F, F, N, F, T]),  # characters, not bytes
        ("lower(s) == \"apple\"", [T, T, F, N, F, F]),
        ("upper(s) == \"ÉPÉE\"", [F, F, F, N, F, T]),
        ("length(s) == 4", [F, F, F, N, F, T]),
        ("length(s) == 0", [F, F, T, N, F, F]),
        ("coalesce(s, \"none\") == \"none\"", [F, F, F, T, F, F]),
        ("s is null", [F, F, F, T, F, F]),
        ("null starts with \"a\"", [N, N, N, N, N, N]),
    ],
)
def test_strings(condition, expected):
    assert truth(condition, STRINGS) == expected


# lists ----------------------------------------------------------------------------------------

LISTS = table(tags=pa.array([["yoga", "run"], [], None, ["yoga", None], [None], ["swim"]]))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # null where the list is null; an empty list holds nothing; null items never match
        ("tags contains \"yoga\"", [T, F, N, T, F, F]),
        ("tags contains null", [N, F, N, N, N, N]),  # [] holds nothing, as in DuckDB
        ("tags contains any (\"run\", \"swim\")", [T, F, N, F, F, T]),
        ("tags contains any (\"run\", null)", [T, F, N, F, F, F]),
        ("tags contains all (\"yoga\", \"run\")", [T, F, N, F, F, F]),
        ("tags contains all (\"yoga\", \"yoga\", \"run\")", [T, F, N, F, F, F]),
        ("tags contains all (\"run\", \"run\")", [T, F, N, F, F, F]),
        ("tags contains all (\"yoga\", null)", [T, F, N, T, F, F]),
        ("tags is null", [F, F, T, F, F, F]),
        ("length(tags) == 2", [T, F, N, T, F, F]),
        ("length(tags) == 0", [F, T, N, F, F, F]),
    ],
)
def test_list_contains(condition, expected):
    assert truth(condition, LISTS) == expected


def test_list_columns_of_other_types():
    large = table(tags=pa.array([["a"], None, ["b", "c"]], pa.large_list(pa.large_string())))
    assert truth("tags contains any (\"c\", \"z\")", large) == [F, N, T]
    numbers = table(codes=pa.array([[1, 2], [3], [], None], pa.list_(pa.int32())))
    assert truth("codes contains 2", numbers) == [T, F, F, N]
    assert truth("codes contains all (1, 2)", numbers) == [T, F, F, N]
    floats = table(v=pa.array([[-0.0], [1.5], [math.nan]], pa.list_(pa.float64())))
    assert truth("v contains 0", floats) == [T, F, F]


# arithmetic -------------------------------------------------------------------------------

ARITHMETIC = table(
    a=pa.array([5, -7, 0, None, 6], pa.int64()),
    b=pa.array([2, 2, 0, 1, 0], pa.int64()),
    f=pa.array([0.5, 0.0, -0.0, 1.0, None]),
)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("a / b == 2.5", [T, F, N, N, N]),  # true division
        ("a / b == -3.5", [F, T, N, N, N]),
        ("a / b is null", [F, F, T, T, T]),  # division by zero is null, not infinity
        ("a / 0 is null", [T, T, T, T, T]),
        ("a / f is null", [F, T, T, T, T]),  # also by a float zero, -0.0 included
        ("1 / 0 > 0", [N, N, N, N, N]),
        ("not (a / 0 > 0)", [N, N, N, N, N]),
        ("a + b * 2 == 9", [T, F, F, N, F]),  # * before +
        ("(a + b) * 2 == 14", [T, F, F, N, F]),
        ("a - b - 1 == 2", [T, F, F, N, F]),  # left to right
        ("-a == -5", [T, F, F, N, F]),
        ("a + f == 5.5", [T, F, F, N, N]),
        ("a * null is null", [T, T, T, T, T]),
        ("abs(a) == 7", [F, T, F, N, F]),
        ("5 / 2 == 2.5", [T, T, T, T, T]),
        ("9223372036854775807 / 2 > 4.6e18", [T, T, T, T, T]),
    ],
)
def test_arithmetic(condition, expected):
    assert truth(condition, ARITHMETIC) == expected


@pytest.mark.parametrize(
    "condition",
    [
        "x + 1 > 0",
        "x * 2 > 0",
        "0 - x - 2 < 0",
        "-(x + 1) < 0",
        "abs(y) > 0",
        "-y > 0",
        "x * x in top 10%",
        "coalesce(x * 3, 1) > 0",
        "x + 1 in (null)",  # null whatever x + 1 is, but still computed
    ],
)
def test_integer_overflow_raises(condition):
    data = table(x=pa.array([1, 2**63 - 1], pa.int64()), y=pa.array([0, -(2**63)], pa.int64()))
    rules = f"segment fine: x > 0\nsegment broken: {condition}\n"
    with pytest.raises(EvaluationError) as raised:
        segmint.evaluate(rules, data)
    message = str(raised.value)
    assert "<string>:2: segment 'broken'" in message
    assert "integer overflow" in message and "'fine'" not in message


def test_overflow_in_a_segmentation_names_it():
    data = table(x=pa.array([2**62], pa.int64()))
    rules = "segmentation tiers:\n    big: x * 4 > 0\n    small: otherwise\n"
    with pytest.raises(EvaluationError, match=r"<string>:1: segmentation 'tiers': integer overflow"):
        segmint.evaluate(rules, data)


def test_floating_point_is_the_way_around_overflow():
    data = table(x=pa.array([2**63 - 1, 3], pa.int64()))
    assert truth("x * 1.0 * x > 8.5e37", data) == [T, F]
    assert truth("x / 2 * x > 4.2e37", data) == [T, F]


def test_no_overflow_where_values_are_null():
    data = table(x=pa.array([None, 3], pa.int64()))
    assert truth("x * 3074457345618258602 > 0", data) == [N, T]


# dates, timestamps, durations ----------------------------------------------------------------

def _ts(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


TIMES = table(
    d=pa.array([dt.date(2024, 6, 15), dt.date(2024, 5, 16), dt.date(2024, 5, 15), dt.date(2024, 6, 16),
                None]),
    t=pa.array([_ts(2024, 6, 15, 12), _ts(2024, 5, 16, 12), _ts(2024, 5, 16, 11, 59),
                _ts(2024, 6, 15, 12, 0, 1), None], pa.timestamp("us", tz="UTC")),
)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # a date compared with a timestamp is midnight of that day (run time zone UTC)
        ("d < 2024-06-15T00:00:01Z", [T, T, T, F, N]),
        ("d == 2024-06-15T00:00:00Z", [T, F, F, F, N]),
        ("d < t", [T, T, T, F, N]),
        ("d in (2024-06-15T00:00:00Z, 2024-05-15)", [T, F, T, F, N]),
        ("t > 2024-06-15", [T, F, F, T, N]),
        ("t >= 2024-06-15T12:00:00+00:00", [T, F, F, T, N]),
        ("t == 2024-06-15T14:00:00+02:00", [T, F, F, F, N]),
        # within D: as_of - D <= x <= as_of; dates by day, timestamps to the microsecond
        ("d within 30d", [T, T, F, F, N]),
        ("t within 30d", [T, T, F, F, N]),
        ("t within 12h", [T, F, F, F, N]),
        ("d within 0d", [T, F, F, F, N]),
        # date and duration arithmetic
        ("d + 1d == 2024-06-16T00:00:00Z", [T, F, F, F, N]),
        ("d + 12h > t", [F, F, F, T, N]),
        ("t - 30d >= 2024-04-16T12:00:00Z", [T, T, F, T, N]),
        ("now - t == 30d", [F, T, F, F, N]),
        ("now - t > 4w", [F, T, T, F, N]),
        ("t - d == 12h", [T, T, F, F, N]),
        ("days(today - d) == 30", [F, T, F, F, N]),
        ("days(today - d) == -1", [F, F, F, T, N]),
        ("days(now - t) > 30", [F, F, T, F, N]),
        ("(now - t) * 2 == 60d", [F, T, F, F, N]),
        ("(now - t) / 2 == 15d", [F, T, F, F, N]),
        ("-(now - t) == -30d", [F, T, F, F, N]),
        ("(now - t) / 0 is null", [T, T, T, T, T]),
        ("1mo == 30d and 1y == 365d and 2w == 14d and 1d == 24h", [T] * 5),
        ("d == today", [T, F, F, F, N]),
        ("t <= now", [T, T, T, F, N]),
        ("year(d) == 2024 and month(d) == 5", [F, T, T, F, N]),
    ],
)
def test_temporal(condition, expected):
    assert truth(condition, TIMES) == expected


def test_date_against_timestamp_uses_the_run_time_zone():
    data = table(d=pa.array([dt.date(2024, 1, 1)]))
    # midnight in Berlin is 23:00 UTC the day before
    assert truth("d == 2023-12-31T23:00:00Z", data, timezone="Europe/Berlin") == [T]
    assert truth("d == 2023-12-31T23:00:00Z", data) == [F]
    assert truth("d + 1h == 2024-01-01T00:00:00Z", data, timezone="Europe/Berlin") == [T]


def test_timestamp_literals_without_zone_and_naive_columns_are_in_the_run_time_zone():
    naive = table(t=pa.array([dt.datetime(2024, 1, 1, 12)], pa.timestamp("ms")))
    assert truth("t == 2024-01-01T11:00:00Z", naive, timezone="Europe/Berlin") == [T]
    assert truth("t == 2024-01-01T12:00:00", naive, timezone="Europe/Berlin") == [T]
    assert truth("t == 2024-01-01T12:00:00Z", naive) == [T]


def test_within_when_as_of_is_a_date_sees_that_whole_day():
    data = table(t=pa.array([_ts(2024, 6, 15, 23, 59), _ts(2024, 6, 8, 23, 59, 59), _ts(2024, 6, 16)],
                            pa.timestamp("us", tz="UTC")))
    assert truth("t within 7d", data, as_of="2024-06-15") == [T, F, F]


def test_day_of_week_is_iso_monday_one():
    monday = dt.date(2024, 6, 10)
    dates = [monday + dt.timedelta(days=i) for i in range(7)]
    data = table(d=pa.array(dates), t=pa.array([dt.datetime.combine(d, dt.time(12), UTC) for d in dates]))
    rules = "segmentation dow:\n" + "".join(f"    d{i}: day_of_week(d) == {i}\n" for i in range(1, 8))
    assert segmint.evaluate(rules, data)["dow"].to_pylist() == [f"d{i}" for i in range(1, 8)]
    rules = rules.replace("day_of_week(d)", "day_of_week(t)")
    assert segmint.evaluate(rules, data)["dow"].to_pylist() == [f"d{i}" for i in range(1, 8)]


def test_calendar_functions_read_timestamps_on_the_run_wall_clock():
    data = table(t=pa.array([_ts(2023, 12, 31, 23, 30)], pa.timestamp("us", tz="UTC")))  # a Sunday
    assert truth("year(t) == 2023 and month(t) == 12 and day_of_week(t) == 7", data) == [T]
    berlin = "year(t) == 2024 and month(t) == 1 and day_of_week(t) == 1"
    assert truth(berlin, data, timezone="Europe/Berlin") == [T]


# functions ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("round(x) == 3", [T, F, F, F, N]),  # half away from zero
        ("round(x) == -3", [F, T, F, F, N]),
        ("round(x, 1) == 1.3", [F, F, T, F, N]),
        ("round(x) == 0", [F, F, F, T, N]),
        ("abs(x) == 2.5", [T, T, F, F, N]),
        ("abs(n) == 9223372036854775807", [T, F, N, N, N]),
        ("coalesce(x, n, 0) == 0", [F, F, F, F, T]),
        ("coalesce(null, n) == 2", [F, T, N, N, N]),
        ("coalesce(n, 0) == -9223372036854775807", [T, F, F, F, F]),  # integers stay exact
        ("coalesce(n, 0) == -9223372036854775806", [F, F, F, F, F]),
        ("length(null) is null", [T] * 5),
        ("lower(null) is null and year(null) is null and abs(null) is null", [T] * 5),
    ],
)
def test_functions(condition, expected):
    data = table(x=pa.array([2.5, -2.5, 1.25, 0.4, None]),
                 n=pa.array([-(2**63 - 1), 2, None, None, None], pa.int64()))
    assert truth(condition, data) == expected


# in top / bottom N% ---------------------------------------------------------------------

RANKED = table(v=pa.array([10, 20, 20, 30, None, 5], pa.int64()))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # n = 5 non-null values; k = ceil(n * P / 100); ties at the cut are all in
        ("v in top 20%", [F, F, F, T, N, F]),  # k = 1: 30
        ("v in top 40%", [F, T, T, T, N, F]),  # k = 2: cut 20, both 20s in
        ("v in top 50%", [F, T, T, T, N, F]),  # k = 3: cut 20
        ("v in top 1%", [F, F, F, T, N, F]),  # k = 1
        ("v in top 0%", [F, F, F, F, N, F]),  # k = 0: nobody
        ("v in top 100%", [T, T, T, T, N, T]),
        ("v in bottom 20%", [F, F, F, F, N, T]),
        ("v in bottom 40%", [T, F, F, F, N, T]),
        ("v in bottom 60%", [T, T, T, F, N, T]),  # k = 3: cut 20, the tie is in
        ("v in bottom 0%", [F, F, F, F, N, F]),
        ("-v in top 20%", [F, F, F, F, N, T]),
        ("v * 2 in top 20%", [F, F, F, T, N, F]),
    ],
)
def test_top_and_bottom(condition, expected):
    assert truth(condition, RANKED) == expected


def test_rank_of_nothing_and_of_strings_dates_floats():
    assert truth("v in top 50%", table(v=pa.array([None, None], pa.int64()))) == [N, N]
    assert truth("v in top 50%", table(v=pa.array([], pa.int64()))) == []
    assert truth("s in top 34%", table(s=pa.array(["b", "a", "c", None]))) == [T, F, T, N]
    dates = table(d=pa.array([dt.date(2024, 1, 1), dt.date(2023, 1, 1), None]))
    assert truth("d in bottom 50%", dates) == [F, T, N]
    floats = table(f=pa.array([1.5, math.nan, -2.0, 3.0]))  # NaN is null: n = 3
    assert truth("f in top 34%", floats) == [T, N, F, T]


@pytest.mark.parametrize(
    ("n", "percent"),
    [(10, "33.3"), (3, "10"), (1000, "0.7"), (7, "14.29"), (100, "7"), (29, "3.45"), (1, "0.01"),
     (200, "12.5")],
)
def test_rank_takes_exactly_k_of_distinct_values(n, percent):
    data = table(v=pa.array(range(n), pa.int64()))
    k = math.ceil(Fraction(n) * Fraction(percent) / 100)
    for word in ("top", "bottom"):
        members = segmint.evaluate(f"segment s: v in {word} {percent}%\n", data)["s"].to_pylist()
        assert sum(members) == k
        chosen = [i for i, m in enumerate(members) if m]
        assert chosen == (list(range(n - k, n)) if word == "top" else list(range(k)))


def test_rank_counts_every_customer_not_only_those_in_an_enclosing_condition():
    data = table(v=pa.array([1, 2, 3, 4], pa.int64()), keep=pa.array([T, T, F, F]))
    assert truth("keep and v in top 50%", data) == [F, F, F, F]


# segmentations and references ---------------------------------------------------------------

SEGMENTED = table(x=pa.array([5, 50, 500, None], pa.int64()))


def test_segmentation_first_match_wins_and_otherwise_takes_the_rest():
    rules = ("segmentation tier:\n    high: x >= 500\n    mid: x >= 50\n    low: x >= 0\n"
             "    none: otherwise\n")
    result = segmint.evaluate(rules, SEGMENTED)
    assert result.schema.field("tier").type == pa.string()
    assert result["tier"].to_pylist() == ["low", "mid", "high", "none"]


def test_segmentation_without_otherwise_leaves_null():
    result = segmint.evaluate("segmentation tier:\n    big: x >= 50\n    small: x < 50\n", SEGMENTED)
    assert result["tier"].to_pylist() == ["small", "big", "big", None]


def test_segmentation_skips_an_unknown_arm():
    rules = "segmentation tier:\n    odd: x / 0 > 1\n    some: x > 0\n    rest: otherwise\n"
    assert segmint.evaluate(rules, SEGMENTED)["tier"].to_pylist() == ["some", "some", "some", "rest"]


def test_segmentation_used_as_its_label():
    rules = ("segmentation tier:\n    big: x >= 50\n    rest: otherwise\n"
             "segment big_ones: tier == \"big\"\n"
             "segment known: tier in (\"big\", \"rest\")\n")
    result = segmint.evaluate(rules, SEGMENTED)
    assert result["big_ones"].to_pylist() == [F, T, T, F]
    assert result["known"].to_pylist() == [T, T, T, T]
    assert result.column_names == ["customer_id", "tier", "big_ones", "known"]


def test_segment_reference_is_membership_where_unknown_is_out():
    rules = ("segment rich: x >= 50\n"
             "segment not_rich: not rich\n"  # x is null: rich is out, so not_rich is in
             "segment both: rich and not_rich\n")
    result = segmint.evaluate(rules, SEGMENTED)
    assert result["rich"].to_pylist() == [F, T, T, F]
    assert result["not_rich"].to_pylist() == [T, F, F, T]
    assert result["both"].to_pylist() == [F, F, F, F]


def test_segments_may_be_used_before_they_are_defined_and_output_keeps_file_order():
    rules = "segment b: a and x < 500\nsegment a: x > 10\nsegment c: b or x is null\n"
    result = segmint.evaluate(rules, SEGMENTED)
    assert result.column_names == ["customer_id", "b", "a", "c"]
    assert result["b"].to_pylist() == [F, T, F, F]
    assert result["c"].to_pylist() == [F, T, F, T]


# inputs ---------------------------------------------------------------------------------

RULES = 'segment vip: spend > 100 and country in ("DE", "FR")\nsegment unknown: spend is null\n'
EXPECTED = {"customer_id": [1, 2, 3, 4], "vip": [T, F, F, F], "unknown": [F, F, T, T]}


def test_input_as_arrow_table_record_batch_and_reader():
    data = pa.table({"customer_id": [1, 2, 3, 4], "spend": [150.0, 50.0, None, math.nan],
                     "country": ["DE", "DE", "FR", None]})
    assert segmint.evaluate(RULES, data).to_pydict() == EXPECTED
    batch = data.to_batches()[0]
    assert segmint.evaluate(RULES, batch).to_pydict() == EXPECTED
    reader = pa.RecordBatchReader.from_batches(data.schema, data.to_batches(max_chunksize=1))
    assert segmint.evaluate(RULES, reader).to_pydict() == EXPECTED


def test_input_as_polars_frame():
    frame = pl.DataFrame({"customer_id": [1, 2, 3, 4], "spend": [150.0, 50.0, None, float("nan")],
                          "country": ["DE", "DE", "FR", None]})
    assert segmint.evaluate(RULES, frame).to_pydict() == EXPECTED
    categorical = frame.with_columns(pl.col("country").cast(pl.Categorical))
    assert segmint.evaluate(RULES, categorical).to_pydict() == EXPECTED


def test_input_as_pandas_frame():
    frame = pd.DataFrame({"customer_id": [1, 2, 3, 4], "spend": [150.0, 50.0, None, math.nan],
                          "country": ["DE", "DE", "FR", None]})
    assert segmint.evaluate(RULES, frame).to_pydict() == EXPECTED
    frame["country"] = frame["country"].astype("category")
    assert segmint.evaluate(RULES, frame).to_pydict() == EXPECTED


def test_input_that_is_not_a_table():
    with pytest.raises(DataError, match="PyCapsule"):
        segmint.evaluate(RULES, [{"customer_id": 1}])


# Arrow column types ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("values", "condition", "expected"),
    [
        (pa.array(["a", None, "b", "a"]).dictionary_encode(), 'c == "a"', [T, N, F, T]),
        (pa.array(["a", None, "b"]).dictionary_encode(), 'c in ("b", "z")', [F, N, T]),
        (pa.array(["ab", None, "b"], pa.large_string()), 'c starts with "a"', [T, N, F]),
        (pa.array(["ab", None, "b"], pa.string_view()), 'c ends with "b"', [T, N, T]),
        (pa.array([1, None, -3], pa.int32()), "c * 3 == -9", [F, N, T]),
        (pa.array([1, None, 3], pa.int8()), "c + 200 == 203", [F, N, T]),  # not int8 arithmetic
        (pa.array([2**64 - 1, None, 5], pa.uint64()), "c > 2", [T, N, T]),
        (pa.array([2**63 - 1, None, 5], pa.uint64()), "c == 9223372036854775807", [T, N, F]),
        (pa.array([4_000_000_000, 1], pa.uint32()), "c * 4 == 16_000_000_000", [T, F]),  # not uint32
        (pa.array([decimal.Decimal("12.50"), None, decimal.Decimal("-1.25")], pa.decimal128(10, 2)),
         "c > 12.4 and c < 12.6", [T, N, F]),
        (pa.array([decimal.Decimal("1.5")], pa.decimal256(50, 1)), "c / 3 == 0.5", [T]),
        (pa.array([1.5, math.nan, None], pa.float32()), "c == 1.5", [T, N, N]),
        (pa.array([True, None, False]), "c", [T, N, F]),
        (pa.array([dt.datetime(2024, 6, 15, 14, tzinfo=ZoneInfo("Europe/Berlin"))],
                  pa.timestamp("s", tz="Europe/Berlin")), "c == 2024-06-15T12:00:00Z", [T]),
        (pa.array([dt.datetime(2024, 6, 15, 8, tzinfo=ZoneInfo("America/New_York"))],
                  pa.timestamp("ns", tz="America/New_York")), "c == 2024-06-15T12:00:00Z", [T]),
        (pa.array([1_718_452_800_000_000_123], pa.timestamp("ns", tz="UTC")),  # nanoseconds dropped
         "c == 2024-06-15T12:00:00Z", [T]),
        (pa.array([dt.date(2024, 6, 15), None], pa.date64()), "c == today", [T, N]),
        (pa.array([dt.timedelta(days=3), None], pa.duration("s")), "c > 2d and days(c) == 3", [T, N]),
        (pa.array([86_400_000_000_001], pa.duration("ns")), "c == 1d", [T]),
        (pa.array([dt.date(2024, 6, 14)], pa.date32()), "c within 1d", [T]),
    ],
)
def test_column_types(values, condition, expected):
    assert truth(condition, table(c=values)) == expected


def test_string_keys_are_kept_as_they_are():
    data = pa.table({"id": pa.array(["b", "a", "c"], pa.large_string()), "x": [1, 2, 3]})
    result = segmint.evaluate("segment s: x >= 2\n", data, key="id")
    assert result["id"].to_pylist() == ["b", "a", "c"]
    assert result["s"].to_pylist() == [F, T, T]


def test_a_timestamp_out_of_range_is_a_data_error():
    data = table(c=pa.array([2**62], pa.timestamp("s")))
    with pytest.raises(DataError, match="column 'c'"):
        segmint.evaluate("segment s: c > now\n", data)
