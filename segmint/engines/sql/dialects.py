"""What differs between SQL dialects, as small subclasses of one base (in the style of ibis's
SQLGlot compilers): the functions behind hashing, time, text and list tests, regex flavour,
whether aggregates take ``FILTER (WHERE ...)``, and how a string is compared byte by byte.

Every method builds `sqlglot` expressions; none pastes SQL text. The representation is the
same in every dialect: numbers are BIGINT or DOUBLE, timestamps are TIMESTAMP values
holding the UTC wall clock (zone-free, so no session time zone matters), durations are
BIGINT microseconds, dates DATE.
"""

from __future__ import annotations

from typing import ClassVar

import sqlglot.expressions as exp

from segmint.engines.sql.regex import Flavour

Expr = exp.Expression


def call(name: str, *args: Expr) -> Expr:
    """A call of a function by name, as the dialect spells it."""
    return exp.Anonymous(this=name, expressions=list(args))


def _operand(value: Expr) -> Expr:
    """`value` as the operand of a postfix operator: in parentheses unless a plain value."""
    plain = (exp.Column, exp.Literal, exp.Cast, exp.Anonymous, exp.Paren)
    return value if isinstance(value, plain) else exp.Paren(this=value)


def string(value: str) -> Expr:
    return exp.Literal.string(value)


def number(value: int | float) -> Expr:
    return exp.Literal.number(value)


