"""Segment calls read by Arrow: from a block's columns, the same events, id links and key
traits that `SegmentSource.scan` finds line by line (see columnar.py for when a block is
left to it instead)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.plugins.sources.web.columnar import (
    Block, Fallback, column, instants, leaves, text, text_or_null,
)
from segmint.plugins.sources.web.events import TIMESTAMP, Calls, column_name

#: The ``name`` of a page view (the same as GA4's), and of a mobile screen view.
PAGE_VIEW = "page_view"
SCREEN_VIEW = "screen_view"
KINDS = ("track", "page", "screen", "identify")
#: Fields of ``context.page`` an event gets when its properties lack them.
PAGE_FIELDS = ("path", "url", "referrer", "title")
#: The property a page's (screen's) ``name`` becomes when its properties lack it.
NAMED = {"page": "page_name", "screen": "screen_name"}
#: Columns every event has; properties of these names are left out.
FIXED = ("timestamp", "name", "type", "anonymous_id", "user_id")


def segment_calls(table: pa.Table, block: Block, *, key_trait: str | None, links_only: bool,
                  fixed: Iterable[str]) -> Calls:
    """A block's calls; `Fallback` where reading them by Arrow could differ from `scan`."""
    n = table.num_rows
    kind = text(column(table, "type"), n)
    event = text(column(table, "event"), n)
    known = pc.or_(pc.is_in(kind, pa.array(KINDS)), pc.and_(pc.is_null(kind), pc.is_valid(event)))
    if not pc.all(pc.fill_null(known, False)).as_py():
        raise Fallback  # an unknown call type: a bad row
    kind = pc.coalesce(kind, "track")
    at = instants(pc.coalesce(*(_nonempty(text(column(table, f), n))
                                for f in ("timestamp", "originalTimestamp", "receivedAt"))))
    user, anonymous = text_or_null(column(table, "userId"), n), text_or_null(column(table, "anonymousId"), n)
    if pc.any(pc.and_(pc.is_null(user), pc.is_null(anonymous))).as_py():
        raise Fallback  # neither id: a bad row
    both = pc.and_(pc.is_valid(user), pc.is_valid(anonymous))
    links = pa.table({"anonymous": anonymous.filter(both), "user": user.filter(both), "at": at.filter(both)})
    identify = pc.equal(kind, "identify")
    if key_trait:
        trait = text(column(table, "traits", key_trait), n)
        given = pc.and_(identify, pc.and_(pc.is_valid(user), pc.is_valid(trait)))
        traits = pa.table({"user": user.filter(given), "at": at.filter(given), "value": trait.filter(given)})
    else:
        traits = pa.table({"user": pa.array([], pa.string()), "at": pa.array([], TIMESTAMP),
                           "value": pa.array([], pa.string())})
    if links_only:
        nothing = pa.array([], pa.string())
        return Calls(user=nothing, anonymous=nothing, links=links, traits=traits, columns={})
    events = pc.invert(identify)
    table, kind, event, at = table.filter(events), kind.filter(events), event.filter(events), at.filter(events)
    user, anonymous = user.filter(events), anonymous.filter(events)
    columns = {
        "timestamp": at,
        "name": pc.case_when(pc.make_struct(pc.equal(kind, "page"), pc.equal(kind, "screen")),
                             PAGE_VIEW, SCREEN_VIEW, pc.coalesce(event, "")),
        "type": kind, "anonymous_id": anonymous, "user_id": user,
    }
    columns.update(_attributes(table, block, kind, set(fixed) | set(columns)))
    rows = np.flatnonzero(events.to_numpy(zero_copy_only=False))

    def lines() -> np.ndarray:
        numbers = block.row_lines()
        if len(numbers) != n:
            raise Fallback
        return numbers[rows]

    return Calls(user=user, anonymous=anonymous, links=links, traits=traits, columns=columns, lines=lines)


def _attributes(table: pa.Table, block: Block, kind: pa.Array, taken: set[str]) -> dict[str, pa.Array]:
    """The flattened properties of a block's events, with the page fields and page names
    they lack filled in, by column name."""
    properties = _record(column(table, "properties"))
    page = _record(column(table, "context", "page"))
    raw: dict[tuple[str, ...], pa.Array | None] = {}  # None: a record (only its name counts)
    if properties is not None:
        for path, values, is_record in leaves(properties):
            raw[path] = None if is_record else values
    for field in PAGE_FIELDS:
        given = page.flatten()[page.type.get_field_index(field)] if (
            page is not None and page.type.get_field_index(field) >= 0) else None
        raw[(field,)] = _default(raw.get((field,)), given, None, field, block)
    name = column(table, "name")
    if name is not None and not pa.types.is_null(name.type):
        if not pa.types.is_string(name.type):
            raise Fallback
        for kind_name, field in NAMED.items():
            named = pc.and_(pc.equal(kind, kind_name), pc.fill_null(pc.not_equal(name, ""), False))
            if pc.any(named).as_py():
                raw[(field,)] = _default(raw.get((field,)), name, named, field, block)
    names: dict[str, tuple[str, ...]] = {}
    for path in raw:
        label = _label(path)
        if label in names:
            raise Fallback  # two properties of one name: which wins depends on each line's order
        names[label] = path
    return {label: raw[path] for label, path in names.items()
            if label not in taken and raw[path] is not None}  # type: ignore[misc]


def _record(values: pa.Array | None) -> pa.Array | None:
    if values is None or pa.types.is_null(values.type):
        return None
    if not pa.types.is_struct(values.type):
        raise Fallback
    return values


def _default(own: pa.Array | None, given: pa.Array | None, where: pa.Array | None, field: str,
             block: Block) -> pa.Array | None:
    """A property's values, `given` (where `where`) for events whose properties lack it.

    Arrow reads a missing property and one written as null alike; where the two would
    differ, the block must have no ``"field": null`` for the default to be certain."""
    if given is None or pa.types.is_null(given.type):
        return own
    if pa.types.is_struct(given.type):
        raise Fallback
    if where is not None:
        given = pc.if_else(where, given, pa.scalar(None, given.type))
    if own is None:
        return given
    if pa.types.is_null(own.type):
        own = pa.nulls(len(own), given.type)
    if own.type != given.type:
        raise Fallback
    unclear = pc.and_(pc.is_null(own), pc.is_valid(given))
    if pc.any(unclear).as_py():
        if b"\\u" in block.data or re.search(rb'"%s"\s*:\s*null' % field.encode(), block.data):
            raise Fallback
        return pc.coalesce(own, given)
    return own


def _label(path: tuple[str, ...]) -> str:
    """The column name of a property path, as `flatten` and `column_name` make it."""
    prefix = ""
    for part in path:
        prefix = column_name(prefix, part)
    return column_name(prefix)


def _nonempty(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


__all__ = ["FIXED", "KINDS", "NAMED", "PAGE_FIELDS", "PAGE_VIEW", "SCREEN_VIEW", "segment_calls"]
