"""The per-customer repeat-purchase summary that the CLV models are fitted on.

As in the BG/NBD literature and lifetimes (daily frequency), purchases are counted by
calendar day in the run's time zone, whatever the as-of semantics:

- ``x``: repeat purchases = distinct purchase days - 1,
- ``t_x``: time from the first to the last purchase day,
- ``T``: time from the first purchase day to the as-of date,
- ``zbar``: mean value of the repeat purchase days (0 when x = 0), a day's value being the
  sum of its orders; refunds are not purchases and do not enter the models,

times in the chosen unit (``day`` or ``week`` = 7 days).
"""

from __future__ import annotations

import attrs
import numpy as np
import pyarrow as pa

from segmint.plugins.metrics.asof import local_days
from segmint.plugins.metrics.orders import Orders


@attrs.frozen
class PurchaseDays:
    """One row per customer slot and purchase day: the day's value in minor units."""

    codes: np.ndarray
    days: np.ndarray
    units: np.ndarray

    @classmethod
    def of(cls, orders: Orders) -> PurchaseDays:
        """The distinct (customer, day) purchases of `orders`."""
        parts = [b.orders_only() for b in orders.batches()]
        parts = [p for p in parts if len(p.codes)]
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, empty)
        codes = np.concatenate([p.codes for p in parts])
        days = local_days(np.concatenate([p.at for p in parts]), orders.as_of.timezone)
        units = np.concatenate([p.units for p in parts])
        first = int(days.min())
        span = int(days.max()) - first + 1
        pairs = pa.table({"pair": codes * span + (days - first), "units": units})
        daily = pairs.group_by("pair", use_threads=False).aggregate([("units", "sum")])
        pair = daily["pair"].to_numpy()
        return cls(pair // span, pair % span + first, daily["units_sum"].to_numpy())

    def before(self, day: int) -> PurchaseDays:
        """The purchases on or before `day`."""
        keep = self.days <= day
        return PurchaseDays(self.codes[keep], self.days[keep], self.units[keep])


@attrs.frozen
class PurchaseSummary:
    """x, t_x, T and zbar per customer with a purchase, sorted by key."""

    keys: pa.Array
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    zbar: np.ndarray
    time_unit: str
    slots: np.ndarray  # the customers' grouping slots, to line up other per-slot data

    @property
    def repeat(self) -> np.ndarray:
        return self.x > 0

    def to_table(self, key: str = "customer_id") -> pa.Table:
        return pa.table(
            {key: self.keys, "x": self.x, "t_x": self.t_x, "T": self.T, "zbar": self.zbar}
        )


def summarize(
    purchases: PurchaseDays, orders: Orders, as_of_day: int, time_unit: str, unit_days: int
) -> PurchaseSummary:
    """The summary of `purchases` (on or before `as_of_day`) of the customers of `orders`."""
    n = orders.grouping.slots
    codes, days, units = purchases.codes, purchases.days, purchases.units
    count = np.zeros(n, dtype=np.int64)
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    total = np.zeros(n, dtype=np.int64)
    np.add.at(count, codes, 1)
    np.minimum.at(first, codes, days)
    np.maximum.at(last, codes, days)
    np.add.at(total, codes, units)
    first_units = np.zeros(n, dtype=np.int64)
    on_first = days == first[codes]
    np.add.at(first_units, codes[on_first], units[on_first])
    slots = orders.grouping.sorted_slots(count > 0)
    x = count[slots] - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_units = np.where(x > 0, (total[slots] - first_units[slots]) / x, 0.0)
    return PurchaseSummary(
        keys=orders.grouping.keys(slots),
        x=x,
        t_x=(last[slots] - first[slots]) / unit_days,
        T=(as_of_day - first[slots]) / unit_days,
        zbar=mean_units / 10**orders.scale,
        time_unit=time_unit,
        slots=slots,
    )
