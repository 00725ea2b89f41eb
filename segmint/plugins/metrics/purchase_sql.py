"""The purchase and RFM columns as SQL (sqlglot expressions), for the SQL engines.

The same numbers as `purchase` and `rfm`, stated for an engine that holds the orders as a
table: one query, one row per customer, built with `sqlglot.exp` so every dialect
generates its own text. Exactness follows the Arrow code step by step:

- amounts become integer minor units, rounded half to even (`minor_units`), and are summed
  as integers; money is divided by 10**scale only at the end, in the same IEEE operations;
- instants are microseconds since the epoch and calendar days are counted in the run's
  time zone, which the engine sets as its session time zone (dates and naive timestamps
  are read in it, as the Arrow code does);
- only rows at or before the as-of cutoff with a key are seen; lines sharing an order id
  are one order at its earliest line; refunds lower spend but are never orders.

Durations come out as int64 microseconds and timestamps as the dialect's zoned timestamp:
a SQL engine's representation of the language's duration and timestamp types.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from sqlglot import exp

from segmint.plugin.api import SqlRefusal, SqlTable

from segmint.plugins.metrics.asof import US_PER_DAY, AsOf
from segmint.plugins.metrics.options import MetricOptions
from segmint.plugins.metrics.orders import OrderColumns
from segmint.plugins.metrics.purchase import MONTH_DAYS
from segmint.plugins.metrics.rfm import GRID

KEY = "k"


def lit(value: int | float | str) -> exp.Expression:
    """A literal; floats keep their repr so the generated text round-trips exactly."""
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    return exp.Literal.number(repr(value) if isinstance(value, float) else str(value))


def double(value: exp.Expression) -> exp.Expression:
    return exp.cast(value, exp.DataType.Type.DOUBLE)


def grouped(value: exp.Expression) -> exp.Expression:
    """An operand in parentheses when it is itself an operation (builders add none)."""
    return exp.Paren(this=value) if isinstance(value, exp.Binary) else value


def add(left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return exp.Add(this=grouped(left), expression=grouped(right))


def sub(left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return exp.Sub(this=grouped(left), expression=grouped(right))


def mul(left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return exp.Mul(this=grouped(left), expression=grouped(right))


def div(left: exp.Expression, right: exp.Expression) -> exp.Expression:
    """Float division (the dividend made double first, as numpy's true division)."""
    return exp.Div(this=double(left), expression=grouped(right))


def int_div(left: exp.Expression, right: exp.Expression) -> exp.Expression:
    return exp.IntDiv(this=grouped(left), expression=grouped(right))


def case(when: exp.Expression, then: exp.Expression) -> exp.Expression:
    """``CASE WHEN when THEN then END`` (null otherwise)."""
    return exp.Case().when(when, then)


def minor_units(value: exp.Expression, arrow_type: pa.DataType, scale: int) -> exp.Expression:
    """An amount in integer minor units: integers times 10**scale, other numbers scaled
    and rounded half to even (exactly: the fraction of a double is exact)."""
    factor = 10**scale
    if pa.types.is_integer(arrow_type):
        return mul(exp.cast(value, exp.DataType.Type.BIGINT), lit(factor))
    scaled = exp.Mul(
        this=double(value) if pa.types.is_floating(arrow_type) else value,
        expression=lit(factor),
    )
    low = exp.Floor(this=scaled)
    fraction = sub(scaled, low.copy())
    up = add(low.copy(), lit(1))
    # the parity of the whole part as an integer: PostgreSQL has no % of a double
    whole = exp.cast(low.copy(), exp.DataType.Type.BIGINT)
    even = exp.EQ(this=exp.Mod(this=whole, expression=lit(2)), expression=lit(0))
    rounded = (
        exp.Case()
        .when(exp.LT(this=fraction, expression=lit(0.5)), low.copy())
        .when(exp.GT(this=fraction.copy(), expression=lit(0.5)), up)
        .when(even, low.copy())
        .else_(up.copy())
    )
    return exp.cast(rounded, exp.DataType.Type.BIGINT)


def lines_query(
    orders: SqlTable, columns: OrderColumns, as_of: AsOf, options: MetricOptions, *,
    margin: bool, channel: bool = False,
) -> exp.Select:
    """The seen rows: key, order id, instant (µs and the engine's value), minor units,
    margin units; with `channel`, the channel as text ordered by bytes (null without one)."""
    schema = orders.schema
    ts = orders.instant(columns.timestamp)
    at = orders.micros(ts.copy())
    units = minor_units(exp.column(columns.amount), schema.field(columns.amount).type,
                        options.amount_scale)
    order_id = (exp.cast(exp.column(columns.order_id), exp.DataType.Type.TEXT)
                if columns.order_id else exp.cast(exp.null(), exp.DataType.Type.TEXT))
    selected = [
        exp.alias_(exp.column(columns.customer), KEY),
        exp.alias_(order_id, "order_id"),
        exp.alias_(at, "at"),
        exp.alias_(ts, "ts"),
        exp.alias_(units, "units"),
    ]
    if margin:
        selected.append(exp.alias_(margin_units(schema, columns, options, units), "margin"))
    if channel:
        value = exp.column(columns.channel) if columns.channel else exp.null()
        selected.append(exp.alias_(text(orders, value), "channel"))
    seen = exp.and_(
        exp.column(columns.customer).is_(exp.null()).not_(),
        exp.LTE(this=at.copy(), expression=lit(as_of.cutoff_us)),
    )
    return exp.select(*selected).from_(orders.relation).where(seen)


def reads_margin(columns: OrderColumns, options: MetricOptions) -> bool:
    """Whether historical margin comes from the margin or cost column (no margin_rate)."""
    return options.margin_rate is None and bool(columns.margin or columns.cost)


def margin_units(
    schema: pa.Schema, columns: OrderColumns, options: MetricOptions, units: exp.Expression
) -> exp.Expression:
    """Per row: the margin column, else amount minus cost, in minor units (0 without)."""
    scale = options.amount_scale
    if options.margin_rate is None and columns.margin:
        return minor_units(exp.column(columns.margin), schema.field(columns.margin).type, scale)
    if options.margin_rate is None and columns.cost:
        cost = minor_units(exp.column(columns.cost), schema.field(columns.cost).type, scale)
        return sub(units.copy(), cost)
    return lit(0)


def text(table: SqlTable, value: exp.Expression) -> exp.Expression:
    """A value as text that compares (MIN, GROUP BY, joins) by its UTF-8 bytes, as Arrow's."""
    return table.byte_order(exp.cast(value, exp.DataType.Type.TEXT))


def placed_query(*carried: str) -> exp.Union:
    """The orders placed (refunds are none): key, instant (µs and zoned) and the `carried`
    columns of `lines`; lines sharing an order id are one order at its earliest line, each
    carried column the least of its lines'."""
    is_order = exp.GTE(this=exp.column("units"), expression=lit(0))
    merged = (
        exp.select(KEY, *[exp.alias_(exp.Min(this=exp.column(c)), c) for c in ("at", "ts", *carried)])
        .from_("lines")
        .where(exp.and_(is_order.copy(), exp.column("order_id").is_(exp.null()).not_()))
        .group_by(KEY, "order_id")
    )
    single = (
        exp.select(KEY, "at", "ts", *carried).from_("lines")
        .where(exp.and_(is_order.copy(), exp.column("order_id").is_(exp.null())))
    )
    return exp.union(merged, single, distinct=False)


def totals_query(margin: bool) -> exp.Select:
    """Per customer: order count, first/last order (µs and zoned), net units, margin."""
    per = (
        exp.select(
            KEY, exp.alias_(exp.Count(this=exp.Star()), "n"),
            exp.alias_(exp.Min(this=exp.column("at")), "first_at"),
            exp.alias_(exp.Max(this=exp.column("at")), "last_at"),
            exp.alias_(exp.Min(this=exp.column("ts")), "first_ts"),
            exp.alias_(exp.Max(this=exp.column("ts")), "last_ts"),
        )
        .from_(placed_query().subquery("placed"))
        .group_by(KEY)
    )
    sums = [exp.alias_(exp.Sum(this=exp.column("units")), "units")]
    if margin:
        sums.append(exp.alias_(exp.Sum(this=exp.column("margin")), "margin"))
    net = exp.select(KEY, *sums).from_("lines").group_by(KEY)
    n = exp.Coalesce(this=exp.column("n", "per"), expressions=[lit(0)])
    carried = [exp.column(c, "per") for c in ("first_at", "last_at", "first_ts", "last_ts")]
    return (
        exp.select(exp.column(KEY, "net"), exp.alias_(n, "n"), "units",
                   *(["margin"] if margin else []), *carried)
        .from_(net.subquery("net"))
        .join(per.subquery("per"), on=exp.EQ(this=exp.column(KEY, "net"),
                                             expression=exp.column(KEY, "per")), join_type="left")
    )


def elapsed_us(orders: SqlTable, at: str, ts: str, as_of: AsOf) -> exp.Expression:
    """Time from an instant to as_of in µs (whole days between dates by day)."""
    if as_of.by_day:
        days = sub(lit(as_of.day), orders.local_day(exp.column(ts)))
        return mul(days, lit(US_PER_DAY))
    return sub(lit(as_of.cutoff_us), exp.column(at))


def span_us(orders: SqlTable, as_of: AsOf) -> exp.Expression:
    """Time from the first to the last order in µs (whole days by day)."""
    if as_of.by_day:
        days = sub(orders.local_day(exp.column("last_ts")),
                   orders.local_day(exp.column("first_ts")))
        return mul(days, lit(US_PER_DAY))
    return sub(exp.column("last_at"), exp.column("first_at"))


def purchase_expressions(orders: SqlTable, as_of: AsOf, options: MetricOptions, scale: int,
                         has_margin: bool) -> dict[str, exp.Expression]:
    """Each purchase column over the totals (n, units, margin, first/last)."""
    n = exp.column("n")
    has = exp.GT(this=n.copy(), expression=lit(0))
    money = 10**scale
    recency = elapsed_us(orders, "last_at", "last_ts", as_of)
    tenure = elapsed_us(orders, "first_at", "first_ts", as_of)
    average = div(div(exp.column("units"), n.copy()), lit(money))
    total = div(exp.column("units"), lit(money))
    tenure_days = div(tenure.copy(), lit(US_PER_DAY))
    per_month = div(mul(n.copy(), lit(MONTH_DAYS)),
                    exp.Greatest(this=tenure_days, expressions=[lit(float(MONTH_DAYS))]))
    gap = div(div(span_us(orders, as_of), lit(US_PER_DAY)), sub(n.copy(), lit(1)))
    window = options.churn_window.days * US_PER_DAY + options.churn_window.seconds * 10**6 \
        + options.churn_window.microseconds
    if options.margin_rate is None and has_margin:
        clv = div(exp.column("margin"), lit(money))
    else:
        rate = 1.0 if options.margin_rate is None else float(options.margin_rate)
        clv = mul(total.copy(), lit(rate))
    return {
        "recency": case(has, recency),
        "frequency": n.copy(),
        "monetary": case(has.copy(), average.copy()) if options.monetary == "average"
        else total,
        "aov": case(has.copy(), average),
        "first_order_at": exp.column("first_ts"),
        "last_order_at": exp.column("last_ts"),
        "tenure": case(has.copy(), tenure),
        "orders_per_month": case(has.copy(), per_month),
        "days_between_orders": case(exp.GT(this=n.copy(), expression=lit(1)), gap),
        "churned": case(has.copy(), exp.GT(this=recency.copy(), expression=lit(window))),
        "clv_historical": clv,
    }


def rfm_expressions(orders: SqlTable, as_of: AsOf, options: MetricOptions, scale: int) -> dict[str, exp.Expression]:
    """The RFM columns over the totals: SQL rank() quintiles among customers with orders."""
    n = exp.column("n")
    has = exp.GT(this=n.copy(), expression=lit(0))
    scored = exp.Count(this=case(has.copy(), lit(1)))
    monetary = (exp.column("units") if options.monetary == "total"
                else div(div(exp.column("units"), n.copy()), lit(10**scale)))

    def score(value: exp.Expression, descending: bool) -> exp.Expression:
        # Customers without an order rank after every scored one (and get null).
        order = exp.Ordered(this=value, desc=descending, nulls_first=False)
        ranked = exp.Window(this=exp.Rank(), partition_by=[case(has.copy(), lit(1))],
                            order=exp.Order(expressions=[order]))
        cut = int_div(mul(lit(5), sub(ranked, lit(1))), exp.Window(this=scored.copy()))
        return case(has.copy(), add(lit(1), cut))

    recency = case(has.copy(), elapsed_us(orders, "last_at", "last_ts", as_of))
    return {
        "rfm_r": score(recency, descending=True),
        "rfm_f": score(n.copy(), descending=False),
        "rfm_m": score(case(has.copy(), monetary), descending=False),
    }


def segment_expression() -> exp.Expression:
    """`rfm_segment` from rfm_r and floor((rfm_f + rfm_m) / 2), read off the grid."""
    fm = int_div(add(exp.column("rfm_f"), exp.column("rfm_m")), lit(2))
    grid = exp.Case()
    for r, row in enumerate(GRID, start=1):
        for cell, name in enumerate(row, start=1):
            grid = grid.when(exp.and_(exp.EQ(this=exp.column("rfm_r"), expression=lit(r)),
                                      exp.EQ(this=fm.copy(), expression=lit(cell))), lit(name))
    return grid


def score_text() -> exp.Expression:
    """`rfm_score`: the three scores as text ("545")."""
    number = add(add(mul(exp.column("rfm_r"), lit(100)), mul(exp.column("rfm_f"), lit(10))),
                 exp.column("rfm_m"))
    return exp.cast(number, exp.DataType.Type.TEXT)


def metric_query(
    orders: SqlTable, *, key: str, as_of: AsOf, options: MetricOptions,
    purchase: Sequence[str] = (), rfm: Sequence[str] = (),
) -> exp.Select:
    """One row per customer with the asked purchase and RFM columns, the key as `key`."""
    columns = OrderColumns.resolve(orders.schema, options, key)
    has_margin = "clv_historical" in purchase and reads_margin(columns, options)
    lines = lines_query(orders, columns, as_of, options, margin=has_margin)
    totals = totals_query(has_margin)
    values = purchase_expressions(orders, as_of, options, options.amount_scale, has_margin)
    selected = [exp.alias_(exp.column(KEY), key)]
    selected += [exp.alias_(values[name], name) for name in purchase]
    query = exp.select(*selected).with_("lines", lines).with_("totals", totals)
    if not rfm:
        return query.from_("totals")
    scores = rfm_expressions(orders, as_of, options, options.amount_scale)
    scored = exp.select("*", *[exp.alias_(v, n) for n, v in scores.items()]).from_("totals")
    extra = {"rfm_r": exp.column("rfm_r"), "rfm_f": exp.column("rfm_f"),
             "rfm_m": exp.column("rfm_m"), "rfm_score": score_text(),
             "rfm_segment": segment_expression()}
    query = query.select(*[exp.alias_(extra[name], name) for name in rfm])
    return query.with_("scored", scored).from_("scored")


def refusals(
    orders: SqlTable, *, key: str, as_of: AsOf, options: MetricOptions, source: str,
    margin: bool,
) -> tuple[SqlRefusal, ...]:
    """The rows `read_orders` refuses that `lines_query` would leave out, as `orders.py`
    refuses them: a null timestamp in any row (`instants_us`), then, among the rows seen
    (a key, at or before the cutoff), a null or non-finite (NaN, ±inf) float amount and,
    with `margin`, the same of the margin or cost (`to_minor_units`)."""
    columns = OrderColumns.resolve(orders.schema, options, key)

    def refusal(condition: exp.Expression, message: str, column: str) -> SqlRefusal:
        return SqlRefusal(orders.relation, condition, message, source, column)

    ts = exp.column(columns.timestamp)
    seen = exp.and_(
        exp.column(columns.customer).is_(exp.null()).not_(),
        exp.LTE(this=orders.micros(orders.instant(columns.timestamp)), expression=lit(as_of.cutoff_us)),
    )
    found = [refusal(ts.is_(exp.null()), "{count} row(s) without a timestamp", columns.timestamp)]
    money = [columns.amount]
    if margin and reads_margin(columns, options):
        money.append(columns.margin or columns.cost)
    for name in money:
        found.append(refusal(exp.and_(seen.copy(), exp.column(name).is_(exp.null())),
                             "{count} row(s) without an amount", name))
        if pa.types.is_floating(orders.schema.field(name).type):
            found.append(refusal(exp.and_(seen.copy(), not_finite(exp.column(name), options)),
                                 "amounts must be finite numbers", name))
    return tuple(found)


def not_finite(amount: exp.Expression, options: MetricOptions) -> exp.Expression:
    """True where a float amount in minor units is NaN or ±inf, as `to_minor_units` finds
    it: the scaled amount times zero is NaN then (NaN compares unequal to 0 on every
    dialect, even where NaN = NaN), and 0 otherwise; a finite amount whose scaling
    overflows counts as infinite, as in Python."""
    scaled = mul(exp.cast(amount, exp.DataType.Type.DOUBLE), lit(10**options.amount_scale))
    return exp.NEQ(this=mul(exp.paren(scaled), lit(0)), expression=lit(0))
