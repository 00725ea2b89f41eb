"""acquisition_cost and clv_to_cac as SQL (sqlglot expressions), for the SQL engines.

The numbers of `acquisition`, step by step over the seen order rows of `purchase_sql`
(key not null, at or before as_of): the orders placed (refunds are none; lines sharing an
order id one order at its earliest line, its channel the least of its lines'), each
customer's first order instant and the least channel of the orders placed then (or the
channel table's, not null there, when option ``acquisition_channel_source`` names one),
the calendar month of that instant in the run's time zone; the spend rows at or before
as_of summed in minor units per channel and month. A customer's cost is the spend of their
channel-month over (customers acquired then × 10**scale), 0 without spend rows; a null
channel joins nothing, so its cost is null. Text compares by its UTF-8 bytes
(`SqlTable.byte_order`), as Arrow's does.

Where the Arrow code raises for bad rows (a spend row without a date or an amount) the
query cannot: it leaves such a row out, as `purchase_sql` does for the orders. The
channel table is one row per customer; were a key there twice, the query takes the least
of its channels (Arrow: its first row's).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
from sqlglot import exp

from segmint.errors import DataError
from segmint.plugin.api import SqlTable

from segmint.plugins.metrics.acquisition import SPEND, no_channel, spend_columns
from segmint.plugins.metrics.asof import AsOf
from segmint.plugins.metrics.options import MetricOptions
from segmint.plugins.metrics.orders import SOURCE, OrderColumns, require_columns
from segmint.plugins.metrics.purchase_sql import (
    KEY, div, lines_query, lit, minor_units, mul, placed_query, purchase_expressions,
    reads_margin, text, totals_query,
)


def acquisition_query(
    orders: SqlTable, spend: SqlTable, *, key: str, as_of: AsOf, options: MetricOptions,
    names: Sequence[str], channels: SqlTable | None = None,
) -> exp.Select:
    """One row per customer with an order: the key as `key` and the asked columns
    (`acquisition_cost`, and `clv_to_cac` of historical margin)."""
    columns = OrderColumns.resolve(orders.schema, options, key)
    if channels is None and columns.channel is None:
        raise no_channel(options, SOURCE)
    margin = "clv_to_cac" in names and reads_margin(columns, options)
    query = (
        exp.select(exp.alias_(exp.column(KEY, "customers"), key))
        .with_("lines", lines_query(orders, columns, as_of, options, margin=margin, channel=True))
        .with_("placed", placed_query("channel"))
        .with_("acquired", _acquired())
        .with_("customers", _customers(orders, channels, key, options))
        .with_("spent", _spent(spend, as_of, options))
        .with_("costs", _costs(options.amount_scale))
        .from_(_cte("customers"))
        .join(_cte("costs"), on=_same("customers", "costs", "channel", "month"), join_type="left")
    )
    cost = exp.column("cost", "costs")
    if "acquisition_cost" in names:
        query = query.select(exp.alias_(cost, "acquisition_cost"))
    if "clv_to_cac" in names:
        value = purchase_expressions(orders, as_of, options, options.amount_scale, margin)
        valued = exp.select(KEY, exp.alias_(value["clv_historical"], "value")).from_("totals")
        # value and cost are int64 sums over powers of ten: the ratio is finite when cost != 0
        ratio = exp.Case().when(exp.NEQ(this=cost.copy(), expression=lit(0)),
                                div(exp.column("value", "valued"), cost.copy()))
        query = (query.with_("totals", totals_query(margin)).with_("valued", valued)
                 .join(_cte("valued"), on=_same("customers", "valued", KEY), join_type="left")
                 .select(exp.alias_(ratio, "clv_to_cac")))
    return query


def _acquired() -> exp.Select:
    """Per customer with an order: the least channel of the orders at the first instant."""
    firsts = exp.select(KEY, exp.alias_(exp.Min(this=exp.column("at")), "at")).from_("placed") \
        .group_by(KEY)
    return (
        exp.select(exp.column(KEY, "placed"),
                   exp.alias_(exp.Min(this=exp.column("channel", "placed")), "channel"),
                   exp.alias_(exp.Min(this=exp.column("ts", "placed")), "ts"))
        .from_(_cte("placed"))
        .join(firsts.subquery("firsts"), on=_same("placed", "firsts", KEY, "at"))
        .group_by(exp.column(KEY, "placed"))
    )


def _customers(orders: SqlTable, channels: SqlTable | None, key: str,
               options: MetricOptions) -> exp.Select:
    """Per customer with an order: the acquisition channel and month number."""
    month = month_number(orders.local_day(exp.column("ts", "acquired")))
    channel = exp.column("channel", "acquired")
    query = exp.select(exp.column(KEY, "acquired")).from_(_cte("acquired"))
    if channels is not None:
        name = options.acquisition_channel_column
        require_columns(channels.schema, (key, name), source=options.acquisition_channel_source)
        chosen = (
            exp.select(exp.alias_(exp.column(key), KEY),
                       exp.alias_(exp.Min(this=text(channels, exp.column(name))), "channel"))
            .from_(channels.relation).group_by(exp.column(key))
        )
        query = query.join(chosen.subquery("chosen"), on=_same("acquired", "chosen", KEY),
                           join_type="left")
        channel = exp.Coalesce(this=exp.column("channel", "chosen"), expressions=[channel])
    return query.select(exp.alias_(channel, "channel"), exp.alias_(month, "month"))


def _spent(spend: SqlTable, as_of: AsOf, options: MetricOptions) -> exp.Select:
    """Spend in minor units per channel and month number, rows at or before as_of."""
    names = spend_columns(options)
    require_columns(spend.schema, names.values(), source=SPEND)
    when, amount = (spend.schema.field(names[n]).type for n in ("date", "amount"))
    if not (pa.types.is_date(when) or pa.types.is_timestamp(when)):
        raise DataError(f"timestamps must be dates or timestamps, got {when}", source=SPEND,
                        column=names["date"])
    if not (pa.types.is_integer(amount) or pa.types.is_floating(amount)
            or pa.types.is_decimal(amount)):
        raise DataError(f"amounts must be numbers, got {amount}", source=SPEND,
                        column=names["amount"])
    ts = spend.instant(names["date"])
    rows = (
        exp.select(exp.alias_(text(spend, exp.column(names["channel"])), "channel"),
                   exp.alias_(month_number(spend.local_day(ts.copy())), "month"),
                   exp.alias_(minor_units(exp.column(names["amount"]), amount,
                                          options.amount_scale), "units"))
        .from_(spend.relation)
        .where(exp.LTE(this=spend.micros(ts), expression=lit(as_of.cutoff_us)))
    )
    return (exp.select("channel", "month", exp.alias_(exp.Sum(this=exp.column("units")), "units"))
            .from_(rows.subquery("seen")).group_by("channel", "month"))


def _costs(scale: int) -> exp.Select:
    """Per channel-month with customers: spend / (customers × 10**scale), 0 without spend."""
    news = exp.select("channel", "month", exp.alias_(exp.Count(this=exp.Star()), "n")) \
        .from_("customers").group_by("channel", "month")
    units = exp.Coalesce(this=exp.column("units", "spent"), expressions=[lit(0)])
    cost = div(units, mul(exp.column("n", "news"), lit(10**scale)))
    return (
        exp.select(exp.column("channel", "news"), exp.column("month", "news"),
                   exp.alias_(cost, "cost"))
        .from_(news.subquery("news"))
        .join(_cte("spent"), on=_same("news", "spent", "channel", "month"), join_type="left")
    )


def month_number(day: exp.Expression) -> exp.Expression:
    """The month of a day number (days since 1970-01-01) as year × 12 + month."""
    date = exp.DateFromUnixDate(this=exp.cast(day, exp.DataType.Type.INT))
    return exp.Add(this=mul(exp.Year(this=date), lit(12)), expression=exp.Month(this=date.copy()))


def _cte(name: str) -> exp.Table:
    """A CTE read under its own name as alias: `segmint sql` renames a metric's CTEs, and
    the columns qualified by the name still find them."""
    return exp.alias_(exp.to_table(name), name, table=True)


def _same(left: str, right: str, *names: str) -> exp.Expression:
    """``left.name = right.name`` for each of `names`, and-ed (null never matches)."""
    return exp.and_(*[exp.EQ(this=exp.column(n, left), expression=exp.column(n, right))
                      for n in names])
