"""Per-customer purchase measures: recency, frequency, monetary value, AOV, tenure, churn.

One streaming pass (`customer_totals`) reduces the normalised orders to a few exact numbers
per customer (order count, first and last order instant, net minor units, margin); every
column is then a vectorised formula over those, listed in `PURCHASE_COLUMNS` with its
Arrow type. Customers with any row as of the as-of point appear, sorted by key; those
with refunds only have frequency 0 and null order-based columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import attrs
import numpy as np
import pyarrow as pa

from segmint.plugin.api import MetricColumn

from segmint.plugins.metrics.asof import US_PER_DAY, AsOf
from segmint.plugin.api import from_minor_units
from segmint.plugins.metrics.options import MetricOptions
from segmint.plugins.metrics.orders import Orders

TIMESTAMP = pa.timestamp("us", tz="UTC")
DURATION = pa.duration("us")
#: `orders_per_month` counts a month as 30 days, as the rules language's ``mo`` does.
MONTH_DAYS = 30
_NO_TIME = np.iinfo(np.int64)


@attrs.frozen
class CustomerTotals:
    """Exact per-customer aggregates, one entry per customer, sorted by key."""

    keys: pa.Array
    orders: np.ndarray
    first_at: np.ndarray  # µs; 0 where a customer has no order
    last_at: np.ndarray
    units: np.ndarray  # net amount (orders minus refunds) in minor units
    margin: np.ndarray | None  # gross margin in minor units, from margin/cost columns
    as_of: AsOf
    scale: int

    @property
    def has_orders(self) -> np.ndarray:
        return self.orders > 0

    def money(self, units: np.ndarray) -> np.ndarray:
        return from_minor_units(units, self.scale)


def customer_totals(orders: Orders) -> CustomerTotals:
    """Reduce the orders to `CustomerTotals` in one pass over their batches."""
    n = orders.grouping.slots
    seen = np.zeros(n, dtype=bool)
    count = np.zeros(n, dtype=np.int64)
    first = np.full(n, _NO_TIME.max, dtype=np.int64)
    last = np.full(n, _NO_TIME.min, dtype=np.int64)
    units = np.zeros(n, dtype=np.int64)
    margin = np.zeros(n, dtype=np.int64) if orders.has_margin else None
    for batch in orders.batches():
        seen[batch.codes] = True
        np.add.at(units, batch.codes, batch.units)
        if margin is not None:
            np.add.at(margin, batch.codes, batch.margin)
        codes, at = batch.codes, batch.at
        is_order = batch.is_order
        if not is_order.all():  # only what the orders' aggregates read, not the whole batch
            codes, at = codes[is_order], at[is_order]
        np.add.at(count, codes, 1)
        np.minimum.at(first, codes, at)
        np.maximum.at(last, codes, at)
    slots = orders.grouping.sorted_slots(seen)
    has = count[slots] > 0
    return CustomerTotals(
        keys=orders.grouping.keys(slots),
        orders=count[slots],
        first_at=np.where(has, first[slots], 0),
        last_at=np.where(has, last[slots], 0),
        units=units[slots],
        margin=None if margin is None else margin[slots],
        as_of=orders.as_of,
        scale=orders.scale,
    )


def _array(values: np.ndarray, valid: np.ndarray, type: pa.DataType) -> pa.Array:
    return pa.array(values, type=type, mask=None if valid.all() else ~valid)


def _with_orders(values: np.ndarray, t: CustomerTotals, type: pa.DataType) -> pa.Array:
    return _array(values, t.has_orders, type)


def recency_us(t: CustomerTotals) -> np.ndarray:
    return t.as_of.elapsed_us(t.last_at)


def tenure_us(t: CustomerTotals) -> np.ndarray:
    return t.as_of.elapsed_us(t.first_at)


def average_units(t: CustomerTotals) -> np.ndarray:
    """Net minor units per order (NaN where there is no order)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return t.units / t.orders


