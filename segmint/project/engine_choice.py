"""Which engine a project runs on, and which of its sources that engine reads itself.

A project names its engine (``engine = "duckdb"``, ``--engine``) or leaves it to segmint:
``auto``, the default, looks at the event sources the rules aggregate over before any row
is read. Those the duckdb engine would scan itself (Parquet files that nothing of the
project changes on the way, `engine_scan`) are counted from their footers; from
`segmint.plugin.engines.AUTO_DUCKDB_ROWS` rows the run goes to duckdb when it is
installed, else to arrow, the fastest on profile rules and small projects. A rule the
duckdb engine refuses at check time (a ``matches`` pattern it cannot match as RE2 does, a
plugin function without a SQL builder) sends an ``auto`` run back to arrow, saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

import pyarrow as pa

from segmint.engines.arrow.engine import ArrowEngine
from segmint.engines.base import Engine, Scan
from segmint.errors import ConfigError, RuleError
from segmint.plugin.api import Source
from segmint.plugin.engines import AUTO, AutoChoice, auto_engine, engine_named
from segmint.plugin.host import PluginRegistry, calling_plugin
from segmint.project.config import Project
from segmint.project.identity import policy_of
from segmint.project.source_columns import columns_of

T = TypeVar("T")


def engine_scan(source: Source, key: str, columns: Sequence[str], formats: Iterable[str],
              schema: Callable[[Source, str], pa.Schema]) -> tuple[Scan, pa.DataType] | None:
    """The source's files as a `Scan` of the key and `columns`, for an engine that reads the
    `formats` itself, with the type of its keys, when nothing the project says of the
    source changes its rows on the way (key normalisation, an identity table, skipping bad
    rows, column options): else None, and segmint reads it. `schema` is the source's schema
    as rules see it."""
    formats = frozenset(formats)
    policy = policy_of(source)
    options = columns_of(source)
    if not formats or policy.key_normalize or policy.identity is not None \
            or policy.on_bad_rows == "skip" or options.key or options.booleans:
        return None
    with calling_plugin(f"source '{source.source_name}' ({source.name}) failed while reading"):
        scan = source.scan(list(columns))
        if not isinstance(scan, Scan) or scan.format not in formats:
            return None  # a source that has no files to scan needs no schema read for it
        key_type = schema(source, key).field(key).type
    if pa.types.is_dictionary(key_type):
        return None  # dictionary keys are cast as they are read (`Keys.apply`)
    return scan, key_type


def project_engine(project: Project, registry: PluginRegistry, events: Mapping[str, Source],
                   aggregated: Sequence[str],
                   schema: Callable[[Source, str], pa.Schema]) -> tuple[Engine, AutoChoice | None]:
    """The engine the project names, built with its ``[engine]`` options; for ``auto`` the
    one `auto_engine` picks from the Parquet rows of the `aggregated` event sources, and
    the choice (None when the project named its engine)."""
    file, key = project.engine_origin
    if project.engine != AUTO:
        return engine_named(project.engine, registry, file=file, key=key,
                            options=project.engine_options, state_dir=project.state_path), None
    if project.engine_options:
        option = next(iter(project.engine_options))
        raise ConfigError(f"'{option}' is an option of a named engine; with engine 'auto' segmint "
                          f"chooses the engine, so name one to set its options "
                          f"(name = \"duckdb\")", file=file, key=f"engine.{option}")
    choice = auto_engine(registry, scanned_rows(project, events, {n: [] for n in aggregated}, schema))
    return engine_named(choice.name, registry, file=file, key=key,
                        state_dir=project.state_path), choice


def scanned_rows(project: Project, events: Mapping[str, Source], columns: Mapping[str, Sequence[str]],
                 schema: Callable[[Source, str], pa.Schema]) -> int:
    """The rows of the event sources of `columns` (the columns read of each) that the duckdb
    engine would read itself (`engine_scan`), from their files' footers."""
    rows = 0
    for name, wanted in columns.items():
        if name in events:
            found = engine_scan(events[name], project.key, wanted, {"parquet"}, schema)
            if found is not None and found[0].rows is not None:
                rows += found[0].rows
    return rows


def checked_on(engine: Engine, choice: AutoChoice | None, check: Callable[[Engine], T],
               rechoose: Callable[[T], AutoChoice]) -> tuple[T, Engine, AutoChoice | None]:
    """`check` of the rules for `engine`. When ``auto`` chose an engine other than arrow:
    the arrow engine's check instead if that engine refuses the rules (arrow's own errors,
    if any, are the user's), or if `rechoose`, asked again with the columns the checked
    rules read (a column from hive folder names makes segmint read a source itself),
    picks arrow after all."""
    if choice is None or isinstance(engine, ArrowEngine):
        return check(engine), engine, choice
    try:
        checked = check(engine)
    except RuleError as refused:
        first = refused.diagnostics[0]
        return check(ArrowEngine()), ArrowEngine(), AutoChoice(
            "arrow", f"the {engine.name} engine cannot run {first.filename}:{first.line}: "
                     f"{first.message}", notable=True)
    again = rechoose(checked)
    if again.name == "arrow":
        return check(ArrowEngine()), ArrowEngine(), again
    return checked, engine, choice
