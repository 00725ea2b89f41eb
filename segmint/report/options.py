"""The options of `segmint report`: the project file's ``[report]`` and ``[report.costs]``.

Every option has a working default; `ReportOptions.from_project` checks the table with the
same option checker plugins use, so a mistake names ``[report]`` and the option.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from segmint.errors import ConfigError
from segmint.plugin.options import build_options


@attrs.frozen(kw_only=True)
class ReportOptions:
    """Thresholds of the warnings, the persona's columns, the statistics' settings, costs."""

    #: A segment with fewer members than this is below the size floor.
    min_members: int = 100
    #: A segment with a smaller share of the customers than this is below the size floor.
    min_share: float = 0.005
    #: Two segments at least this similar (Jaccard index) are near-duplicates.
    near_duplicate: float = 0.9
    #: Siblings whose every value-metric standardized mean difference is below this are
    #: indistinguishable.
    min_smd: float = 0.1
    #: Fewer customers per segment (or label) than this: too many segments for the base.
    customers_per_segment: int = 200
    #: The lift (difference of conversion rates) a holdout must be able to detect.
    min_lift: float = 0.02
    #: The conversion rate assumed for sizing a holdout when no outcome data says it.
    baseline_rate: float = 0.05
    power: float = 0.8
    confidence: float = 0.95
    #: Profile columns personas describe (default: every usable column).
    persona_columns: list[str] | None = None
    #: At most this many distinct values make a text column categorical (else free text).
    max_levels: int = 50
    #: Traits a persona card names.
    card_traits: int = 4
    #: The predicted CLV column shown with its bootstrap interval.
    clv_column: str = "clv_12mo"
    bootstrap_resamples: int = 2000
    seed: int = 0
    #: The amount column of the outcome source (revenue per member).
    amount_column: str = "amount"
    #: Campaign cost per segment, for ROI (``[report.costs] win_back = 1200``).
    costs: dict[str, float] = attrs.field(factory=dict)

    @classmethod
    def from_project(cls, table: Mapping[str, Any], label: str | None = None) -> ReportOptions:
        where = f"{label} [report]" if label else "[report]"
        options = build_options(cls, dict(table), plugin="report", where=where)
        for name, cost in options.costs.items():
            if isinstance(cost, bool) or not isinstance(cost, (int, float)) or cost < 0:
                raise ConfigError(f"cost of '{name}' must be a number of at least 0, got {cost!r}",
                                  file=where.replace("[report]", "[report.costs]"))
        for name in ("min_share", "near_duplicate", "min_lift", "baseline_rate", "power", "confidence"):
            value = getattr(options, name)
            if not 0 < value < 1 and not (name == "min_share" and value == 0):
                raise ConfigError(f"option '{name}' must be between 0 and 1, got {value}", file=where)
        return options
