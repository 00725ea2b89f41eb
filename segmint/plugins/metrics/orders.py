"""An orders table, normalised as of a point in time: one row per order or refund.

What every metric agrees on:

- Columns are found by name (options ``customer_column``, ``timestamp_column``,
  ``amount_column``; optional ``order_id_column``, ``margin_column``, ``cost_column``,
  ``channel_column`` are used when a column of the conventional name exists).
- Only rows at or before the as-of point are seen (see `asof`); rows with a null
  customer key are ignored; a null timestamp or amount is a `DataError`.
- Amounts become exact integer minor units (`money`). A row whose amount rounds below zero
  is a **refund**: it lowers monetary value and margin but is never an order.
- The other rows are order lines. Lines that share an order id (per customer) are **one
  order**, at the time of its earliest line, worth the sum of its lines; its channel is the
  least of its lines' channels. Lines without an order id are each an order.
- Margin per row is the margin column, else amount minus the cost column.

Rows stream through in batches (`Orders.batches`) so a large table is never copied whole;
only order-id merging needs all rows at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError

from segmint.plugins.metrics.asof import AsOf
from segmint.plugins.metrics.grouping import Grouping, group_keys
from segmint.plugin.api import instants_us, to_minor_units
from segmint.plugins.metrics.options import MetricOptions

BATCH_ROWS = 1 << 20
SOURCE = "orders"


@attrs.frozen
class OrderColumns:
    """The names of the orders table's columns that segmint reads."""

    customer: str
    timestamp: str
    amount: str
    order_id: str | None = None
    margin: str | None = None
    cost: str | None = None
    channel: str | None = None

    @classmethod
    def resolve(
        cls, schema: pa.Schema, options: MetricOptions, key: str, *, source: str = SOURCE
    ) -> OrderColumns:
        """The columns of `schema` to read; a `DataError` names any that is missing."""
        def required(name: str) -> str:
            require_columns(schema, [name], source=source)
            return name

        def optional(configured: str | None, conventional: str) -> str | None:
            if configured is not None:
                return required(configured)
            return conventional if conventional in schema.names else None

        return cls(
            customer=required(options.customer_column or key),
            timestamp=required(options.timestamp_column),
            amount=required(options.amount_column),
            order_id=optional(options.order_id_column, "order_id"),
            margin=optional(options.margin_column, "margin"),
            cost=optional(options.cost_column, "cost"),
            channel=optional(options.channel_column, "channel"),
        )


@attrs.frozen
class OrderBatch:
    """Normalised rows: customer slot, instant (µs), amount and margin in minor units."""

    codes: np.ndarray
    at: np.ndarray
    units: np.ndarray
    margin: np.ndarray | None = None
    channel: pa.Array | None = None
    order_id: pa.Array | None = None

    @property
    def is_order(self) -> np.ndarray:
        return self.units >= 0

    def take(self, rows: np.ndarray) -> OrderBatch:
        """The rows selected by a boolean mask."""
        return OrderBatch(
            self.codes[rows],
            self.at[rows],
            self.units[rows],
            None if self.margin is None else self.margin[rows],
            None if self.channel is None else self.channel.filter(pa.array(rows)),
            None if self.order_id is None else self.order_id.filter(pa.array(rows)),
        )

    def orders_only(self) -> OrderBatch:
        """The orders of this batch, without refunds."""
        is_order = self.is_order
        return self if is_order.all() else self.take(is_order)

    @staticmethod
    def concat(batches: list[OrderBatch]) -> OrderBatch:
        def numpy(name: str) -> np.ndarray | None:
            parts = [getattr(b, name) for b in batches]
            return None if parts[0] is None else np.concatenate(parts)

        def arrow(name: str) -> pa.Array | None:
            parts = [getattr(b, name) for b in batches]
            return None if parts[0] is None else pa.concat_arrays(parts)

        return OrderBatch(
            numpy("codes"), numpy("at"), numpy("units"), numpy("margin"), arrow("channel"),
            arrow("order_id"),
        )


@attrs.frozen
class Orders:
    """An orders table prepared for aggregation as of `as_of`.

    `table` holds the columns to read under the names of `OrderColumns`' fields, the
    customer key encoded for `grouping`; `columns` keeps the user's names for errors.
    """

    grouping: Grouping
    as_of: AsOf
    scale: int
    columns: OrderColumns
    table: pa.Table
    source: str = SOURCE

    @property
    def has_margin(self) -> bool:
        return bool({"margin", "cost"} & set(self.table.column_names))

    @property
    def has_channel(self) -> bool:
        return "channel" in self.table.column_names

    def batches(self) -> Iterator[OrderBatch]:
        """The orders and refunds as of `as_of`, in batches."""
        if "order_id" in self.table.column_names:
            rows = [self._normalise(b) for b in self.table.to_batches(BATCH_ROWS)]
            if rows:
                yield _merge_order_lines(OrderBatch.concat(rows))
            return
        for batch in self.table.to_batches(BATCH_ROWS):
            yield self._normalise(batch)

    def _normalise(self, batch: pa.RecordBatch) -> OrderBatch:
        at = instants_us(
            batch["timestamp"], self.as_of.timezone, source=self.source,
            column=self.columns.timestamp,
        )
        seen = at <= self.as_of.cutoff_us
        key = batch["customer"]
        if key.null_count:
            seen &= key.is_valid().to_numpy(zero_copy_only=False)
        if not seen.all():
            batch = batch.filter(pa.array(seen))
            at = at[seen]
        names = batch.schema.names
        units = self._units(batch, "amount")
        margin = None
        if "margin" in names:
            margin = self._units(batch, "margin")
        elif "cost" in names:
            margin = units - self._units(batch, "cost")
        return OrderBatch(
            self.grouping.codes(batch["customer"]),
            at,
            units,
            margin,
            batch["channel"] if "channel" in names else None,
            batch["order_id"] if "order_id" in names else None,
        )

    def _units(self, batch: pa.RecordBatch, name: str) -> np.ndarray:
        return to_minor_units(
            batch[name], self.scale, column=getattr(self.columns, name), source=self.source
        )