class SqlDialect:
    """The base dialect: ANSI-ish SQL; subclasses override what their engine spells differently."""

    name: ClassVar[str] = ""
    #: The sqlglot dialect that generates this dialect's text.
    sqlglot: ClassVar[str] = ""
    regex: ClassVar[Flavour] = Flavour.RE2
    #: Whether aggregates take ``FILTER (WHERE ...)``; otherwise ``CASE WHEN ... END`` inside.
    supports_filter: ClassVar[bool] = True
    double: ClassVar[str] = "DOUBLE"
    bigint: ClassVar[str] = "BIGINT"
    text: ClassVar[str] = "VARCHAR"
    #: Whether strings need an explicit byte-order collation to compare as UTF-8 bytes.
    needs_byte_collation: ClassVar[bool] = False
    #: Whether `native_utc_from_local` reads a wall-clock time the clocks show twice as its
    #: second instant (DuckDB and PostgreSQL do; Spark reads the first; BigQuery and
    #: Snowflake are corrected too, which changes nothing where they read the second).
    second_when_repeated: ClassVar[bool] = False

    # types --------------------------------------------------------------------------
    def cast(self, value: Expr, to: str) -> Expr:
        return exp.Cast(this=value, to=exp.DataType.build(to, dialect=self.sqlglot))

    def to_double(self, value: Expr) -> Expr:
        return self.cast(value, self.double)

    def to_bigint(self, value: Expr) -> Expr:
        return self.cast(value, self.bigint)

    def to_text(self, value: Expr) -> Expr:
        return self.cast(value, self.text)

    def double_literal(self, value: float) -> Expr:
        if value != value or value in (float("inf"), float("-inf")):
            word = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
            return self.to_double(string(word))
        return self.to_double(number(repr(value)))  # type: ignore[arg-type]

    def date_literal(self, iso: str) -> Expr:
        return self.cast(string(iso), "DATE")

    def timestamp_literal(self, text: str) -> Expr:
        """A TIMESTAMP literal holding a UTC wall clock (`text` as 'YYYY-MM-DD HH:MM:SS.ffffff')."""
        return self.cast(string(text), "TIMESTAMP")

    def date_to_timestamp(self, value: Expr) -> Expr:
        return self.cast(value, "TIMESTAMP")

    # NaN ----------------------------------------------------------------------------
    def is_nan(self, value: Expr) -> Expr:
        return exp.IsNan(this=value)

    # time ---------------------------------------------------------------------------
    def to_micros(self, timestamp: Expr) -> Expr:
        """Microseconds since 1970 of a (UTC wall clock) TIMESTAMP, as BIGINT."""
        return exp.UnixMicros(this=timestamp)

    def from_micros(self, micros: Expr) -> Expr:
        return call("TIMESTAMP_MICROS", micros)

    def utc_from_local(self, timestamp: Expr, zone: str) -> Expr:
        """A wall-clock TIMESTAMP in `zone` as the UTC wall clock of the same instant, read
        as `segmint.semantics.instants.utc_instants` reads one (and PostgreSQL and DuckDB
        do): a time the clocks show twice is its second instant; one they skip is read with
        the offset before the change.

        Every engine here reads skipped times so; one that reads a repeated time as its
        first instant (``second_when_repeated`` false) is corrected: with ``c`` its reading
        and ``e`` the time read with the offset a day after ``c``, ``e`` is the second
        instant when it comes after ``c`` and shows the same wall clock."""
        native = self.native_utc_from_local(timestamp, zone)
        if self.second_when_repeated:
            return native
        wall = self.to_micros(timestamp)
        read = self.to_micros(native)

        def shown(micros: Expr) -> Expr:  # the wall clock an instant shows in `zone`, in µs
            return self.to_micros(self.local_from_utc(self.from_micros(micros), zone))

        day_after = exp.Add(this=read, expression=number(86_400_000_000))
        offset_after = exp.Sub(this=shown(day_after), expression=exp.Paren(this=day_after))
        later = exp.Sub(this=wall, expression=exp.Paren(this=offset_after))
        second = exp.and_(exp.GT(this=later, expression=read), exp.EQ(this=shown(later), expression=wall))
        return exp.Case().when(second, self.from_micros(later)).else_(native)

    def native_utc_from_local(self, timestamp: Expr, zone: str) -> Expr:
        """The engine's own reading of a wall-clock TIMESTAMP in `zone` as the UTC wall
        clock (Spark's ``TO_UTC_TIMESTAMP``, Java's rule: a repeated time is its first
        instant, a skipped one moves forward by the change)."""
        return call("TO_UTC_TIMESTAMP", timestamp, string(zone))

    def local_from_utc(self, timestamp: Expr, zone: str) -> Expr:
        return call("FROM_UTC_TIMESTAMP", timestamp, string(zone))

    def utc_from_aware(self, timestamp: Expr) -> Expr:
        """A zone-aware timestamp column as the UTC wall clock."""
        return self.cast(timestamp, "TIMESTAMP")

    def interval_micros(self, interval: Expr) -> Expr:
        """A duration (INTERVAL) column as BIGINT microseconds."""
        seconds = exp.Extract(this=exp.var("EPOCH"), expression=interval)
        return self.to_bigint(exp.Mul(this=seconds, expression=number(1_000_000)))

    def year(self, value: Expr) -> Expr:
        return exp.Extract(this=exp.var("YEAR"), expression=value)

    def month(self, value: Expr) -> Expr:
        return exp.Extract(this=exp.var("MONTH"), expression=value)

    def day_of_week(self, value: Expr) -> Expr:
        """ISO day of the week, Monday 1 to Sunday 7."""
        return exp.Extract(this=exp.var("ISODOW"), expression=value)

    # text ---------------------------------------------------------------------------
    def starts_with(self, value: Expr, prefix: str) -> Expr:
        return exp.StartsWith(this=value, expression=string(prefix))

    def ends_with(self, value: Expr, suffix: str) -> Expr:
        return exp.EndsWith(this=value, expression=string(suffix))

    def contains_text(self, value: Expr, part: str) -> Expr:
        return exp.GT(this=exp.StrPosition(this=value, substr=string(part)), expression=number(0))

    def regex_match(self, value: Expr, pattern: str) -> Expr:
        return exp.RegexpLike(this=value, expression=string(pattern))

    def length(self, value: Expr) -> Expr:
        return exp.Length(this=value)

    def byte_order(self, value: Expr) -> Expr:
        """A string expression compared by its UTF-8 bytes."""
        return value

    # lists --------------------------------------------------------------------------
    def list_contains(self, values: Expr, item: Expr) -> Expr:
        """Whether a non-null list holds `item` (null elements never match): never null for a
        non-null list."""
        return exp.ArrayContains(this=values, expression=item)

    def list_length(self, values: Expr) -> Expr:
        return exp.ArraySize(this=values)

    # hashing ------------------------------------------------------------------------
    def float_key_text(self, key: Expr) -> Expr:
        """A floating point key as the holdout hashes it: a whole number in all its digits."""
        whole = self.is_whole(key)
        digits = self.to_text(self.cast(key.copy(), "DECIMAL(38, 0)"))
        return exp.Case(ifs=[exp.If(this=whole, true=digits)], default=self.to_text(key.copy()))

    def is_whole(self, value: Expr) -> Expr:
        """Whether a floating point value is a whole number."""
        return exp.EQ(this=value.copy(), expression=exp.Floor(this=value.copy()))

    def sha256_hex(self, text: Expr) -> Expr:
        """The lowercase hex SHA-256 digest of the UTF-8 bytes of `text`."""
        return exp.SHA2(this=text, length=number(256))

    # numbers ------------------------------------------------------------------------
    def round_half_even(self, value: Expr) -> Expr:
        return call("ROUND_EVEN", value, number(0))

    def round_half_away(self, value: Expr, digits: int) -> Expr:
        return exp.Round(this=value, decimals=number(digits))

    # aggregates ---------------------------------------------------------------------
    def bool_min(self, value: Expr) -> Expr:
        return exp.LogicalAnd(this=value)

    def bool_max(self, value: Expr) -> Expr:
        return exp.LogicalOr(this=value)

    def aggregate(self, function: Expr, where: Expr | None) -> Expr:
        """`function` (an aggregate call) restricted to the rows where `where` is true."""
        if where is None:
            return function
        if self.supports_filter:
            return exp.Filter(this=function, expression=exp.Where(this=where))
        return function  # the caller moved the condition into a CASE (see `filtered`)

    def filtered(self, value: Expr, where: Expr | None) -> Expr:
        """The aggregated value, null where the row does not count (dialects without FILTER)."""
        if where is None or self.supports_filter:
            return value
        return exp.Case(ifs=[exp.If(this=where, true=value)])

    def value_at_extreme_time(self, earliest: bool, ts: Expr, value: Expr, where: Expr | None) -> Expr | None:
        """`first`/`last` in one aggregate call: the (non-null) value at the earliest
        (latest) `ts` of the rows where `where` holds, the smallest (largest) value on a
        tie; or None where the dialect cannot, and the compiler finds the instant with a
        second GROUP BY joined back to the events."""
        return None


