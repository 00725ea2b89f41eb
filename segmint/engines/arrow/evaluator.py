"""Bulk evaluation of a checked rule set over one profile table.

Statements are evaluated in dependency layers: every segment of a layer is one bulk
projection; a layer's results become hidden columns that later layers refer to. Output is
the membership table: the key, then a non-null bool column per segment (plus
``NAME__holdout`` for segments with a holdout) and a label column per segmentation, in
file order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from segmint.language import ast
from segmint.engines.arrow.compiler import (
    DURATION_TYPE, TIMESTAMP_TYPE, CompileContext, aggregate_column, project, segment_column,
)
from segmint.engines.base import EngineResult, check_keys
from segmint.semantics.asof import AsOf
from segmint.language.checker import CheckedRules
from segmint.errors import DataError, EvaluationError
from segmint.engines.arrow.event_aggregates import compute_aggregates
from segmint.semantics.holdout import HOLDOUT_SUFFIX, held_out
from segmint.semantics.instants import utc_instants
from segmint.semantics.plan import layers
from segmint.language.types import Kind

@attrs.frozen
class Evaluation(EngineResult):
    """Membership plus what `explain` needs: the compile context with its cut values."""

    context: CompileContext


def normalize(table: pa.Table, checked: CheckedRules, key: str, as_of: AsOf) -> pa.Table:
    """The key and the columns the rules use, in canonical Arrow types.

    Integers become int64, decimals float64, NaN null, dictionaries their values,
    timestamps UTC microseconds (naive ones read in the run's time zone), durations
    microseconds, dates date32.
    """
    columns = {key: table.column(key)}
    for column in checked.columns_used:
        values = table.column(column.physical)
        try:
            columns[column.physical] = canonical(values, column.type.kind, as_of.timezone, column.physical)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise DataError(f"cannot read its values as {column.type}: {error}",
                            source=column.source, column=column.name) from None
    return pa.table(columns)


def canonical(values: pa.ChunkedArray, kind: Kind, timezone: str, name: str = "") -> pa.ChunkedArray:
    arrow_type = values.type
    if pa.types.is_dictionary(arrow_type):
        values = values.cast(arrow_type.value_type)
        arrow_type = values.type
    if kind is Kind.NUMBER:
        if pa.types.is_floating(arrow_type):
            values = values.cast(pa.float64())
            return pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values)
        if pa.types.is_decimal(arrow_type):
            return values.cast(pa.float64())
        if arrow_type == pa.uint64():
            too_big = pc.any(pc.greater(values, pa.scalar(2**63 - 1, pa.uint64()))).as_py()
            return values.cast(pa.float64(), safe=False) if too_big else values.cast(pa.int64())
        return values.cast(pa.int64())
    if kind is Kind.STRING:
        return values.cast(pa.string()) if arrow_type != pa.string() else values
    if kind is Kind.DATE:
        return _truncating_cast(values, pa.date32())
    if kind is Kind.TIMESTAMP:
        if arrow_type.tz is None and timezone != "UTC":  # naive UTC: only the type changes
            values = utc_instants(values, timezone)
        return _truncating_cast(values, TIMESTAMP_TYPE)
    if kind is Kind.DURATION:
        return _truncating_cast(values, DURATION_TYPE)
    if kind is Kind.LIST and pa.types.is_large_list(arrow_type):
        return values.cast(pa.list_(arrow_type.value_type))
    return values


def _truncating_cast(values: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Cast to a coarser time unit, dropping nanoseconds (a date64's time of day) but still
    refusing values out of range."""
    return values.cast(options=pc.CastOptions(target, allow_time_truncate=True))


def evaluate_checked(
    checked: CheckedRules, table: pa.Table, *, key: str, as_of: AsOf, holdout_salt: str = "",
    events: Mapping[str, Any] | None = None,
) -> Evaluation:
    """Evaluate every statement; return membership in file order.

    `events` holds the data of the event sources the rules aggregate over, by source name:
    tables, record batch readers or datasets (read in batches, see event_aggregates).
    """
    check_keys(table, key)
    work = normalize(table, checked, key, as_of)
    ctx = CompileContext(checked, as_of, work)
    if checked.aggregates:
        values = compute_aggregates(checked, events or {}, work.column(key), key=key, as_of=as_of)
        for index, aggregate in enumerate(checked.aggregates):
            ctx.add_column(aggregate_column(index), values[aggregate])
            ctx.aggregate_columns[aggregate] = aggregate_column(index)
    outputs: dict[str, pa.ChunkedArray | pa.Array] = {}
    by_name = {statement.name: statement for statement in checked.rules.statements}
    for layer in layers(checked):
        expressions: dict[str, pc.Expression] = {}
        with ctx.used() as used:
            for name in layer:
                statement = by_name[name]
                try:
                    expressions[name] = _compile_statement(statement, ctx)
                except pa.ArrowInvalid as error:
                    raise _evaluation_error(statement, error) from None
        # only the columns this layer refers to: the working table grows by a column per
        # statement, and projecting over all of it would make long chains quadratic
        layer_table = ctx.table_of(sorted(used))
        try:
            results = project(layer_table, expressions)
        except pa.ArrowInvalid as error:
            raise _layer_error(by_name, layer_table, expressions, error) from None
        for name in layer:
            statement = by_name[name]
            values = results[name]
            if isinstance(statement, ast.Segment):
                member = values
                ctx.add_column(segment_column(name), member)
                if statement.holdout is not None:
                    held = _holdout(ctx.columns[key], member, name, statement.holdout, holdout_salt)
                    outputs[name] = pc.and_(member, pc.invert(held))
                    outputs[name + HOLDOUT_SUFFIX] = held
                else:
                    outputs[name] = member
            else:
                ctx.add_column(segment_column(name), values)
                outputs[name] = values
    columns: dict[str, pa.ChunkedArray | pa.Array] = {key: table.column(key)}
    for statement in checked.rules.statements:
        columns[statement.name] = outputs[statement.name]
        if isinstance(statement, ast.Segment) and statement.holdout is not None:
            columns[statement.name + HOLDOUT_SUFFIX] = outputs[statement.name + HOLDOUT_SUFFIX]
    return Evaluation(pa.table(columns), ctx)


def _compile_statement(statement: ast.Statement, ctx: CompileContext) -> pc.Expression:
    if isinstance(statement, ast.Segment):  # unknown is not a member: in the same pass
        return pc.coalesce(ctx.compile(statement.condition), pc.scalar(False))
    conditions, labels = [], []
    fallback = pa.scalar(None, pa.string())
    for arm in statement.arms:
        if arm.condition is None:
            fallback = pa.scalar(arm.label, pa.string())
            break
        conditions.append(pc.coalesce(ctx.compile(arm.condition), pc.scalar(False)))
        labels.append(pc.scalar(pa.scalar(arm.label, pa.string())))
    if not conditions:
        return pc.scalar(fallback)
    names = [f"c{i}" for i in range(len(conditions))]
    return pc.case_when(pc.make_struct(*conditions, field_names=names), *labels, pc.scalar(fallback))


def _holdout(keys: pa.ChunkedArray, member: pa.ChunkedArray, name: str, percent: float, salt: str) -> pa.Array:
    """Held-out flags, hashing only the keys of members."""
    member = member.combine_chunks() if isinstance(member, pa.ChunkedArray) else member
    positions = pc.indices_nonzero(member)
    flags = pa.array(held_out(salt, name, keys.take(positions), percent), pa.bool_())
    result = pa.nulls(len(member), pa.bool_()).fill_null(False).to_numpy(zero_copy_only=False).copy()
    result[positions.to_numpy()] = flags.to_numpy(zero_copy_only=False)
    return pa.array(result, pa.bool_())


def _layer_error(
    statements: Mapping[str, ast.Statement], table: pa.Table, expressions: dict[str, pc.Expression],
    error: Exception,
) -> EvaluationError:
    """The error of a failed layer, naming the statement that fails (each is tried alone)."""
    for name, expression in expressions.items():
        try:
            project(table, {name: expression})
        except pa.ArrowInvalid as own:
            return _evaluation_error(statements[name], own)
    return _evaluation_error(None, error, list(expressions))


def _evaluation_error(statement: ast.Statement | None, error: Exception, layer: list[str] | None = None) -> EvaluationError:
    text = str(error)
    reason = "integer overflow" if "overflow" in text.lower() else text
    if statement is not None:
        span = statement.span
        what = "segment" if isinstance(statement, ast.Segment) else "segmentation"
        where = f"{span.filename}:{span.line}: {what} '{statement.name}'"
    else:
        where = "segments " + ", ".join(f"'{n}'" for n in layer or [])
    hint = " (the result does not fit a 64-bit integer; divide first or use smaller units)" \
        if reason == "integer overflow" else ""
    return EvaluationError(f"{where}: {reason} while evaluating{hint}")
