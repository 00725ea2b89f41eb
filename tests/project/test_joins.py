"""The profile join (`joins.join_profiles`): one row per customer of any table, in key order.

Tables with the very same keys (the metrics computed from one orders table) are put side by
side without joining; the oracle for every case is the full outer join and sort the
general path does, so both paths must give the same table.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from segmint.project.joins import join_profiles, outer_join

CASES = [
    # (id, left keys, right keys)
    ("same-keys-in-order", [1, 2, 3, 5], [1, 2, 3, 5]),
    ("same-keys-out-of-order", [5, 1, 3, 2], [5, 1, 3, 2]),
    ("same-set-other-order", [1, 2, 3], [3, 2, 1]),
    ("different-keys", [1, 2, 4], [2, 3, 4]),
    ("string-keys-same", ["b", "a", "c"], ["b", "a", "c"]),
    ("string-keys-in-order", ["a", "b", "c"], ["a", "b", "c"]),
    ("one-row", [7], [7]),
    ("empty", [], []),
]


def _table(keys: list, column: str) -> pa.Table:
    values = pa.array([f"{column}-{k}" for k in keys], pa.string())
    return pa.table({"id": pa.array(keys, pa.string() if keys and isinstance(keys[0], str)
                                    else pa.int64()), column: values})


@pytest.mark.parametrize(("left", "right"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_join_gives_what_the_outer_join_and_sort_give(left, right):
    a, b = _table(left, "x"), _table(right, "y")
    expected = outer_join(a, b, "id").sort_by("id")
    joined = join_profiles([a, b], "id")
    assert joined.equals(expected)
    assert joined.schema == expected.schema


def test_three_tables_sharing_keys_and_one_that_does_not():
    keys = [4, 2, 9]
    tables = [_table(keys, "x"), _table(keys, "y"), _table([2, 5], "z")]
    expected = outer_join(outer_join(tables[0], tables[1], "id"), tables[2], "id").sort_by("id")
    assert join_profiles(tables, "id").equals(expected)


@pytest.mark.parametrize("keys", [
    ([1, 2, 4], [2, 3, 4], [9, 1]),  # each key once per table: one hash of all keys
    ([1, 2, 2], [2, 3], [2]),  # a key twice: joined two by two, rows repeated
    ([1, None, 4], [4, None], [1]),  # null keys meet nothing (rows of a null key in any order)
])
def test_several_tables_join_as_the_outer_joins_two_by_two(keys):
    tables = [_table(k, name) for k, name in zip(keys, "xyz", strict=True)]
    expected = outer_join(outer_join(tables[0], tables[1], "id"), tables[2], "id").sort_by("id")
    joined = join_profiles(tables, "id")
    assert joined.schema == expected.schema
    assert joined.column("id").equals(expected.column("id"))
    assert sorted(map(repr, joined.to_pylist())) == sorted(map(repr, expected.to_pylist()))
