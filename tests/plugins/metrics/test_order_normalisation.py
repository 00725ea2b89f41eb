"""How an orders table is read: as-of semantics, time zones, order ids, refunds, columns."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from segmint.errors import ConfigError, DataError
from segmint.plugin.api import MetricContext
from segmint.plugins.metrics.definitions import compute_purchase

UTC = dt.UTC
TS = pa.timestamp("us", tz="UTC")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def orders(**columns) -> pa.Table:
    """An orders table; customer_id defaults to one customer, 1."""
    length = len(next(iter(columns.values())))
    columns.setdefault("customer_id", pa.array([1] * length))
    return pa.table(columns)


def run(table: pa.Table, as_of, *, timezone="UTC", columns=None, **options) -> dict:
    """The purchase measures of customer 1 (or of nobody) as Python values."""
    is_date = not isinstance(as_of, dt.datetime)
    ctx = MetricContext(
        events={"orders": table}, key=options.get("customer_column", "customer_id"),
        as_of=dt.datetime.combine(as_of, dt.time.max, UTC) if is_date else as_of,
        as_of_date=as_of if is_date else None, timezone=timezone,
        columns=frozenset(columns or ()), options=options,
    )
    result = compute_purchase(ctx).to_pylist()
    return result[0] if result else {}


CASES = [
    (
        "a date as_of observes the whole day",
        orders(timestamp=pa.array([at("2024-06-15T23:30")], TS), amount=[10.0]),
        dt.date(2024, 6, 15), {},
        {"frequency": 1, "recency": dt.timedelta(0)},
    ),
    (
        "an instant as_of does not see later that day",
        orders(timestamp=pa.array([at("2024-06-15T23:30")], TS), amount=[10.0]),
        at("2024-06-15T12:00"), {},
        {},
    ),
    (
        "instant durations are exact",
        orders(timestamp=pa.array([at("2024-06-14T12:00")], TS), amount=[10.0]),
        at("2024-06-15T18:00"), {},
        {"recency": dt.timedelta(days=1, hours=6), "tenure": dt.timedelta(days=1, hours=6)},
    ),
    (
        "day durations count calendar days",
        orders(timestamp=pa.array([at("2024-06-14T23:59")], TS), amount=[10.0]),
        dt.date(2024, 6, 15), {},
        {"recency": dt.timedelta(days=1)},
    ),
    (
        "the run's time zone decides the day",
        orders(timestamp=pa.array([at("2024-06-15T22:30")], TS), amount=[10.0]),
        dt.date(2024, 6, 15), {"timezone": "Europe/Berlin"},
        {},
    ),
    (
        "an order late on the as-of day in the run's zone is seen",
        orders(timestamp=pa.array([at("2024-06-16T03:30")], TS), amount=[10.0]),
        dt.date(2024, 6, 15), {"timezone": "America/New_York"},
        {"frequency": 1, "recency": dt.timedelta(0)},
    ),
    (
        "naive timestamps are wall-clock time in the run's zone",
        orders(timestamp=pa.array([dt.datetime(2024, 6, 15, 21, 0)], pa.timestamp("us")),
               amount=[10.0]),
        at("2024-06-16T02:00"), {"timezone": "America/New_York"},
        {"recency": dt.timedelta(hours=1)},
    ),
    (
        "a date column is midnight",
        orders(timestamp=pa.array([dt.date(2024, 6, 10)]), amount=[10.0]),
        dt.date(2024, 6, 15), {},
        {"recency": dt.timedelta(days=5), "first_order_at": at("2024-06-10T00:00")},
    ),
    (
        "nanosecond timestamps",
        orders(timestamp=pa.array([at("2024-06-14T00:00")], pa.timestamp("ns", tz="UTC")),
               amount=[10.0]),
        at("2024-06-15T00:00"), {},
        {"recency": dt.timedelta(days=1)},
    ),
    (
        "lines of one order count once, at the earliest line",
        orders(timestamp=pa.array([at("2024-06-03T00:00"), at("2024-06-01T00:00")], TS),
               amount=[5.0, 10.0], order_id=["A", "A"]),
        dt.date(2024, 6, 15), {},
        {"frequency": 1, "monetary": 15.0, "last_order_at": at("2024-06-01T00:00")},
    ),
    (
        "the same order id of two customers is two orders",
        orders(customer_id=[1, 2], timestamp=pa.array([at("2024-06-01T00:00")] * 2, TS),
               amount=[5.0, 10.0], order_id=["A", "A"]),
        dt.date(2024, 6, 15), {},
        {"frequency": 1, "monetary": 5.0},
    ),
    (
        "lines without an order id are orders each",
        orders(timestamp=pa.array([at("2024-06-01T00:00")] * 3, TS), amount=[1.0, 2.0, 3.0],
               order_id=pa.array(["A", None, None])),
        dt.date(2024, 6, 15), {},
        {"frequency": 3, "aov": 2.0},
    ),
    (
        "a refund lowers monetary but is not an order",
        orders(timestamp=pa.array([at("2024-06-01T00:00"), at("2024-06-10T00:00")], TS),
               amount=[10.0, -4.0]),
        dt.date(2024, 6, 15), {},
        {"frequency": 1, "monetary": 6.0, "last_order_at": at("2024-06-01T00:00")},
    ),
    (
        "a refund line under an order id is still a refund",
        orders(timestamp=pa.array([at("2024-06-01T00:00")] * 2, TS), amount=[10.0, -3.0],
               order_id=["A", "A"]),
        dt.date(2024, 6, 15), {},
        {"frequency": 1, "monetary": 7.0, "aov": 7.0},
    ),
    (
        "refunds only: frequency 0, order measures null",
        orders(timestamp=pa.array([at("2024-06-01T00:00")], TS), amount=[-3.0]),
        dt.date(2024, 6, 15), {},
        {"frequency": 0, "monetary": -3.0, "recency": None, "aov": None, "churned": None},
    ),
    (
        "rows without a customer key are ignored",
        orders(customer_id=pa.array([1, None]), timestamp=pa.array([at("2024-06-01T00:00")] * 2,
               TS), amount=[1.0, 100.0]),
        dt.date(2024, 6, 15), {},
        {"monetary": 1.0},
    ),
    (
        "column names are options",
        pa.table({"cid": [1], "when": pa.array([at("2024-06-01T00:00")], TS), "value": [2.5],
                  "ref": ["x"]}),
        dt.date(2024, 6, 15),
        {"customer_column": "cid", "timestamp_column": "when", "amount_column": "value",
         "order_id_column": "ref"},
        {"frequency": 1, "monetary": 2.5},
    ),
    (
        "decimal amounts sum exactly",
        orders(timestamp=pa.array([at("2024-06-01T00:00")] * 2, TS),
               amount=pa.array([decimal.Decimal("0.10"), decimal.Decimal("0.20")],
                               pa.decimal128(10, 2))),
        dt.date(2024, 6, 15), {},
        {"monetary": 0.3},
    ),
    (
        "float amounts sum exactly in cents",
        orders(timestamp=pa.array([at("2024-06-01T00:00")] * 3, TS), amount=[0.1, 0.2, 0.3]),
        dt.date(2024, 6, 15), {},
        {"monetary": 0.6},
    ),
    (
        "integer amounts are whole units",
        orders(timestamp=pa.array([at("2024-06-01T00:00")], TS), amount=[12]),
        dt.date(2024, 6, 15), {},
        {"monetary": 12.0},
    ),
    (
        "amount_scale for currencies without cents",
        orders(timestamp=pa.array([at("2024-06-01T00:00")] * 2, TS), amount=[1000.4, 1000.4]),
        dt.date(2024, 6, 15), {"amount_scale": 0},
        {"monetary": 2000.0},
    ),
    (
        "a cost column gives the margin",
        orders(timestamp=pa.array([at("2024-06-01T00:00")] * 2, TS), amount=[10.0, -2.0],
               cost=[6.0, -1.0]),
        dt.date(2024, 6, 15), {},
        {"clv_historical": 3.0},
    ),
    (
        "a margin column wins over a cost column",
        orders(timestamp=pa.array([at("2024-06-01T00:00")], TS), amount=[10.0], cost=[6.0],
               margin=[1.5]),
        dt.date(2024, 6, 15), {},
        {"clv_historical": 1.5},
    ),
    (
        "a margin rate wins over columns",
        orders(timestamp=pa.array([at("2024-06-01T00:00")], TS), amount=[10.0], margin=[1.5]),
        dt.date(2024, 6, 15), {"margin_rate": 0.3},
        {"clv_historical": 3.0},
    ),
    (
        "churn window option",
        orders(timestamp=pa.array([at("2024-05-01T00:00")], TS), amount=[1.0]),
        dt.date(2024, 6, 15), {"churn_window": "30d"},
        {"churned": True},
    ),
    (
        "ordered exactly churn_window ago is not churned",
        orders(timestamp=pa.array([at("2024-05-16T00:00")], TS), amount=[1.0]),
        dt.date(2024, 6, 15), {"churn_window": "30d"},
        {"churned": False},
    ),
    (
        "orders per month counts a young customer's tenure as a month",
        orders(timestamp=pa.array([at("2024-06-01T00:00")] * 3, TS), amount=[1.0] * 3),
        dt.date(2024, 6, 15), {},
        {"orders_per_month": 3.0, "days_between_orders": 0.0},
    ),
    (
        "mean gap between orders",
        orders(timestamp=pa.array([at("2024-01-01T00:00"), at("2024-01-11T00:00"),
                                   at("2024-01-31T00:00")], TS), amount=[1.0] * 3),
        dt.date(2024, 6, 15), {},
        {"days_between_orders": 15.0},
    ),
]


@pytest.mark.parametrize(("table", "as_of", "options", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_orders_are_read_as_documented(table, as_of, options, expected):
    got = run(table, as_of, **options)
    if not expected:
        assert got == {}
    for name, value in expected.items():
        assert got[name] == value, name


ERRORS = [
    (
        "missing column",
        orders(timestamp=pa.array([at("2024-06-01T00:00")], TS), value=[1.0]), {},
        DataError, "source 'orders': no column 'amount' (columns: timestamp, value, customer_id)",
    ),
    (
        "configured optional column missing",
        orders(timestamp=pa.array([at("2024-06-01T00:00")], TS), amount=[1.0]),
        {"order_id_column": "ref"},
        DataError, "no column 'ref'",
    ),
    (
        "null amount",
        orders(timestamp=pa.array([at("2024-06-01T00:00")] * 2, TS), amount=[1.0, None]), {},
        DataError, "source 'orders', column 'amount': 1 row(s) without an amount",
    ),
    (
        "null timestamp",
        orders(timestamp=pa.array([None], TS), amount=[1.0]), {},
        DataError, "source 'orders', column 'timestamp': 1 row(s) without a timestamp",
    ),
    (
        "text timestamps",
        orders(timestamp=["2024-06-01"], amount=[1.0]), {},
        DataError, "timestamps must be dates or timestamps, got string",
    ),
    (
        "text amounts",
        orders(timestamp=pa.array([at("2024-06-01T00:00")], TS), amount=["1.0"]), {},
        DataError, "column 'amount': amounts must be numbers, got string",
    ),
    (
        "infinite amounts",
        orders(timestamp=pa.array([at("2024-06-01T00:00")], TS), amount=[float("inf")]), {},
        DataError, "amounts must be finite numbers",
    ),
    (
        "unknown time zone",
        orders(timestamp=pa.array([at("2024-06-01T00:00")], TS), amount=[1.0]),
        {"timezone": "Mars/Olympus"},
        ConfigError, "unknown time zone 'Mars/Olympus'",
    ),
]


@pytest.mark.parametrize(("table", "options", "error", "message"),
                         [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_bad_orders_are_clear_errors(table, options, error, message):
    with pytest.raises(error) as info:
        run(table, dt.date(2024, 6, 15), **options)
    assert message in str(info.value)


def test_a_missing_orders_source_is_named():
    ctx = MetricContext(events={}, key="customer_id", as_of=at("2024-06-15T00:00"))
    with pytest.raises(DataError, match="metrics need an event source 'orders'; have: none"):
        compute_purchase(ctx)


KEYS = [
    ("dense integers", pa.array([3, 1, 3], pa.int32())),
    ("sparse integers", pa.array([2**61, -(2**60), 2**61], pa.int64())),
    ("huge unsigned integers", pa.array([2**64 - 1, 5, 2**64 - 1], pa.uint64())),
    ("strings", pa.array(["b", "a", "b"])),
    ("dictionary-encoded strings", pa.array(["b", "a", "b"]).dictionary_encode()),
]


@pytest.mark.parametrize("keys", [k[1] for k in KEYS], ids=[k[0] for k in KEYS])
def test_any_key_type_groups_and_sorts(keys):
    table = pa.table({
        "customer_id": keys,
        "timestamp": pa.array([at("2024-06-01T00:00")] * 3, TS),
        "amount": [1.0, 2.0, 4.0],
    })
    ctx = MetricContext(events={"orders": table}, key="customer_id",
                        as_of=at("2024-06-15T00:00"), columns=frozenset({"monetary"}))
    result = compute_purchase(ctx)
    plain = keys.dictionary_decode() if pa.types.is_dictionary(keys.type) else keys
    first, second = sorted(set(plain.to_pylist()))
    assert result["customer_id"].to_pylist() == [first, second]
    assert result["monetary"].to_pylist() == ([2.0, 5.0] if plain[1].as_py() == first
                                               else [5.0, 2.0])
