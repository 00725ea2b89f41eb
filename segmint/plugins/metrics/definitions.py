"""The `Metric` values segmint registers: purchase measures, RFM, predictive CLV, acquisition.

Each ``compute`` reads ``ctx.events["orders"]`` (and ``"spend"``) as of ``ctx.as_of`` with
`MetricOptions.from_mapping(ctx.options)`, and returns the key column plus only the columns
in ``ctx.columns`` (all of the metric's columns when that is empty), one row per customer,
sorted by key. When the run's as_of was a date (``ctx.as_of_date``), or with option
``as_of_granularity = "day"``, the whole day is observed (see `asof`).

CLV columns are named after their horizon (``clv_12mo``, ``expected_orders_90d``): the
declared ones cover the usual horizons, and ``compute`` accepts any duration literal. The CLV
table carries the fit's diagnostics as JSON in its schema metadata under ``segmint.clv_fit``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError, SegmintError
from segmint.plugin.api import SQL, Metric, MetricColumn, MetricContext, SqlTable

from segmint.plugins.metrics.acquisition import SPEND, acquisitions
from segmint.plugins.metrics.asof import AsOf
from segmint.plugins.metrics.clv import ClvFit, fit_summary, summarize_orders
from segmint.plugin.api import parse_duration
from segmint.plugins.metrics.options import DEFAULT_HORIZONS, MetricOptions
from segmint.plugins.metrics.orders import SOURCE, OrderColumns, Orders, as_table, read_orders
from segmint.plugins.metrics.purchase import (
    PURCHASE_COLUMNS, CustomerTotals, customer_totals, historical_margin,
)
from segmint.plugins.metrics.shared import shared
from segmint.plugins.metrics.rfm import RFM_COLUMNS, rfm_scores
from segmint.plugins.metrics.summary import PurchaseSummary

FIT_METADATA = b"segmint.clv_fit"
_HORIZON_COLUMN = re.compile(r"(expected_orders|clv)_(\d+(?:h|d|w|mo|y))")


@attrs.frozen
class Request:
    """One compute call: the context, its options and as-of point, the columns asked for."""

    ctx: MetricContext
    options: MetricOptions
    as_of: AsOf

    @classmethod
    def of(cls, ctx: MetricContext) -> Request:
        options = MetricOptions.from_mapping(ctx.options)
        value = ctx.as_of if ctx.as_of_date is None else ctx.as_of_date
        return cls(ctx, options, AsOf.of(value, ctx.timezone, options.as_of_granularity))

    def wanted(self, declared: Iterable[MetricColumn]) -> list[str]:
        """Requested columns among `declared`, in declared order (all when none asked)."""
        names = [c.name for c in declared]
        return [n for n in names if not self.ctx.columns or n in self.ctx.columns]

    def events(self, role: str) -> pa.Table:
        if role not in self.ctx.events:
            raise DataError(
                f"metrics need an event source '{role}'; have:"
                f" {', '.join(sorted(self.ctx.events)) or 'none'}",
                source=role,
            )
        return as_table(self.ctx.events[role])

    def sql_table(self, role: str) -> SqlTable:
        """An event source as a SQL builder receives it (the clear error when it is missing)."""
        table = self.ctx.events.get(role)
        if not isinstance(table, SqlTable):
            self.events(role)  # the clear error naming the missing source
            raise TypeError(f"a SQL builder needs the {role} as a SqlTable, got {type(table)}")
        return table

    def orders(self, *, margin: bool = False, channel: bool = False) -> Orders:
        """The orders prepared for aggregation; metrics computed over the same orders table
        in one run (purchase, rfm, clv...) share them, so the keys are grouped once."""
        table = self.events(SOURCE)
        return shared(table, ("orders", self._setting(), margin, channel), lambda: read_orders(
            table, self.as_of, self.options, self.ctx.key, margin=margin, channel=channel))

    def totals(self, *, margin: bool = False) -> CustomerTotals:
        """`customer_totals` of the orders: one pass over them for all the metrics of a run."""
        table = self.events(SOURCE)
        return shared(table, ("totals", self._setting(), margin),
                      lambda: customer_totals(self.orders(margin=margin)))

    def _setting(self) -> str:
        return repr((self.options, self.as_of, self.ctx.key))

    def table(self, keys: pa.Array, columns: dict[str, pa.Array]) -> pa.Table:
        return pa.table({self.ctx.key: keys, **columns})


def compute_purchase(ctx: MetricContext) -> pa.Table:
    request = Request.of(ctx)
    wanted = [c for c in PURCHASE_COLUMNS if c.name in request.wanted(PURCHASE_COLUMNS)]
    totals = request.totals(margin=any(c.needs_margin for c in wanted))
    return request.table(totals.keys, {c.name: c.compute(totals, request.options) for c in wanted})


def compute_rfm(ctx: MetricContext) -> pa.Table:
    request = Request.of(ctx)
    totals = request.totals()
    scores = rfm_scores(totals, request.options)
    return request.table(totals.keys, {n: scores[n] for n in request.wanted(RFM_COLUMNS)})


def sql_builder(declared: tuple, *, purchase: bool):
    """The SQL builder of the purchase or RFM columns: a sqlglot query, one row per customer
    with the key and the columns asked for (see `purchase_sql`; needs sqlglot)."""
    def build(ctx: MetricContext) -> object:
        from segmint.plugins.metrics.purchase_sql import metric_query

        request = Request.of(ctx)
        orders = request.sql_table(SOURCE)
        names = request.wanted(declared)
        return metric_query(orders, key=ctx.key, as_of=request.as_of, options=request.options,
                            **{"purchase" if purchase else "rfm": names})

    return build


def sql_refusals(*, purchase: bool):
    """The rows of the orders the purchase or RFM columns refuse, for an engine running
    their SQL builder (see `purchase_sql.refusals`)."""
    def refused(ctx: MetricContext) -> object:
        from segmint.plugins.metrics.purchase_sql import refusals

        request = Request.of(ctx)
        margin = purchase and "clv_historical" in request.wanted(PURCHASE_COLUMNS)
        return refusals(request.sql_table(SOURCE), key=ctx.key, as_of=request.as_of,
                        options=request.options, source=SOURCE, margin=margin)

    return refused


def clv_columns(horizons: Iterable[str]) -> tuple[MetricColumn, ...]:
    """The declared CLV columns for `horizons` (duration literals)."""
    columns = [MetricColumn("p_alive", pa.float64(), "BG/NBD probability of being alive.")]
    for h in horizons:
        columns.append(MetricColumn(
            f"expected_orders_{h}", pa.float64(), f"BG/NBD expected purchase days in {h}."
        ))
        columns.append(MetricColumn(
            f"clv_{h}", pa.float64(),
            f"Discounted expected gross margin in {h} (BG/NBD × Gamma-Gamma × margin).",
        ))
    return tuple(columns)


CLV_COLUMNS = clv_columns(DEFAULT_HORIZONS)


@attrs.frozen
class ClvResult:
    """Fitted models and the summary of the customers they predict for."""

    fit: ClvFit
    summary: PurchaseSummary
    margin_rate: float


def fit_for(request: Request) -> ClvResult:
    orders = request.orders()
    summary = summarize_orders(orders, request.options)
    fit = fit_summary(summary, request.options, request.as_of.date)
    return ClvResult(fit, summary, _margin_rate(request))


def clv_values(result: ClvResult, name: str, options: MetricOptions) -> np.ndarray:
    """One CLV column's values, by its name."""
    if name == "p_alive":
        return result.fit.p_alive(result.summary)
    match = _HORIZON_COLUMN.fullmatch(name)
    if match is None:
        raise DataError(f"metric 'clv' has no column '{name}'")
    horizon = parse_duration(match[2])
    if match[1] == "expected_orders":
        return result.fit.expected_orders(result.summary, horizon)
    return result.fit.clv(
        result.summary, horizon,
        discount_rate=options.discount_rate, margin_rate=result.margin_rate,
    )


