"""The report as data: frozen values every renderer draws from (ydata-profiling's
"structure" half). `Report.to_dict` is the JSON document; its keys are documented in
docs/report.md and other tools may read them.

Money is carried as exact integer minor units (`*_minor`) and shown in currency by
`to_dict`; ratios are rounded to 6 decimal places there, so a report's JSON is identical
across runs, machines and engines.
"""

from __future__ import annotations

from typing import Any

import attrs

ROUND = 6


@attrs.frozen
class Interval:
    """An estimate with its two-sided interval (`level`, 0.95 by default)."""

    estimate: float | None
    low: float | None
    high: float | None


@attrs.frozen
class Money:
    """An exact amount in minor units, shown in currency with `scale` decimals."""

    minor: int
    scale: int = 2

    @property
    def amount(self) -> float:
        return self.minor / 10**self.scale


@attrs.frozen
class ClvPredicted:
    column: str
    mean: float
    low: float
    high: float
    customers: int  # members with a prediction (at least one order)


@attrs.frozen
class Churn:
    #: Share of members with orders whose last order is older than the churn window.
    churned_share: float | None
    #: Mean of 1 - p_alive (BG/NBD), when the CLV model could be fitted.
    expected: float | None


@attrs.frozen
class Growth:
    before: int
    entered: int
    exited: int

    @property
    def net(self) -> int:
        return self.entered - self.exited


@attrs.frozen
class NumericTrait:
    column: str
    median: float | None
    base_median: float | None
    mean: float | None
    base_mean: float | None
    smd: float | None


@attrs.frozen
class LevelTrait:
    column: str
    level: str
    share: float
    base_share: float
    lift: float
    low: float
    high: float


@attrs.frozen
class Persona:
    numeric: tuple[NumericTrait, ...] = ()
    categorical: tuple[LevelTrait, ...] = ()
    card: str = ""


@attrs.frozen
class Group:
    members: int
    converted: int
    revenue_minor: int | None  # outcome amounts in the window; None without amounts
    scale: int = 2

    @property
    def rate(self) -> float | None:
        return self.converted / self.members if self.members else None

    @property
    def revenue_per_member(self) -> float | None:
        if self.revenue_minor is None or not self.members:
            return None
        return self.revenue_minor / 10**self.scale / self.members


@attrs.frozen
class Lift:
    absolute: float | None
    absolute_low: float | None
    absolute_high: float | None
    relative: float | None
    relative_low: float | None
    relative_high: float | None
    p_value: float | None
    incremental_conversions: float | None
    incremental_revenue: float | None
    roi: float | None
    cost: float | None


@attrs.frozen
class Effectiveness:
    outcomes: str
    window: str
    treatment: Group
    holdout: Group
    lift: Lift
    #: Smallest absolute lift detected with the configured power at these group sizes.
    minimum_detectable_effect: float | None
    verdict: str  # "better", "worse" or "not distinguishable yet"
    summary: str


@attrs.frozen
class Warning:
    code: str
    segments: tuple[str, ...]
    message: str


@attrs.frozen
class SegmentReport:
    """One segment, or one label of a segmentation (`segmentation` names it)."""

    id: str  # "win_back", or "lifecycle=active" for a label
    name: str
    segmentation: str | None
    description: str | None
    members: int
    share: float | None
    revenue: Money | None
    revenue_share: float | None
    orders: int | None
    clv_historical_total: float | None
    clv_predicted: ClvPredicted | None
    churn: Churn | None
    cac: float | None
    clv_to_cac: float | None
    growth: Growth | None
    persona: Persona
    holdout: int | None
    effectiveness: Effectiveness | None
    warnings: tuple[str, ...] = ()

    @property
    def aov(self) -> float | None:
        if self.revenue is None or not self.orders:
            return None
        return self.revenue.amount / self.orders

    @property
    def clv_historical_mean(self) -> float | None:
        if self.clv_historical_total is None or not self.members:
            return None
        return self.clv_historical_total / self.members


@attrs.frozen
class Overlap:
    a: str
    b: str
    both: int
    jaccard: float | None
    a_in_b: float | None  # share of a's members who are in b
    b_in_a: float | None


@attrs.frozen
class Migration:
    """Who went from which label (rows, the compared run) to which (columns, this run)."""

    segmentation: str
    labels_from: tuple[str, ...]
    labels_to: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]


@attrs.frozen
class HistoryPoint:
    run_id: str
    created_at: str
    as_of: str
    counts: dict[str, int]


@attrs.frozen
class RunRef:
    id: str
    as_of: str
    created_at: str


@attrs.frozen
class Report:
    run: RunRef
    compare: RunRef | None
    customers: int
    revenue: Money | None
    segments: tuple[SegmentReport, ...]
    overlap: tuple[Overlap, ...]
    migration: tuple[Migration, ...]
    history: tuple[HistoryPoint, ...]
    warnings: tuple[Warning, ...]
    #: Why a part is missing (no orders source, CLV model not fitted...), in words.
    notes: tuple[str, ...] = ()

    def segment(self, id: str) -> SegmentReport:
        return next(s for s in self.segments if s.id == id)

    def to_dict(self) -> dict[str, Any]:
        """The report as the JSON document docs/report.md describes."""
        return {
            "run": _plain(self.run),
            "compare": _plain(self.compare),
            "customers": self.customers,
            "revenue": _plain(self.revenue),
            "segments": [_segment(s) for s in self.segments],
            "overlap": [_plain(o) for o in self.overlap],
            "migration": [_migration(m) for m in self.migration],
            "history": [_plain(h) for h in self.history],
            "warnings": [_plain(w) for w in self.warnings],
            "notes": list(self.notes),
        }


def _segment(s: SegmentReport) -> dict[str, Any]:
    return {
        "id": s.id, "name": s.name, "segmentation": s.segmentation,
        "description": s.description, "members": s.members, "share": _plain(s.share),
        "revenue": _plain(s.revenue), "revenue_share": _plain(s.revenue_share),
        "orders": s.orders, "aov": _plain(s.aov),
        "clv_historical": None if s.clv_historical_total is None else {
            "mean": _plain(s.clv_historical_mean), "total": _plain(s.clv_historical_total)},
        "clv_predicted": _plain(s.clv_predicted), "churn": _plain(s.churn),
        "cac": _plain(s.cac), "clv_to_cac": _plain(s.clv_to_cac),
        "growth": None if s.growth is None else {**_plain(s.growth), "net": s.growth.net},
        "persona": _plain(s.persona), "holdout": s.holdout,
        "effectiveness": _effectiveness(s.effectiveness), "warnings": list(s.warnings),
    }


def _effectiveness(e: Effectiveness | None) -> dict[str, Any] | None:
    if e is None:
        return None
    data = _plain(e)
    for name in ("treatment", "holdout"):
        group = getattr(e, name)
        data[name] = {"members": group.members, "converted": group.converted,
                      "rate": _plain(group.rate), "revenue_per_member": _plain(group.revenue_per_member)}
    return data


def _migration(m: Migration) -> dict[str, Any]:
    return {"segmentation": m.segmentation, "from": list(m.labels_from), "to": list(m.labels_to),
            "counts": [list(row) for row in m.counts]}


def _plain(value: Any) -> Any:
    """attrs values as dicts, tuples as lists, money in currency, floats rounded."""
    if isinstance(value, Money):
        return value.amount
    if attrs.has(type(value)):
        return {f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value))
                if not f.name.endswith("_minor") and f.name != "scale"}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float):
        return round(value, ROUND) if value == value else None
    return value
