"""One pass over an event source, batch by batch, computing every aggregate that reads it.

Each batch is put in canonical types, filtered once, and projected to one mask and one
masked value per aggregate; the rows then fold into dense per-customer arrays
(`dense_states`) or into grouped partial states (`grouped_states`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.engines.arrow import grouped_states
from segmint.engines.arrow.compiler import TIMESTAMP_TYPE, CompileContext, as_timestamp, project
from segmint.engines.arrow.dense_states import DenseBest, DenseDistinct, DenseStates, KeyIndex
from segmint.engines.arrow.event_input import batches
from segmint.engines.arrow.grouped_states import KEY, Combiner, arg_best, distinct_pairs, group
from segmint.errors import DataError
from segmint.language import ast
from segmint.language.catalog import EventSource
from segmint.language.checker import CheckedRules
from segmint.language.types import Kind
from segmint.semantics.aggregates import empty_result, takes_earliest
from segmint.semantics.asof import AsOf
from segmint.semantics.events import source_columns
from segmint.semantics.windows import window_bounds

_TS = "__ts"


class SourcePass:
    """One pass over an event source computing all the aggregates that read it."""

    def __init__(self, checked: CheckedRules, spec: EventSource, aggregates: list[ast.Aggregate],
                 keys: pa.Array, key: str, as_of: AsOf) -> None:
        self.checked, self.spec, self.aggregates = checked, spec, aggregates
        self.keys, self.key, self.as_of = keys, key, as_of
        self.bounds = [window_bounds(a.window, as_of) for a in aggregates]
        lows = [low for low, _ in self.bounds]
        self.earliest = None if any(low is None for low in lows) else min(lows)  # type: ignore[type-var]
        self.columns = source_columns(checked, spec, aggregates)
        # Partial states: name -> how two partial values combine.
        self.main: dict[str, str] = {}
        self.simple: list[tuple[str, str, str]] = []  # (projected column, aggregate fn, state)
        for i, aggregate in enumerate(aggregates):
            function = aggregate.function
            if function in ("count", "exists", "count_distinct", "first", "last"):
                self._state(f"m{i}", "sum", f"n{i}")
            if function in ("sum", "avg"):
                self._state(f"v{i}", "sum", f"s{i}")
            if function == "avg":
                self._state(f"v{i}", "count", f"c{i}")
            if function in ("min", "max"):
                self._state(f"v{i}", function, f"x{i}")
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.state: pa.Table | None = None
        # Integer keys in a compact range: events are keyed by the customer's row in the
        # profile table, and states live in arrays of one value per customer.
        self.index = KeyIndex.build(keys)
        self.dense = DenseStates(len(keys), self.main) if self.index is not None else None
        self.pairs: dict[int, Combiner] = {}
        self.best: dict[int, Combiner] = {}
        n = len(keys)
        for i, aggregate in enumerate(aggregates):
            if aggregate.function == "count_distinct":
                self.pairs[i] = Combiner(distinct_pairs)
                if self.dense is not None:
                    self.pairs[i] = DenseDistinct(n, self.pairs[i])
            elif aggregate.function in ("first", "last"):
                earliest = takes_earliest(aggregate.function)
                self.best[i] = Combiner(lambda t, e=earliest: arg_best(t, e))
                if self.dense is not None:
                    self.best[i] = DenseBest(n, earliest, self.best[i])

    def _state(self, column: str, function: str, state: str) -> None:
        self.simple.append((column, function, state))
        self.main[state] = "sum" if function in ("sum", "count") else function

    # reading --------------------------------------------------------------------------
    def run(self, data: Any) -> dict[ast.Aggregate, pa.Array]:
        wanted = list(dict.fromkeys([self.key, *self.columns]))
        for batch in batches(data, wanted, self.spec.name):
            self.add(batch)
        return self.finish()

    def canonical(self, batch: pa.Table) -> pa.Table:
        """The batch's key, timestamp and used columns in canonical types."""
        from segmint.engines.arrow.evaluator import canonical  # the evaluator's column normalisation

        key_name = self.key
        keys = batch.column(key_name)
        if pa.types.is_dictionary(keys.type):
            keys = keys.cast(keys.type.value_type)
        if keys.type != self.keys.type:
            try:
                keys = keys.cast(self.keys.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise DataError(f"its customer keys are {keys.type}, the profiles' are "
                                f"{self.keys.type}, and they do not convert",
                                source=self.spec.name, column=key_name) from None
        columns: dict[str, Any] = {KEY: self.index.rows(keys) if self.index is not None else keys}
        timezone = self.as_of.timezone
        for name in self.columns:
            column = self.spec.find(name)
            assert column is not None
            try:
                columns[name] = canonical(batch.column(name), column.type.kind, timezone, name)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise DataError(f"cannot read its values as {column.type}: {error}",
                                source=self.spec.name, column=name) from None
        stamps = columns[self.spec.timestamp]
        if pa.types.is_date(stamps.type):
            stamps = project(pa.table({"d": stamps}), {"t": as_timestamp(pc.field("d"), Kind.DATE, timezone)})["t"]
        columns[_TS] = stamps
        return pa.table(columns)

    def add(self, batch: pa.Table) -> None:
        table = self.canonical(batch)
        ctx = CompileContext(self.checked, self.as_of, table)
        ts = pc.field(_TS)
        keep = pc.is_valid(pc.field(KEY)) & pc.less_equal(ts, _stamp(self.as_of.instant))
        if self.earliest is not None:
            keep = keep & pc.greater_equal(ts, _stamp(self.earliest))
        expressions: dict[str, pc.Expression] = {KEY: pc.field(KEY), _TS: ts}
        for i, (aggregate, (low, high)) in enumerate(zip(self.aggregates, self.bounds, strict=True)):
            mask = pc.scalar(True)
            if low is not None and low != self.earliest:
                mask = mask & pc.greater_equal(ts, _stamp(low))
            if high < self.as_of.instant:
                mask = mask & pc.less_equal(ts, _stamp(high))
            if aggregate.where is not None:
                mask = mask & pc.coalesce(ctx.compile(aggregate.where), pc.scalar(False))
            value = pc.field(aggregate.column) if aggregate.column is not None else None
            if value is not None and self._kind(aggregate) is Kind.DURATION:
                value = value.cast(pa.int64())  # grouping kernels take no durations
            if value is not None and aggregate.function != "first" and aggregate.function != "last":
                if aggregate.function in ("count", "exists"):
                    mask = mask & pc.is_valid(value)
                elif aggregate.function == "avg":
                    value = value.cast(pa.float64())
            if value is not None and aggregate.function in ("first", "last"):
                mask = mask & pc.is_valid(value)
            expressions[f"m{i}"] = mask.cast(pa.int64())
            if value is not None:
                expressions[f"v{i}"] = pc.if_else(mask, value, _null_like(ctx, value))
            if aggregate.function in ("first", "last"):
                expressions[f"t{i}"] = pc.if_else(mask, ts, _stamp(None))
        import pyarrow.dataset as ds  # imported when first used: it brings in pandas

        rows = ds.dataset(ctx.table).to_table(columns=expressions, filter=keep)
        if self.simple and self.dense is not None:
            self.dense.add_rows(rows, self.simple)
        elif self.simple:
            partial = group(rows, [(c, f) for c, f, _ in self.simple], [s for _, _, s in self.simple])
            self.pending.append(partial)
            self.pending_rows += partial.num_rows
            if self.pending_rows >= max(grouped_states.COMBINE_ROWS, self.state.num_rows if self.state else 0):
                self._combine()
        for i, combiner in self.pairs.items():  # v is null where the mask is false
            if isinstance(combiner, DenseDistinct):
                combiner.add_rows(rows.column(KEY), rows.column(f"v{i}"))
                continue
            pairs = distinct_pairs(rows.select([KEY, f"v{i}"]).rename_columns([KEY, "v"]))
            combiner.add(pairs.filter(pc.is_valid(pairs["v"])))
        for i, combiner in self.best.items():
            chosen = rows.select([KEY, f"t{i}", f"v{i}"]).rename_columns([KEY, "t", "v"])
            chosen = chosen.filter(pc.is_valid(chosen["t"]))
            if isinstance(combiner, DenseBest):
                combiner.add_rows(chosen)
                continue
            combiner.add(arg_best(chosen, takes_earliest(self.aggregates[i].function)))

    def _combine(self) -> None:
        parts = ([self.state] if self.state is not None else []) + self.pending
        merged = pa.concat_tables(parts)
        self.state = group(merged, list(self.main.items()), list(self.main)) if len(parts) > 1 else merged
        self.pending, self.pending_rows = [], 0

    # results --------------------------------------------------------------------------
    def finish(self) -> dict[ast.Aggregate, pa.Array]:
        if self.pending:
            self._combine()
        state = self.state
        n = len(self.keys)
        if self.dense is not None:
            positions = None
        else:
            positions = pc.index_in(self.keys, value_set=state.column(KEY)) if state is not None else None

        def aligned(table: pa.Table | None, column: str, arrow_type: pa.DataType) -> pa.Array:
            if self.dense is not None and table is state:
                return self.dense.result(column, arrow_type)
            if table is None or table.num_rows == 0:
                return pa.nulls(n, arrow_type)
            values = table.column(column).combine_chunks()
            if self.dense is not None:  # keyed by the customer's row
                where = np.full(n, -1, np.int64)
                where[table.column(KEY).to_numpy()] = np.arange(table.num_rows)
                return values.take(pa.array(where, mask=where < 0))
            where = positions if table is state else pc.index_in(self.keys, value_set=table.column(KEY))
            return values.take(where)

        results: dict[ast.Aggregate, pa.Array] = {}
        for i, aggregate in enumerate(self.aggregates):
            function = aggregate.function
            value_type = self._value_type(aggregate)
            if function in ("count", "exists", "count_distinct", "first", "last"):
                matched = pc.fill_null(aligned(state, f"n{i}", pa.int64()), 0)
            if function == "count":
                result = pc.if_else(pc.greater(matched, 0), matched, pa.scalar(None, pa.int64()))
            elif function == "exists":
                result = pc.if_else(pc.greater(matched, 0), True, pa.scalar(None, pa.bool_()))
            elif function == "sum":
                result = aligned(state, f"s{i}", value_type)
            elif function == "avg":
                total = aligned(state, f"s{i}", pa.float64())
                count = aligned(state, f"c{i}", pa.int64()).cast(pa.float64())
                result = pc.divide(total, pc.if_else(pc.equal(count, 0.0), pa.scalar(None, pa.float64()), count))
            elif function in ("min", "max"):
                result = aligned(state, f"x{i}", value_type)
            elif function == "count_distinct":
                pairs = self.pairs[i].result()
                counts = pairs.group_by(KEY).aggregate([("v", "count")]).rename_columns([KEY, "v"]) \
                    if pairs is not None else None
                found = pc.fill_null(aligned(counts, "v", pa.int64()), 0)
                result = pc.if_else(pc.greater(matched, 0), found, pa.scalar(None, pa.int64()))
            else:
                result = aligned(self.best[i].result(), "v", value_type)
            if self._kind(aggregate) is Kind.DURATION and function != "count_distinct":
                result = result.cast(pa.duration("us"))
            empty = empty_result(function)  # over no matching event: null, or this
            results[aggregate] = result if empty is None else pc.fill_null(result, pa.scalar(empty, result.type))
        return results

    def _kind(self, aggregate: ast.Aggregate) -> Kind | None:
        if aggregate.column is None:
            return None
        return self.spec.find(aggregate.column).type.kind  # type: ignore[union-attr]

    def _value_type(self, aggregate: ast.Aggregate) -> pa.DataType:
        """The Arrow type of an aggregate's value (durations as int64 until the end)."""
        kind = self._kind(aggregate)
        if kind is None:
            return pa.int64()
        return {Kind.NUMBER: pa.float64() if aggregate.function == "avg" else pa.int64(),
                Kind.STRING: pa.string(), Kind.BOOL: pa.bool_(), Kind.DATE: pa.date32(),
                Kind.TIMESTAMP: TIMESTAMP_TYPE, Kind.DURATION: pa.int64()}.get(kind, pa.null())



def _stamp(value: dt.datetime | None) -> pc.Expression:
    return pc.scalar(pa.scalar(value, TIMESTAMP_TYPE))


def _null_like(ctx: CompileContext, value: pc.Expression) -> pc.Expression:
    return pc.scalar(pa.scalar(None, ctx.arrow_type(value)))

