"""Aggregates over events (`count(orders where ..., last 30d)`), computed in bulk and streaming.

All aggregates of a rule set over one event source are computed together, in one pass over
that source's events, batch by batch, so a source larger than memory (a record batch reader,
a dataset) needs memory for one batch plus one state row per customer:

1. Each batch is read with only the columns the aggregates use (key, timestamp, the
   aggregated columns and those their `where` conditions name), put in canonical types, and
   filtered once: events without a key or timestamp, and events after as_of, are dropped.
2. One projection computes, per aggregate, a mask (its `where` and its window) and the
   masked values.
3. When the customer keys are integers in a compact range (the usual case), each event is
   keyed by its customer's row in the profile table through a lookup array, and the masked
   values fold straight into arrays of one state per customer: counts, sums, minimums and
   maximums with `ufunc.at`; `count_distinct` as a 64-bit set of value codes per customer;
   `first`/`last` as the best instant and the best value (or value code) at it. Memory is a
   few arrays of one value per customer, whatever the number of events.
4. Otherwise (text keys, sparse integers, or more values than the codes allow), one
   `group_by(key).aggregate(...)` per batch makes partial states, combined by grouping again
   whenever enough have piled up: counts and sums are added, minimums and maximums kept,
   `count_distinct` keeps distinct (key, value) pairs, `first`/`last` the earliest (latest)
   timestamp and the smallest (largest) value at it.
5. The final states are aligned to the profile table's keys, with the language's values
   for customers without a matching event. The run's customers are the profile table's:
   events of keys not in it are ignored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from segmint.language import ast
from segmint.engines.arrow.compiler import TIMESTAMP_TYPE, CompileContext, as_timestamp, project
from segmint.semantics.asof import AsOf
from segmint.language.catalog import EventSource
from segmint.language.checker import CheckedRules
from segmint.errors import DataError
from segmint.language.types import Kind

#: Rows per batch an aggregate pass works on (smaller input batches are put together).
BATCH_ROWS = 1 << 19
#: Partial states are combined once this many rows of them are waiting.
COMBINE_ROWS = 1 << 22

_KEY = "__key"
_TS = "__ts"


def compute_aggregates(
    checked: CheckedRules,
    events: Mapping[str, Any],
    keys: pa.ChunkedArray | pa.Array,
    *,
    key: str,
    as_of: AsOf,
) -> dict[ast.Aggregate, pa.Array]:
    """Every aggregate of `checked`, as one array aligned with `keys` (the profile keys);
    `events` holds each event source's data (a table, record batch reader or dataset) and
    `key` names the customer key column in it."""
    by_source: dict[str, list[ast.Aggregate]] = {}
    for aggregate in checked.aggregates:
        by_source.setdefault(aggregate.source, []).append(aggregate)
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if pa.types.is_dictionary(keys.type):
        keys = keys.dictionary_decode()
    results: dict[ast.Aggregate, pa.Array] = {}
    for source, aggregates in by_source.items():
        spec = checked.catalog.event_source(source)
        assert spec is not None  # the checker made sure
        if source not in events:
            raise DataError(f"no data for the event source (rules aggregate over it); "
                            f"event data given: {', '.join(events) or 'none'}", source=source)
        run = SourcePass(checked, spec, aggregates, keys, key, as_of)
        results.update(run.run(events[source]))
    return results


def event_columns(checked: CheckedRules) -> dict[str, list[str]]:
    """The columns of each event source the aggregates read (besides the key): its
    timestamp, the aggregated columns and those the where conditions name."""
    by_source: dict[str, list[ast.Aggregate]] = {}
    for aggregate in checked.aggregates:
        by_source.setdefault(aggregate.source, []).append(aggregate)
    return {
        source: _columns(checked, checked.catalog.event_source(source), aggregates)  # type: ignore[arg-type]
        for source, aggregates in by_source.items()
    }


def _columns(checked: CheckedRules, spec: EventSource, aggregates: list[ast.Aggregate]) -> list[str]:
    used: dict[str, None] = {spec.timestamp: None}
    for aggregate in aggregates:
        if aggregate.column is not None:
            used[aggregate.column] = None
        if aggregate.where is not None:
            for node in ast.walk(aggregate.where):
                if isinstance(node, ast.Name) and checked.binding(node).kind == "event":
                    used[node.name] = None
    return list(used)


def window_bounds(window: ast.Window | None, as_of: AsOf) -> tuple[dt.datetime | None, dt.datetime]:
    """The first and last instant (both inclusive) a window covers, never after as_of.

    `last D`: as_of - D .. as_of. `between D1 ago and D2 ago`: as_of - D1 .. as_of - D2.
    `since X`: X .. as_of. `between X and Y`: X .. Y. A date X is its midnight and a date Y
    its last microsecond, in the run's time zone (the whole of both days is in).
    """
    end = as_of.instant
    if window is None:
        return None, end
    if window.kind == "last":
        return end - window.start.value, end
    if window.kind == "ago":
        assert window.end is not None
        return end - window.start.value, min(end, end - window.end.value)
    start = _instant(window.start.value, as_of.timezone, start=True)
    if window.kind == "since":
        return start, end
    assert window.end is not None
    return start, min(end, _instant(window.end.value, as_of.timezone, start=False))


def _instant(value: dt.date | dt.datetime, timezone: str, *, start: bool) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return AsOf.resolve(value, timezone).instant
    if start:
        return AsOf.resolve(dt.datetime.combine(value, dt.time()), timezone).instant
    return AsOf.resolve(value, timezone).instant  # a date's as_of is its last microsecond


class SourcePass:
    """One pass over an event source computing all the aggregates that read it."""

    def __init__(self, checked: CheckedRules, spec: EventSource, aggregates: list[ast.Aggregate],
                 keys: pa.Array, key: str, as_of: AsOf) -> None:
        self.checked, self.spec, self.aggregates = checked, spec, aggregates
        self.keys, self.key, self.as_of = keys, key, as_of
        self.bounds = [window_bounds(a.window, as_of) for a in aggregates]
        lows = [low for low, _ in self.bounds]
        self.earliest = None if any(low is None for low in lows) else min(lows)  # type: ignore[type-var]
        self.columns = _columns(checked, spec, aggregates)
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
        self.index = _KeyIndex.build(keys)
        self.dense = _DenseStates(len(keys), self.main) if self.index is not None else None
        self.pairs: dict[int, _Combiner] = {}
        self.best: dict[int, _Combiner] = {}
        n = len(keys)
        for i, aggregate in enumerate(aggregates):
            if aggregate.function == "count_distinct":
                self.pairs[i] = _Combiner(_distinct_pairs)
                if self.dense is not None:
                    self.pairs[i] = _DenseDistinct(n, self.pairs[i])
            elif aggregate.function in ("first", "last"):
                earliest = aggregate.function == "first"
                self.best[i] = _Combiner(lambda t, e=earliest: _arg_best(t, e))
                if self.dense is not None:
                    self.best[i] = _DenseBest(n, earliest, self.best[i])

    def _state(self, column: str, function: str, state: str) -> None:
        self.simple.append((column, function, state))
        self.main[state] = "sum" if function in ("sum", "count") else function

    # reading --------------------------------------------------------------------------
    def run(self, data: Any) -> dict[ast.Aggregate, pa.Array]:
        wanted = list(dict.fromkeys([self.key, *self.columns]))
        for batch in _batches(data, wanted, self.spec.name):
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
        columns: dict[str, Any] = {_KEY: self.index.rows(keys) if self.index is not None else keys}
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
        keep = pc.is_valid(pc.field(_KEY)) & pc.less_equal(ts, _stamp(self.as_of.instant))
        if self.earliest is not None:
            keep = keep & pc.greater_equal(ts, _stamp(self.earliest))
        expressions: dict[str, pc.Expression] = {_KEY: pc.field(_KEY), _TS: ts}
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
        rows = ds.dataset(ctx.table).to_table(columns=expressions, filter=keep)
        if self.simple and self.dense is not None:
            self.dense.add_rows(rows, self.simple)
        elif self.simple:
            partial = _group(rows, [(c, f) for c, f, _ in self.simple], [s for _, _, s in self.simple])
            self.pending.append(partial)
            self.pending_rows += partial.num_rows
            if self.pending_rows >= max(COMBINE_ROWS, self.state.num_rows if self.state else 0):
                self._combine()
        for i, combiner in self.pairs.items():  # v is null where the mask is false
            if isinstance(combiner, _DenseDistinct):
                combiner.add_rows(rows.column(_KEY), rows.column(f"v{i}"))
                continue
            pairs = _distinct_pairs(rows.select([_KEY, f"v{i}"]).rename_columns([_KEY, "v"]))
            combiner.add(pairs.filter(pc.is_valid(pairs["v"])))
        for i, combiner in self.best.items():
            chosen = rows.select([_KEY, f"t{i}", f"v{i}"]).rename_columns([_KEY, "t", "v"])
            chosen = chosen.filter(pc.is_valid(chosen["t"]))
            if isinstance(combiner, _DenseBest):
                combiner.add_rows(chosen)
                continue
            combiner.add(_arg_best(chosen, self.aggregates[i].function == "first"))

    def _combine(self) -> None:
        parts = ([self.state] if self.state is not None else []) + self.pending
        merged = pa.concat_tables(parts)
        self.state = _group(merged, list(self.main.items()), list(self.main)) if len(parts) > 1 else merged
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
            positions = pc.index_in(self.keys, value_set=state.column(_KEY)) if state is not None else None

        def aligned(table: pa.Table | None, column: str, arrow_type: pa.DataType) -> pa.Array:
            if self.dense is not None and table is state:
                return self.dense.result(column, arrow_type)
            if table is None or table.num_rows == 0:
                return pa.nulls(n, arrow_type)
            values = table.column(column).combine_chunks()
            if self.dense is not None:  # keyed by the customer's row
                where = np.full(n, -1, np.int64)
                where[table.column(_KEY).to_numpy()] = np.arange(table.num_rows)
                return values.take(pa.array(where, mask=where < 0))
            where = positions if table is state else pc.index_in(self.keys, value_set=table.column(_KEY))
            return values.take(where)

        results: dict[ast.Aggregate, pa.Array] = {}
        for i, aggregate in enumerate(self.aggregates):
            function = aggregate.function
            value_type = self._value_type(aggregate)
            if function in ("count", "exists", "count_distinct", "first", "last"):
                matched = pc.fill_null(aligned(state, f"n{i}", pa.int64()), 0)
            if function == "count":
                result = matched
            elif function == "exists":
                result = pc.greater(matched, 0)
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
                counts = pairs.group_by(_KEY).aggregate([("v", "count")]).rename_columns([_KEY, "v"]) \
                    if pairs is not None else None
                found = pc.fill_null(aligned(counts, "v", pa.int64()), 0)
                result = pc.if_else(pc.greater(matched, 0), found, pa.scalar(None, pa.int64()))
            else:
                result = aligned(self.best[i].result(), "v", value_type)
            if self._kind(aggregate) is Kind.DURATION and function != "count_distinct":
                result = result.cast(pa.duration("us"))
            results[aggregate] = result
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


#: Distinct values a dense first/last keeps codes for before it falls back to grouping.
CODE_LIMIT = 1 << 16


class _Codes:
    """A column's values as small integer codes shared by all batches, with their order."""

    def __init__(self) -> None:
        self.values: pa.Array | None = None
        self.rank = np.zeros(0, np.int64)  # code -> position in sorted order
        self.order = np.zeros(0, np.int64)  # position in sorted order -> code

    def __len__(self) -> int:
        return 0 if self.values is None else len(self.values)

    def encode(self, values: pa.Array) -> tuple[np.ndarray, bool]:
        """Codes of `values` (-1 for null), and whether the dictionary grew (ranks moved)."""
        encoded = pc.dictionary_encode(values)
        local = encoded.dictionary
        if self.values is None:
            self.values = local.slice(0, 0)
        grew = False
        found = pc.index_in(local, value_set=self.values)
        if found.null_count:
            self.values = pa.concat_arrays([self.values, local.filter(pc.is_null(found))])
            self.order = pc.sort_indices(self.values).to_numpy().astype(np.int64)
            self.rank = np.empty(len(self.order), np.int64)
            self.rank[self.order] = np.arange(len(self.order))
            found = pc.index_in(local, value_set=self.values)
            grew = True
        mapping = found.to_numpy(zero_copy_only=False).astype(np.int64)
        indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        codes = np.where(indices >= 0, mapping[np.maximum(indices, 0)] if len(mapping) else -1, -1)
        return codes, grew


