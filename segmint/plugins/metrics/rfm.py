"""RFM scores (1-5 quintiles of recency, frequency, monetary) and the 11 named segments.

Scores are computed over the customers with at least one order (n of them), ranking each
measure from worst to best with SQL ``rank()`` semantics (ties share the lowest rank):

    score = 1 + floor(5 * (rank - 1) / n)

Worst first means recency descending (longest ago = rank 1), frequency and monetary
ascending. Ties therefore never split, and the same data always gives the same scores.

`rfm_segment` reads the grid below with R = rfm_r and FM = floor((rfm_f + rfm_m) / 2),
the mean of F and M rounded down. Each of the 25 cells names exactly one segment.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.plugins.metrics.options import MetricOptions
from segmint.plugin.api import MetricColumn

from segmint.plugins.metrics.purchase import CustomerTotals, monetary_value, recency_us

SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New Customers",
    "Promising",
    "Need Attention",
    "About To Sleep",
    "At Risk",
    "Cannot Lose Them",
    "Hibernating",
    "Lost",
)

#: GRID[R - 1][FM - 1]: rows are R = 1 (longest ago) .. 5, columns FM = 1 .. 5.
GRID = (
    ("Lost", "Lost", "At Risk", "Cannot Lose Them", "Cannot Lose Them"),
    ("Hibernating", "Hibernating", "At Risk", "At Risk", "Cannot Lose Them"),
    ("About To Sleep", "About To Sleep", "Need Attention", "Loyal", "Loyal"),
    ("Promising", "Potential Loyalist", "Loyal", "Champions", "Champions"),
    ("New Customers", "Potential Loyalist", "Loyal", "Champions", "Champions"),
)

#: The GRID's names in one flat tuple, row by row (an Arrow array is made of it when used:
#: making one at import would import pandas, through pyarrow, for every command).
_CELLS = tuple(name for row in GRID for name in row)


def quintile_scores(values: np.ndarray, *, descending: bool) -> np.ndarray:
    """1 + floor(5 * (rank - 1) / n), rank by SQL rank() with worst first.

    Found without ranking: rank - 1 counts the values worse than v, and 5 * (rank - 1)
    >= k * n exactly when v is better than the j-th worst value, j = ceil(k * n / 5); so
    the score is 1 + the number of k in 1..4 for which it is, and only those four order
    statistics are needed (one `np.partition`, not a sort).
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    j = -(-np.arange(1, 5) * n // 5)  # ceil(k * n / 5), each in 1..n
    at = n - j if descending else j - 1  # the j-th worst: j-th largest, or j-th smallest
    bounds = np.partition(values, at)[at]
    score = np.ones(n, dtype=np.int64)
    for bound in bounds:
        score += (values < bound) if descending else (values > bound)
    return score


def segment_names(r: np.ndarray, f: np.ndarray, m: np.ndarray) -> pa.Array:
    """The grid's segment for each (R, F, M) score triple."""
    fm = (f + m) // 2
    return pa.array(_CELLS).take(pa.array((r - 1) * 5 + (fm - 1)))


def rfm_scores(t: CustomerTotals, options: MetricOptions) -> dict[str, pa.Array]:
    """All RFM columns for the customers of `t`; null for those without an order."""
    has = t.has_orders
    rows = np.flatnonzero(has)
    r = quintile_scores(recency_us(t)[rows], descending=True)
    f = quintile_scores(t.orders[rows], descending=False)
    m = quintile_scores(_monetary_ranked(t, options)[rows], descending=False)
    # Row i of the scored customers goes to customer position rows[i]; others get null.
    positions = None if has.all() else pa.array(np.cumsum(has) - 1, mask=~has)

    def spread(values: np.ndarray | pa.Array, type: pa.DataType) -> pa.Array:
        values = pa.array(values, type=type) if isinstance(values, np.ndarray) else values
        return values if positions is None else values.take(positions)

    return {
        "rfm_r": spread(r, pa.int64()),
        "rfm_f": spread(f, pa.int64()),
        "rfm_m": spread(m, pa.int64()),
        "rfm_score": spread(pc.cast(pa.array(r * 100 + f * 10 + m), pa.string()), pa.string()),
        "rfm_segment": spread(segment_names(r, f, m), pa.string()),
    }


def _monetary_ranked(t: CustomerTotals, options: MetricOptions) -> np.ndarray:
    # Rank exact minor units for totals so float rounding can never reorder ties.
    return t.units if options.monetary == "total" else monetary_value(t, options)


RFM_COLUMNS = (
    MetricColumn("rfm_r", pa.int64(), "Recency score 1-5 (5: most recent)."),
    MetricColumn("rfm_f", pa.int64(), "Frequency score 1-5 (5: most orders)."),
    MetricColumn("rfm_m", pa.int64(), "Monetary score 1-5 (5: highest monetary)."),
    MetricColumn("rfm_score", pa.string(), 'The three scores as text, R F M: "545".'),
    MetricColumn(
        "rfm_segment",
        pa.string(),
        "One of the 11 named RFM segments, from R and the mean of F and M (docs/metrics.md).",
    ),
)
