"""Property test, on every engine: aggregates over events equal DuckDB's
`GROUP BY ... FILTER (WHERE ...)`.

Hypothesis draws an event table (keys, some outside the profiles and some null; timestamps
with nulls, repeats, exact window edges and events after as_of; numbers with nulls and NaN;
strings, booleans and dates with nulls) and a set of aggregates, each a function, a column,
a `where` condition and a window. segmint computes them all in one pass per source, read as a
table, a record batch reader or a dataset, in batches small enough that partial states are
combined many times; with integer keys states are arrays per customer (codes for text, 64-bit
sets for count_distinct), and the drawn limits make them fall back to grouping mid-stream. DuckDB computes each as `AGG(...) FILTER (WHERE where AND window)` over
the events up to as_of, grouped by key and left-joined to the profiles, with the language's
values for customers without a matching event (0, false, null). Window bounds are written in
SQL independently of segmint's `window_bounds`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st


AS_OF = dt.datetime(2024, 6, 15, 12, 0)  # UTC
KEY = "customer_id"
STRINGS = ["a", "b", "ab", "B", "é", "", "a b", "zz"]

#: (rule text, SQL) of where conditions; names are columns of the event source `ev`.
WHERES = [
    (None, None),
    ('cat == "a"', "cat = 'a'"),
    ("amount > 10", "amount > 10"),
    ("qty between 2 and 5", "qty BETWEEN 2 AND 5"),
    ("flag", "flag"),
    ("not flag", "NOT flag"),
    ('cat in ("a", "b") or amount < 5', "cat IN ('a', 'b') OR amount < 5"),
    ("amount is null", "amount IS NULL"),
    ("day >= 2024-03-01", "day >= DATE '2024-03-01'"),
    ('cat starts with "a" and qty > 1', "starts_with(cat, 'a') AND qty > 1"),
    ("ts within 14d", f"ts BETWEEN TIMESTAMP '{AS_OF - dt.timedelta(days=14)}' AND TIMESTAMP '{AS_OF}'"),
    ("ev.qty * 2 >= amount", "qty * 2 >= amount"),
]


def _sql_ts(value: dt.datetime) -> str:
    return f"TIMESTAMP '{value.isoformat(sep=' ')}'"


def _next_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())


#: (rule text, SQL condition on ts) of windows, the SQL written from the documented bounds.
WINDOWS = [
    (None, "TRUE"),
    ("last 7d", f"ts >= {_sql_ts(AS_OF - dt.timedelta(days=7))}"),
    ("last 30d", f"ts >= {_sql_ts(AS_OF - dt.timedelta(days=30))}"),
    ("last 36h", f"ts >= {_sql_ts(AS_OF - dt.timedelta(hours=36))}"),
    ("last 1y", f"ts >= {_sql_ts(AS_OF - dt.timedelta(days=365))}"),
    ("between 180d ago and 90d ago",
     f"ts BETWEEN {_sql_ts(AS_OF - dt.timedelta(days=180))} AND {_sql_ts(AS_OF - dt.timedelta(days=90))}"),
    ("between 30d ago and 0d ago", f"ts >= {_sql_ts(AS_OF - dt.timedelta(days=30))}"),
    ("since 2024-01-01", "ts >= TIMESTAMP '2024-01-01 00:00:00'"),
    ("since 2024-06-01T06:00:00Z", "ts >= TIMESTAMP '2024-06-01 06:00:00'"),
    ("between 2024-03-01 and 2024-03-31",
     f"ts >= TIMESTAMP '2024-03-01' AND ts < {_sql_ts(_next_midnight(dt.date(2024, 3, 31)))}"),
    ("between 2024-06-10 and 2024-07-31",
     f"ts >= TIMESTAMP '2024-06-10' AND ts < {_sql_ts(_next_midnight(dt.date(2024, 7, 31)))}"),
    ("between 2024-05-01T12:00:00Z and 2024-05-02T12:00:00Z",
     "ts BETWEEN TIMESTAMP '2024-05-01 12:00:00' AND TIMESTAMP '2024-05-02 12:00:00'"),
]

#: Columns each function may read (None: the source itself, counting events).
COLUMNS = {
    "count": [None, "amount", "cat", "flag"],
    "exists": [None, "qty", "day"],
    "sum": ["amount", "qty"],
    "avg": ["amount", "qty"],
    "min": ["amount", "qty", "cat", "day", "ts"],
    "max": ["amount", "qty", "cat", "day", "ts"],
    "count_distinct": ["cat", "qty", "flag", "day", "amount"],
    "first": ["amount", "qty", "cat", "flag", "day"],
    "last": ["amount", "qty", "cat", "flag", "day"],
}

#: Instants events happen at: on and around window edges, repeated, and after as_of.
EDGES = [AS_OF - dt.timedelta(days=d) for d in (0, 7, 14, 30, 90, 180, 365)] + [
    AS_OF - dt.timedelta(hours=36), AS_OF + dt.timedelta(microseconds=1),
    dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 31, 23, 59, 59, 999999), dt.datetime(2024, 4, 1),
    dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 1, 6), dt.datetime(2024, 5, 1, 12),
    dt.datetime(2024, 5, 2, 12), dt.datetime(2024, 6, 10), AS_OF + dt.timedelta(days=3),
]


@st.composite
def aggregates(draw: st.DrawFn) -> tuple[str, str, str | None, tuple, tuple]:
    function = draw(st.sampled_from(sorted(COLUMNS)))
    column = draw(st.sampled_from(COLUMNS[function]))
    return function, "ev", column, draw(st.sampled_from(WHERES)), draw(st.sampled_from(WINDOWS))


def events_table(n_customers: int, n_events: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)

    def nullable(values: list[Any], share: float) -> list[Any]:
        return [None if rng.random() < share else v for v in values]

    keys = nullable(rng.integers(0, n_customers + 5, n_events).tolist(), 0.03)
    stamps = []
    for _ in range(n_events):
        pick = rng.random()
        if pick < 0.3:
            stamps.append(EDGES[rng.integers(len(EDGES))])
        else:
            stamps.append(AS_OF - dt.timedelta(hours=int(rng.integers(-24 * 20, 24 * 420))))
    amounts = [float(rng.choice([1.0, 2.5, 10.0, 12.25, 100.0, -3.0, math.nan])) for _ in range(n_events)]
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 200, n_events)]
    return pa.table({
        KEY: pa.array(keys, pa.int64()),
        "ts": pa.array(nullable(stamps, 0.05), pa.timestamp("us", tz="UTC")),
        "amount": pa.array(nullable(amounts, 0.2), pa.float64()),
        "qty": pa.array(nullable(rng.integers(0, 8, n_events).tolist(), 0.2), pa.int64()),
        "cat": pa.array(nullable([STRINGS[i] for i in rng.integers(0, len(STRINGS), n_events)], 0.2), pa.string()),
        "flag": pa.array(nullable([bool(b) for b in rng.integers(0, 2, n_events)], 0.2), pa.bool_()),
        "day": pa.array(nullable(days, 0.2), pa.date32()),
    })


def _rule_text(function: str, source: str, column: str | None, where: str | None, window: str | None) -> str:
    target = f"{source}.{column}" if column else source
    text = f"{function}({target}" + (f" where {where}" if where else "")
    return text + (f", {window})" if window else ")")


def _sql(function: str, column: str | None, where: str | None, window: str) -> tuple[str, str]:
    """The inner aggregate over the events, and the outer expression over its result `a`."""
    cond = f"({where if where else 'TRUE'}) AND ({window})"
    counted = f"count({column or '*'}) FILTER (WHERE {cond})"
    if function == "count":
        return counted, "coalesce({a}, 0)"
    if function == "exists":
        return f"{counted} > 0", "coalesce({a}, false)"
    if function == "count_distinct":
        return (f"CASE WHEN count(*) FILTER (WHERE {cond}) > 0 THEN count(DISTINCT {column}) "
                f"FILTER (WHERE {cond}) END", "{a}")
    if function in ("first", "last"):
        best = "min" if function == "first" else "max"
        return f"({best}({{'t': ts, 'v': {column}}}) FILTER (WHERE {cond} AND {column} IS NOT NULL)).v", "{a}"
    return f"{function}({column}) FILTER (WHERE {cond})", "{a}"


def duckdb_values(events: pa.Table, keys: pa.Array, specs: list[tuple]) -> list[dict[Any, Any]]:
    con = duckdb.connect()
    # NaN is null for segmint; DuckDB gets naive UTC timestamps.
    amount = pc.if_else(pc.is_nan(events["amount"]), pa.scalar(None, pa.float64()), events["amount"])
    e = events.set_column(events.schema.get_field_index("amount"), "amount", amount)
    e = e.set_column(e.schema.get_field_index("ts"), "ts", e["ts"].cast(pa.timestamp("us")))
    p = pa.table({KEY: keys})
    con.register("e", e)
    con.register("p", p)
    inner, outer = [], []
    for i, (function, _, column, (_, where_sql), (_, window_sql)) in enumerate(specs):
        agg, final = _sql(function, column, where_sql, window_sql)
        inner.append(f"{agg} AS a{i}")
        outer.append(final.format(a=f"g.a{i}"))
    query = (f"SELECT p.{KEY}, {', '.join(outer)} FROM p LEFT JOIN (SELECT {KEY}, {', '.join(inner)} "
             f"FROM e WHERE ts <= {_sql_ts(AS_OF)} AND {KEY} IS NOT NULL GROUP BY {KEY}) g "
             f"ON p.{KEY} = g.{KEY}")
    rows = con.execute(query).fetchall()
    return [{row[0]: row[i + 1] for row in rows} for i in range(len(specs))]


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, dt.datetime):
        a = a.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _result_type(function: str, column: str | None, schema: pa.Schema) -> pa.DataType:
    """The Arrow type of an aggregate's values, as the language types it."""
    if function in ("count", "count_distinct"):
        return pa.int64()
    if function == "exists":
        return pa.bool_()
    if function == "avg":
        return pa.float64()
    return schema.field(column).type


