"""How wall-clock times (dates, zone-free timestamps) in the run's time zone are instants,
in one place for the arrow engine, the metrics and the report (the SQL dialects state the
same rule, `segmint.engines.sql.dialects.SqlDialect.utc_from_local`); and instants of event
timestamps as int64 microseconds since the epoch, what metrics and the report's outcome
windows count with."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError


#: How a wall-clock time is read where the clocks change, for the docs and the tests.
RULE = ("a time the clocks show twice is its second instant; a time they skip is read with "
        "the offset before the change (moved forward by it)")


def utc_instants(values: pa.Array | pa.ChunkedArray, timezone: str) -> pa.Array | pa.ChunkedArray:
    """Zone-free timestamps, wall-clock times in `timezone`, as the instants they are
    (timestamps of the same unit with the zone), read as PostgreSQL and DuckDB read them:

    - a time the clocks show twice (the hour before a change back) is its second instant:
      02:30 in Berlin on 2024-10-27 is 02:30 CET, 01:30 UTC;
    - a time the clocks skip (a change forward) is read with the offset in force before
      the change, so it moves forward by the change: 02:30 on 2024-03-31 is 03:30 CEST,
      01:30 UTC.

    Arrow's own choices for a skipped time (the last instant before the change, or the
    first after it) are neither, so skipped ones are read with the offset of the instant
    just before the change. `local_instant` reads one Python datetime so."""
    try:
        return pc.assume_timezone(values, timezone=timezone, ambiguous="latest", nonexistent="raise")
    except pa.ArrowInvalid:  # some time is skipped: read them all with the offset before
        pass
    before = pc.assume_timezone(values, timezone=timezone, ambiguous="latest", nonexistent="earliest")
    ticks = pa.int64()
    offset = pc.subtract(pc.local_timestamp(before).cast(ticks), before.cast(ticks))
    return pc.subtract(values.cast(ticks), offset).cast(pa.timestamp(values.type.unit, tz=timezone))


def local_instant(wall: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """A zone-free datetime, a wall-clock time in `zone`, as the instant `utc_instants`
    gives it, in UTC: Python's ``fold=1`` where the time is shown twice, its ``fold=0``
    otherwise (which moves a skipped time forward by the change). In UTC because Python
    never finds a time of a fold or a gap equal to one of another zone (PEP 495)."""
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(dt.timezone.utc)
    shown = first.astimezone(dt.timezone.utc).astimezone(zone).replace(tzinfo=None, fold=0)
    return (second if shown == wall.replace(fold=0) else first).astimezone(dt.timezone.utc)


def instants_us(
    values: pa.Array, timezone: str, *, source: str = "orders", column: str = "timestamp"
) -> np.ndarray:
    """Instants of dates or timestamps as int64 µs since the epoch.

    Dates are midnight and naive timestamps wall-clock time, both in `timezone`.
    """
    t = values.type
    if values.null_count:
        raise DataError(
            f"{values.null_count} row(s) without a timestamp", source=source, column=column
        )
    if pa.types.is_date(t):
        values = values.cast(pa.timestamp("us"))
    elif not pa.types.is_timestamp(t):
        raise DataError(
            f"timestamps must be dates or timestamps, got {t}", source=source, column=column
        )
    if values.type.tz is None and timezone != "UTC":
        values = utc_instants(values, timezone)
    if values.type.unit != "us":
        values = values.cast(pa.timestamp("us", tz=values.type.tz), safe=False)
    return values.view(pa.int64()).to_numpy(zero_copy_only=False)
