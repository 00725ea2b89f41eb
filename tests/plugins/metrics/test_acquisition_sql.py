"""acquisition_cost and clv_to_cac as SQL give the Arrow implementation's values exactly.

The oracle is `compute_acquisition` (itself checked against an independent DuckDB
statement in test_acquisition_cost.py). The metric's SQL builder gets each table as
`segmint sql` hands it over (`event_table`: time as the UTC wall clock, days in the run's
time zone, text ordered by bytes) and its query runs in DuckDB, in the session's throwaway
PostgreSQL server (tests/conftest.py) and in local Spark, over hand-made edge cases (ties of
first orders, refunds, order lines, orders and spend after as_of, a channel-month without
spend, month boundaries in a time zone, the channel table option, null channels, channels
differing only in case) and the seeded random orders of conftest.
"""

from __future__ import annotations

import datetime as dt
import itertools

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from sqlglot import exp

from segmint.engines.sql import dialect_for
from segmint.engines.sql.columns import event_table
from segmint.errors import DataError, SegmintError
from segmint.plugin.api import SQL, MetricContext
from segmint.plugins.metrics.definitions import METRICS, compute_acquisition

AS_OF_DAY = dt.date(2024, 6, 15)
AS_OF_INSTANT = dt.datetime(2024, 6, 15, 9, 30, tzinfo=dt.UTC)
BUILD = next(m for m in METRICS if m.name == "acquisition").builders[SQL]
BOTH = ("acquisition_cost", "clv_to_cac")
#: PostgreSQL's text columns get this collation, as a warehouse's default may be: the
#: builder's text still compares by bytes, as Arrow's does
LINGUISTIC = "und-x-icu"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


#: (customer, instant, amount, order id, channel): each customer one rule of the metric
EDGE_ORDERS = [
    ("tie", "2024-03-05T10:00", 20.0, None, "social"),  # tied first orders: the least channel
    ("tie", "2024-03-05T10:00", 30.0, None, "ads"),
    ("tie", "2024-04-01T10:00", 30.0, None, "aaa"),
    ("refund", "2024-02-01T10:00", -5.0, None, "aaa"),  # a refund is never an order
    ("refund", "2024-03-07T10:00", 12.5, None, "email"),
    ("lines", "2024-03-09T10:00", 10.0, "o1", "web"),  # an order at its earliest line, with
    ("lines", "2024-03-09T12:00", 10.0, "o1", "ads"),  # the least channel of its lines
    ("lines", "2024-03-09T10:00", 10.0, None, "social"),
    ("later", "2024-06-20T10:00", 99.0, None, "ads"),  # after as_of: not acquired
    ("organic", "2024-05-02T10:00", 40.0, None, "tv"),  # a channel-month without spend
    ("nullch", "2024-03-05T11:00", 15.0, None, None),  # no channel: no cost
    ("half", "2024-03-06T11:00", 15.0, None, None),  # a null channel tied with one
    ("half", "2024-03-06T11:00", 15.0, None, "email"),
    ("midnight", "2024-01-31T23:30", 60.0, None, "ads"),  # February in Berlin
    ("eve", "2024-03-01T03:30", 60.0, None, "ads"),  # February in New York
    ("upper", "2024-03-10T10:00", 5.0, None, "ads"),  # bytes: "Ads" < "ads"
    ("upper", "2024-03-10T10:00", 5.0, None, "Ads"),
    ("june", "2024-06-10T10:00", 5.0, None, "ads"),  # spend after as_of in its month
    ("onlyrefund", "2024-03-10T10:00", -5.0, None, "ads"),  # no order, not acquired
    (None, "2024-03-05T10:00", 5.0, None, "ads"),  # no key
    ("crm", "2024-03-05T09:00", 5.0, None, "ads"),  # the channel table says tv
]

#: (date, channel, spend)
EDGE_SPEND = [
    ("2024-01-15", "ads", 1000.005), ("2024-02-01", "ads", 500.0), ("2024-02-29", "ads", 250.25),
    ("2024-03-01", "ads", 333.33), ("2024-03-31", "ads", 0.01), ("2024-03-02", "social", 77.7),
    ("2024-03-03", "email", 100.0), ("2024-03-04", None, 50.0), ("2024-03-05", "Ads", 12.0),
    ("2024-03-06", "tv", 10.0), ("2024-06-01", "ads", 60.0), ("2024-06-20", "ads", 10_000.0),
    ("2024-06-15", "email", 9.0), ("2024-05-31", "web", -4.5),
]


