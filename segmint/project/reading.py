"""Reading a run's sources: each source's table or stream with the project's column options
and key policy applied (`Keys`: normalised, mapped, de-duplicated, counted in the data
report), or its files handed to an engine that reads them itself (`take_scan`), and the
reads a run makes planned ahead for `Prefetch`. Called by `pipeline`, which decides what to
read; the reading is here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from segmint.engines.base import Scan, check_keys
from segmint.errors import DataError, SegmintError
from segmint.language.catalog import Column
from segmint.plugin.api import Metric, Source
from segmint.plugin.host import calling_plugin
from segmint.project.data_report import DataReport
from segmint.project.engine_choice import engine_scan
from segmint.project.identity import LINE_COLUMN, Keys
from segmint.project.prefetch import NO_PREFETCH, PlannedRead, Prefetch
from segmint.project.source_columns import columns_of
from segmint.semantics.events import event_columns

if TYPE_CHECKING:
    from segmint.project.pipeline import Prepared


def planned_reads(prepared: Prepared, used: Sequence[Column], keys: Keys, *,
                  aggregates: bool = True) -> list[PlannedRead]:
    """The source reads a run over columns `used` will make, in its order, as `Prefetch`
    starts them: each profile source, each event source a Python metric reads whole and,
    with `aggregates`, each event source the rules aggregate over that segmint reads itself
    (not the engine; not one a metric reads: its table serves the aggregates). A read the
    run then makes otherwise (other columns) is simply made where it is asked. What fails
    while planning (a metric listing its columns, a source its schema) plans nothing for
    that source: the run meets the same error where it would have without a plan."""
    key = prepared.project.key
    reads = []

    def plan(name: str, source: Source, columns: Sequence[str] | None, whole: bool) -> None:
        names = None if columns is None else tuple(columns)
        reads.append(PlannedRead(name, names, whole,
                                 lambda: read_source(name, source, names, key)))

    for name, source in prepared.profile_sources.items():
        plan(name, source, _profile_read_names(used, name, source, keys), True)
    whole = set()
    if not prepared.engine.computes_metrics:  # else the engine may scan the orders itself
        for name, metric in prepared.metrics.items():
            if any(c.via == f"metric {name}" for c in used):
                try:
                    reads_of = metric_reads(prepared, metric, keys)
                except SegmintError:
                    continue
                for role in metric.requires:
                    plan(role, prepared.event_sources[role], reads_of.get(role), True)
                    whole.add(role)
    if aggregates:
        for name, columns in event_columns(prepared.checked).items():
            source = prepared.event_sources[name]
            if name in whole or prepared.engine.computes_metrics:
                continue
            try:
                scanned = _scan(prepared, name, source, columns) is not None
            except SegmintError:
                continue
            if not scanned:  # the engine does not read its files itself
                plan(name, source, columns, False)
    return reads


def read_source(name: str, source: Source, columns: Sequence[str] | None, key: str) -> Any:
    """What source `name` gives for `columns` (a table or a stream), the project's column
    options applied; a failure of the plugin's own is a `PluginError` naming the source."""
    with calling_plugin(f"source '{name}' ({source.name}) failed while reading"):
        data = source.read(None if columns is None else list(columns))
    return _project_columns(source, data, key)


def source_schema(source: Source, key: str) -> pa.Schema:
    """The source's schema as rules see it: its key column named `key`, the project's
    column options (booleans) applied."""
    with calling_plugin(f"source '{source.source_name}' ({source.name}) failed to report its schema"):
        schema = source.schema()
        return columns_of(source).schema(schema, key, source=source.source_name,
                                         where=getattr(source, "origin", source.source_name))


def key_policy(prepared: Prepared, report: DataReport | None = None) -> Keys:
    """What applies each source's key options (normalise, map, de-duplicate) as it is read."""
    project = prepared.project
    return Keys(project.key, prepared.registry, project.context(prepared.as_of.instant),
                report if report is not None else DataReport())


def read_events(prepared: Prepared, name: str, keys: Keys | None = None,
                columns: Sequence[str] | None = None, *, whole: bool = False,
                prefetch: Prefetch = NO_PREFETCH) -> pa.Table:
    """An event source's table, its keys normalised and mapped as its options say.

    With `columns`, only those (and the key) are read, as a stream where the source
    streams — unless `whole` asks for one table, which is then kept for the run like a
    table read whole (metrics reading the same columns share it, and what they compute
    from it). A stream asked for columns such a kept table holds is that table, when the
    source skipped no bad rows (`Keys.covering`): aggregates over orders do not read the
    file again after the metrics. `prefetch` holds the reads the run started ahead."""
    keys = keys or key_policy(prepared)
    cached = name if columns is None else (name, tuple(columns)) if whole else None
    if cached is not None and cached in keys.events:
        return keys.events[cached]
    source = prepared.event_sources[name]
    prefetch.settle([name])  # its schema may be asked next (`_scan`): one thread at a time
    if columns is not None and not whole:
        covering = keys.covering(name, source, [prepared.project.key, *columns])
        if covering is not None:  # the metrics' read of these orders serves the aggregates
            return covering
    if columns is not None and not whole:
        scan = _scan(prepared, name, source, columns)
        if scan is not None:  # the engine reads the files itself
            return take_scan(prepared, name, keys, *scan)
    key = prepared.project.key
    data = prefetch.take(name, columns, lambda: read_source(name, source, columns, key))
    count = keys.first_read(name)  # a source read again (metrics, then aggregates) counts once
    if isinstance(data, pa.RecordBatchReader) and columns is not None and not whole:
        return keys.apply_stream(name, source, data, count=count)  # aggregates read events as they stream
    table = keys.apply(name, source, data.read_all() if isinstance(data, pa.RecordBatchReader) else data,
                       profiles=False, count=count)
    if cached is not None:
        keys.events[cached] = table
    return table


