"""A project's rule set as one SQL query, for users who run segments in their warehouse.

`membership_sql` prepares the project (rules checked against the sources' schemas, no data
read) and compiles the query computing the membership table from the sources themselves:
each source is the table named like it (a ``postgres`` source: its ``table``; on DuckDB a
Parquet, CSV or JSON Lines source: the files, read by DuckDB), the profile sources joined on
the key with keys normalised as the project says, then every aggregate, segment and
holdout, in the dialect asked for.
"""

from __future__ import annotations

from typing import Any

from segmint.errors import ConfigError, SegmintError
from segmint.plugin.api import Source
from segmint.plugin.host import PluginRegistry
from segmint.project.config import Project
from segmint.project.identity import policy_of
from segmint.project.pipeline import Prepared, display_path, prepare

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
    metrics = sorted({c.via for c in used if c.via is not None})
    if metrics:
        raise SegmintError(f"the rules use metric columns ({', '.join(metrics)}), which segmint "
                           f"sql cannot compute in SQL yet; run them with segmint run")
    sources = []
    for name, source in prepared.profile_sources.items():
        columns = tuple((c.name, c.physical) for c in used if c.source == name)
        sources.append(ProfileSource(name, _relation(source, name, chosen.name, exp),
                                     columns, _normalize(source, name)))
    if not sources:
        raise SegmintError("no profile source: add one with --source NAME=PATH or in segmint.toml")
    events = {name: _relation(prepared.event_sources[name], name, chosen.name, exp)
              for name in _aggregated(prepared)}
    profiles = exp.Subquery(this=profile_join(sources, key, chosen), alias=exp.TableAlias(
        this=exp.to_identifier("profiles", quoted=True)))
    return compile_membership(prepared.checked, dialect=dialect, key=key, as_of=prepared.as_of,
                              holdout_salt=project.holdout_salt,
                              relations=Relations(profiles=profiles, events=events)) + ";\n"


def _aggregated(prepared: Prepared) -> list[str]:
    return list(dict.fromkeys(a.source for a in prepared.checked.aggregates))


def _normalize(source: Source, name: str) -> str | None:
    policy = policy_of(source)
    if policy.identity is not None:
        raise ConfigError("keys mapped through an identity table cannot be joined in SQL",
                          key=f"sources.{name}.identity")
    if policy.key_normalize == "phone":
        raise ConfigError("phone numbers cannot be normalised in SQL exactly as segmint does",
                          key=f"sources.{name}.key_normalize")
    if policy.on_duplicate_keys != "error":
        raise ConfigError("duplicate keys cannot be resolved in SQL as segmint does",
                          key=f"sources.{name}.on_duplicate_keys")
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
    """Where a source's rows are in SQL: its table, or (on DuckDB) its files."""
    table = getattr(source.options, "table", None)
    if isinstance(table, str) and table:
        return exp.to_table(table)
    path = getattr(source.options, "path", None)
    if dialect == "duckdb" and path is not None:
        full = source.context.project_dir / path
        reader = _READERS.get(full.suffix.lower()) or ("read_parquet" if full.is_dir() else None)
        if reader is not None:
            files = display_path(full / "**" / "*.parquet" if full.is_dir() else full)
            arguments = [exp.Literal.string(files)]
            if reader == "read_csv":
                arguments.append(_csv_types(source, exp))
            return exp.Table(this=exp.Anonymous(this=reader, expressions=arguments))
    return exp.Table(this=exp.to_identifier(name, quoted=True))
