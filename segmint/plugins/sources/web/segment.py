"""The ``segment_events`` source: Segment-spec JSON Lines (``track``, ``page``, ``screen``,
``identify``) as web events.

Events are keyed by ``userId``. An ``identify`` call (or any event carrying both ids) ties an
``anonymousId`` to a ``userId``, so the events a visitor made before logging in get the
user's key too; events of a visitor never identified are left out (``anonymous = "drop"``) or
kept under their anonymous id. With ``key_trait`` the key is a trait from the user's latest
``identify`` (such as ``email``) instead of the ``userId``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import pyarrow as pa

from segmint.plugins.sources.web.columnar import Block, Fallback, parse
from segmint.plugins.sources.web.events import (
    Calls,
    EventFileSource,
    Scan,
    column_name,
    flatten,
    identifier,
    parse_instant,
)
from segmint.plugins.sources.web.segment_columns import (
    FIXED, KINDS, NAMED, PAGE_FIELDS, PAGE_VIEW, SCREEN_VIEW, segment_calls,
)

#: Top-level fields read as text (Arrow would guess the timestamps to be timestamps).
_STRINGS = ("type", "event", "timestamp", "originalTimestamp", "receivedAt")


@attrs.frozen
class SegmentOptions:
    """Options of the ``segment_events`` source."""

    path: Path = attrs.field(metadata={"help": "the JSON Lines file of Segment calls"})
    anonymous: Literal["drop", "keep"] = attrs.field(
        default="drop", metadata={"help": "events of visitors never identified: drop, or keep keyed by anonymousId"})
    key_trait: str | None = attrs.field(
        default=None, metadata={"help": "key events by this identify trait (e.g. email) instead of userId"})


class SegmentSource(EventFileSource):
    """Web and app events from Segment (track, page, screen; identify joins ids)."""

    name = "segment_events"
    description = "Segment-spec JSON Lines: track, page, screen and identify calls"
    Options = SegmentOptions

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        return self.json_lines()

    @property
    def keys_by_trait(self) -> bool:  # type: ignore[override]
        return bool(self.options.key_trait)

    def scan(self, records: Iterable[tuple[int, dict[str, Any]]], limit: int | None = None) -> Scan:
        found: list[tuple[int, dict[str, Any], str | None, str | None]] = []
        links: list[tuple[str, str, Any]] = []
        traits: list[tuple[str, Any, Any]] = []
        for number, call in records:
            kind = call.get("type")
            if kind not in KINDS:
                if kind is None and "event" in call:
                    kind = "track"  # some exports leave out "type" on track calls
                else:
                    self.bad_row(self.error(f"unknown call type {kind!r} (expected track, page, "
                                            "screen or identify)", row=number, column="type"))
                    continue
            try:
                at = parse_instant(call.get("timestamp") or call.get("originalTimestamp")
                                   or call.get("receivedAt"))
            except ValueError as exc:
                self.bad_row(self.error(f"no valid timestamp: {exc}", row=number, column="timestamp"))
                continue
            user, anonymous = identifier(call.get("userId")), identifier(call.get("anonymousId"))
            if user is None and anonymous is None:
                self.bad_row(self.error("neither userId nor anonymousId", row=number, column="userId"))
                continue
            if user is not None and anonymous is not None:
                links.append((anonymous, user, at))
            if kind == "identify":
                if user is not None and self.options.key_trait:
                    value = (call.get("traits") or {}).get(self.options.key_trait)
                    if value is not None:
                        traits.append((user, at, value))
                continue
            event: dict[str, Any] = {"timestamp": at, "name": _name(kind, call), "type": kind,
                                     "anonymous_id": anonymous, "user_id": user}
            page = (call.get("context") or {}).get("page") or {}
            properties = dict(call.get("properties") or {})
            for field in PAGE_FIELDS:
                properties.setdefault(field, page.get(field))
            if kind in ("page", "screen") and call.get("name"):
                properties.setdefault(NAMED[kind], call["name"])
            flat: dict[str, Any] = {}
            flatten(properties, "", flat)
            for k, v in flat.items():
                event.setdefault(column_name(k), v)
            found.append((number, event, user, anonymous))
            if limit is not None and len(found) >= limit:
                break
        return found, links, traits

    def fast_calls(self, block: Block | None, table: pa.Table | None, links_only: bool) -> Calls:
        if block is None:
            raise Fallback
        table = None
        if links_only:  # only what links ids: the rest of each line is skipped, not built
            with contextlib.suppress(Fallback):
                table = parse(block, _STRINGS, only=self._link_fields())
        if table is None:
            table = parse(block, _STRINGS)
        return segment_calls(table, block, key_trait=self.options.key_trait, links_only=links_only,
                             fixed=(self.context.key, *FIXED))

    def _link_fields(self) -> pa.Schema:
        fields = [("userId", pa.string()), ("anonymousId", pa.string())]
        if self.options.key_trait:
            fields.append(("traits", pa.struct([(self.options.key_trait, pa.string())])))
        return pa.schema(fields)


def _name(kind: str, call: dict[str, Any]) -> str:
    if kind == "page":
        return PAGE_VIEW
    if kind == "screen":
        return SCREEN_VIEW
    return str(call.get("event") or "")
