"""Aggregates over events as SQL: per event source, one ``GROUP BY`` of the customer key.

The events are first put in canonical types and cut to what any aggregate can see (a key
and a timestamp, not after as_of, not before the earliest window); then each aggregate is
one aggregate call restricted to its window and its `where` (``FILTER (WHERE ...)`` or a
``CASE`` inside, per dialect). `first`/`last` take the value at the earliest (latest)
matching timestamp, the smallest (largest) value among events at that instant: the
minimum (maximum) of an (instant, value) struct where the dialect orders structs
(DuckDB), else a second ``GROUP BY`` finds that instant per customer. Customers without a
matching event get the language's empty values when the result is joined to the profiles
(count 0, exists false, the rest null).
"""

from __future__ import annotations

from typing import Any

import attrs
import pyarrow as pa
import sqlglot.expressions as exp

from segmint.engines.sql.columns import canonical, timestamp
from segmint.engines.sql.compiler import (
    SqlContext, and_, case, column, identifier, is_null, named, not_, wrap,
)
from segmint.language import ast
from segmint.language.catalog import EventSource
from segmint.language.types import Kind
from segmint.semantics.events import source_columns
from segmint.semantics.windows import window_bounds

Expr = exp.Expression

TS = "__timestamp"


def aggregate_name(index: int) -> str:
    return f"aggregate:{index}"


def event_column(name: str) -> str:
    """An event source's column in its events CTE."""
    return f"e:{name}"


@attrs.define
class SourceAggregates:
    """The CTEs computing one event source's aggregates, and each aggregate's value."""

    ctes: list[tuple[str, exp.Select]]
    table: str
    #: aggregate -> its value once the aggregates table is joined (empty values filled in)
    values: dict[Any, Expr]


def source_aggregates(ctx: SqlContext, spec: EventSource, aggregates: list[tuple[int, ast.Aggregate]],
                      relation: Expr, key: str) -> SourceAggregates:
    """The aggregates over one event source (its rows in `relation`, as the source has them),
    as CTEs named after it."""
    dialect, zone = ctx.dialect, ctx.zone
    read = source_columns(ctx.checked, spec, [a for _, a in aggregates])
    # the timestamp is __timestamp; a column of its own only when an aggregate reads it
    used = read if any(_names(a, spec.timestamp) for _, a in aggregates) else read[1:]
    names = {name: event_column(name) for name in used}

    def source_column(name: str) -> Expr:
        found = spec.find(name)
        assert found is not None  # the checker made sure
        return canonical(column(name), found.arrow_type, found.type, dialect, zone)

    stamp = timestamp(column(spec.timestamp), _arrow_type(spec, spec.timestamp), dialect, zone)
    bounds = [window_bounds(a.window, ctx.as_of) for _, a in aggregates]
    lows = [low for low, _ in bounds]
    earliest = None if any(low is None for low in lows) else min(lows)  # type: ignore[type-var]
    keep = [not_(is_null(column(key))), not_(is_null(stamp.copy())),
            exp.LTE(this=wrap(stamp.copy()), expression=ctx.timestamp(ctx.as_of.instant))]
    if earliest is not None:
        keep.append(exp.GTE(this=wrap(stamp.copy()), expression=ctx.timestamp(earliest)))
    selected = [column(key), named(stamp, TS)]
    selected += [named(source_column(name), names[name]) for name in used]
    base = f"events:{spec.name}"
    ctes: list[tuple[str, exp.Select]] = [
        (base, exp.select(*selected).from_(relation).where(and_(*keep)))]

    event_ctx = attrs.evolve(ctx, events={name: column(names[name]) for name in used})
    ts = column(TS)
    outputs: list[Expr] = []
    best: list[Expr] = []
    values: dict[Any, Expr] = {}
    table = f"aggregates:{spec.name}"
    for (index, aggregate), (low, high) in zip(aggregates, bounds, strict=True):
        mask: list[Expr] = []
        if low is not None and low != earliest:
            mask.append(exp.GTE(this=ts.copy(), expression=ctx.timestamp(low)))
        if high < ctx.as_of.instant:
            mask.append(exp.LTE(this=ts.copy(), expression=ctx.timestamp(high)))
        if aggregate.where is not None:
            mask.append(exp.Coalesce(this=event_ctx.compile(aggregate.where), expressions=[exp.false()]))
        value = column(names[aggregate.column]) if aggregate.column is not None else None
        function = aggregate.function
        if value is not None and function in ("count", "exists", "first", "last"):
            mask.append(not_(is_null(value.copy())))
        where = and_(*mask) if mask else None
        name = aggregate_name(index)
        result = column(name, table)
        outputs.extend(_aggregate(ctx, aggregate, value, where, name, best, spec))
        if function == "count":
            result = exp.Coalesce(this=result, expressions=[exp.Literal.number(0)])
        elif function == "exists":
            result = exp.Coalesce(this=exp.GT(this=result, expression=exp.Literal.number(0)),
                                  expressions=[exp.false()])
        values[aggregate] = result
    if best:
        best_table = f"best:{spec.name}"
        ctes.append((best_table, exp.select(column(key), *best).from_(identifier(base))
                     .group_by(column(key))))
        source = exp.select(column(key, base), *outputs).from_(identifier(base)).join(
            identifier(best_table), on=exp.EQ(this=column(key, base), expression=column(key, best_table)),
            join_type="left").group_by(column(key, base))
    else:
        source = exp.select(column(key), *outputs).from_(identifier(base)).group_by(column(key))
    ctes.append((table, source))
    return SourceAggregates(ctes, table, values)


