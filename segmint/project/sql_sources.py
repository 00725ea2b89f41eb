"""A project's sources and metrics as SQL: where a source's rows are (`relation`), its rows
keyed as `segmint run` keys them (`keyed_events`), an event source as a metric's SQL
builder reads it (`orders_table`) and the builder's query (`metric_sql`).

Shared by `segmint sql`, which prints one query reading the sources themselves, and by a
run on a SQL engine that computes metrics itself (`engine_metric`: a `MetricInput` whose
query reads the event source as the engine does, from its files).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa

from segmint.engines.base import MetricInput, Scan
from segmint.errors import ConfigError
from segmint.language.catalog import Column
from segmint.plugin.api import SQL, Metric, Source, SqlTable
from segmint.plugin.host import calling_plugin, provenance
from segmint.project.engine_choice import engine_scan
from segmint.project.identity import Keys, policy_of
from segmint.project.metric_needs import named_sources
from segmint.project.pipeline import Prepared, display_path, metric_context
from segmint.project.reading import metric_reads, source_schema, take_scan
from segmint.project.source_columns import columns_of
from segmint.semantics.events import event_columns


@attrs.frozen
class EngineMetric:
    """A metric the run's engine computes, and the scans of the sources it requires."""

    metric: MetricInput
    found: Mapping[str, Scan]

    def scans(self, before: Mapping[str, Scan]) -> dict[str, Scan]:
        """`before` (the scans of the metrics before it) with this metric's: one scan of a
        source, of the columns of both (`Job.events` holds one per source)."""
        merged = dict(before)
        for name, scan in self.found.items():
            had = merged.get(name)
            if had is not None and had.columns != scan.columns:
                scan = attrs.evolve(scan, columns=None if None in (had.columns, scan.columns)
                                    else tuple(dict.fromkeys([*had.columns, *scan.columns])))
            merged[name] = scan
        return merged


def engine_metric(prepared: Prepared, metric: Metric, wanted: Sequence[Column], keys: Keys,
                  key_type: pa.DataType) -> EngineMetric | None:
    """The metric as a `MetricInput` the run's engine computes itself, and the scans of
    the sources it requires (their rows and keys accounted for in `keys`' report), when the
    engine computes metrics (a SQL engine), the metric has a SQL builder, and the engine
    reads every source it requires itself (`engine_scan`: files nothing of the project
    changes on the way) with keys of the profiles' `key_type`; else None, and segmint
    computes it in Python."""
    engine, key = prepared.engine, prepared.project.key
    build = metric.builders.get(SQL)
    if not engine.computes_metrics or engine.family != SQL or build is None or not metric.requires \
            or named_sources(metric, prepared.project):  # a source its options name: Python
        return None
    reads = metric_reads(prepared, metric, keys)
    aggregated = event_columns(prepared.checked)
    found = {}
    for role in metric.requires:
        source = prepared.event_sources[role]
        columns = reads.get(role) or [n for n in source_schema(source, key).names if n != key]
        # one scan serves the aggregates over the source too (`Job.events` has one per source)
        columns = list(dict.fromkeys([*columns, *aggregated.get(role, ())]))
        scan = engine_scan(source, key, columns, engine.reads_files, source_schema)
        if scan is None or scan[1] != key_type:
            return None  # a cast in the join could make two keys one: segmint joins them
        found[role] = scan
    scans = {role: take_scan(prepared, role, keys, *scan) for role, scan in found.items()}

    def tables(dialect: Any, relations: Mapping[str, Any]) -> dict[str, SqlTable]:
        return {role: orders_table(prepared, role, dialect, relations[role], scan.columns)
                for role, scan in scans.items()}

    def query(dialect: Any, relations: Mapping[str, Any]) -> Any:
        return metric_sql(prepared, metric, build, wanted, tables(dialect, relations))

    def refusals(dialect: Any, relations: Mapping[str, Any]) -> Sequence[Any]:
        return metric_refusals(prepared, metric, wanted, tables(dialect, relations))

    columns = tuple((c.name, c.physical, c.arrow_type) for c in wanted)
    return EngineMetric(MetricInput(metric.name, columns, query, metric.requires, refusals), scans)


def metric_refusals(prepared: Prepared, metric: Metric, wanted: Sequence[Column],
                    events: Mapping[str, SqlTable]) -> Sequence[Any]:
    """The rows of `events` the metric's ``compute`` refuses (`Metric.sql_refusals`, under
    the context its SQL builder gets), for the engine to count before its query."""
    if metric.sql_refusals is None:
        return ()
    with calling_plugin(lambda: f"metric '{metric.name}' "
                        f"({provenance(prepared.registry, 'metric', metric.name)}) failed "
                        f"to list the rows it refuses"):
        return tuple(metric.sql_refusals(metric_context(prepared, wanted, events)))


def metric_sql(prepared: Prepared, metric: Metric, build: Any, wanted: Sequence[Column],
               events: Mapping[str, SqlTable]) -> Any:
    """The query `build` (the metric's SQL builder) gives for the `wanted` columns over its
    required sources as `events`, under the run's as_of, time zone and ``[metrics]``
    options; its failure an error naming the metric and its plugin."""
    context = metric_context(prepared, wanted, events)
    with calling_plugin(lambda: f"metric '{metric.name}' "
                        f"({provenance(prepared.registry, 'metric', metric.name)}) failed "
                        f"to build its SQL"):
        return build(context)


