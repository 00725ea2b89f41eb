"""Metric columns computed in SQL: each metric's query (its SQL builder's, over the event
sources it requires) LEFT JOINed onto the profiles on the key, for `segmint sql`'s printed
query and for the SQL engines that compute a run's metrics themselves (`MetricInput`).

A metric never adds customers: the profiles' keys are the customers, a customer without
events gets nulls, as `segmint run` joins a metric computed in Python. The columns come
out in the SQL engines' canonical representation (durations as BIGINT microseconds,
timestamps as the UTC wall clock), which the membership query takes as it is
(`Relations.canonical`) and `metric_columns` turns into the metrics' Arrow types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import sqlglot.expressions as exp

from segmint.engines.sql.compiler import column, identifier
from segmint.errors import DataError

#: A metric's query as joined: the metric's name, its query, and per column (its name in
#: the query, its physical name in the profiles, its Arrow type).
MetricQuery = tuple[str, exp.Expression, Sequence[tuple[str, str, Any]]]


def own_ctes(query: exp.Expression, prefix: str) -> exp.Expression:
    """`query` with its CTEs (and the tables naming them) renamed `prefix` + name: two
    metrics' queries both have a ``lines`` CTE, and Spark refuses one name defined twice in
    a statement, even in separate subqueries."""
    with_ = query.args.get("with_")
    if with_ is None:
        return query
    names = {cte.alias for cte in with_.expressions}

    def rename(node: Any) -> Any:
        if isinstance(node, exp.Table) and not node.args.get("db") and node.name in names:
            renamed = exp.Table(this=exp.to_identifier(prefix + node.name, quoted=True))
            if node.args.get("alias") is not None:
                renamed.set("alias", node.args["alias"])
            return renamed
        if isinstance(node, exp.CTE) and node.alias in names:
            node.set("alias", exp.TableAlias(this=exp.to_identifier(prefix + node.alias, quoted=True)))
        return node

    return query.transform(rename)


def metric_query(name: str, query: exp.Expression,
                 columns: Sequence[tuple[str, str, Any]]) -> MetricQuery:
    """A metric's query as `join_metrics` joins it, its CTEs its own (`own_ctes`)."""
    return name, own_ctes(query, f"metric:{name}:"), columns


def input_queries(metrics: Sequence[Any], dialect: Any, relations: Mapping[str, Any],
                  fetch: Callable[[exp.Expression], pa.Table]) -> list[MetricQuery]:
    """The queries of the metrics a SQL engine computes itself (`MetricInput`), each over the
    `relations` of the sources it requires, once `check_refusals` found no row refused."""
    check_refusals(metrics, dialect, relations, fetch)
    return [metric_query(m.name, m.build(dialect, {n: relations[n] for n in m.requires}), m.columns)
            for m in metrics]


def input_columns(metrics: Iterable[Any]) -> list[tuple[str, str, Any]]:
    """The columns of the `metrics` (`MetricInput`), in order: (name, physical name, type)."""
    return [c for m in metrics for c in m.columns]


def computed_columns(table: exp.Expression, metrics: Sequence[Any], row: str) -> exp.Select:
    """The query of the `metrics`' columns of the engine's `table` of them, in the order of
    the profiles' `row` numbers (what `metric_columns` turns into Arrow types)."""
    return (exp.select(*[column(physical) for _, physical, _ in input_columns(metrics)])
            .from_(table).order_by(column(row)))


def join_metrics(profiles: exp.Expression, kept: Iterable[exp.Expression],
                 metrics: Sequence[MetricQuery], key: str) -> exp.Select:
    """The rows of `profiles` (a relation with the `key` column), the `kept` items of
    them (columns of the table ``profiles``), and each metric's columns LEFT JOINed on the
    key, under their physical names."""
    query = exp.select(*kept).from_(exp.alias_(exp.Subquery(this=profiles) if isinstance(
        profiles, exp.Select) else profiles, identifier("profiles"), table=True))
    for name, metric, columns in metrics:
        alias = f"metric:{name}"
        on = exp.EQ(this=column(key, "profiles"),
                    expression=exp.Column(this=exp.to_identifier(key), table=identifier(alias)))
        query = query.join(exp.alias_(exp.Subquery(this=metric), identifier(alias)), on=on,
                           join_type="left")
        query = query.select(*[exp.alias_(exp.Column(this=exp.to_identifier(own), table=identifier(alias)),
                                          identifier(physical)) for own, physical, _ in columns])
    return query


