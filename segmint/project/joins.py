"""The profile join of a run: the profile sources' and the metrics' tables made one row per
customer of any of them, in key order (a full outer join on the key)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError


def profile_keys(tables: list[pa.Table], key: str) -> pa.Array | None:
    """The keys of the profile tables read (a key in several once per table: `is_in`, the
    one use, needs no distinct set, and finding it costs a hash of every key), or None
    when there are none."""
    if not tables:
        return None
    kind = tables[0].schema.field(key).type
    # the chunks themselves: a list of chunked arrays would be converted value by value
    return pa.chunked_array([chunk for t in tables for chunk in t.column(key).cast(kind).chunks],
                            type=kind).combine_chunks()


def join_profiles(tables: list[pa.Table], key: str) -> pa.Table:
    """One row per customer of any source: a full outer join on the key."""
    kind = tables[0].schema.field(key).type
    side_by_side = [tables[0]]
    for table in tables[1:]:
        if table.schema.field(key).type != kind:
            try:
                table = table.set_column(0, key, table.column(key).cast(kind))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise DataError(
                    f"customer keys have different types in two sources: "
                    f"{kind} and {table.schema.field(key).type}") from None
        last = side_by_side[-1]
        if last.column(key).equals(table.column(key)):  # metrics of one orders table
            side_by_side[-1] = pa.table({**{name: last.column(name) for name in last.column_names},
                                         **{name: table.column(name) for name in table.column_names[1:]}})
            continue  # the same table the join gives, without joining
        side_by_side.append(table)
    result = side_by_side[0] if len(side_by_side) == 1 else outer_join_all(side_by_side, key)
    return key_ordered(result, key) if len(tables) > 1 else result


def outer_join_all(tables: list[pa.Table], key: str) -> pa.Table:
    """`outer_join` of several tables at once, where each holds a key once and no null key:
    one hash of all their keys (a dictionary: the result's keys, sorted), and each table's
    rows taken once, in key order; other tables are joined two by two."""
    keys = [chunk for t in tables for chunk in t.column(key).chunks]
    if any(chunk.null_count for chunk in keys):
        return _two_by_two(tables, key)
    try:
        encoded = pc.dictionary_encode(pa.chunked_array(keys, type=tables[0].schema.field(key).type).combine_chunks())
    except pa.ArrowNotImplementedError:
        return _two_by_two(tables, key)
    codes = encoded.indices.to_numpy()
    width = len(encoded.dictionary)
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    takes, start = [], 0
    for table in tables:
        mine = codes[start:start + table.num_rows]
        start += table.num_rows
        if len(mine) and np.bincount(mine, minlength=width).max() > 1:
            return _two_by_two(tables, key)  # a key twice: the join repeats rows
        rows = np.full(width, -1, dtype=np.int64)
        rows[mine] = np.arange(table.num_rows)
        rows = rows[order]
        takes.append(pa.array(rows, mask=rows < 0))
    columns = {key: encoded.dictionary.take(order)}
    for table, rows in zip(tables, takes, strict=True):
        for name in table.column_names:
            if name != key:
                columns[name] = table.column(name).take(rows)
    return pa.table(columns)


def _two_by_two(tables: list[pa.Table], key: str) -> pa.Table:
    result = tables[0]
    for table in tables[1:]:
        result = outer_join(result, table, key)
    return result


def key_ordered(table: pa.Table, key: str) -> pa.Table:
    """The table in key order (a join's rows come in no defined order); one already in
    key order, as tables sharing one grouping of the keys are, is not sorted again."""
    keys = table.column(key)
    if table.num_rows > 1 and keys.null_count == 0:
        ordered = pc.all(pc.less_equal(keys.slice(0, len(keys) - 1), keys.slice(1))).as_py()
        if ordered:
            return table
    return table.sort_by(key)


def outer_join(left: pa.Table, right: pa.Table, key: str) -> pa.Table:
    """A full outer join on the key that carries columns of any type (lists and structs,
    which Arrow's join cannot carry): join row numbers, then take the columns."""
    rows = pa.table({key: left.column(key), "__left": pa.array(range(left.num_rows), pa.int64())}).join(
        pa.table({key: right.column(key), "__right": pa.array(range(right.num_rows), pa.int64())}),
        keys=key, join_type="full outer", coalesce_keys=True)
    columns = {key: rows.column(key)}
    for side, table in (("__left", left), ("__right", right)):
        for name in table.column_names:
            if name != key:
                columns[name] = table.column(name).take(rows.column(side))
    return pa.table(columns)
