"""Aggregate states in numpy arrays of one value per customer, for integer customer keys in
a compact range: events are keyed by their customer's row and folded with `ufunc.at`, so
memory is a few arrays per customer whatever the number of events. Each falls back to
grouping (`grouped_states`) when its values do not fit (text minimums, too many codes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.engines.arrow.grouped_states import KEY, Combiner, arg_best, distinct_pairs, group

#: Distinct values a dense first/last keeps codes for before it falls back to grouping.
CODE_LIMIT = 1 << 16


class Codes:
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


class DenseDistinct:
    """count_distinct with integer keys: a 64-bit set of value codes per customer, while the
    column has at most 64 different values; then distinct (customer, value) pairs."""

    def __init__(self, n: int, fallback: Combiner) -> None:
        self.n, self.fallback = n, fallback
        self.codes = Codes()
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
        pairs = distinct_pairs(pa.table({KEY: rows, "v": values}))
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
        return pa.table({KEY: pa.array(row_array.astype(np.int32)), "v": values})

    def result(self) -> pa.Table | None:
        if self.bits is None:
            return self.fallback.result()
        return self._pairs() if len(self.codes) else None


class DenseBest:
    """first/last with integer keys: per customer the best timestamp, and the best value at
    it, in arrays; text and booleans are compared by the rank of their code."""

    def __init__(self, n: int, earliest: bool, fallback: Combiner) -> None:
        self.n, self.earliest, self.fallback = n, earliest, fallback
        self.better = np.minimum if earliest else np.maximum
        self.worst_t = np.iinfo(np.int64).max if earliest else np.iinfo(np.int64).min
        self.t = np.full(n, self.worst_t, np.int64)
        self.key: np.ndarray | None = None  # the value (numbers) or its rank (text)
        self.has = np.zeros(n, bool)
        self.codes: Codes | None = None
        self.value_type: pa.DataType | None = None
        self.spilled = False

    def add_rows(self, chosen: pa.Table) -> None:
        if self.spilled:
            self.fallback.add(arg_best(chosen, self.earliest))
            return
        values = chosen.column("v").combine_chunks()
        if self.value_type is None:
            self.value_type = values.type
            physical = physical_type(values.type)
            if physical is None:
                self.codes = Codes()
                self.key = np.zeros(self.n, np.int64)
            else:
                self.key = np.zeros(self.n, physical.to_pandas_dtype())
        if chosen.num_rows == 0:
            return
        rows = chosen.column(KEY).to_numpy()
        stamps = chosen.column("t").combine_chunks().cast(pa.int64()).to_numpy()
        if self.codes is not None:
            before = None if self.codes.values is None else self.codes.order.copy()
            codes, grew = self.codes.encode(values)
            if len(self.codes) > CODE_LIMIT:
                self._spill(before)
                self.fallback.add(arg_best(chosen, self.earliest))
                return
            if grew and before is not None and len(before):
                self.key[self.has] = self.codes.rank[before[self.key[self.has]]]  # type: ignore[index]
            keys = self.codes.rank[codes]
        else:
            physical = physical_type(values.type)
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
        return pa.table({KEY: pa.array(rows.astype(np.int32)), "t": stamps, "v": values})

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


class KeyIndex:
    """The row of each customer key in the profile table, for integer keys in a compact range
    (a lookup array, so a batch of events is keyed by row without hashing)."""

    def __init__(self, low: int, lookup: np.ndarray) -> None:
        self.low, self.lookup = low, lookup

    @classmethod
    def build(cls, keys: pa.Array) -> KeyIndex | None:
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


class DenseStates:
    """Partial states combined into arrays of one value per customer (numbers, dates and
    timestamps); other types (text minimums) are combined by grouping, as without an index."""

    def __init__(self, n: int, ops: Mapping[str, str]) -> None:
        self.n, self.ops = n, dict(ops)
        self.values: dict[str, np.ndarray] = {}
        self.valid: dict[str, np.ndarray] = {}
        self.types: dict[str, pa.DataType] = {}
        self.other: dict[str, Combiner] = {}

    def add_rows(self, rows: pa.Table, simple: Sequence[tuple[str, str, str]]) -> None:
        """Fold a batch's rows (keyed by customer row) into the states, without grouping."""
        index = rows.column(KEY).to_numpy()
        grouped = []
        for column_name, function, name in simple:
            column = rows.column(column_name)
            column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            self.types.setdefault(name, pa.int64() if function == "count" else column.type)
            physical = physical_type(column.type)
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
            self.add(group(rows, [(c, f) for c, f, _ in grouped], [s for _, _, s in grouped]),
                     [s for _, _, s in grouped])

    def _initial(self, function: str, dtype: Any) -> np.ndarray:
        if function in ("min", "max"):
            info = np.finfo(dtype) if np.issubdtype(dtype, np.floating) else np.iinfo(dtype)
            return np.full(self.n, info.max if function == "min" else info.min, dtype)
        return np.zeros(self.n, dtype)

    def add(self, partial: pa.Table, names: Sequence[str] | None = None) -> None:
        rows = partial.column(KEY).to_numpy()
        for name, op in self.ops.items():
            if names is not None and name not in names:
                continue
            column = partial.column(name).combine_chunks()
            self.types.setdefault(name, column.type)
            physical = physical_type(column.type)
            if physical is None:
                if name not in self.other:
                    self.other[name] = Combiner(lambda t, o=op, c=name: group(t, [(c, o)], [c]))
                self.other[name].add(pa.table({KEY: partial.column(KEY), name: column}))
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
            where[table.column(KEY).to_numpy()] = np.arange(table.num_rows)
            return table.column(name).combine_chunks().take(pa.array(where, mask=where < 0))
        if name not in self.values:
            return pa.nulls(self.n, arrow_type)
        kind = self.types[name]  # each state is read once: let go of it as it is handed over
        return pa.array(self.values.pop(name), mask=~self.valid.pop(name)).cast(kind)


def physical_type(arrow_type: pa.DataType) -> Any:
    """The numpy-friendly Arrow type a state of this type is combined as, or None."""
    if pa.types.is_integer(arrow_type) or pa.types.is_timestamp(arrow_type) or pa.types.is_duration(arrow_type):
        return pa.int64()
    if pa.types.is_floating(arrow_type):
        return pa.float64()
    if pa.types.is_date32(arrow_type):
        return pa.int32()
    return None

