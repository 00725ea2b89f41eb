"""Acquisition cost and CLV-to-CAC, checked against DuckDB SQL."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from segmint.errors import DataError
from segmint.plugin.api import MetricContext
from segmint.plugins.metrics.definitions import compute_acquisition, compute_purchase

AS_OF = dt.date(2024, 6, 15)

ORACLE = """
WITH lines AS (
    SELECT customer_id AS k, order_id, epoch_us("timestamp") AS ts, channel
    FROM orders
    WHERE "timestamp" <= TIMESTAMPTZ '2024-06-15 23:59:59.999999+00' AND customer_id IS NOT NULL
      AND round(amount * 100) >= 0
),
orders_ AS (
    SELECT k, min(ts) AS ts, min(channel) AS channel FROM lines
    WHERE order_id IS NOT NULL GROUP BY k, order_id
    UNION ALL
    SELECT k, ts, channel FROM lines WHERE order_id IS NULL
),
firsts AS (SELECT k, min(ts) AS ts FROM orders_ GROUP BY k),
acquired AS (
    SELECT f.k, min(o.channel) AS channel,
           date_trunc('month', make_timestamp(f.ts)) AS month
    FROM firsts f JOIN orders_ o ON o.k = f.k AND o.ts = f.ts GROUP BY f.k, f.ts
),
news AS (SELECT channel, month, count(*) AS n FROM acquired GROUP BY ALL),
spent AS (
    SELECT channel, date_trunc('month', date) AS month,
           sum(CAST(round(spend * 100) AS BIGINT)) AS units
    FROM spend WHERE date <= DATE '2024-06-15' GROUP BY ALL
)
SELECT a.k AS customer_id, coalesce(s.units, 0) / (n.n * 100.0) AS acquisition_cost
FROM acquired a JOIN news n USING (channel, month) LEFT JOIN spent s USING (channel, month)
ORDER BY a.k
"""


def spend_table() -> pa.Table:
    months = [dt.date(2023, 1, 1) + dt.timedelta(days=31 * i) for i in range(19)]
    months = [m.replace(day=1 + i % 20) for i, m in enumerate(months)]
    return pa.table({
        "date": pa.array(months * 2 + [dt.date(2024, 6, 20)]),
        "channel": ["ads"] * 19 + ["social"] * 19 + ["ads"],
        "spend": [1000.0 + 10.01 * i for i in range(19)] + [333.33] * 19 + [10_000.0],
    })


def context(orders: pa.Table, spend: pa.Table, columns=(), events=None, **options):
    return MetricContext(
        events={"orders": orders, "spend": spend, **(events or {})}, key="customer_id",
        as_of=dt.datetime.combine(AS_OF, dt.time.max, dt.UTC), as_of_date=AS_OF,
        columns=frozenset(columns), options=options,
    )


@pytest.mark.parametrize("seed", [21, 22])
def test_acquisition_cost_matches_sql(make_orders, seed):
    orders = make_orders(seed=seed, channel=True)
    spend = spend_table()
    con = duckdb.connect()
    con.register("orders", orders)
    con.register("spend", spend)
    expected = con.sql(ORACLE).to_arrow_table()
    actual = compute_acquisition(context(orders, spend, columns={"acquisition_cost"}))
    assert actual["customer_id"].to_pylist() == expected["customer_id"].to_pylist()
    np.testing.assert_allclose(
        actual["acquisition_cost"].to_numpy(), expected["acquisition_cost"].to_numpy(),
        rtol=1e-12,
    )
    assert (actual["acquisition_cost"].to_numpy() > 0).any()


def test_clv_to_cac_divides_a_value_column_by_the_cost(make_orders):
    orders = make_orders(seed=23, channel=True)
    spend = spend_table()
    table = compute_acquisition(context(orders, spend, clv_to_cac_from="clv_historical"))
    purchase = compute_purchase(context(orders, spend, columns={"clv_historical"}))
    value = dict(zip(purchase["customer_id"].to_pylist(), purchase["clv_historical"].to_pylist()))
    for key, cost, ratio in zip(*(table[c].to_pylist() for c in table.column_names)):
        if cost:
            assert ratio == pytest.approx(value[key] / cost, rel=1e-12)
        else:
            assert ratio is None


def test_profile_channels_win_over_first_orders():
    orders = pa.table({
        "customer_id": [1, 2, 3],
        "timestamp": pa.array([dt.date(2024, 1, 3)] * 3),
        "amount": [1.0, 1.0, 1.0],
        "channel": ["ads", "ads", "ads"],
    })
    spend = pa.table({"date": pa.array([dt.date(2024, 1, 1)] * 2),
                      "channel": ["ads", "tv"], "spend": [90.0, 50.0]})
    profiles = pa.table({"customer_id": [2, 3], "source": ["tv", None]})
    table = compute_acquisition(context(
        orders, spend, columns={"acquisition_cost"}, events={"crm": profiles},
        acquisition_channel_source="crm", acquisition_channel_column="source",
    ))
    # Customer 2 came through tv (alone: 50); 1 and 3 through ads (two of them: 45 each).
    assert table["acquisition_cost"].to_pylist() == [45.0, 50.0, 45.0]


def test_a_channel_is_required():
    orders = pa.table({"customer_id": [1], "timestamp": pa.array([dt.date(2024, 1, 3)]),
                       "amount": [1.0]})
    spend = pa.table({"date": pa.array([dt.date(2024, 1, 1)]), "channel": ["ads"],
                      "spend": [1.0]})
    with pytest.raises(DataError, match="acquisition_cost needs each customer's channel"):
        compute_acquisition(context(orders, spend))


def test_spend_columns_are_checked():
    orders = pa.table({"customer_id": [1], "timestamp": pa.array([dt.date(2024, 1, 3)]),
                       "amount": [1.0], "channel": ["ads"]})
    spend = pa.table({"day": pa.array([dt.date(2024, 1, 1)]), "channel": ["ads"],
                      "spend": [1.0]})
    with pytest.raises(DataError, match="source 'spend': no column 'date'"):
        compute_acquisition(context(orders, spend))
