"""Money as exact integers of minor units (cents), so sums never depend on row order.

Floating-point sums change with the order of their terms; a rule like ``monetary >= 500``
must not flip between two runs over the same rows. Amounts are rounded once to integer
minor units (half to even), summed as int64, and divided by 10**scale only at the end.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError


def to_minor_units(values: pa.Array, scale: int, *, column: str, source: str) -> np.ndarray:
    """Amounts in minor units as an int64 numpy array; nulls are a `DataError`."""
    if values.null_count:
        raise DataError(
            f"{values.null_count} row(s) without an amount", source=source, column=column
        )
    t = values.type
    factor = 10**scale
    if pa.types.is_integer(t):
        return values.to_numpy().astype(np.int64) * factor
    if pa.types.is_floating(t):
        with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN are refused next
            scaled = np.rint(values.to_numpy().astype(np.float64) * factor)
        if not np.isfinite(scaled).all():
            raise DataError("amounts must be finite numbers", source=source, column=column)
        return scaled.astype(np.int64)
    if pa.types.is_decimal(t):
        scaled = pc.round(pc.multiply(values, pa.scalar(factor, pa.int64())), 0)
        return pc.cast(scaled, pa.int64()).to_numpy()
    raise DataError(f"amounts must be numbers, got {t}", source=source, column=column)


def from_minor_units(units: np.ndarray, scale: int) -> np.ndarray:
    """Minor units back to float64 currency amounts (exact sums, one rounding)."""
    return np.asarray(units, dtype=np.int64) / 10**scale