class _DenseDistinct:
    """count_distinct with integer keys: a 64-bit set of value codes per customer, while the
    column has at most 64 different values; then distinct (customer, value) pairs."""

    def __init__(self, n: int, fallback: _Combiner) -> None:
        self.n, self.fallback = n, fallback
        self.codes = _Codes()
        self.bits: np.ndarray | None = np.zeros(n, np.uint64)

    def add_rows(self, rows: pa.ChunkedArray, values: pa.ChunkedArray) -> None:
        rows_np = rows.to_numpy()
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        if self.bits is not None:
            codes, _ = self.codes.encode(values)
            if len(self.codes) <= 64:
                present = codes >= 0
                np.bitwise_or.at(self.bits, rows_np[present],
                                 np.left_shift(np.uint64(1), codes[present].astype(np.uint64)))
                return
            self._spill()
        pairs = _distinct_pairs(pa.table({_KEY: rows, "v": values}))
        self.fallback.add(pairs.filter(pc.is_valid(pairs["v"])))

    def _spill(self) -> None:
        """Too many values for 64 bits: hand the sets over as pairs and group from now on."""
        self.fallback.add(self._pairs())
        self.bits = None

    def _pairs(self) -> pa.Table:
        assert self.bits is not None and self.codes.values is not None or len(self.codes) == 0
        rows, codes = [], []
        for code in range(len(self.codes)):
            holders = np.nonzero(self.bits & np.uint64(1 << code))[0]  # type: ignore[operator]
            rows.append(holders)
            codes.append(np.full(len(holders), code))
        row_array = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        code_array = np.concatenate(codes) if codes else np.zeros(0, np.int64)
        values = self.codes.values.take(pa.array(code_array)) if self.codes.values is not None \
            else pa.array([], pa.null())
        return pa.table({_KEY: pa.array(row_array.astype(np.int32)), "v": values})

    def result(self) -> pa.Table | None:
        if self.bits is None:
            return self.fallback.result()
        return self._pairs() if len(self.codes) else None


