"""The run's reference instant: `as_of`, its date (`today`) and the time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import attrs

from segmint.errors import ConfigError
from segmint.semantics.instants import local_instant


@attrs.frozen
class AsOf:
    """`instant` is timezone-aware UTC; `date` is the day of `instant` in `timezone`.

    A date given as as_of means the whole of that day is observed: the instant is the last
    microsecond of that day in the time zone.
    """

    instant: dt.datetime
    date: dt.date
    timezone: str = "UTC"
    whole_day: bool = False  # as_of was a date: that whole day is observed

    @classmethod
    def resolve(cls, value: dt.date | dt.datetime | str | None, timezone: str = "UTC") -> AsOf:
        zone = _zone(timezone)
        if isinstance(value, str):
            value = parse_as_of(value)
        if value is None:
            local = dt.datetime.now(zone)
            return cls(local.astimezone(dt.timezone.utc), local.date(), timezone)
        if isinstance(value, dt.datetime):
            local = value if value.tzinfo else local_instant(value, zone)
            return cls(local.astimezone(dt.timezone.utc), local.astimezone(zone).date(), timezone)
        next_midnight = local_instant(dt.datetime.combine(value + dt.timedelta(days=1), dt.time()), zone)
        instant = next_midnight.astimezone(dt.timezone.utc) - dt.timedelta(microseconds=1)
        return cls(instant, value, timezone, whole_day=True)


def parse_as_of(text: str) -> dt.date | dt.datetime:
    """'2026-01-31' as a date, '2026-01-31T10:00:00Z' as a timestamp."""
    text = text.strip()
    try:
        if "T" in text or " " in text:
            return dt.datetime.fromisoformat(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"as_of must be a date (2026-01-31) or a timestamp (2026-01-31T10:00:00Z), got '{text}'"
        ) from None


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone '{name}' (use an IANA name like Europe/Berlin)") from None
