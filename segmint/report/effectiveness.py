"""Did targeting a segment work: its targeted members against its holdout.

A member **converts** when they have at least one event of the outcome source in the
window (as_of, as_of + D] after the run. Rates are compared by the difference (Newcombe's
hybrid score interval), the ratio (score interval) and the pooled two-proportion z-test,
all from statsmodels; the minimum detectable effect is the lift the two-sided test would
detect with the configured power at these group sizes, over the holdout's rate.
"""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pyarrow as pa

from segmint.errors import DataError, SegmintError
from segmint.semantics.durations import parse_duration
from segmint.semantics.instants import instants_us
from segmint.semantics.money import to_minor_units
from segmint.report import stats
from segmint.report.audiences import Audiences
from segmint.report.model import Effectiveness, Group, Lift
from segmint.report.options import ReportOptions


@attrs.frozen(eq=False)
class Outcomes:
    """Per customer of the run: converted in the window, and the amounts there (minor units)."""

    source: str
    window: str
    converted: np.ndarray  # bool
    revenue_minor: np.ndarray | None  # int64
    scale: int = 2


def parse_window(text: str) -> dt.timedelta:
    """``--window``: a duration literal such as 30d, 2w or 3mo."""
    try:
        window = parse_duration(text)
    except ValueError:
        raise SegmintError(f"--window: '{text}' is not a duration like 30d, 2w, 3mo or 1y") from None
    if window <= dt.timedelta(0):
        raise SegmintError(f"--window: '{text}' must be longer than zero")
    return window


def outcomes(table: pa.Table, found: Audiences, *, source: str, key: str, timestamp: str,
             as_of: dt.datetime, window: str, timezone: str, amount_column: str,
             scale: int) -> Outcomes:
    """Who converted in (as_of, as_of + window], and what they spent there."""
    length = parse_window(window)
    if timestamp not in table.column_names:
        raise DataError(f"no timestamp column '{timestamp}' (columns: {', '.join(table.column_names)})",
                        source=source)
    at = instants_us(table.column(timestamp).combine_chunks(), timezone, source=source,
                     column=timestamp)
    start = int(as_of.timestamp() * 1_000_000)
    end = start + length // dt.timedelta(microseconds=1)
    rows = found.positions(table.column(key))
    inside = (at > start) & (at <= end) & (rows >= 0)
    converted = np.zeros(found.customers, dtype=bool)
    converted[rows[inside]] = True
    revenue = None
    if amount_column in table.column_names:
        units = to_minor_units(table.column(amount_column).combine_chunks().filter(pa.array(inside)),
                               scale, column=amount_column, source=source)
        revenue = np.zeros(found.customers, dtype=np.int64)
        np.add.at(revenue, rows[inside], units)
    return Outcomes(source, window, converted, revenue, scale)


def effectiveness(name: str, treated: np.ndarray, held: np.ndarray, data: Outcomes,
                  options: ReportOptions) -> Effectiveness:
    """Treatment (the segment's targeted members) against its holdout."""
    t = _group(treated, data)
    h = _group(held, data)
    level = options.confidence
    lift = _lift(name, t, h, options)
    rate = h.rate if h.rate not in (None, 0.0, 1.0) else options.baseline_rate
    mde = stats.minimum_detectable_effect(rate, t.members, h.members, power_wanted=options.power,
                                          confidence=level)
    verdict, summary = _verdict(t, h, lift, mde, options)
    return Effectiveness(data.source, data.window, t, h, lift, mde, verdict, summary)


def _group(mask: np.ndarray, data: Outcomes) -> Group:
    revenue = None if data.revenue_minor is None else int(data.revenue_minor[mask].sum())
    return Group(int(mask.sum()), int(data.converted[mask].sum()), revenue, data.scale)


def _lift(name: str, t: Group, h: Group, options: ReportOptions) -> Lift:
    cost = options.costs.get(name)
    if not t.members or not h.members:
        return Lift(None, None, None, None, None, None, None, None, None, None, cost)
    absolute = (t.rate or 0.0) - (h.rate or 0.0)
    low, high = stats.difference_interval(t.converted, t.members, h.converted, h.members,
                                          options.confidence)
    ratio = stats.ratio_interval(t.converted, t.members, h.converted, h.members, options.confidence)
    relative = (t.rate or 0.0) / h.rate - 1 if h.rate else None
    incremental_revenue = None
    if t.revenue_per_member is not None and h.revenue_per_member is not None:
        incremental_revenue = (t.revenue_per_member - h.revenue_per_member) * t.members
    roi = None
    if cost and incremental_revenue is not None:
        roi = (incremental_revenue - cost) / cost
    return Lift(absolute, low, high, relative, None if ratio is None else ratio[0] - 1,
                None if ratio is None else ratio[1] - 1,
                stats.z_test(t.converted, t.members, h.converted, h.members),
                absolute * t.members, incremental_revenue, roi, cost)


def _verdict(t: Group, h: Group, lift: Lift, mde: float | None,
             options: ReportOptions) -> tuple[str, str]:
    level = f"{options.confidence:.0%}"
    if lift.absolute is None:
        return "not distinguishable yet", "one of the two groups is empty"
    points = f"{abs(lift.absolute) * 100:.1f} points"
    interval = f"({level} interval {lift.absolute_low * 100:+.1f} to {lift.absolute_high * 100:+.1f} points)"
    if lift.absolute_low > 0:
        return "better", f"targeted members converted {points} more often than the holdout {interval}"
    if lift.absolute_high < 0:
        return "worse", f"targeted members converted {points} less often than the holdout {interval}"
    sizes = f"{t.members:,} targeted and {h.members:,} held out"
    detect = (f"only a lift of at least {mde * 100:.1f} points would be detected with "
              f"{options.power:.0%} power" if mde is not None else "no lift could be detected")
    return "not distinguishable yet", (f"the difference of {lift.absolute * 100:+.1f} points {interval} "
                                       f"could be chance: with {sizes}, {detect}")