def compute_clv(ctx: MetricContext) -> pa.Table:
    request = Request.of(ctx)
    if ctx.columns:
        names = sorted(ctx.columns, key=_clv_order)
    else:
        names = [c.name for c in clv_columns(request.options.horizons)]
    result = fit_for(request)
    table = request.table(result.summary.keys, {
        name: pa.array(clv_values(result, name, request.options), pa.float64()) for name in names
    })
    fit = json.dumps(result.fit.to_dict(), sort_keys=True).encode()
    return table.replace_schema_metadata({FIT_METADATA: fit})


def _clv_order(name: str) -> tuple[int, str]:
    declared = [c.name for c in CLV_COLUMNS]
    return (declared.index(name), name) if name in declared else (len(declared), name)


def _margin_rate(request: Request) -> float:
    """Margin share for predictive CLV: the option, else the data's margin/revenue, else 1."""
    if request.options.margin_rate is not None:
        return request.options.margin_rate
    totals = request.totals(margin=True)
    revenue = int(totals.units.sum())
    if totals.margin is None or revenue <= 0:
        return 1.0
    return int(totals.margin.sum()) / revenue


ACQUISITION_COLUMNS = (
    MetricColumn(
        "acquisition_cost", pa.float64(),
        "Channel spend in the acquisition month / customers the channel acquired that month.",
    ),
    MetricColumn(
        "clv_to_cac", pa.float64(),
        "A CLV column (option clv_to_cac_from, default clv_12mo) / acquisition_cost.",
    ),
)


