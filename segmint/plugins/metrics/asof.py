"""The run's as-of point, and how far back from it an order lies.

Two semantics, as the metrics issue asks:

- **day** (``--as-of 1997-09-30``, a `datetime.date`): the whole of that date, in the run's
  time zone, is observed, and durations are whole days between calendar dates (as
  lifetimes does with daily frequency). An order at 23:59 on the as-of date is seen and has
  recency 0 days.
- **instant** (a `datetime.datetime`): orders at or before that exact instant are seen and
  durations are exact. A naive datetime is read in the run's time zone.

Instants are carried as int64 microseconds since the Unix epoch (UTC), days as int64 days
since 1970-01-01 in the run's time zone.
"""

from __future__ import annotations

import datetime as dt

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.plugin.api import AsOf as RunAsOf

US_PER_DAY = 86_400_000_000
EPOCH = dt.date(1970, 1, 1)
_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def local_days(at_us: np.ndarray, timezone: str) -> np.ndarray:
    """Calendar day numbers (days since 1970-01-01) of instants, in `timezone`."""
    at_us = np.asarray(at_us, dtype=np.int64)
    if timezone != "UTC":
        local = pc.local_timestamp(pa.array(at_us, pa.timestamp("us", tz=timezone)))
        at_us = local.cast(pa.int64()).to_numpy()
    return np.floor_divide(at_us, US_PER_DAY)


@attrs.frozen
class AsOf:
    """The observation point of a run: a cutoff instant plus, for day semantics, a date."""

    #: Last observed instant (inclusive), microseconds since the epoch.
    cutoff_us: int
    #: The as-of date in the run's time zone, as days since 1970-01-01.
    day: int
    by_day: bool
    timezone: str = "UTC"

    @classmethod
    def of(
        cls, value: dt.date | dt.datetime, timezone: str = "UTC", granularity: str | None = None
    ) -> AsOf:
        """The as-of point of `value`; `granularity` ("day"/"instant") overrides its type.

        The engine's `segmint.semantics.asof.AsOf` resolves dates, time zones and naive
        datetimes, so metrics and rules agree on the instant.
        """
        if granularity == "day" and isinstance(value, dt.datetime):
            value = RunAsOf.resolve(value, timezone).date
        elif granularity == "instant" and not isinstance(value, dt.datetime):
            value = dt.datetime.combine(value, dt.time())
        return cls.of_run(RunAsOf.resolve(value, timezone))

    @classmethod
    def of_run(cls, run: RunAsOf) -> AsOf:
        """The as-of point of a run."""
        cutoff = (run.instant - _EPOCH_UTC) // dt.timedelta(microseconds=1)
        return cls(cutoff, (run.date - EPOCH).days, run.whole_day, run.timezone)

    @property
    def date(self) -> dt.date:
        return EPOCH + dt.timedelta(days=self.day)

    def elapsed_us(self, at_us: np.ndarray) -> np.ndarray:
        """Time from each instant to the as-of point, in microseconds (whole days by day)."""
        if self.by_day:
            return (self.day - local_days(at_us, self.timezone)) * US_PER_DAY
        return self.cutoff_us - np.asarray(at_us, dtype=np.int64)

    def span_us(self, start_us: np.ndarray, end_us: np.ndarray) -> np.ndarray:
        """Time between two instants under this point's semantics (whole days by day)."""
        if self.by_day:
            return (local_days(end_us, self.timezone) - local_days(start_us, self.timezone)) * (
                US_PER_DAY
            )
        return np.asarray(end_us, dtype=np.int64) - np.asarray(start_us, dtype=np.int64)
