"""What the conformance tests share: tiny profile tables, and a condition's truth values
read through `segmint.evaluate` on the engine under test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import polars as pl
import pyarrow as pa

T, F, N = True, False, None
AS_OF = "2024-06-15T12:00:00Z"  # a Saturday
UTC = dt.timezone.utc


def table(**columns) -> pa.Table:
    """A profile table with keys 0..n-1 and the given columns."""
    n = len(next(iter(columns.values())))
    return pa.table({"customer_id": pa.array(range(n), pa.int64()), **columns})


#: The same data as the frames users pass: polars exports string views (lists of them too)
#: and categoricals as dictionaries of views; pandas frames backed by Arrow keep the types.
def polars_frame(data: pa.Table) -> pl.DataFrame | None:
    """The data as polars holds it; None for a type polars has not (decimals over 38 digits)."""
    if any(pa.types.is_decimal256(f.type) for f in data.schema):
        return None
    return pl.from_arrow(data)


FRAMES = {
    "polars": polars_frame,
    "pandas": lambda data: data.to_pandas(types_mapper=pd.ArrowDtype),
}


def truth(evaluate: Callable[..., pa.Table], condition: str, data: pa.Table,
          **options) -> list[bool | None]:
    """The condition's three-valued answer per row (true, false or None: unknown), the same
    from a pyarrow table, a polars frame and a pandas frame of the data (so every construct
    tested with it is tested on each)."""
    rules = f"segment yes: {condition}\nsegment no: not ({condition})\n"
    as_of = options.pop("as_of", AS_OF)

    def answer(frame: object) -> list[bool | None]:
        result = evaluate(rules, frame, as_of=as_of, **options)
        return [T if y else F if n else N
                for y, n in zip(result["yes"].to_pylist(), result["no"].to_pylist())]

    expected = answer(data)
    for name, convert in FRAMES.items():
        frame = convert(data)
        if frame is not None:
            assert answer(frame) == expected, f"{condition} on a {name} frame"
    return expected
