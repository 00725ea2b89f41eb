"""The web metrics as SQL give `compute_web`'s values exactly, in DuckDB and in PostgreSQL.

The builder's query runs over the events as a table, time read as `segmint sql` hands it
over (`segmint.project.sql.sql_table`: the UTC wall clock, naive timestamps read in the
run's time zone), and must equal the Arrow code on each case of the table (each also says
what it expects, so the oracle is checked too) and on random events (hypothesis, DuckDB).
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pytest
import sqlglot.expressions as exp
from hypothesis import given
from hypothesis import strategies as st

from segmint.engines.sql import dialect_for
from segmint.errors import DataError
from segmint.plugin.api import SQL, MetricContext
from segmint.plugins.sources.web.metrics import WEB, compute_web
from segmint.engines.sql.columns import event_table

UTC = dt.UTC
KEY = "customer_id"
MINUTE = dt.timedelta(minutes=1)
US = dt.timedelta(microseconds=1)
AS_OF = dt.datetime(2025, 3, 1, 12, tzinfo=UTC)
START = AS_OF + US - dt.timedelta(days=30)  # the first instant of the 30 days
BERLIN = ZoneInfo("Europe/Berlin")


def local(*parts: int) -> dt.datetime:
    """A naive wall-clock time (read in the case's time zone)."""
    return dt.datetime(*parts)


CASES = [
    # (id, events (key, time, name), as_of, time zone, {key: (sessions_30d, pageviews_30d)})
    ("gap-of-exactly-30-minutes-and-one-more-microsecond", [
        ("a", AS_OF - dt.timedelta(days=1), "page_view"),
        ("a", AS_OF - dt.timedelta(days=1) + 30 * MINUTE, "page_view"),  # the same visit
        ("a", AS_OF - dt.timedelta(days=1) + 60 * MINUTE + US, "click"),  # a new one
    ], AS_OF, "UTC", {"a": (2, 2)}),
    ("equal-timestamps", [
        ("a", AS_OF - 10 * MINUTE, "click"), ("a", AS_OF - 10 * MINUTE, "page_view"),
        ("a", AS_OF - 10 * MINUTE, "page_view"), ("b", START, "page_view"), ("b", START, "x"),
        ("b", START + 31 * MINUTE, "x"), ("b", START + 31 * MINUTE, "x"),
    ], AS_OF, "UTC", {"a": (1, 2), "b": (2, 1)}),
    ("events-before-the-window-continuing-into-it", [
        ("a", START - 10 * MINUTE, "page_view"),
        ("a", START + 5 * MINUTE, "page_view"),  # 15 minutes on, but its previous is not recent
        ("a", START + 20 * MINUTE, "page_view"),
        ("b", START - US, "page_view"), ("b", START, "page_view"),  # the edge of the window
        ("c", START - 40 * MINUTE, "x"), ("c", START - 20 * MINUTE, "x"), ("c", START + 5 * MINUTE, "x"),
    ], AS_OF, "UTC", {"a": (1, 2), "b": (1, 1), "c": (1, 0)}),
    ("events-after-as-of-never-seen", [
        ("a", AS_OF, "page_view"), ("a", AS_OF + US, "page_view"), ("a", AS_OF + 20 * MINUTE, "x"),
        ("b", AS_OF + dt.timedelta(days=3), "page_view"),  # only later events: no row
    ], AS_OF, "UTC", {"a": (1, 1)}),
    ("date-as-of-observes-the-whole-day-in-the-zone", [
        # 2025-03-01 in New York ends at 05:00 UTC on the 2nd
        ("a", dt.datetime(2025, 3, 2, 4, 59, 59, 999999, tzinfo=UTC), "page_view"),
        ("a", dt.datetime(2025, 3, 2, 5, tzinfo=UTC), "page_view"),
        ("b", dt.datetime(2025, 1, 31, 5, tzinfo=UTC), "page_view"),  # the first instant of the 30 days
        ("b", dt.datetime(2025, 1, 31, 4, 59, 59, 999999, tzinfo=UTC), "page_view"),
    ], dt.date(2025, 3, 1), "America/New_York", {"a": (1, 1), "b": (1, 1)}),
    ("datetime-as-of-in-a-zone", [
        ("a", dt.datetime(2025, 3, 1, 11, 59, tzinfo=UTC), "page_view"),
        ("a", dt.datetime(2025, 3, 1, 12, 1, tzinfo=UTC), "page_view"),
    ], AS_OF, "America/New_York", {"a": (1, 1)}),
    ("naive-timestamps-read-in-the-zone", [
        ("a", local(2025, 3, 1, 20, 59), "page_view"),  # 11:59 UTC in Tokyo
        ("a", local(2025, 3, 1, 21, 1), "page_view"),  # 12:01 UTC: after as_of
        ("b", local(2025, 1, 30, 21, 0, 0, 1), "page_view"),  # 12:00:00.000001 UTC: recent
        ("b", local(2025, 1, 30, 21, 0), "click"),  # just before the 30 days
    ], AS_OF, "Asia/Tokyo", {"a": (1, 1), "b": (1, 1)}),
    ("a-daylight-saving-day", [
        # Berlin springs forward at 02:00: 01:50 and 03:10 are 20 minutes apart
        ("a", local(2024, 3, 31, 1, 50), "page_view"), ("a", local(2024, 3, 31, 3, 10), "page_view"),
        # 01:00 and 01:40 are 40 minutes apart; 03:00 and 03:25 are 25
        ("b", local(2024, 3, 31, 1), "x"), ("b", local(2024, 3, 31, 1, 40), "x"),
        ("b", local(2024, 3, 31, 3), "x"), ("b", local(2024, 3, 31, 3, 25), "x"),
        ("c", local(2024, 3, 31, 23, 59, 59), "page_view"), ("c", local(2024, 4, 1), "page_view"),
    ], dt.date(2024, 3, 31), "Europe/Berlin", {"a": (1, 2), "b": (2, 0), "c": (1, 1)}),
    ("a-day-of-25-hours", [
        # Berlin falls back on 2024-10-27: the day ends at 23:00 UTC
        ("a", dt.datetime(2024, 10, 27, 22, 59, tzinfo=UTC), "page_view"),
        ("a", dt.datetime(2024, 10, 27, 23, tzinfo=UTC), "page_view"),
        ("b", dt.datetime(2024, 10, 27, 0, 50, tzinfo=UTC), "x"),
        ("b", dt.datetime(2024, 10, 27, 1, 10, tzinfo=UTC), "x"),
    ], dt.date(2024, 10, 27), "Europe/Berlin", {"a": (1, 1), "b": (1, 0)}),
    ("null-keys-timestamps-and-names", [
        (None, AS_OF - MINUTE, "page_view"), (None, AS_OF - 2 * MINUTE, "page_view"),
        ("a", None, "page_view"), ("a", AS_OF - 50 * MINUTE, None), ("a", AS_OF - 40 * MINUTE, "page_view"),
        ("b", None, "page_view"),  # only an event without a time: no row
    ], AS_OF, "UTC", {"a": (1, 1)}),
    ("customers-with-only-old-events", [
        ("a", AS_OF - dt.timedelta(days=45), "page_view"), ("a", AS_OF - dt.timedelta(days=31), "x"),
        ("b", START - US, "page_view"),
    ], AS_OF, "UTC", {"a": (0, 0), "b": (0, 0)}),
]


def events_table(rows: list[tuple]) -> pa.Table:
    """The events (key, timestamp, name); naive timestamps when the rows' times have no zone."""
    times = [r[1] for r in rows]
    naive = all(t is None or t.tzinfo is None for t in times)
    return pa.table({
        KEY: pa.array([r[0] for r in rows], pa.string()),
        "timestamp": pa.array(times, pa.timestamp("us", tz=None if naive else "UTC")),
        "name": pa.array([r[2] for r in rows], pa.string()),
    })


def context(events, as_of, timezone: str) -> MetricContext:
    instant = as_of
    if not isinstance(as_of, dt.datetime):
        instant = dt.datetime.combine(as_of, dt.time.max, ZoneInfo(timezone)).astimezone(UTC)
    return MetricContext(events={"events": events}, key=KEY, as_of=instant, timezone=timezone,
                         as_of_date=None if isinstance(as_of, dt.datetime) else as_of)


def query(dialect: str, table: str, events: pa.Table, as_of, timezone: str) -> str:
    """The builder's query over `table` in `dialect`, time handed over as segmint sql does."""
    chosen = dialect_for(dialect)
    relation = event_table(exp.to_table(table), events.schema, chosen, timezone)
    return WEB.builders[SQL](context(relation, as_of, timezone)).sql(dialect)


def in_duckdb(events: pa.Table, as_of, timezone: str) -> pa.Table:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # the query names every zone it needs
    con.register("events", events)
    return con.sql(query("duckdb", "events", events, as_of, timezone)).to_arrow_table()


def assert_equal(got: pa.Table, want: pa.Table) -> None:
    """Equal column names and values, timestamps as UTC microseconds, rows by key."""
    got = got.sort_by(KEY)
    assert got.column_names == want.column_names
    for name in want.column_names:
        a, b = got[name], want[name]
        if pa.types.is_timestamp(b.type):
            a, b = a.cast(pa.timestamp("us")).cast(pa.int64()), b.cast(pa.timestamp("us")).cast(pa.int64())
        assert a.to_pylist() == b.to_pylist(), name


def arrow(rows: list[tuple], as_of, timezone: str, expected: dict) -> pa.Table:
    """`compute_web`'s table for the case, checked against what the case expects."""
    want = compute_web(context(events_table(rows), as_of, timezone))
    got = {r[KEY]: (r["sessions_30d"], r["pageviews_30d"]) for r in want.to_pylist()}
    assert got == expected
    return want


def in_spark(spark, events: pa.Table, as_of, timezone: str) -> pa.Table:
    from segmint.engines.spark.engine import spark_ready

    spark.conf.set("spark.sql.session.timeZone", "UTC")  # as the spark engine sets it
    spark.createDataFrame(spark_ready(events, "events", KEY)).createOrReplaceTempView("events")
    try:
        return spark.sql(query("spark", "events", events, as_of, timezone)).toArrow()
    finally:
        spark.catalog.dropTempView("events")


#: Spark runs every case under `make test-all`; `make test` runs these.
SPARK_SAMPLE = {"equal-timestamps", "events-before-the-window-continuing-into-it",
                "a-daylight-saving-day", "null-keys-timestamps-and-names"}


def engine_cases():
    for case in CASES:
        for engine in ("duckdb", "spark"):
            marks = [pytest.mark.full] if engine == "spark" and case[0] not in SPARK_SAMPLE else []
            yield pytest.param(engine, *case[1:], id=f"{engine}-{case[0]}", marks=marks)


@pytest.mark.parametrize(("engine", "rows", "as_of", "timezone", "expected"), list(engine_cases()))
def test_the_sql_gives_the_arrow_values(request, engine, rows, as_of, timezone, expected):
    want = arrow(rows, as_of, timezone, expected)
    events = events_table(rows)
    if engine == "duckdb":
        got = in_duckdb(events, as_of, timezone)
    else:
        got = in_spark(request.getfixturevalue("spark"), events, as_of, timezone)
    assert_equal(got, want)


SCHEMA = "segmint_web"


@pytest.fixture(scope="module")
def postgres(postgres_server):
    """The cases' events as tables of the session's PostgreSQL server, ``case_N``."""
    adbc = pytest.importorskip("adbc_driver_postgresql.dbapi")
    with adbc.connect(postgres_server) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
        for number, case in enumerate(CASES):
            cursor.adbc_ingest(f"case_{number}", events_table(case[1]), mode="create",
                               db_schema_name=SCHEMA)
        connection.commit()
    return postgres_server


@pytest.mark.parametrize(("number", "rows", "as_of", "timezone", "expected"),
                         [pytest.param(n, *c[1:], id=c[0]) for n, c in enumerate(CASES)])
def test_the_sql_in_postgres_gives_the_arrow_values(postgres, number, rows, as_of, timezone, expected):
    want = arrow(rows, as_of, timezone, expected)
    sql = query("postgres", f"{SCHEMA}.case_{number}", events_table(rows), as_of, timezone)
    adbc = pytest.importorskip("adbc_driver_postgresql.dbapi")
    with adbc.connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Pacific/Auckland'")  # the query names every zone it needs
        cursor.execute(sql)
        got = cursor.fetch_arrow_table()
    assert_equal(got, want)


GAPS = st.one_of(
    st.sampled_from([0, 1, 30 * 60_000_000, 30 * 60_000_000 + 1, 30 * 60_000_000 - 1]),
    st.integers(0, 3 * 86_400_000_000),
)


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", None]), GAPS,
                          st.sampled_from(["page_view", "click", None]),
                          st.integers(0, 5)), max_size=40),
       st.sampled_from(["UTC", "Europe/Berlin"]), st.booleans())
