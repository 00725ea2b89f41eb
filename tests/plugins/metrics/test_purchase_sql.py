"""Every purchase measure and the RFM scores, checked against DuckDB SQL on random orders.

The SQL below is an independent statement of the documented semantics: rows after as_of
unseen, amounts in cents, refunds (negative) reduce spend but are not orders, lines with
one order id are one order at its earliest line, SQL rank() for RFM scores.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmint.plugin.api import MetricContext
from segmint.plugins.metrics.definitions import compute_purchase, compute_rfm

US_PER_DAY = 86_400_000_000
# The random histories (conftest) span 2023-01-01 plus 600 days, so orders follow these.
AS_OF_INSTANT = dt.datetime(2024, 6, 15, 12, 0, tzinfo=dt.UTC)
AS_OF_DAY = dt.date(2024, 6, 15)

ORACLE = """
WITH lines AS (
    SELECT customer_id AS k, {order_id} AS order_id, epoch_us("timestamp") AS ts,
           CAST(round(amount * 100) AS BIGINT) AS units, {margin} AS margin_units
    FROM orders
    WHERE epoch_us("timestamp") <= $cutoff AND customer_id IS NOT NULL
),
orders_ AS (
    SELECT k, min(ts) AS ts FROM lines
    WHERE units >= 0 AND order_id IS NOT NULL GROUP BY k, order_id
    UNION ALL
    SELECT k, ts FROM lines WHERE units >= 0 AND order_id IS NULL
),
per AS (SELECT k, count(*) AS n, min(ts) AS first_at, max(ts) AS last_at FROM orders_ GROUP BY k),
net AS (SELECT k, sum(units) AS units, sum(margin_units) AS margin_units FROM lines GROUP BY k),
measured AS (
    SELECT net.k, coalesce(per.n, 0) AS n, net.units, net.margin_units, first_at, last_at,
           CASE WHEN $by_day THEN ($day - floor(last_at / {day})) * {day}
                ELSE $cutoff - last_at END AS recency_us,
           CASE WHEN $by_day THEN ($day - floor(first_at / {day})) * {day}
                ELSE $cutoff - first_at END AS tenure_us,
           CASE WHEN $by_day THEN (floor(last_at / {day}) - floor(first_at / {day})) * {day}
                ELSE last_at - first_at END AS span_us
    FROM net LEFT JOIN per USING (k)
)
SELECT k AS customer_id,
       recency_us AS recency,
       n AS frequency,
       units / 100 AS monetary,
       CASE WHEN n > 0 THEN units / n / 100 END AS aov,
       first_at AS first_order_at,
       last_at AS last_order_at,
       tenure_us AS tenure,
       CASE WHEN n > 0 THEN n * 30 / greatest(tenure_us / {day}, 30) END AS orders_per_month,
       CASE WHEN n > 1 THEN span_us / {day} / (n - 1) END AS days_between_orders,
       CASE WHEN n > 0 THEN recency_us > 365 * {day} END AS churned,
       {clv} AS clv_historical
