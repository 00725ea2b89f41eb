"""How numbers read in every flavour: money, shares, intervals, the headline columns."""

from __future__ import annotations

from typing import Any

from segmint.report.model import Report, SegmentReport


def money(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def share(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def signed(value: int | None) -> str:
    return "–" if value is None else f"{value:+,}"


def points(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f} pts"


def ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def clv(segment: SegmentReport) -> str:
    c = segment.clv_predicted
    return "–" if c is None else f"{c.mean:,.2f} [{c.low:,.2f}, {c.high:,.2f}]"


HEADLINE = ("segment", "members", "share", "revenue", "revenue share", "AOV", "CLV (predicted)",
            "churned", "net change", "warnings")


def headline(segment: SegmentReport) -> tuple[str, ...]:
    """One segment's row of the headline table, as every flavour shows it."""
    churn = None if segment.churn is None else segment.churn.churned_share
    return (segment.id, count(segment.members), share(segment.share),
            money(None if segment.revenue is None else segment.revenue.amount),
            share(segment.revenue_share), money(segment.aov), clv(segment), share(churn),
            signed(None if segment.growth is None else segment.growth.net),
            ", ".join(segment.warnings) or "")


def title(report: Report) -> str:
    return f"segmint report: run {report.run.id}, as of {report.run.as_of[:10]}"


def subtitle(report: Report) -> str:
    parts = [f"{report.customers:,} customers"]
    if report.revenue is not None:
        parts.append(f"revenue {money(report.revenue.amount)}")
    if report.compare is not None:
        parts.append(f"compared with run {report.compare.id} (as of {report.compare.as_of[:10]})")
    return ", ".join(parts)


def effect_rows(report: Report) -> list[tuple[Any, ...]]:
    """(segment, treatment, holdout, lift, p, verdict) for segments with a measured holdout."""
    rows = []
    for s in report.segments:
        e = s.effectiveness
        if e is None:
            continue
        t, h, lift = e.treatment, e.holdout, e.lift
        interval = ("–" if lift.absolute_low is None else
                    f"{points(lift.absolute)} [{lift.absolute_low * 100:+.1f}, {lift.absolute_high * 100:+.1f}]")
        rows.append((s.id, f"{t.converted:,}/{t.members:,} ({share(t.rate)})",
                     f"{h.converted:,}/{h.members:,} ({share(h.rate)})", interval,
                     "–" if lift.p_value is None else f"{lift.p_value:.3f}", e.verdict))
    return rows
