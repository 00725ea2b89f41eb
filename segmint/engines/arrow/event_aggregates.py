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

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from segmint.engines.arrow.event_pass import SourcePass
from segmint.errors import DataError
from segmint.language import ast
from segmint.language.checker import CheckedRules
from segmint.semantics.asof import AsOf
from segmint.semantics.events import aggregates_by_source

__all__ = ["compute_aggregates"]


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
    by_source = aggregates_by_source(checked)
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