class _DenseBest:
    """first/last with integer keys: per customer the best timestamp, and the best value at
    it, in arrays; text and booleans are compared by the rank of their code."""

    def __init__(self, n: int, earliest: bool, fallback: _Combiner) -> None:
        self.n, self.earliest, self.fallback = n, earliest, fallback
        self.better = np.minimum if earliest else np.maximum
        self.worst_t = np.iinfo(np.int64).max if earliest else np.iinfo(np.int64).min
        self.t = np.full(n, self.worst_t, np.int64)
        self.key: np.ndarray | None = None  # the value (numbers) or its rank (text)
        self.has = np.zeros(n, bool)
        self.codes: _Codes | None = None
        self.value_type: pa.DataType | None = None
        self.spilled = False

    def add_rows(self, chosen: pa.Table) -> None:
        if self.spilled:
            self.fallback.add(_arg_best(chosen, self.earliest))
            return
        values = chosen.column("v").combine_chunks()
        if self.value_type is None:
            self.value_type = values.type
            physical = _physical(values.type)
            if physical is None:
                self.codes = _Codes()
                self.key = np.zeros(self.n, np.int64)
            else:
                self.key = np.zeros(self.n, physical.to_pandas_dtype())
        if chosen.num_rows == 0:
            return
        rows = chosen.column(_KEY).to_numpy()
        stamps = chosen.column("t").combine_chunks().cast(pa.int64()).to_numpy()
        if self.codes is not None:
            before = None if self.codes.values is None else self.codes.order.copy()
            codes, grew = self.codes.encode(values)
            if len(self.codes) > CODE_LIMIT:
                self._spill(before)
                self.fallback.add(_arg_best(chosen, self.earliest))
                return
            if grew and before is not None and len(before):
                self.key[self.has] = self.codes.rank[before[self.key[self.has]]]  # type: ignore[index]
            keys = self.codes.rank[codes]
        else:
            physical = _physical(values.type)
            keys = (values.cast(physical) if values.type != physical else values).to_numpy(zero_copy_only=False)
        previous = self.t[rows]  # only the customers of this batch (not a copy of all)
        self.better.at(self.t, rows, stamps)
        assert self.key is not None
        self.has[rows[self.t[rows] != previous]] = False  # a better instant: forget the value
        at_best = stamps == self.t[rows]
        rows, keys = rows[at_best], keys[at_best]
        fresh = ~self.has[rows]
        self.key[rows[fresh]] = keys[fresh]  # first value seen at the best instant
        self.has[rows] = True
        self.better.at(self.key, rows, keys)

    def _table(self, order: np.ndarray | None) -> pa.Table:
        rows = np.nonzero(self.has)[0]
        assert self.key is not None and self.value_type is not None
        stamps = pa.array(self.t[rows]).cast(pa.timestamp("us", tz="UTC"))
        if self.codes is not None:
            assert self.codes.values is not None
            values = self.codes.values.take(pa.array((order if order is not None else self.codes.order)[self.key[rows]]))
        else:
            values = pa.array(self.key[rows]).cast(self.value_type)
        return pa.table({_KEY: pa.array(rows.astype(np.int32)), "t": stamps, "v": values})

    def _spill(self, order: np.ndarray | None) -> None:
        if self.has.any():
            self.fallback.add(self._table(order))
        self.spilled = True

    def result(self) -> pa.Table | None:
        if self.spilled:
            return self.fallback.result()
        if self.key is None or not self.has.any():
            return None
        return self._table(None)


