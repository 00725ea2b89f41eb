"""A project's rule set as one SQL query, for users who run segments in their warehouse.

`membership_sql` prepares the project (rules checked against the sources' schemas, no data
read) and compiles the query computing the membership table from the sources themselves:
each source is the table named like it (a ``postgres`` source: its ``table``; on DuckDB a
Parquet, CSV or JSON Lines source: the files, read by DuckDB), the profile sources joined on
the key with keys normalised as the project says, the metric columns the rules use (each
metric's SQL builder, `Metric.builders[segmint.SQL]`, over its required sources, LEFT
JOINed on the key: orders never add customers), then every aggregate, segment and holdout,
in the dialect asked for. A metric without a SQL builder (predictive CLV, acquisition, a
plugin's) is refused, naming it and the column.
"""

from __future__ import annotations

from typing import Any

from segmint.errors import ConfigError, SegmintError
from segmint.language.catalog import Column
from segmint.language.types import Kind
from segmint.plugin.api import SQL, Source, SqlTable
from segmint.plugin.host import PluginRegistry, calling_plugin, provenance
from segmint.project.config import Project
from segmint.project.identity import policy_of
from segmint.project.pipeline import Prepared, display_path, metric_context, prepare, source_schema
from segmint.project.source_columns import columns_of

INSTALL = "pip install 'segmint[sql]'"


def membership_sql(project: Project, registry: PluginRegistry, *, dialect: str = "duckdb") -> str:
    """The formatted query computing the project's membership table in `dialect`."""
    try:
        import sqlglot.expressions as exp

        from segmint.engines.sql import Relations, compile_membership, dialect_for
        from segmint.engines.sql.profiles import ProfileSource, profile_join
    except ImportError:
        raise SegmintError(f"printing SQL needs sqlglot; install it with {INSTALL}") from None
    chosen = dialect_for(dialect)
    prepared = prepare(project, registry)
    key = project.key
    used = prepared.checked.columns_used
    metrics = _metric_queries(prepared, chosen)
    _refuse_booleans(prepared)
    sources = []
    for name, source in prepared.profile_sources.items():
        columns = tuple((c.name, c.physical) for c in used if c.source == name and c.via is None)
        sources.append(ProfileSource(name, _relation(source, name, chosen.name, exp),
                                     columns, _normalize(source, name, project.label),
                                     _own_key(source)))
    if not sources:
        raise SegmintError("no profile source: add one with --source NAME=PATH or in segmint.toml")
    events = {name: _aggregated_events(prepared, name, chosen) for name in _aggregated(prepared)}
    joined = profile_join(sources, key, chosen)
    if metrics:
        joined = _with_metrics(joined, sources, metrics, key)
    profiles = exp.Subquery(this=joined, alias=exp.TableAlias(
        this=exp.to_identifier("profiles", quoted=True)))
    # a metric's durations (BIGINT microseconds) and timestamps (the UTC wall clock, as
    # `_orders_table` reads them) are already what the membership query computes on
    canonical = frozenset(c.physical for _, _, wanted in metrics for c in wanted
                          if c.type.kind in (Kind.DURATION, Kind.TIMESTAMP))
    relations = Relations(profiles=profiles, events=events, canonical=canonical)
    return compile_membership(prepared.checked, dialect=dialect, key=key, as_of=prepared.as_of,
                              holdout_salt=project.holdout_salt, relations=relations) + ";\n"


def _metric_queries(prepared: Prepared, dialect: Any) -> list[tuple[str, Any, list[Column]]]:
    """Per metric the rules use: its name, the query its SQL builder gives over the sources
    it requires (one row per customer of the orders), and the rule columns it computes. A
    metric without a SQL builder is refused, naming the metric and the column."""
    used = prepared.checked.columns_used
    found = []
    for name, metric in prepared.metrics.items():
        wanted = [c for c in used if c.via == f"metric {name}"]
        if not wanted:
            continue
        build = metric.builders.get(SQL)
        if build is None:
            raise SegmintError(
                f"the rules use column '{wanted[0].name}' of metric '{name}', which has no SQL "
                f"builder (Metric.builders[segmint.SQL]), so segmint sql cannot compute it; "
                f"run these rules with segmint run")
        events = {role: _orders_table(prepared, role, dialect) for role in metric.requires}
        context = metric_context(prepared, wanted, events)
        with calling_plugin(lambda: f"metric '{metric.name}' "
                            f"({provenance(prepared.registry, 'metric', metric.name)}) failed "
                            f"to build its SQL"):
            query = build(context)
        found.append((name, _own_ctes(query, f"metric:{name}:"), wanted))
    return found


def _own_ctes(query: Any, prefix: str) -> Any:
    """`query` with its CTEs (and the tables naming them) renamed `prefix` + name: two
    metrics' queries both have a ``lines`` CTE, and Spark refuses one name defined twice in
    a statement, even in separate subqueries."""
    import sqlglot.expressions as exp

    with_ = query.args.get("with_")
    if with_ is None:
        return query
    names = {cte.alias for cte in with_.expressions}

    def rename(node: Any) -> Any:
        if isinstance(node, exp.Table) and not node.args.get("db") and node.name in names:
            renamed = exp.Table(this=exp.to_identifier(prefix + node.name, quoted=True))
            if node.args.get("alias") is not None:
                renamed.set("alias", node.args["alias"])
            return renamed
        if isinstance(node, exp.CTE) and node.alias in names:
            node.set("alias", exp.TableAlias(this=exp.to_identifier(prefix + node.alias, quoted=True)))
        return node

    return query.transform(rename)


