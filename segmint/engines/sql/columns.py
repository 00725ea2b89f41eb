"""Source columns in the SQL engines' canonical representation.

Whatever a source holds, rules see numbers as BIGINT or DOUBLE (NaN as null, decimals as
DOUBLE), text as text, dates as DATE, timestamps as the UTC wall clock in a zone-free
TIMESTAMP (a zone-free column read in the run's time zone, a date timestamp as its
midnight), durations as BIGINT microseconds: the same values the Arrow engine computes on.
"""

from __future__ import annotations

import pyarrow as pa
import sqlglot.expressions as exp

from segmint.engines.sql.compiler import case
from segmint.engines.sql.dialects import SqlDialect
from segmint.language.types import Kind, Type
from segmint.plugin.api import SqlTable

Expr = exp.Expression


def canonical(value: Expr, arrow_type: pa.DataType | None, kind: Type, dialect: SqlDialect,
              zone: str) -> Expr:
    """`value` (a source column of `arrow_type`) as the canonical value of its language type."""
    if arrow_type is not None and pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    kind_of = kind.kind
    if kind_of is Kind.NUMBER:
        if arrow_type is None or pa.types.is_floating(arrow_type):
            return case(dialect.is_nan(value), exp.Null(), dialect.to_double(value.copy()))
        if pa.types.is_decimal(arrow_type):
            return dialect.to_double(value)
        return value if arrow_type == pa.int64() else dialect.to_bigint(value)
    if kind_of is Kind.STRING:
        return value if arrow_type in (None, pa.string()) else dialect.to_text(value)
    if kind_of is Kind.DATE:
        return value if arrow_type in (None, pa.date32()) else dialect.cast(value, "DATE")
    if kind_of is Kind.TIMESTAMP:
        return timestamp(value, arrow_type, dialect, zone)
    if kind_of is Kind.DURATION:
        return dialect.interval_micros(value)
    return value


def timestamp(value: Expr, arrow_type: pa.DataType | None, dialect: SqlDialect, zone: str) -> Expr:
    """A date or timestamp column as the UTC wall clock of its instant."""
    if arrow_type is not None and pa.types.is_date(arrow_type):
        stamp = dialect.date_to_timestamp(value)
        return stamp if zone == "UTC" else dialect.utc_from_local(stamp, zone)
    if arrow_type is not None and arrow_type.tz is not None:
        return dialect.cast(dialect.utc_from_aware(value), "TIMESTAMP")
    if arrow_type is not None and arrow_type.unit == "ns":
        value = dialect.cast(value, "TIMESTAMP")
    return value if zone == "UTC" else dialect.utc_from_local(value, zone)


def event_table(relation: Expr, schema: pa.Schema, dialect: SqlDialect, zone: str) -> SqlTable:
    """An event source as a metric's SQL builder reads it: time as the membership query holds
    it (timestamps as the UTC wall clock, dates and zone-free timestamps read in `zone`),
    days counted in `zone`, text ordered by its bytes."""
    def instant(column_name: str) -> Expr:
        return timestamp(exp.column(column_name), schema.field(column_name).type, dialect, zone)

    def local_day(value: Expr) -> Expr:
        local = value if zone == "UTC" else dialect.local_from_utc(value, zone)
        return exp.UnixDate(this=dialect.cast(local, "DATE"))

    return SqlTable(relation, schema, instant, dialect.to_micros, local_day, dialect.byte_order)