class _KeyIndex:
    """The row of each customer key in the profile table, for integer keys in a compact range
    (a lookup array, so a batch of events is keyed by row without hashing)."""

    def __init__(self, low: int, lookup: np.ndarray) -> None:
        self.low, self.lookup = low, lookup

    @classmethod
    def build(cls, keys: pa.Array) -> _KeyIndex | None:
        if not pa.types.is_integer(keys.type) or len(keys) == 0 or keys.null_count:
            return None
        values = keys.to_numpy(zero_copy_only=False).astype(np.int64)
        low, high = int(values.min()), int(values.max())
        if high - low + 1 > 4 * len(values) + 1024:
            return None
        lookup = np.full(high - low + 1, -1, np.int32 if len(values) < 2**31 else np.int64)
        lookup[values - low] = np.arange(len(values))
        return cls(low, lookup)

    def rows(self, keys: pa.ChunkedArray | pa.Array) -> pa.Array:
        """Each event's customer row, null for keys that are not customers (or null)."""
        if isinstance(keys, pa.ChunkedArray):
            keys = keys.combine_chunks()
        offsets = keys.fill_null(self.low - 1).to_numpy(zero_copy_only=False).astype(np.int64) - self.low
        inside = (offsets >= 0) & (offsets < len(self.lookup))
        rows = np.full(len(offsets), -1, self.lookup.dtype)
        rows[inside] = self.lookup[offsets[inside]]
        return pa.array(rows, mask=rows < 0)


