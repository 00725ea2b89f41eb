"""What a project says about one source's columns, applied to whatever the source plugin
hands over: its own key column (``key = "customer_email"``), renamed to the project's key,
and text flags made booleans (``booleans = { status = ["Marketing contact"] }``).

Applied to the schema (so rules check against it) and to every table or record batch read,
so no plugin needs to know about either.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import ConfigError


@attrs.frozen
class SourceColumns:
    """A source's column options: its key column and its boolean columns."""

    key: str | None = None
    #: Column → the texts that mean true (compared trimmed, ignoring case); any other
    #: text is false, an empty cell null.
    booleans: Mapping[str, frozenset[str]] = attrs.field(factory=dict)

    @classmethod
    def from_table(cls, table: dict[str, Any], label: str | None, where: str) -> SourceColumns:
        """Take ``key`` and ``booleans`` out of a ``[sources.NAME]`` table, checked."""
        key = table.pop("key", None)
        if key is not None and (not isinstance(key, str) or not key.strip()):
            raise ConfigError("must be a column name (a non-empty string)", file=label, key=f"{where}.key")
        raw = table.pop("booleans", {})
        if not isinstance(raw, dict):
            raise ConfigError("must be a table of column = [texts that mean true]", file=label,
                              key=f"{where}.booleans")
        booleans = {}
        for column, texts in raw.items():
            if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
                raise ConfigError("must be a list of the texts that mean true", file=label,
                                  key=f"{where}.booleans.{column}")
            booleans[column] = frozenset(t.strip().lower() for t in texts)
        return cls(key, booleans)

    def schema(self, schema: pa.Schema, project_key: str, *, source: str, where: str) -> pa.Schema:
        """The schema rules see: the key renamed, boolean columns typed bool."""
        for column in self.booleans:
            if column not in schema.names:
                raise ConfigError(f"booleans names '{column}', which source '{source}' does not have"
                                  f" (columns: {', '.join(schema.names[:20])})", file=where)
        for i, field in enumerate(schema):
            if field.name in self.booleans:
                schema = schema.set(i, pa.field(field.name, pa.bool_()))
            elif self.key is not None and field.name == self.key:
                schema = schema.set(i, field.with_name(project_key))
        return schema

    def table(self, table: pa.Table | pa.RecordBatch, project_key: str) -> Any:
        """A table (or record batch) read from the source, its columns as `schema` says."""
        if self.key is None and not self.booleans:
            return table
        names = [project_key if n == self.key else n for n in table.column_names]
        columns = [self._boolean(name, table.column(name)) if name in self.booleans else table.column(name)
                   for name in table.column_names]
        kind = pa.RecordBatch if isinstance(table, pa.RecordBatch) else pa.Table
        return kind.from_arrays(columns, names=names)

    def reader(self, reader: pa.RecordBatchReader, project_key: str) -> pa.RecordBatchReader:
        """A stream of record batches, each converted by `table`."""
        schema = self.table(reader.schema.empty_table(), project_key).schema

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                yield self.table(batch, project_key)

        return pa.RecordBatchReader.from_batches(schema, batches())

    def _boolean(self, name: str, values: Any) -> Any:
        if pa.types.is_boolean(values.type):
            return values
        text = pc.utf8_lower(pc.utf8_trim_whitespace(values.cast(pa.string())))
        true = pc.is_in(text, value_set=pa.array(sorted(self.booleans[name]), pa.string()))
        return pc.if_else(pc.is_valid(text), true, pa.scalar(None, pa.bool_()))


NO_COLUMNS = SourceColumns()


def columns_of(source: Any) -> SourceColumns:
    """The column options the project gave a source (none for one built without them)."""
    columns = getattr(source, "project_columns", None)
    return NO_COLUMNS if columns is None else columns
