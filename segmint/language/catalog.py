"""What names a rule can use: the columns of the run's profile, with where they come from.

The checker resolves names against a `Catalog` built from schemas alone (sources report
their schema without reading data; metric plugins declare their columns), so every name
and type error is found before any data is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs
import pyarrow as pa

from segmint.language.types import Type, arrow_type_to_type


@attrs.frozen
class Column:
    """One column a rule may name: `source.name`, stored in the profile table as `physical`."""

    name: str
    source: str
    physical: str
    type: Type
    arrow_type: pa.DataType | None = None
    via: str | None = None  # e.g. "metric rfm" for a column a metric plugin computes


@attrs.frozen
class EventSource:
    """A source of events (one row per event) that aggregates read: its columns, among them
    the timestamp column that windows and as_of apply to (`has_timestamp` False when the
    schema lacks it: an aggregate over the source is then an error)."""

    name: str
    timestamp: str
    columns: tuple[Column, ...] = ()

    def find(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def has_timestamp(self) -> bool:
        return self.find(self.timestamp) is not None


@attrs.frozen
class Catalog:
    columns: tuple[Column, ...] = ()
    #: Event sources aggregates may read (`count(orders, last 30d)`); not profile columns.
    events: tuple[EventSource, ...] = ()
    #: Source → its option that sets a column's type (``columns``, ``types``), for hints.
    type_options: Mapping[str, str] = attrs.field(factory=dict)

    def with_events(self, schemas: Mapping[str, tuple[pa.Schema, str]], *, key: str) -> Catalog:
        """This catalog with event sources added: name -> (schema, timestamp column name)."""
        events = tuple(
            EventSource(name, timestamp, tuple(
                Column(f.name, name, f.name, arrow_type_to_type(f.type), f.type)
                for f in schema if f.name != key
            ))
            for name, (schema, timestamp) in schemas.items()
        )
        return attrs.evolve(self, events=self.events + events)

    def event_source(self, name: str) -> EventSource | None:
        return next((e for e in self.events if e.name == name), None)

    @classmethod
    def from_schemas(
        cls,
        schemas: Mapping[str, pa.Schema],
        *,
        key: str,
        via: Mapping[str, str] | None = None,
    ) -> Catalog:
        """Columns of several sources; a name two sources share is stored as `source.name`."""
        return cls.from_parts([(s, schema, (via or {}).get(s)) for s, schema in schemas.items()], key=key)

    @classmethod
    def from_parts(cls, parts: Iterable[tuple[str, pa.Schema, str | None]], *, key: str) -> Catalog:
        """Like `from_schemas`, for parts that may share a source (metrics of one event source)."""
        parts = list(parts)
        counts: dict[str, int] = {}
        for _, schema, _ in parts:
            for name in schema.names:
                if name != key:
                    counts[name] = counts.get(name, 0) + 1
        columns = []
        for source, schema, via in parts:
            for field in schema:
                if field.name == key:
                    continue
                physical = field.name if counts[field.name] == 1 else f"{source}.{field.name}"
                columns.append(Column(
                    field.name, source, physical, arrow_type_to_type(field.type), field.type, via,
                ))
        return cls(tuple(columns))

    def find(self, name: str, source: str | None = None) -> list[Column]:
        return [c for c in self.columns if c.name == name and (source is None or c.source == source)]

    @property
    def sources(self) -> list[str]:
        seen: dict[str, None] = {}
        for column in self.columns:
            seen.setdefault(column.source, None)
        return list(seen)

    def describe_sources(self) -> str:
        """'crm, orders via metric rfm': where the columns come from, for error hints."""
        parts: dict[str, None] = {}
        for column in self.columns:
            parts.setdefault(f"{column.source} via {column.via}" if column.via else column.source, None)
        return ", ".join(parts) or "no source"

    def names(self) -> Iterable[str]:
        for column in self.columns:
            yield column.name
            yield f"{column.source}.{column.name}"
