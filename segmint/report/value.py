"""What each customer is worth, as of a stored run: the metrics plugin's measures
(frequency, net spend, historical and predicted CLV, churn, acquisition cost) computed
from the project's orders at the run's as_of, aligned on the run's customers.

Revenue is carried in exact integer minor units, as the metrics sum it, so a segment's
revenue is a sum of integers: the same whatever the row order, the run or the engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import SegmintError
from segmint.language.catalog import Column
from segmint.project.pipeline import Prepared, read_profile
from segmint.report.audiences import Audiences

PURCHASE = ("frequency", "monetary", "clv_historical", "churned", "recency")
US_PER_DAY = 86_400_000_000


@attrs.frozen(eq=False)
class ValueData:
    """Per-customer value in the run's row order; NaN where a customer has no value."""

    revenue_minor: np.ndarray  # int64, 0 for a customer without orders
    orders: np.ndarray  # int64
    clv_historical: np.ndarray  # float64, 0 without orders
    churned: np.ndarray  # float64 0/1, NaN without orders
    recency_days: np.ndarray
    scale: int
    p_alive: np.ndarray | None = None
    clv: np.ndarray | None = None
    clv_column: str | None = None
    cac: np.ndarray | None = None
    clv_to_cac: np.ndarray | None = None
    notes: tuple[str, ...] = ()

    def metrics(self) -> dict[str, np.ndarray]:
        """The value metrics segments are compared on (siblings' SMD, personas)."""
        found = {"monetary": self.revenue_minor / 10**self.scale,
                 "frequency": self.orders.astype(float), "recency (days)": self.recency_days}
        if self.clv is not None and self.clv_column is not None:
            found[self.clv_column] = self.clv
        return found


def read_value(prepared: Prepared, found: Audiences, *, scale: int, clv_column: str,
               average: bool = False) -> ValueData | None:
    """The value data, or None when the project has no orders source for the metrics.

    `average`: the metrics' ``monetary`` option says spend per order, so revenue is
    monetary × frequency."""
    metrics = prepared.metrics
    if "purchase" not in metrics:
        return None
    purchase = _read(prepared, found, _columns(prepared, "purchase", PURCHASE))
    n = found.customers
    orders = np.nan_to_num(purchase["frequency"]).astype(np.int64)
    money = np.nan_to_num(purchase["monetary"]) * (orders if average else 1)
    revenue = np.rint(money * 10**scale).astype(np.int64)
    value = ValueData(
        revenue_minor=revenue, orders=orders,
        clv_historical=np.nan_to_num(purchase["clv_historical"]),
        churned=np.where(orders > 0, purchase["churned"], np.nan),
        recency_days=purchase["recency"], scale=scale,
    )
    notes: list[str] = []
    if "clv" in metrics:
        try:
            clv = _read(prepared, found, _columns(prepared, "clv", ("p_alive", clv_column)))
            value = attrs.evolve(value, p_alive=clv["p_alive"], clv=clv[clv_column],
                                 clv_column=clv_column)
        except SegmintError as error:
            notes.append(f"predicted CLV and expected churn are not shown: {error}")
    if "acquisition" in metrics:
        try:
            cac = _read(prepared, found, _columns(prepared, "acquisition",
                                                  ("acquisition_cost", "clv_to_cac")))
            value = attrs.evolve(value, cac=cac["acquisition_cost"], clv_to_cac=cac["clv_to_cac"])
        except SegmintError as error:
            notes.append(f"acquisition cost is not shown: {error}")
    assert len(value.orders) == n
    return attrs.evolve(value, notes=tuple(notes))


def _columns(prepared: Prepared, metric: str, names: Sequence[str]) -> list[Column]:
    via = f"metric {metric}"
    columns = {c.name: c for c in prepared.checked.catalog.columns if c.via == via}
    missing = [n for n in names if n not in columns]
    if missing:
        raise SegmintError(f"metric '{metric}' has no column(s) {', '.join(missing)}")
    return [columns[n] for n in names]


def _read(prepared: Prepared, found: Audiences, columns: list[Column]) -> dict[str, np.ndarray]:
    """The columns as float64 arrays in the run's row order (NaN for customers without)."""
    table = read_profile(prepared, columns, lambda _: None)
    rows = found.positions(table.column(prepared.project.key))
    keep = rows >= 0
    result = {}
    for column in columns:
        values = table.column(column.physical).combine_chunks()
        if pa.types.is_duration(values.type):
            values = pc.divide(values.cast(pa.int64()).cast(pa.float64()), float(US_PER_DAY))
        elif pa.types.is_boolean(values.type):
            values = values.cast(pa.float64())
        data = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
        aligned = np.full(found.customers, np.nan)
        aligned[rows[keep]] = data[keep]
        result[column.name] = aligned
    return result
