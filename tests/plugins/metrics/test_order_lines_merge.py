"""Order lines sharing an order id (per customer) become one order: checked against DuckDB
grouping the same lines, for exports whose ids are all distinct (not grouped at all), and
for ids that repeat, across customers, with nulls and refunds."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from segmint.plugins.metrics.orders import OrderBatch, _distinct, _merge_order_lines, _text_hashes

ORACLE = """
SELECT code, min("at") AS "at", sum(units) AS units, sum(margin) AS margin, min(channel) AS channel
FROM lines WHERE units >= 0 AND order_id IS NOT NULL GROUP BY code, order_id
UNION ALL
SELECT code, "at", units, margin, channel FROM lines WHERE units < 0 OR order_id IS NULL
"""


def batch(codes, order_id, units, *, channel=None, margin=True) -> OrderBatch:
    n = len(codes)
    return OrderBatch(
        np.asarray(codes, np.int64),
        np.arange(n, dtype=np.int64)[::-1] * 1_000_000,  # later lines earlier in time
        np.asarray(units, np.int64),
        np.asarray(units, np.int64) // 2 if margin else None,
        None if channel is None else pa.array(channel, pa.string()),
        pa.array(order_id),
    )


def rows(merged: OrderBatch) -> list[tuple]:
    channel = [None] * len(merged.codes) if merged.channel is None else merged.channel.to_pylist()
    margin = [None] * len(merged.codes) if merged.margin is None else merged.margin.tolist()
    return sorted(zip(merged.codes.tolist(), merged.at.tolist(), merged.units.tolist(), margin,
                      channel, strict=True), key=repr)


def oracle(lines: OrderBatch) -> list[tuple]:
    n = len(lines.codes)
    table = pa.table({  # noqa: F841 (DuckDB reads it by name)
        "code": lines.codes, "order_id": lines.order_id, "at": lines.at, "units": lines.units,
        "margin": lines.margin if lines.margin is not None else pa.nulls(n, pa.int64()),
        "channel": lines.channel if lines.channel is not None else pa.nulls(n, pa.string()),
    })
    connection = duckdb.connect()
    connection.register("lines", table)
    found = connection.execute(ORACLE).fetchall()
    return sorted(((c, a, int(u), None if m is None else int(m), ch) for c, a, u, m, ch in found),
                  key=repr)


CASES = [
    ("every id distinct (one line per order)", batch([1, 2, 3, 1], ["a", "b", "c", "d"], [5, 6, 7, 8])),
    ("one customer's id twice", batch([1, 1, 2], ["a", "a", "b"], [5, 6, 7])),
    ("the same id of two customers is two orders", batch([1, 2], ["a", "a"], [5, 6])),
    ("ids repeated and not, nulls among them",
     batch([1, 1, 2, 2, 3], ["a", "a", None, None, "c"], [1, 2, 3, 4, 5])),
    ("a refund under an order id stays a refund", batch([1, 1, 1], ["a", "a", "b"], [10, -3, 4])),
    ("refunds only", batch([1, 2], ["a", "b"], [-1, -2])),
    ("no ids at all", batch([1, 2], pa.array([None, None], pa.string()), [1, 2])),
    ("integer ids, distinct", batch([1, 2, 3], [10, 11, 12], [1, 2, 3])),
    ("integer ids, repeated", batch([1, 1, 3], [10, 10, 12], [1, 2, 3])),
    ("channels: the least of an order's lines",
     batch([1, 1, 2], ["a", "a", "b"], [1, 2, 3], channel=["web", "app", None])),
    ("channels, ids distinct", batch([1, 2], ["a", "b"], [1, 2], channel=["web", None])),
    ("no margin", batch([1, 1, 2], ["a", "a", "b"], [1, 2, 3], margin=False)),
]


@pytest.mark.parametrize(("lines",), [pytest.param(c[1], id=c[0]) for c in CASES])
def test_merged_orders_are_duckdbs_grouping(lines: OrderBatch) -> None:
    merged = _merge_order_lines(lines)
    assert merged.order_id is None
    assert rows(merged) == oracle(lines)


def test_distinct_ids_keep_every_line_in_order() -> None:
    lines = batch([3, 1, 2], ["x", "y", "z"], [7, 8, 9], channel=["a", "b", "c"])
    merged = _merge_order_lines(lines)
    assert merged.codes.tolist() == [3, 1, 2]
    assert merged.units.tolist() == [7, 8, 9]
    assert merged.channel.to_pylist() == ["a", "b", "c"]


@pytest.mark.parametrize("texts", [
    [], ["a"], ["a", "b", "ab", "ba", ""], ["", ""], ["a", "a"], [None, ""], [None, None],
    ["x" * 300, "x" * 299 + "y", "x" * 300], ["é", "e\u0301", "é"],
    [f"o-{i}" for i in range(3000)] + ["o-17"],
])
@pytest.mark.parametrize("large", [False, True])
def test_distinct_order_ids_are_found_as_a_hash_of_the_texts_finds_them(texts, large):
    values = pa.array(["pad", *texts], pa.large_string() if large else pa.string()).slice(1)
    assert _distinct(values) == (len(pc.unique(values)) == len(values))
    assert len(set(_text_hashes(pa.array([f"o-{i}" for i in range(100_000)])).tolist())) == 100_000
