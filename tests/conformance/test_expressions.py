"""The language's expressions on every engine, node by node: tiny tables in, expected
truth values out.

A condition's three-valued result is read through the public API: `truth` evaluates
`segment yes: C` and `segment no: not (C)`, so a row in `yes` is true, in `no` is false,
and in neither is null (SQL's unknown, which counts as out).
"""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest

from segmint import EvaluationError

from cases import F, N, T, UTC, table, truth


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
def test_kleene_logic(evaluate, condition, expected):
    assert truth(evaluate, condition, BOOLS) == expected


def test_null_counts_as_out_and_outputs_are_non_null_bools(evaluate):
    result = evaluate("segment s: a and b\n", BOOLS)
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
def test_comparisons(evaluate, condition, expected):
    assert truth(evaluate, condition, NUMBERS) == expected


def test_between_and_in_with_items_compare_item_by_item(evaluate):
    # x >= y is an exact integer comparison even though x <= f is one of doubles
    data = table(x=pa.array([-(2**63)], pa.int64()), y=pa.array([-(2**63 - 1)], pa.int64()),
                 f=pa.array([0.0]))
    assert truth(evaluate, "x between y and f", data) == [F]
    assert truth(evaluate, "x in (y, f)", data) == [F]
    assert truth(evaluate, "x in (y, -9.223372036854775807e18)", data) == [T]  # x == the double


def test_minus_zero_is_zero(evaluate):
    data = table(f=pa.array([-0.0, 0.0, 1.0]))
    assert truth(evaluate, "f in (0)", data) == [T, T, F]
    assert truth(evaluate, "f == 0", data) == [T, T, F]
    assert truth(evaluate, "f not in (-0.0)", data) == [F, F, T]


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
def test_strings(evaluate, condition, expected):
    assert truth(evaluate, condition, STRINGS) == expected


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
def test_list_contains(evaluate, condition, expected):
    assert truth(evaluate, condition, LISTS) == expected


def test_list_columns_of_other_types(evaluate):
    large = table(tags=pa.array([["a"], None, ["b", "c"]], pa.large_list(pa.large_string())))
    assert truth(evaluate, "tags contains any (\"c\", \"z\")", large) == [F, N, T]
    numbers = table(codes=pa.array([[1, 2], [3], [], None], pa.list_(pa.int32())))
    assert truth(evaluate, "codes contains 2", numbers) == [T, F, F, N]
    assert truth(evaluate, "codes contains all (1, 2)", numbers) == [T, F, F, N]
    floats = table(v=pa.array([[-0.0], [1.5], [math.nan]], pa.list_(pa.float64())))
    assert truth(evaluate, "v contains 0", floats) == [T, F, F]


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
def test_arithmetic(evaluate, condition, expected):
    assert truth(evaluate, condition, ARITHMETIC) == expected


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
def test_integer_overflow_raises(evaluate, condition):
    data = table(x=pa.array([1, 2**63 - 1], pa.int64()), y=pa.array([0, -(2**63)], pa.int64()))
    rules = f"segment fine: x > 0\nsegment broken: {condition}\n"
    with pytest.raises(EvaluationError) as raised:
        evaluate(rules, data)
    message = str(raised.value)
    assert "<string>:2: segment 'broken'" in message
    assert "integer overflow" in message and "'fine'" not in message


def test_overflow_in_a_segmentation_names_it(evaluate):
    data = table(x=pa.array([2**62], pa.int64()))
    rules = "segmentation tiers:\n    big: x * 4 > 0\n    small: otherwise\n"
    with pytest.raises(EvaluationError, match=r"<string>:1: segmentation 'tiers': integer overflow"):
        evaluate(rules, data)


def test_floating_point_is_the_way_around_overflow(evaluate):
    data = table(x=pa.array([2**63 - 1, 3], pa.int64()))
    assert truth(evaluate, "x * 1.0 * x > 8.5e37", data) == [T, F]
    assert truth(evaluate, "x / 2 * x > 4.2e37", data) == [T, F]


def test_no_overflow_where_values_are_null(evaluate):
    data = table(x=pa.array([None, 3], pa.int64()))
    assert truth(evaluate, "x * 3074457345618258602 > 0", data) == [N, T]


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
def test_temporal(evaluate, condition, expected):
    assert truth(evaluate, condition, TIMES) == expected


def test_date_against_timestamp_uses_the_run_time_zone(evaluate):
    data = table(d=pa.array([dt.date(2024, 1, 1)]))
    # midnight in Berlin is 23:00 UTC the day before
    assert truth(evaluate, "d == 2023-12-31T23:00:00Z", data, timezone="Europe/Berlin") == [T]
    assert truth(evaluate, "d == 2023-12-31T23:00:00Z", data) == [F]
    assert truth(evaluate, "d + 1h == 2024-01-01T00:00:00Z", data, timezone="Europe/Berlin") == [T]


def test_timestamp_literals_without_zone_and_naive_columns_are_in_the_run_time_zone(evaluate):
    naive = table(t=pa.array([dt.datetime(2024, 1, 1, 12)], pa.timestamp("ms")))
    assert truth(evaluate, "t == 2024-01-01T11:00:00Z", naive, timezone="Europe/Berlin") == [T]
    assert truth(evaluate, "t == 2024-01-01T12:00:00", naive, timezone="Europe/Berlin") == [T]
    assert truth(evaluate, "t == 2024-01-01T12:00:00Z", naive) == [T]