class _DenseStates:
    """Partial states combined into arrays of one value per customer (numbers, dates and
    timestamps); other types (text minimums) are combined by grouping, as without an index."""

    def __init__(self, n: int, ops: Mapping[str, str]) -> None:
        self.n, self.ops = n, dict(ops)
        self.values: dict[str, np.ndarray] = {}
        self.valid: dict[str, np.ndarray] = {}
        self.types: dict[str, pa.DataType] = {}
        self.other: dict[str, _Combiner] = {}

    def add_rows(self, rows: pa.Table, simple: Sequence[tuple[str, str, str]]) -> None:
        """Fold a batch's rows (keyed by customer row) into the states, without grouping."""
        index = rows.column(_KEY).to_numpy()
        grouped = []
        for column_name, function, name in simple:
            column = rows.column(column_name)
            column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            self.types.setdefault(name, pa.int64() if function == "count" else column.type)
            physical = _physical(column.type)
            if physical is None:
                grouped.append((column_name, function, name))
                continue
            dtype = physical.to_pandas_dtype()
            if name not in self.values:
                self.values[name] = self._initial(function, dtype)
                self.valid[name] = np.zeros(self.n, bool)
            present = column.is_valid().to_numpy(zero_copy_only=False)
            where = index[present]
            values, seen = self.values[name], self.valid[name]
            # ufunc.at works per event (a bincount would cost a pass over every customer)
            if function == "count":
                np.add.at(values, where, 1)
            else:
                found = (column.cast(physical) if column.type != physical else column).fill_null(0)
                found = found.to_numpy(zero_copy_only=False)[present]
                ufunc = {"sum": np.add, "min": np.minimum, "max": np.maximum}[function]
                ufunc.at(values, where, found)
            seen[where] = True
        if grouped:
            self.add(_group(rows, [(c, f) for c, f, _ in grouped], [s for _, _, s in grouped]),
                     [s for _, _, s in grouped])

    def _initial(self, function: str, dtype: Any) -> np.ndarray:
        if function in ("min", "max"):
            info = np.finfo(dtype) if np.issubdtype(dtype, np.floating) else np.iinfo(dtype)
            return np.full(self.n, info.max if function == "min" else info.min, dtype)
        return np.zeros(self.n, dtype)

    def add(self, partial: pa.Table, names: Sequence[str] | None = None) -> None:
        rows = partial.column(_KEY).to_numpy()
        for name, op in self.ops.items():
            if names is not None and name not in names:
                continue
            column = partial.column(name).combine_chunks()
            self.types.setdefault(name, column.type)
            physical = _physical(column.type)
            if physical is None:
                if name not in self.other:
                    self.other[name] = _Combiner(lambda t, o=op, c=name: _group(t, [(c, o)], [c]))
                self.other[name].add(pa.table({_KEY: partial.column(_KEY), name: column}))
                continue
            if name not in self.values:
                self.values[name] = np.zeros(self.n, physical.to_pandas_dtype())
                self.valid[name] = np.zeros(self.n, bool)
            present = column.is_valid().to_numpy(zero_copy_only=False)
            where = rows[present]
            found = column.cast(physical).fill_null(0).to_numpy(zero_copy_only=False)[present] \
                if column.type != physical else column.fill_null(0).to_numpy(zero_copy_only=False)[present]
            values, seen = self.values[name], self.valid[name]
            if op == "sum":
                values[where] += found
            else:
                best = np.minimum if op == "min" else np.maximum
                values[where] = np.where(seen[where], best(values[where], found), found)
            seen[where] = True

    def result(self, name: str, arrow_type: pa.DataType) -> pa.Array:
        if name in self.other:
            table = self.other[name].result()
            if table is None:
                return pa.nulls(self.n, arrow_type)
            where = np.full(self.n, -1, np.int64)
            where[table.column(_KEY).to_numpy()] = np.arange(table.num_rows)
            return table.column(name).combine_chunks().take(pa.array(where, mask=where < 0))
        if name not in self.values:
            return pa.nulls(self.n, arrow_type)
        kind = self.types[name]  # each state is read once: let go of it as it is handed over
        return pa.array(self.values.pop(name), mask=~self.valid.pop(name)).cast(kind)


