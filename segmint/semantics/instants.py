"""Instants of event timestamps as int64 microseconds since the epoch, in the run's time
zone: what metrics and the report's outcome windows count with."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError


def instants_us(
    values: pa.Array, timezone: str, *, source: str = "orders", column: str = "timestamp"
) -> np.ndarray:
    """Instants of dates or timestamps as int64 µs since the epoch.

    Dates are midnight and naive timestamps wall-clock time, both in `timezone`.
    """
    t = values.type
    if values.null_count:
        raise DataError(
            f"{values.null_count} row(s) without a timestamp", source=source, column=column
        )
    if pa.types.is_date(t):
        values = values.cast(pa.timestamp("us"))
    elif not pa.types.is_timestamp(t):
        raise DataError(
            f"timestamps must be dates or timestamps, got {t}", source=source, column=column
        )
    if values.type.tz is None and timezone != "UTC":
        values = pc.assume_timezone(
            values, timezone, ambiguous="earliest", nonexistent="latest"
        )
    if values.type.unit != "us":
        values = values.cast(pa.timestamp("us", tz=values.type.tz), safe=False)
    return values.view(pa.int64()).to_numpy(zero_copy_only=False)
