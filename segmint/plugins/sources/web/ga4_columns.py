"""GA4 export rows read by Arrow: from a block's columns (JSON Lines or a Parquet batch),
the same events and id links that `Ga4Source.scan` finds row by row (see columnar.py for
when a block is left to it instead)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.plugins.sources.web.columnar import Fallback, column, leaves, text, text_or_null
from segmint.plugins.sources.web.events import TIMESTAMP, Calls, column_name

#: Records flattened into ``record_field`` columns.
RECORDS = ("device", "geo", "traffic_source", "app_info", "ecommerce", "collected_traffic_source")
#: Fields that are not attributes of their own.
SKIPPED = {"event_params", "user_properties", "event_timestamp", "event_name", "user_id",
           "user_pseudo_id", "items", *RECORDS}
_DIGITS = r"^-?[0-9]+$"


def ga4_calls(table: pa.Table, lines: object, *, links_only: bool, fixed: Iterable[str]) -> Calls:
    """A block's rows; `Fallback` where reading them by Arrow could differ from `scan`."""
    n = table.num_rows
    micros = _integers(column(table, "event_timestamp"))
    if micros is None or micros.null_count:
        raise Fallback  # a row without a readable event_timestamp: a bad row
    name = column(table, "event_name")
    if name is None or not pa.types.is_string(name.type) or name.null_count or \
            pc.any(pc.equal(name, "")).as_py():
        raise Fallback  # a row without an event_name: a bad row
    user, pseudo = text_or_null(column(table, "user_id"), n), text_or_null(column(table, "user_pseudo_id"), n)
    both = pc.and_(pc.is_valid(user), pc.is_valid(pseudo))
    links = pa.table({"anonymous": pseudo.filter(both), "user": user.filter(both), "at": micros.filter(both)})
    traits = pa.table({"user": pa.array([], pa.string()), "at": pa.array([], pa.int64()),
                       "value": pa.array([], pa.string())})
    if links_only:
        nothing = pa.array([], pa.string())
        return Calls(user=nothing, anonymous=nothing, links=links, traits=traits, columns={})
    columns: dict[str, pa.Array] = {"timestamp": micros.cast(TIMESTAMP), "name": name, "user_pseudo_id": pseudo}
    shadowed = set(fixed) | set(columns)
    for group in (_params(column(table, "event_params"), n, ()),
                  _params(column(table, "user_properties"), n, ("user",)), _flat(table)):
        for label, values in group.items():
            if label in shadowed:
                continue
            if label in columns:
                raise Fallback  # a parameter and a field of one name: which wins depends on the row
            columns[label] = values
    return Calls(user=user, anonymous=pseudo, links=links, traits=traits, columns=columns,
                 lines=lines)  # type: ignore[arg-type]


def _integers(values: pa.Array | None) -> pa.Array | None:
    """Whole numbers as int64: integers as they are, text of digits read (as `int`)."""
    if values is None:
        return None
    if pa.types.is_integer(values.type):
        return values.cast(pa.int64())
    if not pa.types.is_string(values.type) or not pc.all(pc.match_substring_regex(values, _DIGITS)).as_py():
        raise Fallback
    try:
        return values.cast(pa.int64())
    except (pa.ArrowInvalid, OverflowError):
        raise Fallback from None


def _params(params: pa.Array | None, n: int, prefix: tuple[str, ...]) -> dict[str, pa.Array]:
    """``[{key, value: {string_value, int_value, ...}}]`` as one column per key: the value
    of the row's last parameter of that key (whichever of its values is set)."""
    if params is None or pa.types.is_null(params.type):
        return {}
    if not pa.types.is_list(params.type) or not pa.types.is_struct(params.type.value_type):
        raise Fallback
    items = pc.list_flatten(params)
    rows = pc.list_parent_indices(params)
    key = column(pa.table({"p": items}), "p", "key")
    if key is None or not len(items):
        return {}
    if not pa.types.is_string(key.type):
        raise Fallback
    branches = [_branch(items, "string_value"), _branch(items, "int_value"), _branch(items, "double_value"),
                _branch(items, "float_value")]
    named = pc.fill_null(pc.not_equal(key, ""), False)
    out: dict[str, pa.Array] = {}
    labels: dict[str, str] = {}
    for name in pc.unique(key.filter(named)).to_pylist():
        label = column_name(*prefix, name)
        if label in labels:
            raise Fallback  # two keys of one column name: the first in each row wins
        labels[label] = name
        mine = np.flatnonzero(pc.fill_null(pc.equal(key, name), False).to_numpy(zero_copy_only=False))
        out[label] = _scatter(_value(branches, mine), rows.to_numpy()[mine], n)
    return out


def _branch(items: pa.Array, name: str) -> pa.Array | None:
    values = column(pa.table({"p": items}), "p", "value", name)
    return None if values is None or pa.types.is_null(values.type) else values


def _value(branches: list[pa.Array | None], mine: np.ndarray) -> pa.Array:
    """The value each of these parameters holds: its string, else its integer, else its
    double (else float) value; one kind per key, or `Fallback`."""
    string, integer, double, single = (None if b is None else b.take(mine) for b in branches)
    found = [(kind, v) for kind, v in (("string", string), ("int", integer), ("double", double),
                                        ("float", single)) if v is not None and v.null_count < len(v)]
    if not found:
        return pa.nulls(len(mine), pa.string())
    if len(found) == 2 and {found[0][0], found[1][0]} == {"double", "float"}:
        # the double value where set, else the float: both floating point
        found = [("double", pc.coalesce(_floating(found[0][1]), _floating(found[1][1])))]
    if len(found) != 1:
        raise Fallback
    kind, values = found[0]
    if kind == "string":
        if not pa.types.is_string(values.type):
            raise Fallback
        return values
    if kind == "int":
        return _integers(values)  # type: ignore[return-value]
    return _floating(values)


def _floating(values: pa.Array) -> pa.Array:
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        raise Fallback
    return values.cast(pa.float64())


def _scatter(values: pa.Array, rows: np.ndarray, n: int) -> pa.Array:
    """A column of `n` rows: each row's last of `values` (null where it has none)."""
    position = np.full(n, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))  # a later parameter of a row overwrites an earlier
    return values.take(pa.array(position, mask=position < 0))


def _flat(table: pa.Table) -> dict[str, pa.Array]:
    """The records' fields as ``record_field`` columns, and the other top-level fields that
    are neither records nor lists."""
    out: dict[str, pa.Array] = {}
    paths: list[tuple[tuple[str, ...], pa.Array | None]] = []
    for record in RECORDS:
        values = column(table, record)
        if values is not None and pa.types.is_struct(values.type):
            paths += [(path, None if is_record else v) for path, v, is_record in leaves(values, (record,))]
    for name in table.column_names:
        values = column(table, name)
        if name in SKIPPED or values is None or pa.types.is_struct(values.type) or \
                pa.types.is_list(values.type):
            continue
        paths.append(((name,), values))
    for path, values in paths:
        label = _label(path)
        if label in out:
            raise Fallback
        out[label] = values  # type: ignore[assignment]
    return {label: values for label, values in out.items() if values is not None}


def _label(path: tuple[str, ...]) -> str:
    prefix = ""
    for part in path:
        prefix = column_name(prefix, part)
    return prefix


__all__ = ["RECORDS", "SKIPPED", "ga4_calls"]
