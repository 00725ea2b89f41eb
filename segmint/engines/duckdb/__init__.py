"""The duckdb engine: the rules' SQL run in an in-process DuckDB (``segmint[duckdb]``)."""
