"""The profile join of a run: the profile sources' and the metrics' tables made one row per
customer of any of them, in key order (a full outer join on the key)."""

from __future__ import annotations

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
    result = tables[0]
    for table in tables[1:]:
        if table.schema.field(key).type != result.schema.field(key).type:
            try:
                table = table.set_column(0, key, table.column(key).cast(result.schema.field(key).type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise DataError(
                    f"customer keys have different types in two sources: "
                    f"{result.schema.field(key).type} and {table.schema.field(key).type}") from None
        if result.column(key).equals(table.column(key)):  # metrics of one orders table
            result = pa.table({**{name: result.column(name) for name in result.column_names},
                               **{name: table.column(name) for name in table.column_names[1:]}})
            continue  # the same table the join gives, without joining
        result = outer_join(result, table, key)
    return key_ordered(result, key) if len(tables) > 1 else result


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