def _utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


#: Wall-clock times around clock changes and the instants they are (as PostgreSQL reads
#: them): Berlin (2024-03-31 02:00 -> 03:00, 2024-10-27 03:00 -> 02:00), Lord Howe's half
#: hour (2024-04-07 02:00 -> 01:30, 2024-10-06 02:00 -> 02:30), New York's.
DST_TIMES = [
    ("Europe/Berlin", dt.datetime(2024, 3, 31, 2, 30), _utc(2024, 3, 31, 1, 30)),  # skipped: CET
    ("Europe/Berlin", dt.datetime(2024, 3, 31, 1, 59, 59, 999999), _utc(2024, 3, 31, 0, 59, 59, 999999)),
    ("Europe/Berlin", dt.datetime(2024, 3, 31, 3, 0), _utc(2024, 3, 31, 1, 0)),
    ("Europe/Berlin", dt.datetime(2024, 10, 27, 2, 30), _utc(2024, 10, 27, 1, 30)),  # shown twice: CET
    ("Europe/Berlin", dt.datetime(2024, 10, 27, 2, 0), _utc(2024, 10, 27, 1, 0)),
    ("Europe/Berlin", dt.datetime(2024, 10, 27, 1, 59, 59), _utc(2024, 10, 26, 23, 59, 59)),
    ("Europe/Berlin", dt.datetime(2024, 10, 27, 3, 0), _utc(2024, 10, 27, 2, 0)),
    ("Australia/Lord_Howe", dt.datetime(2024, 4, 7, 1, 45), _utc(2024, 4, 6, 15, 15)),  # twice: +10:30
    ("Australia/Lord_Howe", dt.datetime(2024, 10, 6, 2, 15), _utc(2024, 10, 5, 15, 45)),  # skipped: +10:30
    ("America/New_York", dt.datetime(2024, 3, 10, 2, 30), _utc(2024, 3, 10, 7, 30)),  # skipped: EST
    ("America/New_York", dt.datetime(2024, 11, 3, 1, 30), _utc(2024, 11, 3, 6, 30)),  # twice: EST
]


@pytest.mark.parametrize(("timezone", "wall", "instant"), DST_TIMES,
                         ids=[f"{z}-{w:%m%d-%H%M}" for z, w, _ in DST_TIMES])
def test_naive_times_across_clock_changes_are_one_instant_on_every_engine(evaluate, timezone, wall, instant):
    """A zone-free timestamp shown twice is its second instant; one the clocks skip is read
    with the offset before the change (segmint.semantics.instants.utc_instants). A
    zone-free literal is read the same way."""
    data = table(t=pa.array([wall], pa.timestamp("us")))

    def equals(at: dt.datetime) -> str:
        return f"t == {at:%Y-%m-%dT%H:%M:%S.%f}Z"

    assert truth(evaluate, equals(instant), data, timezone=timezone) == [T]
    others = [instant + dt.timedelta(minutes=m) for m in (-60, -30, 30, 60)]  # the other readings
    assert truth(evaluate, " or ".join(map(equals, others)), data, timezone=timezone) == [F]
    assert truth(evaluate, f"t == {wall:%Y-%m-%dT%H:%M:%S.%f}", data, timezone=timezone) == [T]


def test_within_when_as_of_is_a_date_sees_that_whole_day(evaluate):
    data = table(t=pa.array([_ts(2024, 6, 15, 23, 59), _ts(2024, 6, 8, 23, 59, 59), _ts(2024, 6, 16)],
                            pa.timestamp("us", tz="UTC")))
    assert truth(evaluate, "t within 7d", data, as_of="2024-06-15") == [T, F, F]


def test_day_of_week_is_iso_monday_one(evaluate):
    monday = dt.date(2024, 6, 10)
    dates = [monday + dt.timedelta(days=i) for i in range(7)]
    data = table(d=pa.array(dates), t=pa.array([dt.datetime.combine(d, dt.time(12), UTC) for d in dates]))
    rules = "segmentation dow:\n" + "".join(f"    d{i}: day_of_week(d) == {i}\n" for i in range(1, 8))
    assert evaluate(rules, data)["dow"].to_pylist() == [f"d{i}" for i in range(1, 8)]
    rules = rules.replace("day_of_week(d)", "day_of_week(t)")
    assert evaluate(rules, data)["dow"].to_pylist() == [f"d{i}" for i in range(1, 8)]


def test_calendar_functions_read_timestamps_on_the_run_wall_clock(evaluate):
    data = table(t=pa.array([_ts(2023, 12, 31, 23, 30)], pa.timestamp("us", tz="UTC")))  # a Sunday
    assert truth(evaluate, "year(t) == 2023 and month(t) == 12 and day_of_week(t) == 7", data) == [T]
    berlin = "year(t) == 2024 and month(t) == 1 and day_of_week(t) == 1"
    assert truth(evaluate, berlin, data, timezone="Europe/Berlin") == [T]


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
def test_functions(evaluate, condition, expected):
    data = table(x=pa.array([2.5, -2.5, 1.25, 0.4, None]),
                 n=pa.array([-(2**63 - 1), 2, None, None, None], pa.int64()))
    assert truth(evaluate, condition, data) == expected