def compute_acquisition(ctx: MetricContext) -> pa.Table:
    request = Request.of(ctx)
    options = request.options
    channels = None
    if options.acquisition_channel_source is not None:
        channels = request.events(options.acquisition_channel_source)
    acquired = acquisitions(
        request.orders(channel=True), request.events(SPEND), options, channels, ctx.key
    )
    columns = {"acquisition_cost": acquired.cost}
    if "clv_to_cac" in request.wanted(ACQUISITION_COLUMNS):
        keys, value = _value_for_cac(request)
        aligned = pa.array(value, pa.float64()).take(pc.index_in(acquired.keys, keys))
        ratio = pc.divide(aligned, acquired.cost)
        finite = pc.and_(pc.is_finite(ratio), pc.not_equal(acquired.cost, 0.0))
        columns["clv_to_cac"] = pc.if_else(finite, ratio, pa.scalar(None, pa.float64()))
    wanted = request.wanted(ACQUISITION_COLUMNS)
    return request.table(acquired.keys, {n: columns[n] for n in wanted})


def acquisition_sql(ctx: MetricContext) -> object:
    """The SQL builder of the acquisition columns (see `acquisition_sql`; needs sqlglot).
    clv_to_cac has SQL only of historical margin: predictive CLV needs a model fit."""
    from segmint.plugins.metrics.acquisition_sql import acquisition_query

    request = Request.of(ctx)
    options = request.options
    channels = None
    if options.acquisition_channel_source is not None:
        channels = request.sql_table(options.acquisition_channel_source)
    names = request.wanted(ACQUISITION_COLUMNS)
    if "clv_to_cac" in names and options.clv_to_cac_from != "clv_historical":
        raise SegmintError(
            f"the rules use column 'clv_to_cac' of metric 'acquisition', which divides the "
            f"predictive CLV column '{options.clv_to_cac_from}' (option clv_to_cac_from of "
            f"[metrics]), and predictive CLV has no SQL builder (Metric.builders[segmint.SQL]), "
            f"so segmint sql cannot compute it; set clv_to_cac_from = \"clv_historical\" or "
            f"run these rules with segmint run")
    return acquisition_query(request.sql_table(SOURCE), request.sql_table(SPEND), key=ctx.key,
                             as_of=request.as_of, options=options, names=names,
                             channels=channels)