class DuckDBDialect(SqlDialect):
    name = "duckdb"
    second_when_repeated = True
    sqlglot = "duckdb"

    def value_at_extreme_time(self, earliest: bool, ts: Expr, value: Expr, where: Expr | None) -> Expr | None:
        # MIN/MAX of {t, v} orders by the instant, then by the value: exactly the language's
        # tie rule, with no second pass over the events (or its join, 1.5 GB at 20M events)
        pair = exp.Struct(expressions=[
            exp.PropertyEQ(this=exp.to_identifier("t", quoted=True), expression=ts),
            exp.PropertyEQ(this=exp.to_identifier("v", quoted=True), expression=value)])
        extreme = (exp.Min if earliest else exp.Max)(this=self.filtered(pair, where))
        return call("STRUCT_EXTRACT", self.aggregate(extreme, where), string("v"))

    def to_micros(self, timestamp: Expr) -> Expr:
        return call("EPOCH_US", timestamp)

    def from_micros(self, micros: Expr) -> Expr:
        return call("MAKE_TIMESTAMP", micros)

    def native_utc_from_local(self, timestamp: Expr, zone: str) -> Expr:
        return call("TIMEZONE", string("UTC"), call("TIMEZONE", string(zone), timestamp))

    def local_from_utc(self, timestamp: Expr, zone: str) -> Expr:
        return call("TIMEZONE", string(zone), call("TIMEZONE", string("UTC"), timestamp))

    def utc_from_aware(self, timestamp: Expr) -> Expr:
        return call("TIMEZONE", string("UTC"), timestamp)

    def interval_micros(self, interval: Expr) -> Expr:
        return call("EPOCH_US", interval)

    def day_of_week(self, value: Expr) -> Expr:
        return call("ISODOW", value)

    def contains_text(self, value: Expr, part: str) -> Expr:
        return call("CONTAINS", value, string(part))

    def regex_match(self, value: Expr, pattern: str) -> Expr:
        return call("REGEXP_MATCHES", value, string(pattern))

    def list_contains(self, values: Expr, item: Expr) -> Expr:
        return call("LIST_CONTAINS", values, item)

    def list_length(self, values: Expr) -> Expr:
        return call("LEN", values)

    def sha256_hex(self, text: Expr) -> Expr:
        return call("SHA256", text)