def with_metric_table(profiles: exp.Expression, metrics: exp.Expression, physical: Sequence[str],
                      row: str) -> exp.Subquery:
    """The profiles (a relation with the `row` numbers) with the `physical` metric columns
    of `metrics` (a table of the profiles' row numbers and those columns, computed once),
    as the relation ``profiles`` the membership query reads."""
    on = exp.EQ(this=column(row, "profiles"), expression=column(row, "metrics"))
    select = (exp.select(exp.Column(this=exp.Star(), table=identifier("profiles")),
                         *[column(name, "metrics") for name in physical])
              .from_(exp.alias_(profiles, identifier("profiles"), table=True))
              .join(exp.alias_(metrics, identifier("metrics"), table=True), on=on, join_type="left"))
    return exp.Subquery(this=select, alias=exp.TableAlias(this=identifier("profiles")))


def canonical_columns(columns: Iterable[tuple[str, str, Any]]) -> frozenset[str]:
    """The physical names of the metric `columns` (name, physical name, Arrow type) that
    are durations and timestamps: the membership query takes them as they are
    (`Relations.canonical`)."""
    return frozenset(physical for _, physical, kind in columns
                     if pa.types.is_duration(kind) or pa.types.is_timestamp(kind))


def metric_columns(table: pa.Table, columns: Iterable[tuple[str, str, Any]]) -> pa.Table:
    """The metric `columns` an engine fetched (canonical values, in its Arrow types) in the
    Arrow types the metrics declare: microseconds as durations, the UTC wall clock as the
    zoned timestamp, the rest cast as needed (Spark's int32 scores)."""
    out = {}
    for _, physical, kind in columns:
        values = table.column(physical)  # a timestamp's instant is kept by the cast
        out[physical] = values.cast(kind) if values.type != kind else values
    return pa.table(out)


def check_refusals(metrics: Sequence[Any], dialect: Any, relations: Any,
                   fetch: Callable[[exp.Expression], pa.Table]) -> None:
    """The `DataError` of the first row the `metrics` (`MetricInput`) refuse (`SqlRefusal`,
    in order), as segmint raises it when it computes the metric in Python; nothing when
    none. One query per source relation (as the engine reads it, `relations` by name)
    counts the rows of each of its refusals: `fetch` runs it, giving an Arrow table."""
    refusals: dict[tuple[str, str, str], Any] = {}
    for metric in metrics:
        for refusal in metric.refusals(dialect, {n: relations[n] for n in metric.requires}):
            text = (refusal.relation.sql(), refusal.condition.sql(), refusal.message)
            refusals.setdefault(text, refusal)  # purchase and rfm refuse the same rows
    by_relation: dict[str, list[Any]] = {}
    for (relation, _, _), refusal in refusals.items():
        by_relation.setdefault(relation, []).append(refusal)
    for found in by_relation.values():
        counts = [exp.alias_(exp.func("COALESCE", exp.Sum(this=exp.Case(ifs=[exp.If(
            this=refusal.condition, true=exp.Literal.number(1))], default=exp.Literal.number(0))),
            exp.Literal.number(0)), f"r{i}") for i, refusal in enumerate(found)]
        row = fetch(exp.select(*counts).from_(found[0].relation)).to_pylist()[0]
        for i, refusal in enumerate(found):
            if row[f"r{i}"]:
                raise DataError(refusal.message.format(count=row[f"r{i}"]), source=refusal.source,
                                column=refusal.column)
