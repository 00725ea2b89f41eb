"""segmint.evaluate on every engine: output shape and order, keys, input shapes, as_of, scale."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

import segmint
from segmint import DataError

RULES = """\
segment engaged: visits >= 3
segment loyal: engaged and spend in top 50%
segmentation tier:
    gold: loyal
    silver: engaged
    other: otherwise
segment silver_fans: tier == "silver" and tags contains any ("promo", "sale")
    holdout 50%
"""


def profiles(n: int = 8, **extra) -> pa.Table:
    return pa.table({
        "customer_id": pa.array(range(n), pa.int64()),
        "visits": pa.array([i % 5 for i in range(n)], pa.int64()),
        "spend": pa.array([float(i * 10) if i % 4 else None for i in range(n)]),
        "tags": pa.array([["promo"] if i % 2 else ([] if i % 3 else None) for i in range(n)]),
        **extra,
    })


def test_output_is_key_then_statements_in_file_order_without_hidden_columns(evaluate):
    result = evaluate(RULES, profiles())
    assert result.column_names == ["customer_id", "engaged", "loyal", "tier", "silver_fans",
                                   "silver_fans__holdout"]
    assert [str(t) for t in result.schema.types] == ["int64", "bool", "bool", "string", "bool", "bool"]
    assert result["customer_id"].to_pylist() == list(range(8))


def test_a_small_example_end_to_end(evaluate):
    result = evaluate(RULES, profiles(), holdout_salt="salt")
    # visits: 0 1 2 3 4 0 1 2; spend: null 10 20 30 null 50 60 70; top 50% of 6 values: >= 50
    assert result["engaged"].to_pylist() == [False, False, False, True, True, False, False, False]
    assert result["loyal"].to_pylist() == [False] * 8  # engaged ones have spend 30 and null
    assert result["tier"].to_pylist() == ["other"] * 3 + ["silver"] * 2 + ["other"] * 3
    members = [a or b for a, b in zip(result["silver_fans"].to_pylist(),
                                      result["silver_fans__holdout"].to_pylist())]
    assert members == [False, False, False, True, False, False, False, False]


def test_rule_set_object_and_text_give_the_same_result(evaluate):
    parsed = segmint.parse_rules(RULES, "rules/retail.seg")
    assert evaluate(parsed, profiles()).equals(evaluate(RULES, profiles()))


def test_chunked_input_gives_the_same_result_as_one_chunk(evaluate):
    data = profiles(40)
    chunked = pa.Table.from_batches(data.to_batches(max_chunksize=7))
    assert chunked["tags"].num_chunks > 1
    expected = evaluate(RULES, data, holdout_salt="x").to_pydict()
    assert evaluate(RULES, chunked, holdout_salt="x").to_pydict() == expected


def test_an_empty_table(evaluate):
    result = evaluate(RULES, profiles(0))
    assert result.num_rows == 0
    assert result.column_names[0] == "customer_id" and "silver_fans__holdout" in result.column_names


def test_columns_the_rules_do_not_use_are_not_read(evaluate):
    data = profiles(extra=pa.array([{"a": 1}] * 8), blob=pa.array([b"x"] * 8))
    assert evaluate("segment s: visits > 3\n", data)["s"].to_pylist() == [
        False, False, False, False, True, False, False, False]


def test_key_type_is_kept(evaluate):
    data = pa.table({"id": pa.array(["b", "a"]).dictionary_encode(), "x": [1, 2]})
    result = evaluate("segment s: x > 1\n", data, key="id")
    assert result.schema.field("id").type == data.schema.field("id").type
    assert result["id"].to_pylist() == ["b", "a"]


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (pa.array([1, None, 3]), "row 2, column 'customer_id': the customer key is empty"),
        (pa.array([5, 6, 5]), "column 'customer_id': duplicate customer key 5 (rows 1 and 3)"),
        (pa.array(["a", "b", "a"]).dictionary_encode(), "duplicate customer key 'a' (rows 1 and 3)"),
        # sorted keys are checked by comparing neighbours, unsorted ones by hashing
        (pa.array([1, 2, 2]), "duplicate customer key 2 (rows 2 and 3)"),
        (pa.chunked_array([["a", "b"], ["b"]]), "duplicate customer key 'b' (rows 2 and 3)"),
        (pa.array([1.5, float("nan"), 2.5]), None),
        (pa.array([3, 1, 2]), None),
    ],
)
def test_bad_keys_are_data_errors(evaluate, keys, message):
    data = pa.table({"customer_id": keys, "x": [1, 2, 3]})
    if message is None:  # distinct keys, unordered (or unorderable): no error
        assert evaluate("segment s: x > 1\n", data).column("s").to_pylist() == [False, True, True]
        return
    with pytest.raises(DataError) as raised:
        evaluate("segment s: x > 1\n", data)
    assert message in str(raised.value)


def test_a_missing_key_column_is_a_data_error(evaluate):
    with pytest.raises(DataError, match="no key column 'id'"):
        evaluate("segment s: visits > 1\n", profiles(), key="id")


@pytest.mark.parametrize(
    ("as_of", "timezone", "today"),
    [
        ("2024-06-15", "UTC", dt.date(2024, 6, 15)),
        (dt.date(2024, 6, 15), "Asia/Tokyo", dt.date(2024, 6, 15)),
        ("2024-06-15T23:30:00Z", "UTC", dt.date(2024, 6, 15)),
        ("2024-06-15T23:30:00Z", "Asia/Tokyo", dt.date(2024, 6, 16)),
        (dt.datetime(2024, 6, 15, 23, 30, tzinfo=dt.timezone.utc), "America/Los_Angeles",
         dt.date(2024, 6, 15)),
        (dt.datetime(2024, 6, 16, 1, 0), "America/Los_Angeles", dt.date(2024, 6, 16)),  # naive: local
    ],
)
def test_today_is_the_date_of_as_of_in_the_run_time_zone(evaluate, as_of, timezone, today):
    days = [today - dt.timedelta(days=1), today, today + dt.timedelta(days=1)]
    data = pa.table({"customer_id": [1, 2, 3], "d": pa.array(days)})
    result = evaluate("segment s: d == today\n", data, as_of=as_of, timezone=timezone)
    assert result["s"].to_pylist() == [False, True, False]


def test_same_inputs_and_as_of_give_the_same_output(evaluate):
    first = evaluate(RULES, profiles(100), as_of="2024-06-15", holdout_salt="x")
    second = evaluate(RULES, profiles(100), as_of="2024-06-15", holdout_salt="x")
    assert first.equals(second)


def test_many_statements_and_long_reference_chains(evaluate):
    n = 300
    rules = "segment s0: visits >= 0\n" + "".join(f"segment s{i}: s{i - 1} and visits != {i}\n"
                                                  for i in range(1, n))
    result = evaluate(rules, profiles(500))
    assert result.num_columns == n + 1
    visits = profiles(500)["visits"].to_pylist()
    assert result[f"s{n - 1}"].to_pylist() == [v not in range(1, n) for v in visits]


def test_a_very_wide_condition(evaluate):
    terms = " or ".join(f"visits == {i}" for i in range(2000))
    rules = f"segment wide: {terms}\nsegment listed: visits in ({', '.join(str(i) for i in range(2000))})\n"
    result = evaluate(rules, profiles(20))
    assert result["wide"].to_pylist() == [True] * 20
    assert result["listed"].to_pylist() == [True] * 20
