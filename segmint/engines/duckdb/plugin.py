"""The duckdb engine's plugin module, found through the ``segmint`` entry-point group; it
registers nothing when DuckDB (``segmint[duckdb]``) is not installed, so naming the engine
then says how to install it."""

from __future__ import annotations

from segmint.plugin.hookspecs import hookimpl


@hookimpl
def register_engines() -> list[type]:
    try:
        from segmint.engines.duckdb.engine import DuckDBEngine
    except ImportError:
        return []
    return [DuckDBEngine]