def agreement(evaluate: Callable[..., pa.Table], events: Any, keys: pa.Array, specs: list[tuple],
              schema: pa.Schema, expected: list[dict]) -> list[dict]:
    """Per aggregate and customer, whether the engine's value is DuckDB's, read through
    `segmint.evaluate`: DuckDB's values go in as profile columns ``e0, e1, ...`` and segment
    ``s<i>`` says `AGG` equals ``e<i>`` (both null, equal, or within 1e-9 for floats)."""
    columns: dict[str, Any] = {KEY: keys}
    statements = []
    for i, spec in enumerate(specs):
        text = _rule_text(spec[0], spec[1], spec[2], spec[3][0], spec[4][0])
        arrow_type = _result_type(spec[0], spec[2], schema)
        columns[f"e{i}"] = pa.array([expected[i].get(k) for k in keys.to_pylist()], arrow_type)
        same = (f"abs({text} - e{i}) <= 1e-9 * abs(e{i}) + 1e-9" if pa.types.is_floating(arrow_type)
                else f"{text} == e{i}")
        statements.append(f"segment s{i}: ({text} is null and e{i} is null) or {same}")
    result = evaluate("\n".join(statements), pa.table(columns), key=KEY, events={"ev": events},
                      timestamps={"ev": "ts"}, as_of=AS_OF.replace(tzinfo=dt.timezone.utc))
    return [dict(zip(keys.to_pylist(), result[f"s{i}"].to_pylist())) for i in range(len(specs))]