def monetary_value(t: CustomerTotals, options: MetricOptions) -> np.ndarray:
    """Total or average spend, as the ``monetary`` option says."""
    if options.monetary == "average":
        return average_units(t) / 10**t.scale
    return t.money(t.units)


def _monetary(t: CustomerTotals, options: MetricOptions) -> pa.Array:
    valid = t.has_orders if options.monetary == "average" else np.ones(len(t.orders), bool)
    return _array(monetary_value(t, options), valid, pa.float64())


def _orders_per_month(t: CustomerTotals, options: MetricOptions) -> pa.Array:
    tenure_days = tenure_us(t) / US_PER_DAY
    per_month = t.orders * MONTH_DAYS / np.maximum(tenure_days, MONTH_DAYS)
    return _with_orders(per_month, t, pa.float64())


def _days_between_orders(t: CustomerTotals, options: MetricOptions) -> pa.Array:
    span_days = t.as_of.span_us(t.first_at, t.last_at) / US_PER_DAY
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = span_days / (t.orders - 1)
    return _array(gap, t.orders > 1, pa.float64())


def _churned(t: CustomerTotals, options: MetricOptions) -> pa.Array:
    window = options.churn_window // dt.timedelta(microseconds=1)
    return _with_orders(recency_us(t) > window, t, pa.bool_())


def historical_margin(t: CustomerTotals, options: MetricOptions) -> np.ndarray:
    """Gross margin of all orders: margin rate × net spend, else margin or cost columns."""
    if options.margin_rate is None and t.margin is not None:
        return t.money(t.margin)
    rate = 1.0 if options.margin_rate is None else options.margin_rate
    return t.money(t.units) * rate


@attrs.frozen
class Column:
    """One metric column: its Arrow type, its formula in words, and the code."""

    name: str
    type: pa.DataType
    description: str
    compute: Callable[[CustomerTotals, MetricOptions], pa.Array]
    needs_margin: bool = False

    @property
    def declaration(self) -> MetricColumn:
        return MetricColumn(self.name, self.type, self.description)


PURCHASE_COLUMNS = (
    Column(
        "recency", DURATION, "Time from the last order to as_of.",
        lambda t, o: _with_orders(recency_us(t), t, DURATION),
    ),
    Column(
        "frequency", pa.int64(), "Number of orders (refunds are not orders).",
        lambda t, o: pa.array(t.orders, pa.int64()),
    ),
    Column(
        "monetary", pa.float64(),
        "Net spend: orders minus refunds (option monetary='average': per order).",
        _monetary,
    ),
    Column(
        "aov", pa.float64(), "Average order value: net spend / frequency.",
        lambda t, o: _with_orders(average_units(t) / 10**t.scale, t, pa.float64()),
    ),
    Column(
        "first_order_at", TIMESTAMP, "Instant of the first order.",
        lambda t, o: _with_orders(t.first_at, t, TIMESTAMP),
    ),
    Column(
        "last_order_at", TIMESTAMP, "Instant of the last order.",
        lambda t, o: _with_orders(t.last_at, t, TIMESTAMP),
    ),
    Column(
        "tenure", DURATION, "Time from the first order to as_of.",
        lambda t, o: _with_orders(tenure_us(t), t, DURATION),
    ),
    Column(
        "orders_per_month", pa.float64(),
        "frequency × 30 / tenure in days, a tenure under 30 days counting as 30.",
        _orders_per_month,
    ),
    Column(
        "days_between_orders", pa.float64(),
        "Mean gap between orders in days: (last - first) / (frequency - 1).",
        _days_between_orders,
    ),
    Column(
        "churned", pa.bool_(), "No order within churn_window (default 365d) before as_of.",
        _churned,
    ),
    Column(
        "clv_historical", pa.float64(),
        "Gross margin of all orders: margin_rate × net spend, else the margin or cost column"
        " (revenue when none is given).",
        lambda t, o: pa.array(historical_margin(t, o), pa.float64()),
        needs_margin=True,
    ),
)