def _value_for_cac(request: Request) -> tuple[pa.Array, np.ndarray]:
    name = request.options.clv_to_cac_from
    if name == "clv_historical":
        totals = request.totals(margin=True)
        return totals.keys, historical_margin(totals, request.options)
    result = fit_for(request)
    return result.summary.keys, clv_values(result, name, request.options)


def order_columns(options: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The orders columns the ``[metrics]`` options name (the optional ones when set; the
    customer column is the source's key, which its own ``key`` option names)."""
    o = MetricOptions.from_mapping(options)
    named = {"timestamp_column": o.timestamp_column,
             "amount_column": o.amount_column, "order_id_column": o.order_id_column,
             "margin_column": o.margin_column, "cost_column": o.cost_column}
    return {SOURCE: {option: column for option, column in named.items() if column is not None}}


def order_reads(options: Mapping[str, Any], schemas: Mapping[str, pa.Schema],
                key: str) -> dict[str, list[str]]:
    """The orders columns the metrics read (`OrderColumns`: the customer, timestamp and
    amount, and the optional ones the options name or the schema has by convention)."""
    if SOURCE not in schemas:
        return {}
    found = OrderColumns.resolve(schemas[SOURCE], MetricOptions.from_mapping(options), key)
    return {SOURCE: [name for name in attrs.astuple(found) if name is not None]}


def acquisition_columns(options: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The orders columns and the spend source's columns the options name, and the
    channel column of the acquisition channel source when one is named."""
    o = MetricOptions.from_mapping(options)
    found = {**order_columns(options), SPEND: {
        "spend_date_column": o.spend_date_column, "spend_channel_column": o.spend_channel_column,
        "spend_amount_column": o.spend_amount_column}}
    if o.acquisition_channel_source is not None:
        found.setdefault(o.acquisition_channel_source, {})["acquisition_channel_column"] = \
            o.acquisition_channel_column
    return found


def acquisition_sources(options: Mapping[str, Any]) -> dict[str, str]:
    """The source giving each customer's acquisition channel, when the options name one."""
    source = MetricOptions.from_mapping(options).acquisition_channel_source
    return {} if source is None else {"acquisition_channel_source": source}


METRICS = (
    Metric(
        name="purchase",
        columns=tuple(c.declaration for c in PURCHASE_COLUMNS),
        compute=compute_purchase,
        requires=(SOURCE,),
        reads_for=order_columns,
        reads_columns=order_reads,
        builders={SQL: sql_builder(PURCHASE_COLUMNS, purchase=True)},
        sql_refusals=sql_refusals(purchase=True),
        description="Recency, frequency, monetary value, AOV, tenure and churn from orders.",
    ),
    Metric(
        name="rfm",
        columns=RFM_COLUMNS,
        compute=compute_rfm,
        requires=(SOURCE,),
        reads_for=order_columns,
        reads_columns=order_reads,
        builders={SQL: sql_builder(RFM_COLUMNS, purchase=False)},
        sql_refusals=sql_refusals(purchase=False),
        description="RFM quintile scores and the 11 named RFM segments.",
    ),
    Metric(
        name="clv",
        columns=CLV_COLUMNS,
        compute=compute_clv,
        requires=(SOURCE,),
        reads_for=order_columns,
        reads_columns=order_reads,
        columns_for=lambda options: clv_columns(MetricOptions.from_mapping(options).horizons),
        description="Predictive CLV: BG/NBD purchases × Gamma-Gamma spend (segmint[clv]).",
    ),
    Metric(
        name="acquisition",
        columns=ACQUISITION_COLUMNS,
        compute=compute_acquisition,
        requires=(SOURCE, SPEND),
        requires_for=acquisition_sources,
        reads_for=acquisition_columns,
        reads_columns=order_reads,
        builders={SQL: acquisition_sql},
        description="Customer acquisition cost per channel and month, and CLV-to-CAC.",
    ),
)