class PostgresDialect(SqlDialect):
    name = "postgres"
    second_when_repeated = True
    sqlglot = "postgres"
    regex = Flavour.POSIX
    double = "DOUBLE PRECISION"
    text = "TEXT"
    needs_byte_collation = True

    def is_nan(self, value: Expr) -> Expr:
        return exp.EQ(this=value, expression=self.to_double(string("NaN")))

    def to_micros(self, timestamp: Expr) -> Expr:
        seconds = exp.Extract(this=exp.var("EPOCH"), expression=timestamp)  # numeric, exact
        return self.to_bigint(exp.Mul(this=seconds, expression=number(1_000_000)))

    def from_micros(self, micros: Expr) -> Expr:
        epoch = self.timestamp_literal("1970-01-01 00:00:00")
        step = exp.Mul(this=exp.Paren(this=micros), expression=exp.Interval(
            this=string("1"), unit=exp.var("MICROSECOND")))
        return exp.Add(this=epoch, expression=step)

    def native_utc_from_local(self, timestamp: Expr, zone: str) -> Expr:
        aware = exp.AtTimeZone(this=_operand(timestamp), zone=string(zone))
        return exp.AtTimeZone(this=_operand(aware), zone=string("UTC"))

    def local_from_utc(self, timestamp: Expr, zone: str) -> Expr:
        aware = exp.AtTimeZone(this=_operand(timestamp), zone=string("UTC"))
        return exp.AtTimeZone(this=_operand(aware), zone=string(zone))

    def utc_from_aware(self, timestamp: Expr) -> Expr:
        return exp.AtTimeZone(this=_operand(timestamp), zone=string("UTC"))

    def starts_with(self, value: Expr, prefix: str) -> Expr:
        return call("STARTS_WITH", value, string(prefix))

    def ends_with(self, value: Expr, suffix: str) -> Expr:
        tail = call("RIGHT", value, number(len(suffix)))
        return exp.EQ(this=tail, expression=string(suffix)) if suffix else exp.Not(
            this=exp.Is(this=value, expression=exp.Null()))

    def contains_text(self, value: Expr, part: str) -> Expr:
        return exp.GT(this=call("STRPOS", value, string(part)), expression=number(0))

    def regex_match(self, value: Expr, pattern: str) -> Expr:
        return exp.RegexpLike(this=self.byte_order(value), expression=string(pattern))

    def byte_order(self, value: Expr) -> Expr:
        return exp.Collate(this=value, expression=exp.Identifier(this="C", quoted=True))

    def list_contains(self, values: Expr, item: Expr) -> Expr:
        # `item = ANY(list)` is null when the list holds a null and no match.
        found = exp.EQ(this=item, expression=exp.Any(this=exp.Paren(this=values)))
        return exp.Coalesce(this=found, expressions=[exp.false()])

    def list_length(self, values: Expr) -> Expr:
        return call("CARDINALITY", values)

    def sha256_hex(self, text: Expr) -> Expr:
        digest = call("SHA256", call("CONVERT_TO", text, string("UTF8")))
        return call("ENCODE", digest, string("hex"))

    def round_half_even(self, value: Expr) -> Expr:
        return call("ROUND", self.to_double(value))  # round(double precision) ties to even

    def round_half_away(self, value: Expr, digits: int) -> Expr:
        # round(numeric, n) ties away from zero; round(double precision) would tie to even.
        rounded = exp.Round(this=self.cast(value, "NUMERIC"), decimals=number(digits))
        return self.to_double(rounded)


class SparkDialect(SqlDialect):
    name = "spark"
    sqlglot = "spark"
    regex = Flavour.JAVA
    text = "STRING"

    def from_micros(self, micros: Expr) -> Expr:
        return call("TIMESTAMP_MICROS", micros)

    def is_whole(self, value: Expr) -> Expr:
        """Spark's FLOOR of a double is a BIGINT (an overflow past 2^63 in ANSI mode): the
        remainder by 1 instead."""
        return exp.EQ(this=exp.Mod(this=value.copy(), expression=number(1)), expression=number(0))

    def interval_micros(self, interval: Expr) -> Expr:
        """Spark has no EPOCH of an interval (INVALID_EXTRACT_FIELD), and casts only
        single-field intervals to numbers: the instant the interval is after the epoch, in
        microseconds (exact; the session's time zone is UTC)."""
        return call("UNIX_MICROS", exp.Add(this=call("TIMESTAMP_MICROS", number(0)), expression=interval))

    def day_of_week(self, value: Expr) -> Expr:
        return exp.Extract(this=exp.var("DAYOFWEEK_ISO"), expression=value)

    def contains_text(self, value: Expr, part: str) -> Expr:
        return exp.GT(this=call("INSTR", value, string(part)), expression=number(0))

    def regex_match(self, value: Expr, pattern: str) -> Expr:
        return exp.RegexpLike(this=value, expression=string(pattern))

    def list_contains(self, values: Expr, item: Expr) -> Expr:
        # array_contains is null when the array holds a null and no match.
        return exp.Coalesce(this=call("ARRAY_CONTAINS", values, item), expressions=[exp.false()])

    def list_length(self, values: Expr) -> Expr:
        return call("SIZE", values)

    def round_half_even(self, value: Expr) -> Expr:
        return call("BROUND", value, number(0))