def _orders_table(prepared: Prepared, name: str, dialect: Any) -> SqlTable:
    """An event source as a metric's SQL builder reads it: its keyed rows (`_keyed_events`),
    and time as the membership query holds it (`event_table`)."""
    from segmint.engines.sql.columns import event_table

    # the builder names columns as sqlglot does by default (unquoted unless they must be)
    relation, schema = _keyed_events(prepared, name, dialect, quoted=False)
    return event_table(relation, schema, dialect, prepared.project.timezone)


def _keyed_events(prepared: Prepared, name: str, dialect: Any, *, quoted: bool) -> tuple[Any, Any]:
    """An event source's rows as `segmint run` keys them: its own key column (the project's
    ``key = ...`` of the source, or a postgres source's ``key_column``) renamed to the
    project's key and normalised as the source says (so orders keyed by a mixed-case email
    meet the profiles), every other column under the name the rules' schema gives it
    (`quoted` identifiers, or sqlglot's default quoting); and that schema. Key policies SQL
    cannot apply as segmint does are refused (`_normalize`)."""
    import sqlglot.expressions as exp

    from segmint.engines.sql.profiles import normalized_key

    source = prepared.event_sources[name]
    key = prepared.project.key
    schema = source_schema(source, key)
    own_key = _own_key(source) or key
    how = _normalize(source, name, prepared.project.label)
    items = []
    for field in schema:
        value = exp.column(exp.to_identifier(own_key if field.name == key else field.name, quoted=True))
        if field.name == key:
            value = normalized_key(value, how, dialect)
        items.append(exp.alias_(value, exp.to_identifier(field.name, quoted=quoted or None)))
    relation = exp.select(*items).from_(_relation(source, name, dialect.name, exp)).subquery(
        exp.to_identifier(name, quoted=True))
    return relation, schema


def _aggregated_events(prepared: Prepared, name: str, dialect: Any) -> Any:
    """Where the aggregates over an event source read its rows: the source's relation as it
    is, or, when its key is normalised or named otherwise, its keyed rows."""
    import sqlglot.expressions as exp

    source = prepared.event_sources[name]
    if _normalize(source, name, prepared.project.label) is None and _own_key(source) is None:
        return _relation(source, name, dialect.name, exp)
    return _keyed_events(prepared, name, dialect, quoted=True)[0]


def _with_metrics(profiles: Any, sources: list[Any], metrics: list[tuple[str, Any, list[Column]]],
                  key: str) -> Any:
    """The profile join with each metric's columns LEFT JOINed on the key, under their
    physical names: orders never add customers, the profile sources' keys are the customers
    (as `read_profile` keeps only them)."""
    import sqlglot.expressions as exp

    from segmint.engines.sql.compiler import column, identifier

    items = [exp.alias_(column(key, "profiles"), identifier(key))]
    items += [column(physical, "profiles") for source in sources for _, physical in source.columns]
    query = exp.select(*items).from_(exp.alias_(exp.Subquery(this=profiles), identifier("profiles")))
    for name, metric_query, wanted in metrics:
        alias = f"metric:{name}"
        on = exp.EQ(this=column(key, "profiles"),
                    expression=exp.Column(this=exp.to_identifier(key), table=identifier(alias)))
        query = query.join(exp.alias_(exp.Subquery(this=metric_query), identifier(alias)), on=on,
                           join_type="left")
        query = query.select(*[exp.alias_(exp.Column(this=exp.to_identifier(c.name),
                                                     table=identifier(alias)), identifier(c.physical))
                               for c in wanted])
    return query


def _refuse_booleans(prepared: Prepared) -> None:
    """A ConfigError for a column the rules read that the project makes a boolean from text
    (``booleans = {...}``): segmint compares the text trimmed of any Unicode space and in
    Unicode lower case, which SQL's TRIM and LOWER do not do alike in every dialect."""
    from segmint.semantics.events import event_columns

    read = {name: [c.name for c in prepared.checked.columns_used if c.source == name and c.via is None]
            for name in prepared.profile_sources}
    read.update(event_columns(prepared.checked))
    sources = {**prepared.profile_sources, **prepared.event_sources}
    for name, columns in read.items():
        flags = columns_of(sources[name]).booleans
        for column_name in columns:
            if column_name in flags:
                raise ConfigError(
                    f"column '{column_name}' made a boolean from its texts cannot be read in SQL "
                    f"exactly as segmint reads it; run these rules with segmint run, or store "
                    f"the column as true/false", file=prepared.project.label,
                    key=f"sources.{name}.booleans.{column_name}")


def _aggregated(prepared: Prepared) -> list[str]:
    return list(dict.fromkeys(a.source for a in prepared.checked.aggregates))


def _own_key(source: Source) -> str | None:
    """The source's own name for the key column, when the project renames it: the source's
    ``key = ...`` in the project, or a postgres source's ``key_column``."""
    return columns_of(source).key or getattr(source.options, "key_column", None)


def _normalize(source: Source, name: str, file: str | None) -> str | None:
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


def _relation(source: Source, name: str, dialect: str, exp: Any) -> Any:
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