def _physical(arrow_type: pa.DataType) -> Any:
    """The numpy-friendly Arrow type a state of this type is combined as, or None."""
    if pa.types.is_integer(arrow_type) or pa.types.is_timestamp(arrow_type) or pa.types.is_duration(arrow_type):
        return pa.int64()
    if pa.types.is_floating(arrow_type):
        return pa.float64()
    if pa.types.is_date32(arrow_type):
        return pa.int32()
    return None


def _stamp(value: dt.datetime | None) -> pc.Expression:
    return pc.scalar(pa.scalar(value, TIMESTAMP_TYPE))


def _null_like(ctx: CompileContext, value: pc.Expression) -> pc.Expression:
    return pc.scalar(pa.scalar(None, ctx.arrow_type(value)))


def _group(table: pa.Table, aggregations: Sequence[tuple[str, str]], names: Sequence[str]) -> pa.Table:
    """`table` grouped by key, one aggregation per state column, named `names`."""
    grouped = table.group_by(_KEY, use_threads=True).aggregate(list(aggregations))
    order = [f"{column}_{function}" for column, function in aggregations]
    return grouped.select([_KEY, *order]).rename_columns([_KEY, *names])


def _distinct_pairs(table: pa.Table) -> pa.Table:
    return table.group_by([_KEY, "v"]).aggregate([])


