"""The ``segment_events`` source: Segment-spec JSON Lines (``track``, ``page``, ``screen``,
``identify``) as web events.

Events are keyed by ``userId``. An ``identify`` call (or any event carrying both ids) ties an
``anonymousId`` to a ``userId``, so the events a visitor made before logging in get the
user's key too; events of a visitor never identified are left out (``anonymous = "drop"``) or
kept under their anonymous id. With ``key_trait`` the key is a trait from the user's latest
``identify`` (such as ``email``) instead of the ``userId``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import attrs

from segmint.plugins.sources.web.events import (
    EventFileSource,
    column_name,
    flatten,
    identifier,
    link,
    parse_instant,
)

#: The ``name`` of a page view (the same as GA4's), and of a mobile screen view.
PAGE_VIEW = "page_view"
SCREEN_VIEW = "screen_view"


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

    def events(self, limit: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        users: dict[str, tuple[Any, str]] = {}  # anonymousId -> (timestamp, userId)
        traits: dict[str, tuple[Any, Any]] = {}  # userId -> (timestamp, trait value)
        found: list[tuple[int, dict[str, Any], str | None, str | None]] = []
        for number, call in self.records():
            kind = call.get("type")
            if kind not in ("track", "page", "screen", "identify"):
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
            link(users, anonymous, user, at)
            if kind == "identify":
                if user is not None and self.options.key_trait:
                    value = (call.get("traits") or {}).get(self.options.key_trait)
                    if value is not None and (user not in traits or traits[user][0] <= at):
                        traits[user] = (at, value)
                continue
            event: dict[str, Any] = {"timestamp": at, "name": _name(kind, call), "type": kind,
                                     "anonymous_id": anonymous, "user_id": user}
            page = (call.get("context") or {}).get("page") or {}
            properties = dict(call.get("properties") or {})
            for field in ("path", "url", "referrer", "title"):
                properties.setdefault(field, page.get(field))
            if kind in ("page", "screen") and call.get("name"):
                properties.setdefault("page_name" if kind == "page" else "screen_name", call["name"])
            flat: dict[str, Any] = {}
            flatten(properties, "", flat)
            for k, v in flat.items():
                event.setdefault(column_name(k), v)
            found.append((number, event, user, anonymous))
            if limit is not None and len(found) >= limit:
                break
        if not self.options.key_trait:
            return self.keyed(found, users)
        return self.keyed(found, users, lambda user: traits[user][1] if user in traits else None)


def _name(kind: str, call: dict[str, Any]) -> str:
    if kind == "page":
        return PAGE_VIEW
    if kind == "screen":
        return SCREEN_VIEW
    return str(call.get("event") or "")
