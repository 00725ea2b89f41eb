"""The in-process engine: pyarrow.compute expressions and event aggregates over record batches."""
