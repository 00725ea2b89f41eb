"""Aggregate states by grouping: partial `group_by(key).aggregate(...)` tables per batch,
combined by grouping again whenever enough have piled up (any key type, any value type)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

#: Partial states are combined once this many rows of them are waiting.
COMBINE_ROWS = 1 << 22

#: The key column of every state table (a customer key, or its row in the profile table).
KEY = "__key"


def group(table: pa.Table, aggregations: Sequence[tuple[str, str]], names: Sequence[str]) -> pa.Table:
    """`table` grouped by key, one aggregation per state column, named `names`."""
    grouped = table.group_by(KEY, use_threads=True).aggregate(list(aggregations))
    order = [f"{column}_{function}" for column, function in aggregations]
    return grouped.select([KEY, *order]).rename_columns([KEY, *names])


def distinct_pairs(table: pa.Table) -> pa.Table:
    return table.group_by([KEY, "v"]).aggregate([])


def arg_best(table: pa.Table, earliest: bool) -> pa.Table:
    """Per key: the earliest (latest) timestamp `t` and the smallest (largest) value `v` there."""
    if table.num_rows == 0:
        return table
    function = "min" if earliest else "max"
    best = table.group_by(KEY).aggregate([("t", function)]).rename_columns([KEY, "bt"])
    joined = table.join(best, KEY)
    at_best = joined.filter(pc.equal(joined["t"], joined["bt"]))
    return at_best.group_by(KEY).aggregate([("t", function), ("v", function)]).rename_columns(
        [KEY, "t", "v"])


class Combiner:
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

