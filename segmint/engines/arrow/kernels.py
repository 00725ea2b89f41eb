"""Array kernels of the arrow engine that are more than one Arrow call: list membership
(``contains``) and the top/bottom N% cut. Pure functions of arrays, used by the compiler
(compiler.py) when it evaluates those tests."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.semantics.ranking import cut_position, rank_count


@attrs.frozen
class Cut:
    """How an `in top/bottom N%` test was decided, for `explain`."""

    value: Any
    k: int
    n: int


def list_contains(lists: pa.ChunkedArray, values: list[Any], mode: str) -> pa.Array:
    """Per row: does the list hold the value (one), any of them, or all of them?

    Null where the list is null; an empty list holds nothing, not even null (so ``[] contains
    null`` is false, as DuckDB's ``list_contains``), while whether another list holds an
    unknown value is unknown (null).
    """
    array = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    if pa.types.is_large_list(array.type):
        array = array.cast(pa.list_(array.type.value_type))
    wanted = list(dict.fromkeys(v for v in values if v is not None))  # index_in wants no repeats
    if mode == "one" and not wanted:
        empty = pc.equal(pc.list_value_length(array), 0)
        return pc.if_else(empty, pa.scalar(False), pa.scalar(None, pa.bool_()))
    n = len(array)
    flat = pc.list_flatten(array)
    parents = pc.list_parent_indices(array).to_numpy(zero_copy_only=False)
    element_type = array.type.value_type
    try:
        value_set = pa.array(wanted, element_type) if wanted else pa.array([], element_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        value_set = pa.array(wanted).cast(element_type, safe=False)
    if pa.types.is_floating(element_type):  # -0.0 is 0.0, as with ==
        flat, value_set = pc.add(flat, 0.0), pc.add(value_set, 0.0)
    index = pc.index_in(flat, value_set=value_set).to_numpy(zero_copy_only=False)
    matched = ~np.isnan(index) if index.dtype.kind == "f" else index >= 0
    found_index = np.nan_to_num(index, nan=-1).astype(np.int64) if index.dtype.kind == "f" else index
    if mode == "all":
        m = len(set(wanted))
        pairs = np.unique(parents[matched].astype(np.int64) * max(m, 1) + found_index[matched])
        counts = np.bincount(pairs // max(m, 1), minlength=n) if len(pairs) else np.zeros(n, np.int64)
        result = counts >= m
    else:
        result = np.zeros(n, dtype=bool)
        result[parents[matched]] = True
    return pa.array(result, pa.bool_(), mask=array.is_null().to_numpy(zero_copy_only=False))


def rank_cut(present: pa.ChunkedArray, percent: float, top: bool) -> tuple[Cut, pa.Scalar | None]:
    """The cut of `semantics.ranking`: the k-th largest (top) or smallest (bottom) value.

    A partial sort with numpy where the values are numbers or times (linear time), Arrow's
    sort otherwise. None when k is 0: nobody is in.
    """
    n = len(present)
    k = rank_count(n, percent)
    if k <= 0:
        return Cut(None, 0, n), None
    position = cut_position(n, k, top)
    values = present.combine_chunks() if isinstance(present, pa.ChunkedArray) else present
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_temporal(kind):
        physical = values if not pa.types.is_temporal(kind) else values.cast(
            pa.int32() if pa.types.is_date32(kind) else pa.int64())
        index = int(np.argpartition(physical.to_numpy(zero_copy_only=False), position)[position])
    else:
        index = pc.sort_indices(values)[position].as_py()
    found = values[index]
    return Cut(found.as_py(), k, n), found
