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
from segmint.plugin.api import SQL
from segmint.plugin.host import PluginRegistry
from segmint.project.config import Project
from segmint.project.metric_needs import metric_sources
from segmint.project.pipeline import Prepared, prepare
from segmint.project.source_columns import columns_of
from segmint.project.sql_sources import (
    keyed_events, metric_sql, normalize, orders_table, own_key_of, source_relation,
)

INSTALL = "pip install 'segmint[sql]'"


def membership_sql(project: Project, registry: PluginRegistry, *, dialect: str = "duckdb") -> str:
    """The formatted query computing the project's membership table in `dialect`."""
    try:
        import sqlglot.expressions as exp

        from segmint.engines.sql import Relations, compile_membership, dialect_for
        from segmint.engines.sql.compiler import column, identifier
        from segmint.engines.sql.metrics import canonical_columns, join_metrics
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
        sources.append(ProfileSource(name, source_relation(source, name, chosen.name, exp),
                                     columns, normalize(source, name, project.label),
                                     own_key_of(source)))
    if not sources:
        raise SegmintError("no profile source: add one with --source NAME=PATH or in segmint.toml")
    events = {name: _aggregated_events(prepared, name, chosen) for name in _aggregated(prepared)}
    joined = profile_join(sources, key, chosen)
    if metrics:  # orders never add customers: the profile sources' keys are the customers
        kept = [exp.alias_(column(key, "profiles"), identifier(key))]
        kept += [column(physical, "profiles") for source in sources for _, physical in source.columns]
        joined = join_metrics(joined, kept, metrics, key)
    profiles = exp.Subquery(this=joined, alias=exp.TableAlias(
        this=exp.to_identifier("profiles", quoted=True)))
    # a metric's durations (BIGINT microseconds) and timestamps (the UTC wall clock, as
    # `orders_table` reads them) are already what the membership query computes on
    relations = Relations(profiles=profiles, events=events, canonical=canonical_columns(
        c for _, _, columns in metrics for c in columns))
    return compile_membership(prepared.checked, dialect=dialect, key=key, as_of=prepared.as_of,
                              holdout_salt=project.holdout_salt, relations=relations) + ";\n"


def _metric_queries(prepared: Prepared, dialect: Any) -> list[Any]:
    """Per metric the rules use, its query as `join_metrics` joins it: the query its SQL
    builder gives over the sources it requires (one row per customer of the orders), and
    the rule columns it computes. A metric without a SQL builder is refused, naming the
    metric and the column."""
    from segmint.engines.sql.metrics import metric_query

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
        events = {role: orders_table(prepared, role, dialect)
                  for role in metric_sources(metric, prepared.project)}
        query = metric_sql(prepared, metric, build, wanted, events)
        found.append(metric_query(name, query, [(c.name, c.physical, c.arrow_type) for c in wanted]))
    return found


def _aggregated_events(prepared: Prepared, name: str, dialect: Any) -> Any:
    """Where the aggregates over an event source read its rows: the source's relation as it
    is, or, when its key is normalised or named otherwise, its keyed rows."""
    import sqlglot.expressions as exp

    source = prepared.event_sources[name]
    if normalize(source, name, prepared.project.label) is None and own_key_of(source) is None:
        return source_relation(source, name, dialect.name, exp)
    return keyed_events(prepared, name, dialect, quoted=True)[0]


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


