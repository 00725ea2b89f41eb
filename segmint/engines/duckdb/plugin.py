"""The duckdb engine's plugin module, found through the ``segmint`` entry-point group; it
registers nothing when DuckDB or sqlglot (``segmint[duckdb]``) is not installed, so naming
the engine then says how to install it and ``engine = "auto"`` stays on arrow."""

from __future__ import annotations

from segmint.engines.base import installed
from segmint.plugin.hookspecs import hookimpl


@hookimpl
def register_engines() -> list[type]:
    if not installed("duckdb", "sqlglot"):
        return []
    from segmint.engines.duckdb.engine import DuckDBEngine

    return [DuckDBEngine]