@contextlib.contextmanager
def small_states(engine: str, batch_rows: int, combine_rows: int, code_limit: int) -> Iterator[None]:
    """On the arrow engine: batches, partial states and value codes small enough that states
    are combined many times and fall back to grouping mid-stream (other engines: as is)."""
    if engine != "arrow":
        yield
        return
    from segmint.engines.arrow import dense_states, event_input, grouped_states

    saved = event_input.BATCH_ROWS, grouped_states.COMBINE_ROWS, dense_states.CODE_LIMIT
    event_input.BATCH_ROWS, grouped_states.COMBINE_ROWS = batch_rows, combine_rows
    dense_states.CODE_LIMIT = code_limit  # 2: first/last of text give up their codes early
    try:
        yield
    finally:
        event_input.BATCH_ROWS, grouped_states.COMBINE_ROWS, dense_states.CODE_LIMIT = saved


@settings(max_examples=int(__import__("os").environ.get("AGG_EXAMPLES", 60)), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    n_customers=st.integers(0, 40),
    n_events=st.integers(0, 300),
    seed=st.integers(0, 2**32 - 1),
    specs=st.lists(aggregates(), min_size=1, max_size=8),
    mode=st.sampled_from(["table", "reader", "dataset"]),
    batch_rows=st.sampled_from([7, 64, 1 << 20]),
    combine_rows=st.sampled_from([1, 50, 1 << 22]),
    text_keys=st.booleans(),
    code_limit=st.sampled_from([2, 1 << 16]),
)
def test_aggregates_equal_duckdb(evaluate, engine, n_customers, n_events, seed, specs, mode, batch_rows,
                                 combine_rows, text_keys, code_limit):
    events = events_table(n_customers, n_events, seed)
    keys = pa.array(np.random.default_rng(seed).permutation(n_customers), pa.int64())
    if text_keys:  # keys that are not integers take the grouping path, not the row index
        keys = keys.cast(pa.string())
        events = events.set_column(0, KEY, events[KEY].cast(pa.string()))
    expected = duckdb_values(events, keys, specs)
    data: Any = events
    if mode == "reader":
        data = pa.RecordBatchReader.from_batches(events.schema, events.to_batches(max_chunksize=13))
    elif mode == "dataset":
        data = ds.dataset(events)
    with small_states(engine, batch_rows, combine_rows, code_limit):
        found = agreement(evaluate, data, keys, specs, events.schema, expected)
    for spec, agrees, theirs in zip(specs, found, expected):
        text = _rule_text(spec[0], spec[1], spec[2], spec[3][0], spec[4][0])
        for customer, same in agrees.items():
            if not same:
                note(f"{text}: customer {customer}: {engine} differs from DuckDB's {theirs.get(customer)!r}")
                pytest.fail(f"{text}: customer {customer}: {engine} differs from DuckDB's "
                            f"{theirs.get(customer)!r}")