def _arg_best(table: pa.Table, earliest: bool) -> pa.Table:
    """Per key: the earliest (latest) timestamp `t` and the smallest (largest) value `v` there."""
    if table.num_rows == 0:
        return table
    function = "min" if earliest else "max"
    best = table.group_by(_KEY).aggregate([("t", function)]).rename_columns([_KEY, "bt"])
    joined = table.join(best, _KEY)
    at_best = joined.filter(pc.equal(joined["t"], joined["bt"]))
    return at_best.group_by(_KEY).aggregate([("t", function), ("v", function)]).rename_columns(
        [_KEY, "t", "v"])


class _Combiner:
    """Partial tables piled up and combined (by `combine`) once enough rows wait."""

    def __init__(self, combine: Callable[[pa.Table], pa.Table]) -> None:
        self.combine = combine
        self.parts: list[pa.Table] = []
        self.rows = 0
        self.combined_rows = 0

    def add(self, part: pa.Table) -> None:
        if part.num_rows == 0:
            return
        self.parts.append(part)
        self.rows += part.num_rows
        if self.rows >= max(COMBINE_ROWS, 2 * self.combined_rows) and len(self.parts) > 1:
            self._merge()

    def _merge(self) -> None:
        merged = self.combine(pa.concat_tables(self.parts))
        self.parts, self.rows, self.combined_rows = [merged], merged.num_rows, merged.num_rows

    def result(self) -> pa.Table | None:
        if not self.parts:
            return None
        if len(self.parts) > 1:
            self._merge()
        return self.parts[0]


def _batches(data: Any, columns: list[str], source: str) -> Iterator[pa.Table]:
    """Tables of about BATCH_ROWS rows with `columns`, from a table, reader or dataset."""
    if isinstance(data, ds.Dataset):
        _require(data.schema, columns, source)
        # A little readahead keeps the cores busy; more only holds more batches in memory.
        stream: Any = data.to_batches(columns=columns, batch_size=BATCH_ROWS, batch_readahead=4,
                                      fragment_readahead=2)
        schema = pa.schema([data.schema.field(c) for c in columns])
    else:
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        elif not isinstance(data, (pa.Table, pa.RecordBatchReader)):
            if hasattr(data, "__arrow_c_stream__"):
                data = pa.RecordBatchReader.from_stream(data)
            elif type(data).__module__.startswith("pandas"):
                data = pa.Table.from_pandas(data, preserve_index=False)
            else:
                raise DataError(f"event data must be an Arrow table, record batch reader or "
                                f"dataset, got {type(data).__name__}", source=source)
        _require(data.schema, columns, source)
        schema = pa.schema([data.schema.field(c) for c in columns])
        if isinstance(data, pa.Table):
            table = data.select(columns)
            if table.num_rows == 0:
                yield table
            for start in range(0, table.num_rows, BATCH_ROWS):
                yield table.slice(start, BATCH_ROWS)
            return
        stream = (batch.select(columns) for batch in data)
    waiting: list[pa.RecordBatch] = []
    rows = 0
    seen = False
    for batch in stream:
        waiting.append(batch)
        rows += batch.num_rows
        if rows >= BATCH_ROWS:
            yield pa.Table.from_batches(waiting, schema=schema)
            seen = True
            waiting, rows = [], 0
    if waiting or not seen:
        yield pa.Table.from_batches(waiting, schema=schema)


def _require(schema: pa.Schema, columns: list[str], source: str) -> None:
    for column in columns:
        if column not in schema.names:
            raise DataError(f"the event data has no column '{column}' "
                            f"(columns: {', '.join(schema.names)})", source=source, column=column)
