"""The options of the metrics plugin: column names, as-of semantics, windows, CLV settings.

One frozen value carries them all, so every metric reads the same names and defaults;
`MetricOptions.from_mapping` turns a project file's table (``MetricContext.options``) into
it and reports a bad option as a `ConfigError` that names the plugin and the option.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs
from attrs import validators as v

from segmint.errors import ConfigError

from segmint.plugin.api import name_hint, parse_duration

PLUGIN = "metrics"
TIME_UNITS = {"day": 1, "week": 7}
#: CLV horizons whose columns (clv_12mo, expected_orders_12mo, ...) rules can use.
DEFAULT_HORIZONS = ("1mo", "3mo", "6mo", "12mo", "24mo", "36mo")


def _positive(instance: Any, attribute: attrs.Attribute, value: dt.timedelta) -> None:
    if value <= dt.timedelta(0):
        raise ValueError(f"must be a positive duration, got {value}")


def _horizons(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    horizons = (value,) if isinstance(value, str) else tuple(value)
    for horizon in horizons:
        _positive(None, None, parse_duration(horizon))
    return horizons


def _fraction(instance: Any, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {value}")


_name = v.instance_of(str)
_optional_name = v.optional(_name)
_number = v.instance_of((int, float))


@attrs.frozen(kw_only=True)
class MetricOptions:
    """Everything the metrics can be told; every field has a working default."""

    # Orders source: column names. Optional columns (None) are used when a column of the
    # conventional name exists; naming one explicitly makes it required.
    customer_column: str | None = attrs.field(default=None, validator=_optional_name)
    timestamp_column: str = attrs.field(default="timestamp", validator=_name)
    amount_column: str = attrs.field(default="amount", validator=_name)
    order_id_column: str | None = attrs.field(default=None, validator=_optional_name)
    margin_column: str | None = attrs.field(default=None, validator=_optional_name)
    cost_column: str | None = attrs.field(default=None, validator=_optional_name)
    channel_column: str | None = attrs.field(default=None, validator=_optional_name)
    #: Decimal places of the currency; money is summed exactly in these minor units.
    amount_scale: int = attrs.field(default=2, validator=[v.instance_of(int), v.in_(range(7))])
    #: "day" observes the whole as-of date and measures durations in whole days;
    #: "instant" is exact. None: "day" when as_of is a date, "instant" when a datetime.
    as_of_granularity: str | None = attrs.field(
        default=None, validator=v.optional(v.in_(("day", "instant")))
    )
    #: What `monetary` (and so rfm_m) measures: "total" spend or "average" per order.
    monetary: str = attrs.field(default="total", validator=v.in_(("total", "average")))
    churn_window: dt.timedelta = attrs.field(
        default=dt.timedelta(days=365), converter=parse_duration, validator=_positive
    )
    #: Share of revenue that is gross margin; wins over margin and cost columns.
    margin_rate: float | None = attrs.field(
        default=None, validator=[v.optional(_number), _fraction]
    )
    # Predictive CLV.
    #: Horizons computed when all CLV columns are asked for (any literal works by name).
    horizons: tuple[str, ...] = attrs.field(default=DEFAULT_HORIZONS, converter=_horizons)
    time_unit: str = attrs.field(default="week", validator=v.in_(tuple(TIME_UNITS)))
    penalizer: float = attrs.field(default=0.0, validator=[_number, v.ge(0)])
    min_repeat_customers: int = attrs.field(
        default=20, validator=[v.instance_of(int), v.ge(1)]
    )
    #: Yearly discount rate of future margin in clv_<horizon>.
    discount_rate: float = attrs.field(default=0.10, validator=[_number, v.ge(0)])
    # Acquisition cost: the spend source's columns and where a customer's channel comes from.
    spend_date_column: str = attrs.field(default="date", validator=_name)
    spend_channel_column: str = attrs.field(default="channel", validator=_name)
    spend_amount_column: str = attrs.field(default="spend", validator=_name)
    #: An event table (by name in the context) holding key + channel per customer; when
    #: unset, or for customers it lacks, the channel of the first order is used.
    acquisition_channel_source: str | None = attrs.field(default=None, validator=_optional_name)
    acquisition_channel_column: str = attrs.field(default="channel", validator=_name)
    #: The value column clv_to_cac divides by acquisition_cost.
    clv_to_cac_from: str = attrs.field(default="clv_12mo", validator=_name)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> MetricOptions:
        """Options from a project file's table, or a `ConfigError` naming the bad option."""
        options = cls()
        known = {f.name for f in attrs.fields(cls)}
        for key, value in (mapping or {}).items():
            if key not in known:
                close = name_hint(key, sorted(known))
                hint = f"; {close}" if close else ""
                raise ConfigError(
                    f"unknown option of plugin '{PLUGIN}'{hint}", key=f"{PLUGIN}.{key}"
                )
            try:
                options = attrs.evolve(options, **{key: value})
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"bad value {value!r}: {_reason(exc)}", key=f"{PLUGIN}.{key}"
                ) from None
        return options

    @property
    def unit_days(self) -> int:
        """Length of the CLV time unit in days."""
        return TIME_UNITS[self.time_unit]


def _reason(exc: Exception) -> str:
    # attrs' instance_of raises TypeError(msg, attribute, expected, value); keep the text.
    return str(exc.args[0]) if exc.args else str(exc)