def orders_table(prepared: Prepared, name: str, dialect: Any, relation: Any = None,
                 columns: Sequence[str] | None = None) -> SqlTable:
    """An event source as a metric's SQL builder reads it: its keyed rows (`keyed_events`,
    over `relation` when given: the source as an engine reads it, with only `columns`),
    and time as the membership query holds it (`event_table`)."""
    from segmint.engines.sql.columns import event_table

    # the builder names columns as sqlglot does by default (unquoted unless they must be)
    relation, schema = keyed_events(prepared, name, dialect, quoted=False, relation=relation,
                                    columns=columns)
    return event_table(relation, schema, dialect, prepared.project.timezone)


def keyed_events(prepared: Prepared, name: str, dialect: Any, *, quoted: bool, relation: Any = None,
                 columns: Sequence[str] | None = None) -> tuple[Any, Any]:
    """An event source's rows as `segmint run` keys them: its own key column (the project's
    ``key = ...`` of the source, or a postgres source's ``key_column``) renamed to the
    project's key and normalised as the source says (so orders keyed by a mixed-case email
    meet the profiles), every other column under the name the rules' schema gives it
    (`quoted` identifiers, or sqlglot's default quoting); and that schema (of the key and
    `columns` only, when given). The rows are read from `relation`, by default the
    source's own (`relation`). Key policies SQL cannot apply as segmint does are refused
    (`normalize`)."""
    import pyarrow as pa
    import sqlglot.expressions as exp

    from segmint.engines.sql.profiles import normalized_key

    source = prepared.event_sources.get(name) or prepared.profile_sources[name]
    key = prepared.project.key
    schema = source_schema(source, key)
    if columns is not None:
        schema = pa.schema([f for f in schema if f.name == key or f.name in columns])
    own_key = own_key_of(source) or key
    how = normalize(source, name, prepared.project.label)
    items = []
    for field in schema:
        value = exp.column(exp.to_identifier(own_key if field.name == key else field.name, quoted=True))
        if field.name == key:
            value = normalized_key(value, how, dialect)
        items.append(exp.alias_(value, exp.to_identifier(field.name, quoted=quoted or None)))
    if relation is None:
        relation = source_relation(source, name, dialect.name, exp)
    relation = exp.select(*items).from_(relation).subquery(exp.to_identifier(name, quoted=True))
    return relation, schema


def own_key_of(source: Source) -> str | None:
    """The source's own name for the key column, when the project renames it: the source's
    ``key = ...`` in the project, or a postgres source's ``key_column``."""
    return columns_of(source).key or getattr(source.options, "key_column", None)


def normalize(source: Source, name: str, file: str | None) -> str | None:
    """How SQL normalises the source's keys (None or "email"); a ConfigError naming the
    project file and option for a key policy SQL cannot apply exactly as segmint does."""
    policy = policy_of(source)
    if policy.identity is not None:
        raise ConfigError("keys mapped through an identity table cannot be joined in SQL",
                          file=file, key=f"sources.{name}.identity")
    if policy.key_normalize == "phone":
        raise ConfigError("phone numbers cannot be normalised in SQL exactly as segmint does",
                          file=file, key=f"sources.{name}.key_normalize")
    if policy.on_duplicate_keys != "error":
        raise ConfigError("duplicate keys cannot be resolved in SQL as segmint does",
                          file=file, key=f"sources.{name}.on_duplicate_keys")
    return policy.key_normalize


_READERS = {".parquet": "read_parquet", ".csv": "read_csv", ".jsonl": "read_json", ".ndjson": "read_json"}


#: DuckDB's name for each Arrow type a CSV source's column can have; a column of any other
#: type (a list) is left to DuckDB.
_DUCKDB_TYPES = {"string": "VARCHAR", "large_string": "VARCHAR", "int64": "BIGINT",
                 "double": "DOUBLE", "bool": "BOOLEAN", "date32[day]": "DATE"}


def _csv_types(source: Source, exp: Any) -> Any:
    """``types = {...}``: read_csv's column types, those of the source's own schema (the key
    as text, the guessed or configured types), so DuckDB reads a CSV as `segmint run` does
    (its own inference would read keys like 007 as the number 7)."""
    fields = [(f.name, _DUCKDB_TYPES.get(str(f.type))) for f in source.schema()]
    return exp.EQ(this=exp.column("types"), expression=exp.Struct(expressions=[
        exp.PropertyEQ(this=exp.to_identifier(name, quoted=True), expression=exp.Literal.string(kind))
        for name, kind in fields if kind is not None]))


def source_relation(source: Source, name: str, dialect: str, exp: Any) -> Any:
    """Where a source's rows are in SQL: its table, or (on DuckDB) its files, when the source
    is the one for files of their kind (its `extensions`): a web events source makes its
    events of a file's records (a Segment call, a GA4 export row), so its rows are the
    table named like it."""
    table = getattr(source.options, "table", None)
    if isinstance(table, str) and table:
        return exp.to_table(table)
    path = getattr(source.options, "path", None)
    if dialect == "duckdb" and path is not None:
        full = source.context.project_dir / path
        suffix = ".parquet" if full.is_dir() else full.suffix.lower()
        reader = _READERS.get(suffix) if suffix in type(source).extensions else None
        if reader is not None:
            files = display_path(full / "**" / "*.parquet" if full.is_dir() else full)
            arguments = [exp.Literal.string(files)]
            if reader == "read_csv":
                arguments.append(_csv_types(source, exp))
            return exp.Table(this=exp.Anonymous(this=reader, expressions=arguments))
    return exp.Table(this=exp.to_identifier(name, quoted=True))