class BigQueryDialect(SqlDialect):
    name = "bigquery"
    sqlglot = "bigquery"
    supports_filter = False
    double = "FLOAT64"
    bigint = "INT64"
    text = "STRING"

    def is_nan(self, value: Expr) -> Expr:
        return call("IS_NAN", value)

    def to_micros(self, timestamp: Expr) -> Expr:
        return call("UNIX_MICROS", call("TIMESTAMP", timestamp))

    def from_micros(self, micros: Expr) -> Expr:
        return call("DATETIME", call("TIMESTAMP_MICROS", micros))

    def native_utc_from_local(self, timestamp: Expr, zone: str) -> Expr:
        return call("DATETIME", call("TIMESTAMP", timestamp, string(zone)), string("UTC"))

    def local_from_utc(self, timestamp: Expr, zone: str) -> Expr:
        return call("DATETIME", call("TIMESTAMP", timestamp, string("UTC")), string(zone))

    def utc_from_aware(self, timestamp: Expr) -> Expr:
        return call("DATETIME", timestamp, string("UTC"))

    def day_of_week(self, value: Expr) -> Expr:
        return exp.Extract(this=exp.var("DAYOFWEEK"), expression=value)  # adjusted below

    def contains_text(self, value: Expr, part: str) -> Expr:
        return exp.GT(this=call("STRPOS", value, string(part)), expression=number(0))

    def regex_match(self, value: Expr, pattern: str) -> Expr:
        return call("REGEXP_CONTAINS", value, string(pattern))

    def list_contains(self, values: Expr, item: Expr) -> Expr:
        return exp.In(this=item, unnest=exp.Unnest(expressions=[values]))

    def list_length(self, values: Expr) -> Expr:
        return call("ARRAY_LENGTH", values)

    def sha256_hex(self, text: Expr) -> Expr:
        return call("TO_HEX", call("SHA256", text))

    def round_half_even(self, value: Expr) -> Expr:
        return call("ROUND", self.cast(value, "NUMERIC"), number(0), string("ROUND_HALF_EVEN"))


class SnowflakeDialect(SqlDialect):
    name = "snowflake"
    sqlglot = "snowflake"
    regex = Flavour.POSIX
    supports_filter = False
    text = "VARCHAR"

    def is_nan(self, value: Expr) -> Expr:
        return exp.EQ(this=value, expression=self.to_double(string("NaN")))

    def to_micros(self, timestamp: Expr) -> Expr:
        return call("DATE_PART", exp.var("EPOCH_MICROSECOND"), timestamp)

    def from_micros(self, micros: Expr) -> Expr:
        return call("TO_TIMESTAMP_NTZ", micros, number(6))

    def native_utc_from_local(self, timestamp: Expr, zone: str) -> Expr:
        return call("CONVERT_TIMEZONE", string(zone), string("UTC"), timestamp)

    def local_from_utc(self, timestamp: Expr, zone: str) -> Expr:
        return call("CONVERT_TIMEZONE", string("UTC"), string(zone), timestamp)

    def utc_from_aware(self, timestamp: Expr) -> Expr:
        return call("CONVERT_TIMEZONE", string("UTC"), timestamp)

    def day_of_week(self, value: Expr) -> Expr:
        return call("DAYOFWEEKISO", value)

    def contains_text(self, value: Expr, part: str) -> Expr:
        return call("CONTAINS", value, string(part))

    def regex_match(self, value: Expr, pattern: str) -> Expr:
        return exp.GT(this=call("REGEXP_INSTR", value, string(pattern)), expression=number(0))

    def byte_order(self, value: Expr) -> Expr:
        return value

    def list_contains(self, values: Expr, item: Expr) -> Expr:
        return call("ARRAY_CONTAINS", self.cast(item, "VARIANT"), values)

    def list_length(self, values: Expr) -> Expr:
        return call("ARRAY_SIZE", values)

    def round_half_even(self, value: Expr) -> Expr:
        return call("ROUND", value, number(0), string("HALF_TO_EVEN"))


DIALECTS: dict[str, type[SqlDialect]] = {
    d.name: d for d in (DuckDBDialect, SparkDialect, PostgresDialect, BigQueryDialect, SnowflakeDialect)
}


def dialect_named(name: str) -> SqlDialect:
    """The dialect called `name`; raise `KeyError` with the known names."""
    try:
        return DIALECTS[name]()
    except KeyError:
        raise KeyError(f"unknown SQL dialect '{name}' (dialects: {', '.join(DIALECTS)})") from None