def read_orders(
    table: pa.Table,
    as_of: AsOf,
    options: MetricOptions,
    key: str,
    *,
    margin: bool = False,
    channel: bool = False,
    source: str = SOURCE,
) -> Orders:
    """Prepare `table` for aggregation, reading margin and channel only when asked.

    Margin columns are skipped when the ``margin_rate`` option is set (the rate wins).
    """
    table = as_table(table)
    columns = OrderColumns.resolve(table.schema, options, key, source=source)
    wanted = ["timestamp", "amount", "order_id"]
    if margin and options.margin_rate is None:
        wanted.append("margin" if columns.margin else "cost")
    if channel:
        wanted.append("channel")
    grouping, keys = group_keys(table[columns.customer])
    picked = {"customer": keys}
    for name in wanted:
        original = getattr(columns, name)
        if original is not None:
            picked[name] = table[original]
    if "channel" in picked:
        picked["channel"] = picked["channel"].cast(pa.string())
    return Orders(grouping, as_of, options.amount_scale, columns, pa.table(picked), source)


def require_columns(schema: pa.Schema, names: Iterable[str], *, source: str) -> None:
    """A `DataError` naming the first of `names` that `schema` lacks, and what it has."""
    for name in names:
        if name not in schema.names:
            raise DataError(
                f"no column '{name}' (columns: {', '.join(schema.names)})", source=source
            )


def as_table(data: object) -> pa.Table:
    """An Arrow table from a table, record batch reader, or any Arrow PyCapsule exporter."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    return pa.table(data)


def _merge_order_lines(rows: OrderBatch) -> OrderBatch:
    """Rows with one order id (per customer) made into one order; refunds kept as they are.

    An export whose order ids are all distinct (one line per order, the usual shape) is
    found by `_distinct` and not grouped at all."""
    lines = rows.is_order & rows.order_id.is_valid().to_numpy(zero_copy_only=False)
    if not lines.any():
        return attrs.evolve(rows, order_id=None)
    merged = rows.take(lines)
    if _distinct(merged.order_id):  # every line its own order
        rest = attrs.evolve(rows.take(~lines), order_id=None)
        return OrderBatch.concat([attrs.evolve(merged, order_id=None), rest])
    table = pa.table({"code": merged.codes, "order_id": merged.order_id, "at": merged.at,
                      "units": merged.units})
    aggregates = [("at", "min"), ("units", "sum")]
    if merged.margin is not None:
        table = table.append_column("margin", pa.array(merged.margin))
        aggregates.append(("margin", "sum"))
    if merged.channel is not None:
        table = table.append_column("channel", merged.channel)
        aggregates.append(("channel", "min"))
    orders = table.group_by(["code", "order_id"], use_threads=False).aggregate(aggregates)
    one = OrderBatch(
        orders["code"].to_numpy(),
        orders["at_min"].to_numpy(),
        orders["units_sum"].to_numpy(),
        None if merged.margin is None else orders["margin_sum"].to_numpy(),
        None if merged.channel is None else orders["channel_min"].combine_chunks(),
    )
    rest = attrs.evolve(rows.take(~lines), order_id=None)
    return OrderBatch.concat([one, rest])


#: Texts hashed at once by `_text_hashes` (memory holds a few arrays of their bytes).
_HASH_TEXTS = 1 << 20


def _distinct(values: pa.Array) -> bool:
    """Whether no two of the values are equal. Texts are hashed to 64 bits by numpy and the
    hashes sorted (about twice as fast as Arrow's hash table of ten million texts); only
    where two hashes meet does Arrow compare the texts themselves."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        hashes = _text_hashes(values)
        hashes.sort()
        if not (hashes[1:] == hashes[:-1]).any():
            return True
    return len(pc.unique(values)) == len(values)


def _text_hashes(texts: pa.Array) -> np.ndarray:
    """A 64-bit hash of each text (null as empty), from the array's offsets and bytes: a
    polynomial of its bytes, mixed with its length. Equal texts hash alike."""
    large = pa.types.is_large_string(texts.type)
    width = 8 if large else 4
    _, offset_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offset_buffer, np.int64 if large else np.int32, count=len(texts) + 1,
                            offset=texts.offset * width).astype(np.int64)
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    longest = int(np.diff(offsets).max()) if len(texts) else 0
    powers = np.cumprod(np.full(longest + 1, 0x100000001B3, np.uint64))  # wraps: arithmetic mod 2**64
    out = np.empty(len(texts), np.uint64)
    for start in range(0, len(texts), _HASH_TEXTS):
        bounds = offsets[start:start + _HASH_TEXTS + 1]
        lengths = np.diff(bounds)
        firsts = bounds[:-1] - bounds[0]
        place = np.arange(bounds[-1] - bounds[0]) - np.repeat(firsts, lengths)  # each byte's place in its text
        weighted = np.append(data[bounds[0]:bounds[-1]].astype(np.uint64) * powers[place], np.uint64(0))
        sums = np.add.reduceat(weighted, firsts)  # an empty text's sum is a neighbour's: zeroed below
        h = np.where(lengths > 0, sums, np.uint64(0)) ^ lengths.astype(np.uint64)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(29)
        out[start:start + len(lengths)] = h
    return out
