"""Aggregates over events: values as tables, syntax and type errors, the API.

One small order history (ties, nulls, an event exactly at as_of and one exactly at a window's
start, events after as_of, a key not among the profiles, a null key) is read by every
aggregate of a table of (expression, value per customer 1..5); customer 5 has no events.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import segmint
from segmint.api import check_rules
from segmint.language import ast
from segmint.semantics.asof import AsOf
from segmint.language.catalog import Catalog
from segmint.language.checker import check
from segmint.errors import DataError, RuleError
from segmint.engines.arrow.event_aggregates import compute_aggregates
from segmint.language.parser import parse_rules

UTC = dt.timezone.utc
AS_OF = dt.datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
PROFILES = pa.table({"customer_id": [1, 2, 3, 4, 5], "country": ["DE", "FR", "DE", "US", "US"]})


def _t(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


ORDERS = pa.table({
    "customer_id": pa.array([1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 9, None], pa.int64()),
    "timestamp": pa.array([
        _t(2024, 6, 14, 10), _t(2024, 6, 1), _t(2024, 6, 1), _t(2024, 1, 10), _t(2024, 6, 20),
        _t(2024, 3, 1), _t(2023, 12, 31, 23), None, AS_OF, AS_OF - dt.timedelta(days=30),
        _t(2024, 6, 10), _t(2024, 6, 10),
    ], pa.timestamp("us", tz="UTC")),
    "amount": pa.array([10, 20, 5, None, 1000, 7, 3, 50, 1, 2, 99, 1], pa.float64()),
    "category": ["shoes", "shoes", "hats", "hats", "shoes", "bags", "bags", "shoes", "shoes", "hats",
                 "shoes", "shoes"],
    "channel": ["web", "store", "web", None, "web", "store", "web", "web", "app", "app", "web", "web"],
})


def values(expression: str, events: Any = ORDERS, as_of: Any = AS_OF, timezone: str = "UTC",
           timestamp: str = "timestamp") -> list[Any]:
    """The value of one aggregate for customers 1..5."""
    schema = events.schema if hasattr(events, "schema") else ORDERS.schema
    checked = check_rules(f"segment s: {expression} is null", PROFILES.schema,
                          events={"orders": (schema, timestamp)})
    [aggregate] = checked.aggregates
    found = compute_aggregates(checked, {"orders": events}, PROFILES["customer_id"], key="customer_id",
                               as_of=AsOf.resolve(as_of, timezone))
    return found[aggregate].to_pylist()


AGGREGATE_VALUES = [
    ("count(orders)", [4, 2, 1, 1, 0]),
    ("count(orders, last 30d)", [3, 0, 1, 1, 0]),
    ("count(orders.amount)", [3, 2, 1, 1, 0]),
    ("count(orders.channel, last 30d)", [3, 0, 1, 1, 0]),
    ('count(orders where category == "shoes")', [2, 0, 1, 0, 0]),
    ('count(orders where channel != "web")', [1, 1, 1, 1, 0]),
    ("count(orders, between 2024-01-01 and 2024-03-01)", [1, 1, 0, 0, 0]),
    ("count(orders, since 2024-06-01)", [3, 0, 1, 0, 0]),
    ("count(orders, between 100d ago and 14d ago)", [2, 0, 0, 1, 0]),
    ("count(orders, between 2024-06-14T10:00:00Z and 2024-06-14T10:00:00Z)", [1, 0, 0, 0, 0]),
    ('exists(orders where category == "bags")', [False, True, False, False, False]),
    ("exists(orders, last 12h)", [False, False, True, False, False]),
    ("exists(orders)", [True, True, True, True, False]),
    ("sum(orders.amount)", [35.0, 10.0, 1.0, 2.0, None]),
    ('sum(orders.amount where category == "hats", last 30d)', [5.0, None, None, 2.0, None]),
    ("avg(orders.amount)", [35 / 3, 5.0, 1.0, 2.0, None]),
    ("min(orders.amount)", [5.0, 3.0, 1.0, 2.0, None]),
    ("max(orders.amount)", [20.0, 7.0, 1.0, 2.0, None]),
    ("min(orders.category)", ["hats", "bags", "shoes", "hats", None]),
    ("max(orders.timestamp)", [_t(2024, 6, 14, 10), _t(2024, 3, 1), AS_OF, AS_OF - dt.timedelta(days=30), None]),
    ("count_distinct(orders.category)", [2, 1, 1, 1, None]),
    ('count_distinct(orders.channel where category == "hats")', [1, None, None, 1, None]),
    ("first(orders.category)", ["hats", "bags", "shoes", "hats", None]),
    ("last(orders.category)", ["shoes", "bags", "shoes", "hats", None]),
    # ties at one instant: first takes the smallest value, last the largest
    ("first(orders.amount, between 2024-06-01 and 2024-06-01)", [5.0, None, None, None, None]),
    ("last(orders.amount, between 2024-06-01 and 2024-06-01)", [20.0, None, None, None, None]),
    # null values are skipped: customer 1's earliest order has no channel
    ("first(orders.channel)", ["store", "web", "app", "app", None]),
    ("last(orders.channel, last 1y)", ["web", "store", "app", "app", None]),
]


@pytest.mark.parametrize(("expression", "expected"), AGGREGATE_VALUES, ids=[e for e, _ in AGGREGATE_VALUES])
def test_aggregate_values(expression, expected):
    found = values(expression)
    assert found == pytest.approx(expected) if isinstance(expected[0], float) else found == expected


@pytest.mark.parametrize("reader", [
    lambda t: pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=2)),
    lambda t: ds.dataset(t),
    lambda t: t.to_batches()[0] if t.to_batches() else t,
], ids=["reader", "dataset", "batch"])
def test_streams_and_datasets_give_the_same_values(reader):
    for expression, expected in AGGREGATE_VALUES:
        found = values(expression, reader(ORDERS))
        assert found == pytest.approx(expected) if isinstance(expected[0], float) else found == expected


def test_date_timestamps_are_midnight_in_the_run_time_zone():
    events = pa.table({"customer_id": [1, 1, 2], "day": pa.array(
        [dt.date(2024, 6, 15), dt.date(2024, 6, 8), dt.date(2024, 6, 7)], pa.date32())})
    assert values("count(orders, last 7d)", events, timestamp="day") == [1, 0, 0, 0, 0]
    # a date as_of ends with its day: 7 days back is the last microsecond of 2024-06-08
    assert values("count(orders, last 7d)", events, as_of=dt.date(2024, 6, 15), timestamp="day") == [1, 0, 0, 0, 0]
    assert values("count(orders, last 8d)", events, as_of=dt.date(2024, 6, 15), timestamp="day") == [2, 0, 0, 0, 0]
    assert values("first(orders.day)", events, timestamp="day") == [dt.date(2024, 6, 8), dt.date(2024, 6, 7), None, None, None]


def test_naive_timestamps_are_read_in_the_run_time_zone():
    events = pa.table({"customer_id": [1], "timestamp": pa.array([dt.datetime(2024, 6, 15, 13, 30)], pa.timestamp("s"))})
    assert values("count(orders)", events)[0] == 0  # 13:30 UTC is after as_of
    assert values("count(orders)", events, timezone="Europe/Paris")[0] == 1  # 11:30 UTC


# syntax ---------------------------------------------------------------------------------

def test_aggregate_syntax_tree():
    rules = parse_rules('segment s: SUM(orders.amount where category == "shoes", between 180d ago and 90d ago) > 1')
    node = rules.statements[0].condition.left
    assert node == ast.Aggregate(
        "sum", ast.Name("amount", source="orders"),
        ast.Compare("==", ast.Name("category"), ast.Literal("shoes", segmint.language.types.STRING)),
        ast.Window("ago", ast.Literal(dt.timedelta(days=180), segmint.language.types.DURATION),
                   ast.Literal(dt.timedelta(days=90), segmint.language.types.DURATION)),
    )
    assert (node.source, node.column) == ("orders", "amount")
    assert list(ast.children(node)) == []  # the where is about events: other passes skip it


def test_same_aggregate_written_twice_is_one_value():
    checked = check_rules("segment a: count(orders, last 7d) > 1\nsegment b: count(orders,  last 7d) < 5",
                          PROFILES.schema, events={"orders": (ORDERS.schema, "timestamp")})
    assert len(checked.aggregates) == 1


SYNTAX_ERRORS = [
    ("count(orders, 30d) > 1", "1:26: the second argument of count() must be a time window", "write it as: last 30d"),
    ("count(orders, amount > 1) > 1", "1:26: the second argument of count() must be a time window",
     "a condition on the events goes after 'where': count(orders where ...)"),
    ("count(orders, last 30d, last 7d) > 1", "1:36: count() takes an event source and at most one window", None),
    ("count(orders, between 90d ago and 180d ago) > 1", "1:26: the window ends before it starts",
     "write the longer time ago first: between 180d ago and 90d ago"),
    ("count(orders, between 2025-12-31 and 2025-10-01) > 1", "1:26: the window ends before it starts",
     "write the earlier date first: between 2025-10-01 and 2025-12-31"),
    ("count(orders, since 30d) > 1", "1:26: 'since' takes a date", "write: last 30d"),
    ("count(orders, last 2025-01-01) > 1", "1:26: 'last' takes a duration", "write: since 2025-01-01"),
    ("count(orders, lastt 30d) > 1", "1:26: unknown window 'lastt'",
     "a window is: last 30d, between 180d ago and 90d ago, since 2026-01-01, or between 2025-10-01 and 2025-12-31"),
    ("count(orders, between 30d before and 10d ago) > 1", "1:38: unexpected name 'before'; expected 'ago'",
     "write: between 180d ago and 90d ago"),
    ("count() > 1", "1:12: count() needs an event source, like count(orders)", None),
    ('sum("orders") > 1', "1:16: the first argument of sum() must be an event source or one of its columns, "
                          "like orders.amount", None),
    ('lower(name where x) == "a"', "1:18: 'where' belongs in an aggregate over events, not in lower()",
     "like: count(orders where amount > 10, last 30d)"),
    ('lower(name, last 7d) == "a"', "1:24: a time window belongs in an aggregate over events, not in lower()",
     "like: count(orders where amount > 10, last 30d)"),
    ("count(orders last 30d) > 1", "1:25: unexpected name 'last'; expected a value, an operator, ',', '.', ')' "
                                   "or 'where'", "put a comma before the window: ..., last ..."),
    ("count(orders, last 30d where x) > 1", "1:35: unexpected 'where'; expected ',' or ')'", None),
]


@pytest.mark.parametrize(("rule", "message", "hint"), SYNTAX_ERRORS, ids=[s[0] for s in SYNTAX_ERRORS])
def test_syntax_errors(rule, message, hint):
    with pytest.raises(RuleError) as error:
        parse_rules(f"segment s: {rule}", "r.seg")
    lines = str(error.value).split("\n")
    assert lines[0] == f"r.seg:{message}"
    assert (lines[3] if len(lines) > 3 else None) == hint


# type checking --------------------------------------------------------------------------

CRM = pa.schema([("customer_id", pa.int64()), ("country", pa.string()), ("age", pa.int32())])
WEB = pa.schema([("customer_id", pa.int64()), ("when", pa.timestamp("us")), ("name", pa.string())])
BAD = pa.schema([("customer_id", pa.int64()), ("ts", pa.string())])
ORDER_SCHEMA = pa.schema([("customer_id", pa.int64()), ("timestamp", pa.timestamp("us")),
                          ("amount", pa.float64()), ("category", pa.string()), ("tags", pa.list_(pa.string()))])
CATALOG = Catalog.from_parts([("crm", CRM, None)], key="customer_id").with_events(
    {"orders": (ORDER_SCHEMA, "timestamp"), "web": (WEB, "timestamp"), "bad": (BAD, "ts")}, key="customer_id")

CHECK_ERRORS = [
    ('count(orders where categroy == "shoes") >= 2',
     "1:31: event source 'orders' has no column 'categroy'", "did you mean 'category'?"),
    ("sum(orders.category) > 1", "1:16: sum() needs numbers, but orders.category holds string values",
     "count its values instead: count_distinct(orders.category)"),
    ("avg(orders) > 1", "1:12: avg() needs a column of 'orders'", "like avg(orders.amount)"),
    ("min(orders.tags) > 1",
     "1:16: min() needs values that can be ordered, but orders.tags holds list of string values", None),
    ("count(orders.amout) > 1", "1:18: event source 'orders' has no column 'amout'", "did you mean 'amount'?"),
    ("count(order) > 1", "1:18: unknown event source 'order'", "did you mean 'orders'?"),
    ("count(crm) > 1", "1:18: 'crm' is not an event source",
     'aggregates read event sources (role = "events", or --events NAME=PATH); event sources: orders, web, bad'),
    ("count(web) > 1", "1:18: event source 'web' has no timestamp column 'timestamp'",
     'name it with timestamp_column = "..." in [sources.web]; columns: when, name'),
    ("count(bad) > 1", "1:18: the timestamp column 'ts' of 'bad' holds string values, not dates or timestamps", None),
    ("orders.amount > 1", "1:12: 'orders' is an event source: rules use its events through an aggregate",
     "like sum(orders.amount)"),
    ("orders > 1", "1:12: 'orders' is an event source: rules use its events through an aggregate",
     "like count(orders, last 30d)"),
    ("count(orders where age > 3) > 1", "1:31: event source 'orders' has no column 'age'",
     "'age' is a segment or profile column; a where condition is about each event, so it can only use "
     "columns of 'orders'"),
    ("count(orders where crm.age > 3) > 1", "1:31: inside an aggregate over 'orders', names are columns of 'orders'",
     "write orders.age or age"),
    ("count(orders where amount in top 10%) > 1",
     "1:31: 'in top N%' ranks customers; it cannot be used in an aggregate's where condition", None),
    ("count(orders where amount) > 1", "1:31: the where condition of count() must be true or false, got number", None),
    ("count(orders where count(orders) > 1) > 1",
     "1:31: an aggregate cannot be used inside another aggregate's where", None),
    ('count(orders where category == 1) > 1', "1:31: cannot compare string with number",
     'category is text: quote the value, "1"'),
    ('count(orders) > "a"', "1:12: cannot compare number with string",
     "count(orders) is a number: write the value without quotes"),
    ("exists(orders) > 1", "1:12: cannot compare bool with number", None),
    ("sum(orders.amount) > 30d", "1:12: cannot compare number with duration", None),
]


@pytest.mark.parametrize(("rule", "message", "hint"), CHECK_ERRORS, ids=[c[0] for c in CHECK_ERRORS])
def test_check_errors(rule, message, hint):
    with pytest.raises(RuleError) as error:
        check(parse_rules(f"segment s: {rule}", "r.seg"), CATALOG)
    lines = str(error.value).split("\n")
    assert lines[0] == f"r.seg:{message}"
    assert (lines[3] if len(lines) > 3 else None) == hint


CHECK_TYPES = [
    ("count(orders)", "number"), ("exists(orders)", "bool"), ("sum(orders.amount)", "number"),
    ("avg(orders.amount)", "number"), ("min(orders.category)", "string"), ("max(orders.timestamp)", "timestamp"),
    ("count_distinct(orders.category)", "number"), ("first(orders.category)", "string"),
    ("last(orders.timestamp, last 7d)", "timestamp"),
]


@pytest.mark.parametrize(("expression", "kind"), CHECK_TYPES, ids=[c[0] for c in CHECK_TYPES])
def test_aggregate_types(expression, kind):
    checked = check(parse_rules(f"segment s: {expression} is null"), CATALOG)
    assert str(checked.type_of(checked.rules.statements[0].condition.operand)) == kind


def test_event_columns_are_not_profile_columns():
    checked = check(parse_rules('segment s: country == "DE" and count(orders where amount > 1) > 0'), CATALOG)
    assert [c.name for c in checked.columns_used] == ["country"]


# the Python API -------------------------------------------------------------------------

RULES = """
segment repeat_shoe_buyers: count(orders where category == "shoes", last 365d) >= 2
segment quiet: not exists(orders, last 7d)
segment big: sum(orders.amount) > 30
segment web_first: first(orders.channel) == "web"
"""
MEMBERS = {"repeat_shoe_buyers": [True, False, False, False, False], "quiet": [False, True, False, True, True],
           "big": [True, False, False, False, False], "web_first": [False, True, False, False, False]}


@pytest.mark.parametrize("events", [
    ORDERS, pl.from_arrow(ORDERS), ORDERS.to_pandas(),
    pa.RecordBatchReader.from_batches(ORDERS.schema, ORDERS.to_batches(max_chunksize=3)),
    ds.dataset(ORDERS),
], ids=["table", "polars", "pandas", "reader", "dataset"])
def test_evaluate_with_events(events):
    result = segmint.evaluate(RULES, PROFILES, as_of=AS_OF, events={"orders": events})
    assert result.column_names == ["customer_id", *MEMBERS]
    assert {name: result[name].to_pylist() for name in MEMBERS} == MEMBERS


def test_evaluate_names_the_timestamp_column():
    events = ORDERS.rename_columns(["customer_id", "ordered_at", "amount", "category", "channel"])
    result = segmint.evaluate(RULES, PROFILES, as_of=AS_OF, events={"orders": events},
                              timestamps={"orders": "ordered_at"})
    assert result["quiet"].to_pylist() == MEMBERS["quiet"]
    with pytest.raises(RuleError, match="event source 'orders' has no timestamp column 'timestamp'"):
        segmint.evaluate(RULES, PROFILES, as_of=AS_OF, events={"orders": events})


def test_event_keys_are_cast_to_the_profile_key_type():
    profiles = PROFILES.set_column(0, "customer_id", PROFILES["customer_id"].cast(pa.string()))
    result = segmint.evaluate(RULES, profiles, as_of=AS_OF, events={"orders": ORDERS})
    assert result["big"].to_pylist() == MEMBERS["big"]
    events = ORDERS.set_column(0, "customer_id", pa.array(["x"] * ORDERS.num_rows))
    with pytest.raises(DataError, match="customer keys are string, the profiles' are int64"):
        segmint.evaluate(RULES, PROFILES, as_of=AS_OF, events={"orders": events})


def test_unknown_event_source_is_a_rule_error():
    with pytest.raises(RuleError, match="unknown event source 'orders'"):
        segmint.evaluate(RULES, PROFILES, as_of=AS_OF)


def test_events_without_timestamp_or_key_are_never_seen():
    events = ORDERS.filter(pc.or_(pc.is_null(ORDERS["timestamp"]), pc.is_null(ORDERS["customer_id"])))
    result = segmint.evaluate("segment seen: exists(orders)", PROFILES, as_of=AS_OF, events={"orders": events})
    assert result["seen"].to_pylist() == [False] * 5


# the run pipeline -----------------------------------------------------------------------

def test_run_reads_event_sources_with_their_timestamp_column(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pacsv.write_csv(PROFILES, tmp_path / "customers.csv")
    pq.write_table(ORDERS.rename_columns(["customer_id", "ordered_at", "amount", "category", "channel"]),
                   tmp_path / "orders.parquet")
    (tmp_path / "r.seg").write_text(RULES)
    (tmp_path / "segmint.toml").write_text(
        'rules = ["r.seg"]\nas_of = "2024-06-15T12:00:00Z"\n'
        '[sources.crm]\nplugin = "csv"\npath = "customers.csv"\n'
        '[sources.orders]\nplugin = "parquet"\nrole = "events"\ntimestamp_column = "ordered_at"\n'
        'path = "orders.parquet"\n'
        '[sinks.out]\nplugin = "file"\npath = "out.csv"\n')
    from segmint.cli import cli

    result = CliRunner().invoke(cli, ["run"], prog_name="segmint")
    assert result.exit_code == 0, result.output
    out = pacsv.read_csv(tmp_path / "out.csv")
    assert {name: out[name].to_pylist() for name in MEMBERS} == MEMBERS
    explained = CliRunner().invoke(cli, ["explain", "--segment", "big", "--id", "1"], prog_name="segmint")
    assert explained.exit_code == 0, explained.output
    assert "sum(orders.amount) = 35" in explained.output


def test_durations_booleans_and_integers():
    events = pa.table({
        "customer_id": [1, 1, 2], "timestamp": pa.array([_t(2024, 1, 1)] * 3, pa.timestamp("us", tz="UTC")),
        "wait": pa.array([dt.timedelta(days=1), dt.timedelta(days=2), None], pa.duration("s")),
        "qty": pa.array([1, 2, 3], pa.int32()), "gift": [True, False, None],
    })
    assert values("min(orders.wait)", events) == [dt.timedelta(days=1), None, None, None, None]
    assert values("last(orders.wait)", events) == [dt.timedelta(days=2), None, None, None, None]
    assert values("count_distinct(orders.wait)", events) == [2, 0, None, None, None]
    assert values("avg(orders.qty)", events) == [1.5, 3.0, None, None, None]
    assert values("sum(orders.qty)", events) == [3, 3, None, None, None]
    assert values("exists(orders.gift)", events) == [True, False, False, False, False]
    assert values("first(orders.gift)", events) == [False, None, None, None, None]
    assert values("last(orders.gift)", events) == [True, None, None, None, None]
