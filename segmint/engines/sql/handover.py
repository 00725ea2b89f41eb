"""Arrow data handed to a SQL engine (DuckDB, Spark), in the types it reads as the arrow
engine does.

Both engines hold times in microseconds and decimals of at most 38 digits; a table in other
types is converted here, once, with the conversion's failure an error naming the source and
the column, not the engine's own words about chunks or precision.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError


def adapt(table: pa.Table, source: str, keys: list[str], key_type: pa.DataType | None = None) -> pa.Table:
    """Columns in Arrow types the SQL engines read as the Arrow engine reads them: times in
    microseconds (out of range an error naming the column), unsigned 64-bit integers as
    int64 (as float64 when a value does not fit), 256-bit decimals as float64; an event
    source's keys in the profiles' key type."""
    for index, field in enumerate(table.schema):
        kind, target, safe = field.type, None, True
        if field.name in keys:
            if key_type is None or kind == key_type:
                continue  # the profiles' keys are hashed and returned as they are
            target = key_type
        elif pa.types.is_timestamp(kind) and kind.unit != "us":
            target = pa.timestamp("us", tz=kind.tz)
        elif pa.types.is_duration(kind) and kind.unit != "us":
            target = pa.duration("us")
        elif pa.types.is_date64(kind):
            target = pa.date32()
        elif pa.types.is_decimal(kind) and kind.bit_width > 128:
            target = pa.float64()
        elif kind == pa.uint64():
            too_big = pc.any(pc.greater(table.column(index), pa.scalar(2**63 - 1, pa.uint64()))).as_py()
            target, safe = (pa.float64(), False) if too_big else (pa.int64(), True)
        if target is None:
            continue
        try:
            values = table.column(index).cast(options=pc.CastOptions(
                target, allow_time_truncate=True, allow_float_truncate=not safe, allow_int_overflow=not safe))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            if field.name in keys:
                raise DataError(f"its customer keys are {kind}, the profiles' are {key_type}, and "
                                f"they do not convert", source=source, column=field.name) from None
            raise DataError(f"cannot read its values: {error}", source=source, column=field.name) from None
        table = table.set_column(index, field.name, values)
    return table
