"""The language's statements and inputs on every engine: top/bottom cuts, segmentations,
references, input shapes and column types."""

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

from segmint import DataError

from cases import F, N, T, table, truth


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
def test_top_and_bottom(evaluate, condition, expected):
    assert truth(evaluate, condition, RANKED) == expected


def test_rank_of_nothing_and_of_strings_dates_floats(evaluate):
    assert truth(evaluate, "v in top 50%", table(v=pa.array([None, None], pa.int64()))) == [N, N]
    assert truth(evaluate, "v in top 50%", table(v=pa.array([], pa.int64()))) == []
    assert truth(evaluate, "s in top 34%", table(s=pa.array(["b", "a", "c", None]))) == [T, F, T, N]
    dates = table(d=pa.array([dt.date(2024, 1, 1), dt.date(2023, 1, 1), None]))
    assert truth(evaluate, "d in bottom 50%", dates) == [F, T, N]
    floats = table(f=pa.array([1.5, math.nan, -2.0, 3.0]))  # NaN is null: n = 3
    assert truth(evaluate, "f in top 34%", floats) == [T, N, F, T]


@pytest.mark.parametrize(
    ("n", "percent"),
    [(10, "33.3"), (3, "10"), (1000, "0.7"), (7, "14.29"), (100, "7"), (29, "3.45"), (1, "0.01"),
     (200, "12.5")],
)
def test_rank_takes_exactly_k_of_distinct_values(evaluate, n, percent):
    data = table(v=pa.array(range(n), pa.int64()))
    k = math.ceil(Fraction(n) * Fraction(percent) / 100)
    for word in ("top", "bottom"):
        members = evaluate(f"segment s: v in {word} {percent}%\n", data)["s"].to_pylist()
        assert sum(members) == k
        chosen = [i for i, m in enumerate(members) if m]
        assert chosen == (list(range(n - k, n)) if word == "top" else list(range(k)))


def test_rank_counts_every_customer_not_only_those_in_an_enclosing_condition(evaluate):
    data = table(v=pa.array([1, 2, 3, 4], pa.int64()), keep=pa.array([T, T, F, F]))
    assert truth(evaluate, "keep and v in top 50%", data) == [F, F, F, F]


# segmentations and references ---------------------------------------------------------------

SEGMENTED = table(x=pa.array([5, 50, 500, None], pa.int64()))


def test_segmentation_first_match_wins_and_otherwise_takes_the_rest(evaluate):
    rules = ("segmentation tier:\n    high: x >= 500\n    mid: x >= 50\n    low: x >= 0\n"
             "    none: otherwise\n")
    result = evaluate(rules, SEGMENTED)
    assert result.schema.field("tier").type == pa.string()
    assert result["tier"].to_pylist() == ["low", "mid", "high", "none"]


def test_segmentation_without_otherwise_leaves_null(evaluate):
    result = evaluate("segmentation tier:\n    big: x >= 50\n    small: x < 50\n", SEGMENTED)
    assert result["tier"].to_pylist() == ["small", "big", "big", None]


def test_segmentation_skips_an_unknown_arm(evaluate):
    rules = "segmentation tier:\n    odd: x / 0 > 1\n    some: x > 0\n    rest: otherwise\n"
    assert evaluate(rules, SEGMENTED)["tier"].to_pylist() == ["some", "some", "some", "rest"]


def test_segmentation_used_as_its_label(evaluate):
    rules = ("segmentation tier:\n    big: x >= 50\n    rest: otherwise\n"
             "segment big_ones: tier == \"big\"\n"
             "segment known: tier in (\"big\", \"rest\")\n")
    result = evaluate(rules, SEGMENTED)
    assert result["big_ones"].to_pylist() == [F, T, T, F]
    assert result["known"].to_pylist() == [T, T, T, T]
    assert result.column_names == ["customer_id", "tier", "big_ones", "known"]


def test_segment_reference_is_membership_where_unknown_is_out(evaluate):
    rules = ("segment rich: x >= 50\n"
             "segment not_rich: not rich\n"  # x is null: rich is out, so not_rich is in
             "segment both: rich and not_rich\n")
    result = evaluate(rules, SEGMENTED)
    assert result["rich"].to_pylist() == [F, T, T, F]
    assert result["not_rich"].to_pylist() == [T, F, F, T]
    assert result["both"].to_pylist() == [F, F, F, F]


def test_segments_may_be_used_before_they_are_defined_and_output_keeps_file_order(evaluate):
    rules = "segment b: a and x < 500\nsegment a: x > 10\nsegment c: b or x is null\n"
    result = evaluate(rules, SEGMENTED)
    assert result.column_names == ["customer_id", "b", "a", "c"]
    assert result["b"].to_pylist() == [F, T, F, F]
    assert result["c"].to_pylist() == [F, T, F, T]


# inputs ---------------------------------------------------------------------------------

RULES = 'segment vip: spend > 100 and country in ("DE", "FR")\nsegment unknown: spend is null\n'
EXPECTED = {"customer_id": [1, 2, 3, 4], "vip": [T, F, F, F], "unknown": [F, F, T, T]}


def test_input_as_arrow_table_record_batch_and_reader(evaluate):
    data = pa.table({"customer_id": [1, 2, 3, 4], "spend": [150.0, 50.0, None, math.nan],
                     "country": ["DE", "DE", "FR", None]})
    assert evaluate(RULES, data).to_pydict() == EXPECTED
    batch = data.to_batches()[0]
    assert evaluate(RULES, batch).to_pydict() == EXPECTED
    reader = pa.RecordBatchReader.from_batches(data.schema, data.to_batches(max_chunksize=1))
    assert evaluate(RULES, reader).to_pydict() == EXPECTED


def test_input_as_polars_frame(evaluate):
    frame = pl.DataFrame({"customer_id": [1, 2, 3, 4], "spend": [150.0, 50.0, None, float("nan")],
                          "country": ["DE", "DE", "FR", None]})
    assert evaluate(RULES, frame).to_pydict() == EXPECTED
    categorical = frame.with_columns(pl.col("country").cast(pl.Categorical))
    assert evaluate(RULES, categorical).to_pydict() == EXPECTED


def test_input_as_pandas_frame(evaluate):
    frame = pd.DataFrame({"customer_id": [1, 2, 3, 4], "spend": [150.0, 50.0, None, math.nan],
                          "country": ["DE", "DE", "FR", None]})
    assert evaluate(RULES, frame).to_pydict() == EXPECTED
    frame["country"] = frame["country"].astype("category")
    assert evaluate(RULES, frame).to_pydict() == EXPECTED


def test_input_that_is_not_a_table(evaluate):
    with pytest.raises(DataError, match="PyCapsule"):
        evaluate(RULES, [{"customer_id": 1}])


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
def test_column_types(evaluate, values, condition, expected):
    assert truth(evaluate, condition, table(c=values)) == expected


def test_string_keys_are_kept_as_they_are(evaluate):
    data = pa.table({"id": pa.array(["b", "a", "c"], pa.large_string()), "x": [1, 2, 3]})
    result = evaluate("segment s: x >= 2\n", data, key="id")
    assert result["id"].to_pylist() == ["b", "a", "c"]
    assert result["s"].to_pylist() == [F, T, T]


def test_a_timestamp_out_of_range_is_a_data_error(evaluate):
    data = table(c=pa.array([2**62], pa.timestamp("s")))
    with pytest.raises(DataError, match="column 'c'"):
        evaluate("segment s: c > now\n", data)
