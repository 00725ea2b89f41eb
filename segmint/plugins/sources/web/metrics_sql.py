"""The web columns as SQL (sqlglot expressions), for the SQL engines: `compute_web`'s values
for an engine that holds the ``events`` source as a table, in one query with one row per
customer who has a seen event.

It follows the Arrow code step by step. An event is seen when it has a key and a time
before the end of the observed span (`window_us`: just after as_of, or the day after a
date as_of in the run's time zone); times are compared as BIGINT microseconds since the
epoch, naive timestamps read in the run's time zone (`SqlTable.instant`). ``LAG`` over a
customer's seen events in time order gives each event the one before it, even one older
than the 30 days: a recent event starts a visit when it has none, when that one is not
recent, or when it is more than 30 minutes earlier (events at equal times are 0 apart, as
in the numpy code's sort by key and time). ``last_seen`` is the latest seen event's time as
the engine's timestamp value, the representation of the language's timestamps there.
"""

from __future__ import annotations

from sqlglot import exp

from segmint.plugin.api import MetricContext, SqlTable

from segmint.plugins.sources.web.metrics import (
    SESSION_GAP_US, SOURCE, WEB_COLUMNS, check_events, window_us,
)
from segmint.plugins.sources.web.segment import PAGE_VIEW

KEY = "k"


def web_query(ctx: MetricContext) -> exp.Select:
    """One row per customer with a seen event: the key (as ``ctx.key``) and the web columns
    asked for (all when ``ctx.columns`` is empty), in declared order."""
    events = ctx.events.get(SOURCE)
    if not isinstance(events, SqlTable):
        raise TypeError(f"the web metrics' SQL builder needs the '{SOURCE}' source as a SqlTable, "
                        f"got {type(events)}")
    check_events(events.schema)
    start, end = window_us(ctx)
    wanted = [c.name for c in WEB_COLUMNS if not ctx.columns or c.name in ctx.columns]
    ts = events.instant("timestamp")
    seen = (
        exp.select(exp.alias_(exp.column(ctx.key), KEY), exp.alias_(ts, "ts"),
                   exp.alias_(events.micros(ts.copy()), "at_us"), exp.alias_(exp.column("name"), "name"))
        .from_(events.relation)
        .where(exp.and_(exp.column(ctx.key).is_(exp.null()).not_(),
                        exp.LT(this=events.micros(ts.copy()), expression=_number(end))))
    )
    recent = exp.GTE(this=exp.column("at_us"), expression=_number(start))
    columns = {
        "last_seen": exp.Max(this=exp.column("ts")),
        "sessions_30d": _count(exp.and_(recent.copy(), _starts_visit(start))),
        "pageviews_30d": _count(exp.and_(
            recent.copy(), exp.EQ(this=exp.column("name"), expression=exp.Literal.string(PAGE_VIEW)))),
    }
    source = "seen"
    query = exp.select(exp.alias_(exp.column(KEY), ctx.key),
                       *[exp.alias_(columns[name], name) for name in wanted]).with_("seen", seen)
    if "sessions_30d" in wanted:  # the previous event of each, for the visits
        previous = exp.Window(
            this=exp.Lag(this=exp.column("at_us")),
            partition_by=[exp.column(KEY)],
            order=exp.Order(expressions=[exp.Ordered(this=exp.column("at_us"))]))
        query = query.with_("ordered", exp.select("*", exp.alias_(previous, "previous")).from_("seen"))
        source = "ordered"
    return query.from_(source).group_by(exp.column(KEY))


def _starts_visit(start: int) -> exp.Expression:
    """Whether a (recent) event starts a visit: no previous event, a previous one before the
    30 days, or one more than 30 minutes earlier."""
    previous = exp.column("previous")
    gap = exp.Sub(this=exp.column("at_us"), expression=previous.copy())
    return exp.or_(previous.is_(exp.null()),
                   exp.LT(this=previous.copy(), expression=_number(start)),
                   exp.GT(this=gap, expression=_number(SESSION_GAP_US)))


def _count(when: exp.Expression) -> exp.Expression:
    """The number of rows where `when` is true, as BIGINT (COUNT of a CASE)."""
    return exp.Count(this=exp.Case().when(when, _number(1)))


def _number(value: int) -> exp.Expression:
    return exp.Literal.number(str(value))