def edge_orders(channel: bool = True) -> pa.Table:
    columns = {
        "customer_id": pa.array([r[0] for r in EDGE_ORDERS], pa.string()),
        "timestamp": pa.array([at(r[1]) for r in EDGE_ORDERS], pa.timestamp("us", "UTC")),
        "amount": pa.array([r[2] for r in EDGE_ORDERS], pa.float64()),
        "order_id": pa.array([r[3] for r in EDGE_ORDERS], pa.string()),
    }
    if channel:
        columns["channel"] = pa.array([r[4] for r in EDGE_ORDERS], pa.string())
    return pa.table(columns)


def edge_spend(timestamps: bool = False) -> pa.Table:
    days = [dt.date.fromisoformat(r[0]) for r in EDGE_SPEND]
    when = pa.array(days, pa.date32())
    if timestamps:  # at 23:30 UTC: the next day east of UTC
        when = pa.array([dt.datetime.combine(d, dt.time(23, 30), dt.UTC) for d in days],
                        pa.timestamp("us", "UTC"))
    return pa.table({"date": when, "channel": pa.array([r[1] for r in EDGE_SPEND], pa.string()),
                     "spend": pa.array([r[2] for r in EDGE_SPEND], pa.float64())})


def crm() -> pa.Table:
    return pa.table({"customer_id": ["crm", "tie", "nullch", "nobody"],
                     "source": ["tv", None, "email", "ads"]})


