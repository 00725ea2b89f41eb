"""Customer acquisition cost, from a spend table and each customer's acquisition channel.

A customer is acquired in the calendar month (run's time zone) of their first order,
through their acquisition channel: the value of ``acquisition_channel_column`` in the
table named by option ``acquisition_channel_source`` when given (a profile column, say),
else the channel of their first order (the least channel name if several orders tie).

    acquisition_cost = spend of the channel in that month / customers the channel
                       acquired in that month

Spend rows (``spend_date_column``, ``spend_channel_column``, ``spend_amount_column``) at or
before as_of count; a channel-month without spend rows costs 0 (organic). Spend is summed
exactly in minor units. ``clv_to_cac`` is a CLV column (option ``clv_to_cac_from``) divided
by acquisition_cost; null where the cost is 0 or unknown.
"""

from __future__ import annotations

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError

from segmint.plugins.metrics.asof import local_days
from segmint.plugin.api import to_minor_units
from segmint.plugins.metrics.options import MetricOptions
from segmint.plugins.metrics.orders import Orders, as_table, instants_us, require_columns

SPEND = "spend"


@attrs.frozen
class Acquisitions:
    """Per customer with an order (sorted by key): channel, month, cost."""

    keys: pa.Array
    channel: pa.Array
    month: np.ndarray  # months since 1970-01
    cost: pa.Array  # float64, null without a channel


def first_order_channels(orders: Orders) -> tuple[pa.Array, np.ndarray, pa.Array]:
    """Keys, first-order instants and first-order channels of customers with an order."""
    n = orders.grouping.slots
    first = np.full(n, np.iinfo(np.int64).max)
    for batch in orders.batches():
        placed = batch.orders_only()
        np.minimum.at(first, placed.codes, placed.at)
    slots = orders.grouping.sorted_slots(first < np.iinfo(np.int64).max)
    channel = pa.nulls(len(slots), pa.string())
    if orders.has_channel:
        picks = []
        for batch in orders.batches():
            placed = batch.orders_only()
            earliest = placed.at == first[placed.codes]
            picks.append(pa.table({
                "slot": placed.codes[earliest], "channel": placed.channel.filter(earliest)
            }))
        chosen = pa.concat_tables(picks).group_by("slot", use_threads=False).aggregate(
            [("channel", "min")]
        )
        where = pc.index_in(pa.array(slots), chosen["slot"])
        channel = chosen["channel_min"].combine_chunks().take(where)
    return orders.grouping.keys(slots), first[slots], channel


def acquisitions(
    orders: Orders,
    spend: pa.Table,
    options: MetricOptions,
    channels: pa.Table | None = None,
    key: str = "customer_id",
) -> Acquisitions:
    """Acquisition channel, month and cost of every customer with an order."""
    keys, first_at, channel = first_order_channels(orders)
    if channels is not None:
        channel = _profile_channels(keys, channels, options, key, fallback=channel)
    elif not orders.has_channel:
        raise no_channel(options, orders.source)
    month = _months(first_at, orders.as_of.timezone)
    customers = pa.table({"row": np.arange(len(keys)), "channel": channel, "month": month})
    acquired = customers.group_by(["channel", "month"], use_threads=False).aggregate(
        [("row", "count")]
    )
    by_month = _spend_by_month(spend, orders, options).join(
        acquired, ["channel", "month"], join_type="right outer"
    )
    spent = pc.cast(pc.fill_null(by_month["units_sum"], 0), pa.float64())
    per_unit = pc.multiply(pc.cast(by_month["row_count"], pa.float64()), 10.0**orders.scale)
    costs = pa.table({
        "channel": by_month["channel"],
        "month": by_month["month"],
        "cost": pc.divide(spent, per_unit),
    })
    joined = customers.join(costs, ["channel", "month"], join_type="left outer").sort_by("row")
    cost = joined["cost"].combine_chunks()
    return Acquisitions(keys, channel, month, cost)


def no_channel(options: MetricOptions, source: str) -> DataError:
    """The error for orders without a channel column and no acquisition_channel_source."""
    return DataError(
        "acquisition_cost needs each customer's channel: give the orders a"
        f" '{options.channel_column or 'channel'}' column or set the option"
        " acquisition_channel_source",
        source=source,
    )


def spend_columns(options: MetricOptions) -> dict[str, str]:
    """The spend table's columns the options name: date, channel, amount."""
    return {
        "date": options.spend_date_column,
        "channel": options.spend_channel_column,
        "amount": options.spend_amount_column,
    }


def _spend_by_month(spend: pa.Table, orders: Orders, options: MetricOptions) -> pa.Table:
    """Spend in minor units per (channel, month), rows at or before as_of."""
    spend = as_table(spend)
    names = spend_columns(options)
    require_columns(spend.schema, names.values(), source=SPEND)
    at = instants_us(
        spend[names["date"]].combine_chunks(), orders.as_of.timezone, source=SPEND,
        column=names["date"],
    )
    seen = at <= orders.as_of.cutoff_us
    units = to_minor_units(
        spend[names["amount"]].combine_chunks().filter(pa.array(seen)), orders.scale,
        column=names["amount"], source=SPEND,
    )
    table = pa.table({
        "channel": spend[names["channel"]].combine_chunks().filter(pa.array(seen)).cast(
            pa.string()
        ),
        "month": _months(at[seen], orders.as_of.timezone),
        "units": units,
    })
    return table.group_by(["channel", "month"], use_threads=False).aggregate(
        [("units", "sum")]
    )


def _profile_channels(
    keys: pa.Array, channels: pa.Table, options: MetricOptions, key: str, *, fallback: pa.Array
) -> pa.Array:
    """Channels from a customer table, falling back to the first order's channel."""
    column = options.acquisition_channel_column
    require_columns(channels.schema, (key, column), source=options.acquisition_channel_source)
    where = pc.index_in(keys, channels[key])
    picked = channels[column].combine_chunks().cast(pa.string()).take(where)
    return pc.coalesce(picked, fallback)


def _months(at_us: np.ndarray, timezone: str) -> np.ndarray:
    """Months since 1970-01 of instants, in `timezone`."""
    day = local_days(at_us, timezone).astype("datetime64[D]")
    return day.astype("datetime64[M]").astype(np.int64)
