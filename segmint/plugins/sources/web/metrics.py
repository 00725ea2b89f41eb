"""The ``web`` metrics, from the event source named ``events`` (``segment_events``, ``ga4``,
or any event source with the key, a ``timestamp`` and a ``name``), as of the run's as_of:

- ``last_seen``: the latest event's time;
- ``sessions_30d``: visits in the 30 days up to as_of, a visit ending after 30 minutes
  without events;
- ``pageviews_30d``: ``page_view`` events in those 30 days.

Events after as_of are never seen. Customers without events have no row (the profile join
gives them nulls). The SQL engines compute the same columns with `metrics_sql` (needs sqlglot).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError
from segmint.plugin.api import SQL, Metric, MetricColumn, MetricContext, local_instant, utc_instants

from segmint.plugins.sources.web.segment import PAGE_VIEW

SOURCE = "events"
WINDOW = dt.timedelta(days=30)
SESSION_GAP_US = 30 * 60 * 1_000_000
UTC_US = pa.timestamp("us", tz="UTC")


def compute_web(ctx: MetricContext) -> pa.Table:
    events = ctx.events[SOURCE]
    if isinstance(events, pa.RecordBatchReader):
        events = events.read_all()
    check_events(events.schema)
    key = ctx.key
    at = events.column("timestamp")
    if at.type.tz is None:
        at = utc_instants(at, ctx.timezone)
    micros = at.cast(UTC_US).cast(pa.int64())
    start, end = window_us(ctx)
    seen = pc.and_(pc.is_valid(micros), pc.less(micros, end))
    table = pa.table({key: events.column(key), "t": micros,
                      "page": pc.fill_null(pc.equal(events.column("name"), PAGE_VIEW), False)}).filter(seen)
    table = table.filter(pc.is_valid(table.column(key)))
    if table.num_rows == 0:
        return pa.table({key: pa.array([], events.schema.field(key).type), "last_seen": pa.array([], UTC_US),
                         "sessions_30d": pa.array([], pa.int64()), "pageviews_30d": pa.array([], pa.int64())})
    table = table.sort_by([(key, "ascending"), ("t", "ascending")])
    keys = table.column(key).combine_chunks()
    t = table.column("t").to_numpy()
    recent = t >= start
    new_key = np.ones(len(t), dtype=bool)
    new_key[1:] = pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1)).to_numpy(zero_copy_only=False)
    # A visit starts at a customer's first recent event, or after a 30-minute gap.
    previous_recent = np.zeros(len(t), dtype=bool)
    previous_recent[1:] = recent[:-1]
    gap = np.ones(len(t), dtype=bool)
    gap[1:] = (t[1:] - t[:-1]) > SESSION_GAP_US
    starts = recent & (new_key | ~previous_recent | gap)
    summary = pa.table({key: keys, "t": t, "session": starts,
                        "pageview": np.asarray(table.column("page").to_numpy(zero_copy_only=False)) & recent})
    grouped = summary.group_by(key, use_threads=False).aggregate(
        [("t", "max"), ("session", "sum"), ("pageview", "sum")])
    grouped = grouped.sort_by(key)
    return pa.table({
        key: grouped.column(key),
        "last_seen": grouped.column("t_max").cast(pa.timestamp("us")).cast(UTC_US),
        "sessions_30d": grouped.column("session_sum").cast(pa.int64()),
        "pageviews_30d": grouped.column("pageview_sum").cast(pa.int64()),
    })


def check_events(schema: pa.Schema) -> None:
    """A DataError unless the events have a ``name`` and a ``timestamp`` holding dates and
    times (the columns the web metrics read)."""
    for column in ("timestamp", "name"):
        if column not in schema.names:
            raise DataError(f"the web metrics need a '{column}' column (columns: "
                            f"{', '.join(schema.names)})", source=SOURCE)
    kind = schema.field("timestamp").type
    if not pa.types.is_timestamp(kind):
        raise DataError(f"'timestamp' must hold dates and times, not {kind}", source=SOURCE,
                        column="timestamp")


def window_us(ctx: MetricContext) -> tuple[int, int]:
    """The 30 days as µs since the epoch: the first instant in them, and the first instant
    not observed (exclusive)."""
    end = _end_us(ctx)
    return end - int(WINDOW.total_seconds() * 1_000_000), end


def _end_us(ctx: MetricContext) -> int:
    """The first instant not observed: just after as_of, or the day after a date as_of."""
    if ctx.as_of_date is not None:
        instant = local_instant(dt.datetime.combine(ctx.as_of_date + dt.timedelta(days=1), dt.time()),
                                zoneinfo.ZoneInfo(ctx.timezone))
    else:
        instant = ctx.as_of + dt.timedelta(microseconds=1)
    return int((instant - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(microseconds=1))


def sql_web(ctx: MetricContext) -> object:
    """The SQL builder of the web columns: a sqlglot query (see `metrics_sql`)."""
    from segmint.plugins.sources.web.metrics_sql import web_query

    return web_query(ctx)


WEB_COLUMNS = (
    MetricColumn("last_seen", UTC_US, "When the customer's latest web event happened."),
    MetricColumn("sessions_30d", pa.int64(), "Visits in the 30 days up to as_of (30 minutes without events end a visit)."),
    MetricColumn("pageviews_30d", pa.int64(), "page_view events in the 30 days up to as_of."),
)

WEB = Metric(
    name="web",
    columns=WEB_COLUMNS,
    compute=compute_web,
    requires=(SOURCE,),
    builders={SQL: sql_web},
    description="Web activity from the 'events' source: last seen, sessions and page views in 30 days.",
)