FROM measured ORDER BY k
"""

RFM_ORACLE = """
WITH scored AS (
    SELECT customer_id, recency, frequency, {monetary} AS m, count(*) OVER () AS n
    FROM measures WHERE frequency > 0
),
ranked AS (
    SELECT customer_id,
           1 + (5 * (rank() OVER (ORDER BY recency DESC) - 1)) // n AS rfm_r,
           1 + (5 * (rank() OVER (ORDER BY frequency ASC) - 1)) // n AS rfm_f,
           1 + (5 * (rank() OVER (ORDER BY m ASC) - 1)) // n AS rfm_m
    FROM scored
),
banded AS (SELECT *, (rfm_f + rfm_m) // 2 AS fm FROM ranked)
SELECT customer_id, rfm_r, rfm_f, rfm_m,
       CAST(rfm_r AS VARCHAR) || CAST(rfm_f AS VARCHAR) || CAST(rfm_m AS VARCHAR) AS rfm_score,
       CASE
           WHEN rfm_r >= 4 AND fm >= 4 THEN 'Champions'
           WHEN rfm_r = 5 AND fm = 1 THEN 'New Customers'
           WHEN rfm_r = 4 AND fm = 1 THEN 'Promising'
           WHEN rfm_r >= 4 AND fm = 2 THEN 'Potential Loyalist'
           WHEN rfm_r >= 4 AND fm = 3 THEN 'Loyal'
           WHEN rfm_r = 3 AND fm >= 4 THEN 'Loyal'
           WHEN rfm_r = 3 AND fm = 3 THEN 'Need Attention'
           WHEN rfm_r = 3 THEN 'About To Sleep'
           WHEN rfm_r <= 2 AND fm = 5 THEN 'Cannot Lose Them'
           WHEN rfm_r = 1 AND fm = 4 THEN 'Cannot Lose Them'
           WHEN rfm_r <= 2 AND fm >= 3 THEN 'At Risk'
           WHEN rfm_r = 2 THEN 'Hibernating'
           ELSE 'Lost'
       END AS rfm_segment
FROM banded
ORDER BY customer_id
"""

FLOATS = {"monetary", "aov", "orders_per_month", "days_between_orders", "clv_historical"}

CASES = [
    # (id, generator arguments, as_of, options)
    ("int-keys-instant", {"seed": 1}, AS_OF_INSTANT, {}),
    ("int-keys-day", {"seed": 2}, AS_OF_DAY, {}),
    ("string-keys-day", {"seed": 3, "string_keys": True}, AS_OF_DAY, {}),
    ("no-order-ids", {"seed": 4, "order_ids": False}, AS_OF_INSTANT, {}),
    ("margin-column", {"seed": 5, "margin": True}, AS_OF_DAY, {}),
    ("margin-rate", {"seed": 6, "margin": True}, AS_OF_INSTANT, {"margin_rate": 0.25}),
    ("average-monetary", {"seed": 7}, AS_OF_DAY, {"monetary": "average"}),
    ("many-customers", {"seed": 8, "customers": 3000, "rows": 20000}, AS_OF_INSTANT, {}),
]


def context(orders: pa.Table, as_of, columns=(), **options) -> MetricContext:
    instant = as_of
    if not isinstance(as_of, dt.datetime):
        instant = dt.datetime.combine(as_of, dt.time.max, dt.UTC)
    return MetricContext(
        events={"orders": orders}, key="customer_id", as_of=instant,
        as_of_date=None if isinstance(as_of, dt.datetime) else as_of,
        columns=frozenset(columns), options=options,
    )


def oracle(orders: pa.Table, as_of, options: dict) -> pa.Table:
    by_day = not isinstance(as_of, dt.datetime)
    if by_day:
        cutoff = dt.datetime.combine(as_of, dt.time.max, dt.UTC)
        day = (as_of - dt.date(1970, 1, 1)).days
    else:
        cutoff, day = as_of, 0
    margin_column = "margin" in orders.column_names and "margin_rate" not in options
    sql = ORACLE.format(
        day=US_PER_DAY,
        order_id="order_id" if "order_id" in orders.column_names else "CAST(NULL AS VARCHAR)",
        margin="CAST(round(margin * 100) AS BIGINT)" if margin_column else "0",
        clv="margin_units / 100" if margin_column
        else f"units / 100 * {options.get('margin_rate', 1.0)}",
    )
    con = duckdb.connect()
    con.register("orders", orders)
    params = {"cutoff": int(cutoff.timestamp() * 1_000_000), "by_day": by_day, "day": day}
    return con.sql(sql, params=params).to_arrow_table()


def assert_same(actual: pa.Table, expected: pa.Table, names) -> None:
    assert actual["customer_id"].to_pylist() == expected["customer_id"].to_pylist()
    for name in names:
        got = actual[name]
        want = expected[name]
        if pa.types.is_duration(got.type) or pa.types.is_timestamp(got.type):
            got = got.cast(pa.int64())
        if name in FLOATS:
            np.testing.assert_allclose(
                got.to_numpy(zero_copy_only=False).astype(float),
                want.to_numpy(zero_copy_only=False).astype(float),
                rtol=1e-12, atol=1e-9, err_msg=name, equal_nan=True,
            )
        else:
            assert got.to_pylist() == [None if v is None else type_of(got)(v)
                                       for v in want.to_pylist()], name


def type_of(array: pa.Array):
    return bool if pa.types.is_boolean(array.type) else int if pa.types.is_integer(
        array.type) else str


@pytest.mark.parametrize(("arguments", "as_of", "options"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_purchase_measures_match_sql(make_orders, arguments, as_of, options):
    orders = make_orders(**arguments)
    actual = compute_purchase(context(orders, as_of, **options))
    expected = oracle(orders, as_of, options)
    if options.get("monetary") == "average":
        expected = expected.set_column(
            expected.column_names.index("monetary"), "monetary", expected["aov"]
        )
    assert_same(actual, expected, [n for n in actual.column_names if n != "customer_id"])


@pytest.mark.parametrize(("arguments", "as_of", "options"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rfm_scores_match_sql_rank(make_orders, arguments, as_of, options):
    orders = make_orders(**arguments)
    measures = oracle(orders, as_of, options)
    con = duckdb.connect()
    con.register("measures", measures)
    average = options.get("monetary") == "average"
    monetary = "monetary" if not average else "aov"
    expected = con.sql(RFM_ORACLE.format(monetary=monetary)).to_arrow_table()
    actual = compute_rfm(context(orders, as_of, **options))
    scored = actual.filter(actual["rfm_r"].is_valid())
    assert_same(scored, expected, ["rfm_r", "rfm_f", "rfm_m", "rfm_score", "rfm_segment"])
    # Customers without an order (refunds only) are unscored.
    unscored = actual.filter(actual["rfm_r"].is_null())["customer_id"].to_pylist()
    no_orders = measures.filter(pa.compute.equal(measures["frequency"], 0))
    assert unscored == no_orders["customer_id"].to_pylist()


def test_only_requested_columns_come_back(make_orders):
    orders = make_orders(seed=9)
    table = compute_purchase(context(orders, AS_OF_DAY, columns={"tenure", "aov"}))
    assert table.column_names == ["customer_id", "aov", "tenure"]
    table = compute_rfm(context(orders, AS_OF_DAY, columns={"rfm_segment"}))
    assert table.column_names == ["customer_id", "rfm_segment"]


rows_strategy = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 5)),  # customer
        st.integers(0, 12),  # day of June 2024
        st.sampled_from([0, 1, 43_200, 86_399]),  # second of the day
        st.integers(-500, 5_000),  # cents
        st.sampled_from([None, "a", "b"]),  # order id
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, by_day=st.booleans())
def test_small_histories_match_sql(rows, by_day):
    start = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    orders = pa.table({
        "customer_id": pa.array([r[0] for r in rows], pa.int64()),
        "timestamp": pa.array([start + dt.timedelta(days=r[1], seconds=r[2]) for r in rows],
                              pa.timestamp("us", tz="UTC")),
        "amount": pa.array([r[3] / 100 for r in rows], pa.float64()),
        "order_id": pa.array([r[4] for r in rows], pa.string()),
    })
    as_of = dt.date(2024, 6, 8) if by_day else dt.datetime(2024, 6, 8, 12, tzinfo=dt.UTC)
    actual = compute_purchase(context(orders, as_of))
    expected = oracle(orders, as_of, {})
    assert_same(actual, expected, [n for n in actual.column_names if n != "customer_id"])
    scores = compute_rfm(context(orders, as_of))
    assert scores["customer_id"].to_pylist() == expected["customer_id"].to_pylist()