def test_the_oracle_sees_values():
    """The drawn data is not degenerate: windows, wheres and ties give varied answers."""
    events = events_table(30, 300, 1)
    keys = pa.array(range(30), pa.int64())
    specs = [("count", "ev", None, WHERES[0], WINDOWS[2]), ("sum", "ev", "amount", WHERES[2], WINDOWS[0]),
             ("last", "ev", "cat", WHERES[0], WINDOWS[0]), ("count_distinct", "ev", "cat", WHERES[1], WINDOWS[1])]
    found = duckdb_values(events, keys, specs)
    assert len(set(found[0].values())) > 2
    assert sum(v is not None for v in found[1].values()) > 10
    assert len(set(found[2].values())) > 3
    assert None in found[3].values() and 1 in found[3].values()


def test_a_wrong_value_is_caught(evaluate):
    """The agreement segments are false where the values differ: DuckDB's count plus one."""
    events = events_table(10, 80, 3)
    keys = pa.array(range(10), pa.int64())
    specs = [("count", "ev", None, WHERES[0], WINDOWS[0]), ("max", "ev", "amount", WHERES[0], WINDOWS[0])]
    expected = duckdb_values(events, keys, specs)
    assert all(v for found in agreement(evaluate, events, keys, specs, events.schema, expected)
               for v in found.values())
    wrong = [{k: v + 1 for k, v in expected[0].items()}, {k: (v or 0) + 0.5 for k, v in expected[1].items()}]
    assert not any(v for found in agreement(evaluate, events, keys, specs, events.schema, wrong)
                   for v in found.values())