def _aggregate(ctx: SqlContext, aggregate: ast.Aggregate, value: Expr | None, where: Expr | None,
               name: str, best: list[Expr], spec: EventSource) -> list[Expr]:
    """The select items of the aggregates table computing `aggregate` (and, for first/last,
    the best instant, appended to `best`)."""
    dialect = ctx.dialect
    function = aggregate.function
    kind = spec.find(aggregate.column).type.kind if aggregate.column else None  # type: ignore[union-attr]

    def agg(call: type[exp.Expression], argument: Expr | None, condition: Expr | None = where,
            **extra: Any) -> Expr:
        if argument is None:
            argument = exp.Star() if dialect.supports_filter or condition is None else exp.Literal.number(1)
        inner = call(this=dialect.filtered(argument, condition), **extra)
        return dialect.aggregate(inner, condition)

    if function in ("count", "exists"):
        return [exp.alias_(agg(exp.Count, None), identifier(name))]
    assert value is not None
    if function == "sum":
        total = agg(exp.Sum, value)
        total = total if ctx.is_float(aggregate) else dialect.to_bigint(total)
        return [exp.alias_(total, identifier(name))]
    if function == "avg":
        return [exp.alias_(agg(exp.Avg, dialect.to_double(value)), identifier(name))]
    if function in ("min", "max"):
        if kind is Kind.BOOL:
            found = dialect.aggregate(
                (dialect.bool_min if function == "min" else dialect.bool_max)(dialect.filtered(value, where)),
                where)
        else:
            found = agg(exp.Min if function == "min" else exp.Max, value)
        return [exp.alias_(found, identifier(name))]
    if function == "count_distinct":
        matched = agg(exp.Count, None)
        distinct = agg(exp.Count, exp.Distinct(expressions=[dialect.filtered(value, None)]))
        return [exp.alias_(case(exp.GT(this=matched, expression=exp.Literal.number(0)), distinct),
                           identifier(name))]
    earliest = function == "first"
    picked = dialect.value_at_extreme_time(earliest, column(TS), value, where)
    if picked is not None:
        return [exp.alias_(picked, identifier(name))]
    instant = f"best:{name}"
    best.append(exp.alias_(agg(exp.Min if earliest else exp.Max, column(TS)), identifier(instant)))
    at_best = and_(where, exp.EQ(this=column(TS), expression=column(instant))) if where is not None \
        else exp.EQ(this=column(TS), expression=column(instant))
    if kind is Kind.BOOL:
        pick = (dialect.bool_min if earliest else dialect.bool_max)(dialect.filtered(value, at_best))
        found = dialect.aggregate(pick, at_best)
    else:
        found = agg(exp.Min if earliest else exp.Max, value, at_best)
    return [exp.alias_(found, identifier(name))]


def _names(aggregate: ast.Aggregate, name: str) -> bool:
    """Whether an aggregate reads the column `name` itself (as its column or in its where)."""
    if aggregate.column == name:
        return True
    return aggregate.where is not None and any(
        isinstance(node, ast.Name) and node.name == name for node in ast.walk(aggregate.where))


def _arrow_type(spec: EventSource, name: str) -> pa.DataType | None:
    found = spec.find(name)
    return found.arrow_type if found is not None else None


def by_source(checked: Any) -> dict[str, list[tuple[int, ast.Aggregate]]]:
    """The checked rules' aggregates grouped by event source, with their overall index."""
    grouped: dict[str, list[tuple[int, ast.Aggregate]]] = {}
    for index, aggregate in enumerate(checked.aggregates):
        grouped.setdefault(aggregate.source, []).append((index, aggregate))
    return grouped

