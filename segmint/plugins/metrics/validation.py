"""Calibration/holdout check of the CLV models, as ``segmint clv validate`` reports it.

The models are fitted on the purchases up to the calibration end; for each customer who
had bought by then, the expected number of purchase days in the holdout period (the day
after the calibration end through the holdout end) is compared with the actual number::

    report = validate_clv(orders, dt.date(1997, 9, 30), dt.date(1998, 6, 30))
    print(report.format())             # error figures + table by calibration purchases
    report.to_dict(); report.table()   # for --json / a file

Days are calendar days in the run's time zone, as in the fit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np
import pyarrow as pa

from segmint.errors import ConfigError

from segmint.plugins.metrics.asof import EPOCH
from segmint.plugins.metrics.clv import ClvFit, fit_summary, prepare_orders, resolve_options
from segmint.plugins.metrics.options import MetricOptions
from segmint.plugins.metrics.summary import PurchaseDays, summarize


@attrs.frozen
class CalibrationRow:
    """Customers with a given number of calibration repeat purchases, on average."""

    repeat_purchases: str  # "0", "1", ..., or "7+" for the last bucket
    customers: int
    predicted: float
    actual: float


@attrs.frozen
class CalibrationReport:
    """Predicted against actual holdout purchases, overall and by calibration frequency."""

    fit: ClvFit
    calibration_end: dt.date
    holdout_end: dt.date
    holdout_length: float  # in the fit's time unit
    customers: int
    predicted_total: float
    actual_total: int
    mean_absolute_error: float
    root_mean_squared_error: float
    rows: tuple[CalibrationRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "fit": self.fit.to_dict(),
            "calibration_end": self.calibration_end.isoformat(),
            "holdout_end": self.holdout_end.isoformat(),
            "holdout_length": self.holdout_length,
            "customers": self.customers,
            "predicted_total": self.predicted_total,
            "actual_total": self.actual_total,
            "mean_absolute_error": self.mean_absolute_error,
            "root_mean_squared_error": self.root_mean_squared_error,
            "by_repeat_purchases": [attrs.asdict(row) for row in self.rows],
        }

    def table(self) -> pa.Table:
        """The calibration table: one row per number of calibration repeat purchases."""
        return pa.Table.from_pylist([attrs.asdict(row) for row in self.rows])

    def format(self) -> str:
        unit = self.fit.time_unit
        lines = [
            f"calibration to {self.calibration_end}, holdout to {self.holdout_end}"
            f" ({self.holdout_length:.4g} {unit}s), {self.customers} customers",
            f"purchases in holdout: predicted {self.predicted_total:.1f},"
            f" actual {self.actual_total}",
            f"per customer: mean absolute error {self.mean_absolute_error:.3f},"
            f" RMSE {self.root_mean_squared_error:.3f}",
            "",
            f"{'repeat purchases':>16} {'customers':>9} {'predicted':>9} {'actual':>9}",
        ]
        lines += [
            f"{r.repeat_purchases:>16} {r.customers:>9} {r.predicted:>9.3f} {r.actual:>9.3f}"
            for r in self.rows
        ]
        return "\n".join(lines)


def validate_clv(
    orders: Any,
    calibration_end: dt.date,
    holdout_end: dt.date,
    *,
    time_unit: str | None = None,
    penalizer: float | None = None,
    min_repeat_customers: int | None = None,
    buckets: int = 7,
    key: str = "customer_id",
    timezone: str = "UTC",
    options: MetricOptions | Mapping[str, Any] | None = None,
) -> CalibrationReport:
    """Fit on purchases to `calibration_end`, compare predictions up to `holdout_end`.

    Customers are grouped by calibration repeat purchases 0 .. buckets-1 and buckets+.
    """
    options = resolve_options(
        options, time_unit=time_unit, penalizer=penalizer,
        min_repeat_customers=min_repeat_customers,
    )
    prepared = prepare_orders(orders, _date(holdout_end), options, key, timezone)
    end_day = prepared.as_of.day
    calibration_day = (_date(calibration_end) - EPOCH).days
    if calibration_day >= end_day:
        raise ConfigError(
            f"the calibration end ({calibration_end}) must be before the holdout end"
            f" ({holdout_end})",
            key="calibration_end",
        )
    purchases = PurchaseDays.of(prepared)
    calibration = summarize(
        purchases.before(calibration_day), prepared, calibration_day,
        options.time_unit, options.unit_days,
    )
    fit = fit_summary(calibration, options, _date(calibration_end))
    predicted = fit.expected_orders(calibration, dt.timedelta(days=end_day - calibration_day))
    later = purchases.days > calibration_day
    holdout = np.zeros(prepared.grouping.slots, dtype=np.int64)
    np.add.at(holdout, purchases.codes[later], 1)
    actual = holdout[calibration.slots]
    errors = predicted - actual
    bucket = np.minimum(calibration.x, buckets)
    rows = tuple(
        CalibrationRow(
            f"{b}+" if b == buckets else str(b),
            int((bucket == b).sum()),
            float(predicted[bucket == b].mean()),
            float(actual[bucket == b].mean()),
        )
        for b in range(buckets + 1)
        if (bucket == b).any()
    )
    return CalibrationReport(
        fit=fit,
        calibration_end=_date(calibration_end),
        holdout_end=_date(holdout_end),
        holdout_length=(end_day - calibration_day) / options.unit_days,
        customers=len(actual),
        predicted_total=float(predicted.sum()),
        actual_total=int(actual.sum()),
        mean_absolute_error=float(np.abs(errors).mean()),
        root_mean_squared_error=float(np.sqrt((errors**2).mean())),
        rows=rows,
    )


def _date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value
