"""The Python API: parse rules, evaluate them over a profile table."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from segmint.language import ast
from segmint.semantics.asof import AsOf
from segmint.language.catalog import Catalog
from segmint.language.checker import CheckedRules, check
from segmint.errors import ConfigError, DataError
from segmint.engines.arrow.engine import ArrowEngine
from segmint.engines.base import DEFAULT_ENGINE, Engine, EventInput, Job
from segmint.language.parser import parse_rules as _parse_rules
from segmint.plugin.api import Function


def parse_rules(text: str, filename: str = "<string>") -> ast.RuleSet:
    """Parse rule text into a `RuleSet`; raise `RuleError` listing every syntax error."""
    return _parse_rules(text, filename)


def as_table(data: Any, what: str = "profiles") -> pa.Table:
    """A `pyarrow.Table` from a table, a record batch reader, or any Arrow PyCapsule object."""
    if isinstance(data, pa.Table):
        return _plain_strings(data)
    if isinstance(data, pa.RecordBatchReader):
        return _plain_strings(data.read_all())
    if isinstance(data, pa.RecordBatch):
        return _plain_strings(pa.Table.from_batches([data]))
    if hasattr(data, "__arrow_c_stream__"):
        return _plain_strings(pa.table(data))
    if type(data).__module__.startswith("pandas"):
        return _plain_strings(pa.Table.from_pandas(data, preserve_index=False))
    raise DataError(f"{what} must be an Arrow table or expose the Arrow PyCapsule interface, "
                    f"got {type(data).__name__}")


def _plain_strings(table: pa.Table) -> pa.Table:
    """String and binary views (what polars exports), at any depth (a list of strings), as
    plain strings and binaries, which every kernel supports; dictionaries of views decoded."""
    for index, field in enumerate(table.schema):
        plain = _plain_type(field.type)
        if plain == field.type:
            continue
        column = table.column(index)
        if pa.types.is_dictionary(field.type):  # no kernel takes from a view: cast first
            column = pa.chunked_array([
                pa.DictionaryArray.from_arrays(c.indices, c.dictionary.cast(plain))
                .dictionary_decode() for c in column.chunks], type=plain)
        table = table.set_column(index, field.with_type(plain), column.cast(plain))
    return table


def _plain_type(kind: pa.DataType) -> pa.DataType:
    """`kind` with every string or binary view (and list view) replaced by its plain type."""
    if pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_binary_view(kind):
        return pa.binary()
    if pa.types.is_dictionary(kind):
        value = _plain_type(kind.value_type)
        return kind if value == kind.value_type else value
    if pa.types.is_list(kind) or pa.types.is_list_view(kind):
        return pa.list_(kind.value_field.with_type(_plain_type(kind.value_type)))
    if pa.types.is_large_list(kind) or pa.types.is_large_list_view(kind):
        return pa.large_list(kind.value_field.with_type(_plain_type(kind.value_type)))
    if pa.types.is_fixed_size_list(kind):
        return pa.list_(kind.value_field.with_type(_plain_type(kind.value_type)), kind.list_size)
    if pa.types.is_struct(kind):
        return pa.struct([kind.field(i).with_type(_plain_type(kind.field(i).type))
                          for i in range(kind.num_fields)])
    if pa.types.is_map(kind):
        return pa.map_(kind.key_field.with_type(_plain_type(kind.key_type)),
                       kind.item_field.with_type(_plain_type(kind.item_type)))
    return kind


def plugin_functions() -> dict[str, Function]:
    """Functions that installed plugins add to the language."""
    try:
        from segmint.plugin.host import get_registry
    except ImportError:  # pragma: no cover - the host ships with segmint
        return {}
    return dict(get_registry().functions)


def check_rules(rules: ast.RuleSet | str, schema: pa.Schema, *, key: str = "customer_id",
                functions: Mapping[str, Function] | None = None,
                events: Mapping[str, tuple[pa.Schema, str]] | None = None,
                engine: Engine | None = None) -> CheckedRules:
    """Resolve and type-check rules against a profile schema (and event sources' schemas
    with their timestamp columns, by name) for `engine` (the arrow one by default),
    reading no data."""
    if isinstance(rules, str):
        rules = parse_rules(rules)
    catalog = Catalog.from_schemas({"profiles": schema}, key=key).with_events(events or {}, key=key)
    return check(rules, catalog, plugin_functions() if functions is None else functions,
                 engine=engine or ArrowEngine())


def _event_data(data: Any, name: str) -> Any:
    """Event data as given when it streams (a reader, a dataset), else as a table."""
    dataset = sys.modules.get("pyarrow.dataset")  # not imported: data cannot be a Dataset
    if isinstance(data, (pa.Table, pa.RecordBatchReader)) or (
            dataset is not None and isinstance(data, dataset.Dataset)):
        return data
    if hasattr(data, "__arrow_c_stream__") and not type(data).__module__.startswith(("polars", "pandas")):
        return pa.RecordBatchReader.from_stream(data)
    return as_table(data, f"event source '{name}'")


def event_schema(data: Any, name: str = "events") -> pa.Schema:
    """The schema of event data: a table, record batch reader, dataset or Arrow stream."""
    schema = getattr(data, "schema", None)
    if isinstance(schema, pa.Schema):
        return schema
    if hasattr(data, "__arrow_c_schema__"):
        return pa.schema(data)
    return as_table(data, f"event source '{name}'").schema


def evaluate(
    rules: ast.RuleSet | str,
    profiles: Any,
    key: str = "customer_id",
    as_of: dt.date | dt.datetime | str | None = None,
    *,
    holdout_salt: str = "",
    timezone: str = "UTC",
    functions: Mapping[str, Function] | None = None,
    events: Mapping[str, Any] | None = None,
    timestamps: Mapping[str, str] | None = None,
    engine: str = DEFAULT_ENGINE,
) -> pa.Table:
    """Evaluate rules over a profile table; return key + one column per segment, in order.

    Segments give non-null bool columns (``NAME__holdout`` follows a segment with a
    holdout), segmentations string label columns. `events` maps event source names to
    their data (a table, a record batch reader or a dataset, read in batches) for
    aggregates like ``count(orders, last 30d)``; each has the key column and a timestamp
    column, named ``timestamp`` unless `timestamps` names another for that source.
    `engine` names the engine that evaluates (``"arrow"``, ``"duckdb"``, ``"spark"`` or
    one a plugin registers; ``"auto"`` is arrow here, the data being in memory already);
    every engine gives the same table.
    """
    chosen = engine_for(engine)
    table = as_table(profiles)
    if key not in table.column_names:
        raise DataError(f"no key column '{key}' (columns: {', '.join(table.column_names)})",
                        source="profiles")
    events = {name: _event_data(data, name) for name, data in (events or {}).items()}
    schemas = {name: (event_schema(data, name), (timestamps or {}).get(name, "timestamp"))
               for name, data in events.items()}
    checked = check_rules(rules, table.schema, key=key, functions=functions, events=schemas,
                          engine=chosen)
    resolved = AsOf.resolve(as_of, timezone)
    inputs = {name: EventInput(name, data, schemas[name][1]) for name, data in events.items()}
    job = Job(checked, table, key, resolved, inputs, holdout_salt)
    return chosen.evaluate(job).membership


def engine_for(name: str) -> Engine:
    """The engine called `name`; the default one is built in, so choosing it loads no plugins."""
    if not isinstance(name, str):
        raise ConfigError(f"engine must be an engine's name, got {type(name).__name__}", key="engine")
    if name in (DEFAULT_ENGINE, "auto"):  # auto: what a run picks for data read into memory
        return ArrowEngine()
    from segmint.plugin.engines import engine_named
    from segmint.plugin.host import get_registry

    return engine_named(name, get_registry(), key="engine")