def test_random_events_give_the_arrow_values(events, timezone, by_day):
    """Times stepped by gaps of 0, 1 µs, 30 minutes and a microsecond either side, or up to
    three days, from 40 days before as_of (some after it); a few null times."""
    at = AS_OF - dt.timedelta(days=40)
    rows = []
    for key, gap, name, timed in events:
        at += dt.timedelta(microseconds=gap)
        rows.append((key, at if timed else None, name))
    table = events_table(rows)
    as_of = AS_OF.date() if by_day else AS_OF
    want = compute_web(context(table, as_of, timezone))
    assert_equal(in_duckdb(table, as_of, timezone), want)


@pytest.mark.parametrize(("columns", "message"), [
    ({"timestamp": pa.timestamp("us")}, "source 'events': the web metrics need a 'name' column "
                                        "(columns: customer_id, timestamp)"),
    ({"name": pa.string()}, "source 'events': the web metrics need a 'timestamp' column"),
    ({"timestamp": pa.string(), "name": pa.string()},
     "'timestamp' must hold dates and times, not string"),
    ({"timestamp": pa.date32(), "name": pa.string()},
     "'timestamp' must hold dates and times, not date32[day]"),
])
def test_events_the_metrics_cannot_read_are_the_same_error_in_sql(columns, message):
    events = pa.table({KEY: pa.array([], pa.string()),
                       **{n: pa.array([], t) for n, t in columns.items()}})
    with pytest.raises(DataError, match=re.escape(message)) as arrow_error:
        compute_web(context(events, AS_OF, "UTC"))
    with pytest.raises(DataError) as sql_error:
        query("duckdb", "events", events, AS_OF, "UTC")
    assert str(sql_error.value) == str(arrow_error.value)


def test_a_builder_gives_only_the_columns_asked_for():
    rows = CASES[0][1]
    relation = event_table(exp.to_table("events"), events_table(rows).schema, dialect_for("duckdb"), "UTC")
    ctx = MetricContext(events={"events": relation}, key=KEY, as_of=AS_OF,
                        columns=frozenset({"pageviews_30d"}))
    con = duckdb.connect()
    con.register("events", events_table(rows))
    got = con.sql(WEB.builders[SQL](ctx).sql("duckdb")).to_arrow_table()
    assert got.to_pylist() == [{KEY: "a", "pageviews_30d": 2}]
    assert "LAG" not in WEB.builders[SQL](ctx).sql("duckdb")  # no visits asked: no window


@pytest.mark.parametrize("at", [local(2024, 3, 31, 2, 30), local(2024, 10, 27, 2, 30)],
                         ids=["skipped-hour", "repeated-hour"])
def test_a_naive_time_in_the_hour_daylight_saving_skips_or_repeats(at):
    rows = [("a", at, "page_view")]
    as_of = at.date()
    assert_equal(in_duckdb(events_table(rows), as_of, "Europe/Berlin"),
                 compute_web(context(events_table(rows), as_of, "Europe/Berlin")))