def _scan(prepared: Prepared, name: str, source: Source,
          columns: Sequence[str]) -> tuple[Scan, pa.DataType] | None:
    """The source's files as a `Scan` when the run's engine reads them itself, with the type
    of its keys (`engine_scan`)."""
    return engine_scan(source, prepared.project.key, columns, prepared.engine.reads_files, source_schema)


def take_scan(prepared: Prepared, name: str, keys: Keys, scan: Scan, key_type: pa.DataType) -> Scan:
    """The scan of event source `name` the engine reads itself, its rows and keys accounted
    for in the data report (counted once per run, `Keys.take_scan`)."""
    source = prepared.event_sources[name]
    keys.take_scan(name, scan, lambda: _key_column(source, prepared.project.key), key_type,
                   count=keys.first_read(name))
    return scan


def _key_column(source: Source, key: str) -> pa.ChunkedArray:
    """A source's key column alone (the distinct keys of a scanned source, when matched)."""
    with calling_plugin(f"source '{source.source_name}' ({source.name}) failed while reading"):
        data = source.read([])
    table = data.read_all() if isinstance(data, pa.RecordBatchReader) else data
    return table.column(key)


def _profile_read_names(used: Sequence[Column], name: str, source: Source,
                        keys: Keys | None) -> list[str]:
    """The columns asked of profile source `name` for the columns `used`: the rules' and
    what the key policy needs."""
    names = [c.name for c in used if c.source == name and c.via is None]
    return names + ([c for c in keys.extra_columns(source) if c not in names] if keys else [])


def _read_profiles(name: str, source: Source, columns: list[Column], key: str,
                   keys: Keys | None = None, prefetch: Prefetch = NO_PREFETCH) -> pa.Table:
    asked = _profile_read_names(columns, name, source, keys)
    table = prefetch.take(name, asked, lambda: read_source(name, source, asked, key))
    table = table.read_all() if isinstance(table, pa.RecordBatchReader) else table
    lines = getattr(source, "line_numbers", None)  # a file source's line of each row
    if lines is not None and len(lines) == table.num_rows:
        table = table.append_column(LINE_COLUMN, pa.array(lines, pa.int64()))
    if keys is not None:
        table = keys.apply(name, source, table, profiles=True)
    check_keys(table, key, source=name,
               lines=table.column(LINE_COLUMN) if LINE_COLUMN in table.column_names else None)
    missing = [c.name for c in columns if c.name not in table.column_names]
    if missing:
        raise DataError(f"the source did not return column(s) {', '.join(missing)}", source=name)
    return table.select([key] + [c.name for c in columns]).rename_columns(
        [key] + [c.physical for c in columns])


def _project_columns(source: Source, data: Any, key: str) -> Any:
    """What a source read (a table or a stream) with the project's column options applied."""
    columns = columns_of(source)
    if isinstance(data, pa.RecordBatchReader):
        return columns.reader(data, key)
    return columns.table(data, key)


def _metric_source(prepared: Prepared, name: str, keys: Keys, prefetch: Prefetch) -> pa.Table:
    """A source a metric's options name (`Metric.requires_for`), whole: an event source as
    `read_events` reads it, a profile source with its keys as the profiles' (normalised,
    mapped, duplicates resolved; counted in the data report once, as a profile source)."""
    if name in prepared.event_sources:
        return read_events(prepared, name, keys, whole=True, prefetch=prefetch)
    source, key = prepared.profile_sources[name], prepared.project.key
    data = prefetch.take(name, None, lambda: read_source(name, source, None, key))
    table = data.read_all() if isinstance(data, pa.RecordBatchReader) else data
    return keys.apply(name, source, table, profiles=True, count=False)


def metric_reads(prepared: Prepared, metric: Metric, keys: Keys) -> dict[str, list[str]]:
    """The columns `metric` reads of each event source it requires that lists them (its key,
    and what the key policy needs, are added by the source and here)."""
    if metric.reads_columns is None:
        return {}
    key = prepared.project.key
    schemas = {role: source_schema(prepared.event_sources[role], key) for role in metric.requires
               if role in prepared.event_sources}
    with calling_plugin(f"metric '{metric.name}' failed to list the columns it reads"):
        wanted = metric.reads_columns(prepared.project.metrics, schemas, key)
    reads = {}
    for role, columns in wanted.items():
        if role in schemas:
            source = prepared.event_sources[role]
            names = [c for c in columns if c != key] + keys.extra_columns(source)
            reads[role] = list(dict.fromkeys(names))
    return reads