def random_spend(seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    rows = [(dt.date(2023 + m // 12, m % 12 + 1, int(rng.integers(1, 29))), channel,
             round(float(rng.gamma(2.0, 400.0)), 3))
            for m, channel in itertools.product(range(19), ["ads", "email", "social"])
            if rng.random() < 0.8]  # organic (no spend) channel-months among them
    rows.append((dt.date(2024, 6, 20), "ads", 5_000.0))
    return pa.table({"date": pa.array([r[0] for r in rows], pa.date32()),
                     "channel": [r[1] for r in rows], "spend": [r[2] for r in rows]})


CASES = [
    # (id, tables, as_of, time zone, options)
    ("edges-day", lambda mk: {"orders": edge_orders(), "spend": edge_spend()}, AS_OF_DAY, "UTC", {}),
    ("edges-instant-berlin", lambda mk: {"orders": edge_orders(), "spend": edge_spend()},
     AS_OF_INSTANT, "Europe/Berlin", {}),
    ("edges-spend-timestamps-new-york",
     lambda mk: {"orders": edge_orders(), "spend": edge_spend(timestamps=True)}, AS_OF_DAY,
     "America/New_York", {}),
    ("edges-spend-timestamps-tokyo",
     lambda mk: {"orders": edge_orders(), "spend": edge_spend(timestamps=True)}, AS_OF_INSTANT,
     "Asia/Tokyo", {}),
    ("channel-table", lambda mk: {"orders": edge_orders(), "spend": edge_spend(), "crm": crm()},
     AS_OF_DAY, "UTC", {"acquisition_channel_source": "crm",
                        "acquisition_channel_column": "source"}),
    ("channel-table-only",
     lambda mk: {"orders": edge_orders(channel=False), "spend": edge_spend(), "crm": crm()},
     AS_OF_DAY, "Europe/Berlin", {"acquisition_channel_source": "crm",
                                  "acquisition_channel_column": "source"}),
    ("edges-clv-historical", lambda mk: {"orders": edge_orders(), "spend": edge_spend()},
     AS_OF_DAY, "UTC", {"clv_to_cac_from": "clv_historical"}),
    ("random-day", lambda mk: {"orders": mk(seed=31, channel=True), "spend": random_spend(31)},
     AS_OF_DAY, "UTC", {}),
    ("random-instant-new-york",
     lambda mk: {"orders": mk(seed=32, channel=True, string_keys=True),
                 "spend": random_spend(32)}, AS_OF_INSTANT, "America/New_York", {}),
    ("random-no-order-ids-scale-3",
     lambda mk: {"orders": mk(seed=33, channel=True, order_ids=False), "spend": random_spend(33)},
     AS_OF_DAY, "Europe/Berlin", {"amount_scale": 3}),
    ("random-clv-margin",
     lambda mk: {"orders": mk(seed=34, channel=True, margin=True), "spend": random_spend(34)},
     AS_OF_DAY, "UTC", {"clv_to_cac_from": "clv_historical"}),
    ("random-clv-margin-rate",
     lambda mk: {"orders": mk(seed=35, channel=True, margin=True), "spend": random_spend(35)},
     AS_OF_INSTANT, "Asia/Tokyo", {"clv_to_cac_from": "clv_historical", "margin_rate": 0.3}),
]
#: Spark runs every case under `make test-all`; `make test` runs these.
SPARK_SAMPLE = {"edges-instant-berlin", "channel-table"}


def engine_cases():
    for case in CASES:
        for engine in ("duckdb", "postgres", "spark"):
            marks = [pytest.mark.full] if engine == "spark" and case[0] not in SPARK_SAMPLE else []
            yield pytest.param(engine, *case[1:], id=f"{engine}-{case[0]}", marks=marks)


def context(events, as_of, timezone: str, options: dict, columns=()) -> MetricContext:
    instant = as_of
    if not isinstance(as_of, dt.datetime):
        instant = dt.datetime.combine(as_of, dt.time.max, dt.UTC)
    return MetricContext(
        events=events, key="customer_id", as_of=instant, timezone=timezone,
        as_of_date=None if isinstance(as_of, dt.datetime) else as_of,
        columns=frozenset(columns), options=options,
    )


def sql_tables(tables: dict[str, pa.Table], dialect: str, zone: str, schema: str | None = None):
    """Each table as `segmint sql` hands it to a builder, named `name` (or schema.name)."""
    return {name: event_table(exp.to_table(f"{schema}.{name}" if schema else name), table.schema,
                              dialect_for(dialect), zone)
            for name, table in tables.items()}


def run_sql(engine: str, tables: dict[str, pa.Table], ctx: MetricContext, request) -> pa.Table:
    """The builder's query run in `engine` over `tables`."""
    if engine == "duckdb":
        con = duckdb.connect()
        for name, table in tables.items():
            con.register(name, table)
        query = BUILD(_with(ctx, sql_tables(tables, "duckdb", ctx.timezone)))
        return con.sql(query.sql("duckdb")).to_arrow_table()
    if engine == "postgres":
        adbc = pytest.importorskip("adbc_driver_postgresql.dbapi")
        uri = request.getfixturevalue("postgres_server")
        schema = "acq_" + request.node.callspec.id.replace("-", "_")
        query = BUILD(_with(ctx, sql_tables(tables, "postgres", ctx.timezone, schema)))
        with adbc.connect(uri) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            cursor.execute(f"CREATE SCHEMA {schema}")
            for name, table in tables.items():
                cursor.adbc_ingest(name, table, mode="create", db_schema_name=schema)
                for field in table.schema:  # a linguistic collation, where "ads" < "Ads"
                    if field.type == pa.string():
                        cursor.execute(f'ALTER TABLE {schema}.{name} ALTER COLUMN "{field.name}" '
                                       f'TYPE text COLLATE "{LINGUISTIC}"')
            connection.commit()
            cursor.execute(query.sql("postgres"))
            return cursor.fetch_arrow_table()
    spark = request.getfixturevalue("spark")
    spark.conf.set("spark.sql.session.timeZone", "UTC")  # as the spark engine sets it
    for name, table in tables.items():
        spark.createDataFrame(table).createOrReplaceTempView(name)
    try:
        return spark.sql(BUILD(_with(ctx, sql_tables(tables, "spark", ctx.timezone))).sql("spark")) \
            .toArrow()
    finally:
        for name in tables:
            spark.catalog.dropTempView(name)


def _with(ctx: MetricContext, events) -> MetricContext:
    return MetricContext(events=events, key=ctx.key, as_of=ctx.as_of, timezone=ctx.timezone,
                         as_of_date=ctx.as_of_date, columns=ctx.columns, options=ctx.options)


@pytest.mark.parametrize(("engine", "make", "as_of", "timezone", "options"), list(engine_cases()))
def test_sql_acquisition_equals_the_arrow_one(request, make_orders, engine, make, as_of, timezone,
                                              options):
    tables = make(make_orders)
    columns = BOTH if "clv_to_cac_from" in options else ("acquisition_cost",)
    ctx = context(tables, as_of, timezone, options, columns)
    expected = compute_acquisition(ctx)
    actual = run_sql(engine, tables, ctx, request).sort_by("customer_id")
    assert actual.column_names == expected.column_names
    for name in expected.column_names:
        assert actual[name].to_pylist() == expected[name].to_pylist(), name
    costs = expected["acquisition_cost"].to_pylist()
    assert any(c for c in costs) and len(set(costs)) > 2  # the case costs something, variously


def test_the_edge_cases_cost_what_the_rules_say():
    """The hand-made cases, spelt out (UTC, as_of 2024-06-15): what both engines agree on."""
    tables = {"orders": edge_orders(), "spend": edge_spend()}
    got = compute_acquisition(context(tables, AS_OF_DAY, "UTC", {}, ["acquisition_cost"]))
    cost = dict(zip(got["customer_id"].to_pylist(), got["acquisition_cost"].to_pylist()))
    ads_march = 33_334 / (4 * 100)  # 333.33 + 0.01 over tie, lines, eve and crm
    assert "later" not in cost and "onlyrefund" not in cost and None not in cost
    assert cost["organic"] == 0.0 and cost["nullch"] is None
    assert cost["refund"] == cost["half"] == 100.0 / 2  # email in March: refund, half
    assert cost["midnight"] == 1000.0  # January: 1000.005 is 100000 cents, half to even
    assert cost["upper"] == 12.0  # "Ads" sorts before "ads"
    assert cost["june"] == 60.0  # the 10,000 on 2024-06-20 is after as_of
    assert cost["tie"] == cost["lines"] == cost["eve"] == cost["crm"] == ads_march


@pytest.mark.parametrize(("options", "message"), [
    ({}, "the rules use column 'clv_to_cac' of metric 'acquisition', which divides the "
         "predictive CLV column 'clv_12mo' (option clv_to_cac_from of [metrics])"),
    ({"clv_to_cac_from": "clv_3mo"}, "which divides the predictive CLV column 'clv_3mo'"),
])
def test_clv_to_cac_of_predictive_clv_is_refused(options, message):
    tables = {"orders": edge_orders(), "spend": edge_spend()}
    ctx = context(sql_tables(tables, "duckdb", "UTC"), AS_OF_DAY, "UTC", options, BOTH)
    with pytest.raises(SegmintError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)")) as raised:
        BUILD(ctx)
    assert str(raised.value).endswith('set clv_to_cac_from = "clv_historical" or run these '
                                      'rules with segmint run')
    BUILD(context(ctx.events, AS_OF_DAY, "UTC", options, ["acquisition_cost"]))  # cost alone: SQL


@pytest.mark.parametrize(("tables", "options", "message"), [
    ({"orders": edge_orders(channel=False), "spend": edge_spend()}, {},
     "source 'orders': acquisition_cost needs each customer's channel"),
    ({"orders": edge_orders(), "spend": edge_spend().rename_columns(["day", "channel", "spend"])},
     {}, "source 'spend': no column 'date'"),
    ({"orders": edge_orders(), "spend": edge_spend()}, {"acquisition_channel_source": "crm"},
     "metrics need an event source 'crm'"),
    ({"orders": edge_orders(), "spend": edge_spend(), "crm": crm()},
     {"acquisition_channel_source": "crm"}, "source 'crm': no column 'channel'"),
    ({"orders": edge_orders(), "spend": edge_spend().set_column(0, "date", pa.array(
        [r[0] for r in EDGE_SPEND]))}, {}, "timestamps must be dates or timestamps, got string"),
])
def test_bad_tables_are_the_arrow_errors(tables, options, message):
    """What the schemas show wrong, the builder refuses as the Arrow code does."""
    for compute in (compute_acquisition,
                    lambda ctx: BUILD(_with(ctx, sql_tables(tables, "duckdb", "UTC")))):
        with pytest.raises(DataError, match=message.replace("(", r"\(")):
            compute(context(tables, AS_OF_DAY, "UTC", options, ["acquisition_cost"]))
