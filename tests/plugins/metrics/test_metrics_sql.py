"""The purchase and RFM columns as SQL give the Arrow implementation's values exactly.

The oracle is `compute_purchase` / `compute_rfm` (themselves checked against an
independent DuckDB statement in test_purchase_sql.py) on the seeded random orders of
conftest: one-order customers, several orders on one day, refunds and refund-only
customers, orders after as_of, order lines sharing an id, lines without one, null keys.
The queries the metrics' SQL builders give run in DuckDB and in Spark (local); the
orders' `SqlTable` here reads time through each engine's session time zone, set to the
run's (the SQL engines hand over their own representation of time).
"""

from __future__ import annotations

import datetime as dt

import attrs
import duckdb
import pyarrow as pa
import pytest
from sqlglot import exp

from segmint.plugin.api import SQL, MetricContext, SqlTable
from segmint.plugins.metrics.definitions import METRICS, compute_purchase, compute_rfm
from segmint.plugins.metrics.purchase import PURCHASE_COLUMNS
from segmint.plugins.metrics.rfm import RFM_COLUMNS

AS_OF_INSTANT = dt.datetime(2024, 6, 15, 12, 0, tzinfo=dt.UTC)
AS_OF_DAY = dt.date(2024, 6, 15)
PURCHASE = [c.name for c in PURCHASE_COLUMNS]
RFM = [c.name for c in RFM_COLUMNS]

CASES = [
    # (id, generator arguments, as_of, time zone, options)
    ("int-keys-instant", {"seed": 11}, AS_OF_INSTANT, "UTC", {}),
    ("int-keys-day", {"seed": 12}, AS_OF_DAY, "UTC", {}),
    ("string-keys-day-berlin", {"seed": 13, "string_keys": True}, AS_OF_DAY, "Europe/Berlin", {}),
    ("no-order-ids-new-york", {"seed": 14, "order_ids": False}, AS_OF_DAY, "America/New_York",
     {}),
    ("margin-column", {"seed": 15, "margin": True}, AS_OF_DAY, "UTC", {}),
    ("margin-rate", {"seed": 16, "margin": True}, AS_OF_INSTANT, "UTC", {"margin_rate": 0.25}),
    ("average-monetary-churn-90d", {"seed": 17}, AS_OF_INSTANT, "Asia/Tokyo",
     {"monetary": "average", "churn_window": "90d"}),
    ("many-customers", {"seed": 18, "customers": 3000, "rows": 20000}, AS_OF_DAY, "UTC", {}),
    ("date-timestamps-berlin", {"seed": 20, "timestamps": pa.date32()}, AS_OF_DAY,
     "Europe/Berlin", {}),
    ("naive-timestamps-new-york", {"seed": 21, "timestamps": pa.timestamp("us")},
     AS_OF_INSTANT, "America/New_York", {}),
]
#: Spark runs every case under `make test-all`; `make test` runs these.
SPARK_SAMPLE = {"string-keys-day-berlin", "margin-column", "naive-timestamps-new-york"}


def engine_cases():
    for case in CASES:
        for engine in ("duckdb", "spark"):
            marks = [pytest.mark.full] if engine == "spark" and case[0] not in SPARK_SAMPLE else []
            yield pytest.param(engine, *case[1:], id=f"{engine}-{case[0]}", marks=marks)


def context(orders, as_of, timezone: str, options: dict) -> MetricContext:
    instant = as_of
    if not isinstance(as_of, dt.datetime):
        instant = dt.datetime.combine(as_of, dt.time.max, dt.UTC)
    return MetricContext(
        events={"orders": orders}, key="customer_id", as_of=instant, timezone=timezone,
        as_of_date=None if isinstance(as_of, dt.datetime) else as_of, options=options,
    )


def session_time(orders: pa.Table) -> SqlTable:
    """The orders as a view named ``orders``, time read in the session time zone: a zoned
    timestamp of each instant (dates at midnight, naive timestamps as local time)."""
    def instant(name: str) -> exp.Expression:
        return exp.cast(exp.column(name), exp.DataType.Type.TIMESTAMPTZ)

    def local_day(value: exp.Expression) -> exp.Expression:
        return exp.UnixDate(this=exp.cast(value, exp.DataType.Type.DATE))

    return SqlTable(exp.table_("orders"), orders.schema, instant,
                    lambda value: exp.UnixMicros(this=value), local_day)


def build(name: str, orders: pa.Table, as_of, timezone: str, options: dict) -> exp.Select:
    metric = next(m for m in METRICS if m.name == name)
    return metric.builders[SQL](context(session_time(orders), as_of, timezone, options))


def run_sql(engine: str, query: exp.Select, orders: pa.Table, timezone: str, request) -> pa.Table:
    """The query's result in `engine`, its session time zone the run's."""
    if engine == "duckdb":
        con = duckdb.connect()
        con.execute(f"SET TimeZone = '{timezone}'")
        con.register("orders", orders)
        return con.sql(query.sql("duckdb")).to_arrow_table()
    spark = request.getfixturevalue("spark")
    spark.conf.set("spark.sql.session.timeZone", timezone)
    try:
        spark.createDataFrame(orders).createOrReplaceTempView("orders")
        return spark.sql(query.sql("spark")).toArrow()
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")


def comparable(column: pa.ChunkedArray) -> list:
    """Values to compare exactly: durations as µs, timestamps as UTC µs."""
    if pa.types.is_duration(column.type) or pa.types.is_timestamp(column.type):
        column = column.cast(pa.int64())
    return column.to_pylist()


@pytest.mark.parametrize(("engine", "arguments", "as_of", "timezone", "options"),
                         list(engine_cases()))
def test_sql_metrics_equal_the_arrow_ones(request, make_orders, engine, arguments, as_of,
                                          timezone, options):
    arguments = dict(arguments)
    retype = arguments.pop("timestamps", None)
    orders = make_orders(**arguments)
    if retype is not None:  # dates, or the UTC wall clock as naive local times
        stamps = orders["timestamp"].cast(pa.timestamp("us"))
        index = orders.column_names.index("timestamp")
        orders = orders.set_column(index, "timestamp", stamps.cast(retype))
    ctx = context(orders, as_of, timezone, options)
    for metric, compute in (("purchase", compute_purchase), ("rfm", compute_rfm)):
        query = build(metric, orders, as_of, timezone, options)
        actual = run_sql(engine, query, orders, timezone, request).sort_by("customer_id")
        expected = compute(ctx)
        assert actual.column_names == expected.column_names
        for name in expected.column_names:
            want, got = expected[name], actual[name]
            if pa.types.is_timestamp(want.type):
                got = got.cast(want.type)
            assert comparable(got) == comparable(want), name


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.full)])
def test_a_builder_gives_only_the_columns_asked_for(request, make_orders, engine):
    orders = make_orders(seed=19)
    ctx = attrs.evolve(context(session_time(orders), AS_OF_DAY, "UTC", {}),
                       columns=frozenset({"aov", "recency", "rfm_segment"}))
    queries = [m.builders[SQL](ctx) for m in METRICS if m.name in ("purchase", "rfm")]
    results = [run_sql(engine, q, orders, "UTC", request) for q in queries]
    assert [r.column_names for r in results] == [
        ["customer_id", "recency", "aov"], ["customer_id", "rfm_segment"]]
    arrow = compute_rfm(attrs.evolve(ctx, events={"orders": orders}))
    assert results[1].sort_by("customer_id").to_pylist() == arrow.to_pylist()
