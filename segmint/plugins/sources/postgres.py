"""The built-in ``postgres`` source: a PostgreSQL table or query, read as Arrow through the
ADBC PostgreSQL driver (``pip install 'segmint[postgres]'``).

The connection string never appears in the project file: the ``dsn_env`` option names the
environment variable that holds it. `schema` runs the query with ``LIMIT 0``; `read` selects
only the columns a run uses and streams the result as record batches. A table or query is a
profile source by default; ``role = "events"`` in the project makes it an event source.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import pyarrow as pa

from segmint.errors import ConfigError, DataError
from segmint.plugin.hookspecs import hookimpl
from segmint.plugin.api import PluginContext, Source


def _identifier_env(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not value or "=" in value or "://" in value or " " in value:
        raise ValueError("must be the name of an environment variable (such as \"SEGMINT_PG_DSN\"),"
                         " not a connection string: keep secrets out of the project file", attribute)


@attrs.frozen
class PostgresOptions:
    """Options of the ``postgres`` source."""

    dsn_env: str = attrs.field(
        validator=_identifier_env,
        metadata={"help": "the environment variable holding the connection string (postgresql://...)"})
    table: str | None = attrs.field(
        default=None, metadata={"help": "a table or view, optionally schema-qualified (public.customers)"})
    query: str | None = attrs.field(default=None, metadata={"help": "a SELECT query (instead of table)"})
    key_column: str | None = attrs.field(
        default=None, metadata={"help": "the column holding the customer key, when not named as the key"})

    def __attrs_post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise ValueError("set exactly one of table and query")


class PostgresSource(Source):
    """Customer data from a PostgreSQL table or query."""

    name = "postgres"
    description = "a PostgreSQL table or query, read through ADBC (segmint[postgres])"
    Options = PostgresOptions

    def __init__(self, source_name: str, options: Any, context: PluginContext) -> None:
        super().__init__(source_name, options, context)
        self.relation = options.query if options.query is not None else _qualified(options.table)
        self.where = f"table {options.table}" if options.table is not None else "query"
        self.casts: dict[str, str] = {}

    def error(self, message: str) -> DataError:
        return DataError(message, source=self.source_name, file=f"postgres {self.where}")

    def _connect(self) -> Any:
        try:
            from adbc_driver_postgresql import dbapi
        except ImportError:
            raise ConfigError(f"source '{self.source_name}': the postgres source needs the ADBC driver:"
                              " pip install 'segmint[postgres]'") from None
        uri = os.environ.get(self.options.dsn_env)
        if not uri:
            raise ConfigError(f"source '{self.source_name}': the environment variable "
                              f"{self.options.dsn_env} (dsn_env) is not set; set it to a connection "
                              "string such as postgresql://user@host:5432/db")
        try:
            return dbapi.connect(uri)
        except Exception as exc:  # noqa: BLE001 - the driver's errors vary; the DSN is not shown
            raise self.error(f"cannot connect (dsn from {self.options.dsn_env}): {_first_line(exc)}") from None

    def _select(self, columns: Sequence[str] | None, *, limit: int | None = None,
                casts: dict[str, str] | None = None) -> str:
        key, stored_key = self.context.key, self.options.key_column
        casts = casts or {}
        if columns is None:
            listed = "*"
            if stored_key:
                listed = f"{_quote(stored_key)} AS {_quote(key)}, *"
        else:
            names = [key, *[c for c in columns if c != key]]
            parts = []
            for n in dict.fromkeys(names):
                column = _quote(stored_key) if stored_key and n == key else _quote(n)
                if n in casts:
                    column = f"{column}::{casts[n]}"
                parts.append(column if column == _quote(n) else f"{column} AS {_quote(n)}")
            listed = ", ".join(parts)
        sql = f"SELECT {listed} FROM ({self.relation}) AS segmint_source" if self.options.query is not None \
            else f"SELECT {listed} FROM {self.relation}"
        return sql + (f" LIMIT {limit}" if limit is not None else "")

    def schema(self) -> pa.Schema:
        """The query's columns, from running it with ``LIMIT 0``; types Arrow has no plain
        equivalent for are read as `CASTS` says (numeric as double precision, others as text)."""
        connection = self._connect()
        try:
            with connection.cursor() as cursor:
                self._execute(cursor, self._select(None, limit=0))
                schema = cursor.fetch_arrow_table().schema
        finally:
            connection.close()
        self.casts = {}
        for index, field in enumerate(schema):
            if isinstance(field.type, pa.BaseExtensionType):
                typname = (field.metadata or {}).get(b"POSTGRESQL:type", b"").decode()
                self.casts[field.name] = CASTS.get(typname, "text")
                plain = pa.float64() if self.casts[field.name] == "double precision" else pa.string()
                schema = schema.set(index, pa.field(field.name, plain))
        if self.options.key_column and self.options.key_column in schema.names:
            duplicate = schema.get_all_field_indices(self.context.key)
            if len(duplicate) > 1:  # key_column AS key, then the original column again
                schema = schema.remove(duplicate[1])
        if self.context.key not in schema.names:
            raise self.error(f"no key column '{self.context.key}' (columns: {', '.join(schema.names)});"
                             " set key_column")
        return schema

    def read(self, columns: Sequence[str] | None = None) -> pa.RecordBatchReader:
        """The key and `columns`, streamed in record batches; the connection closes at the end."""
        names = self.schema().names
        if columns is None:
            columns = [n for n in names if n != self.context.key]
        connection = self._connect()
        try:
            cursor = connection.cursor()
            self._execute(cursor, self._select(columns, casts=self.casts))
            reader = cursor.fetch_record_batch()
        except BaseException:
            connection.close()
            raise

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            finally:
                cursor.close()
                connection.close()

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def _execute(self, cursor: Any, sql: str) -> None:
        try:
            cursor.execute(sql)
        except Exception as exc:  # noqa: BLE001 - the driver's errors vary
            raise self.error(f"the query failed: {_first_line(exc)}") from None


#: PostgreSQL types read through a cast, by type name: numbers as double precision; any
#: other type the driver hands over as an extension (json, uuid, inet...) is read as text.
CASTS = {"numeric": "double precision", "money": "numeric::double precision"}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _qualified(name: str | None) -> str:
    assert name is not None
    return ".".join(_quote(part) for part in name.split("."))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@hookimpl
def register_sources() -> list[type]:
    return [PostgresSource]
