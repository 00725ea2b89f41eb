"""Event data of any accepted shape (table, record batch, reader, dataset, Arrow stream,
pandas) as tables of about BATCH_ROWS rows holding only the columns an aggregate pass reads."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from segmint.errors import DataError

#: Rows per batch an aggregate pass works on (smaller input batches are put together).
BATCH_ROWS = 1 << 19


def batches(data: Any, columns: list[str], source: str) -> Iterator[pa.Table]:
    """Tables of about BATCH_ROWS rows with `columns`, from a table, reader or dataset."""
    dataset = sys.modules.get("pyarrow.dataset")  # not imported: data cannot be a Dataset
    if dataset is not None and isinstance(data, dataset.Dataset):
        require(data.schema, columns, source)
        # A little readahead keeps the cores busy; more only holds more batches in memory.
        stream: Any = data.to_batches(columns=columns, batch_size=BATCH_ROWS, batch_readahead=4,
                                      fragment_readahead=2)
        schema = pa.schema([data.schema.field(c) for c in columns])
    else:
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        elif not isinstance(data, (pa.Table, pa.RecordBatchReader)):
            if hasattr(data, "__arrow_c_stream__"):
                data = pa.RecordBatchReader.from_stream(data)
            elif type(data).__module__.startswith("pandas"):
                data = pa.Table.from_pandas(data, preserve_index=False)
            else:
                raise DataError(f"event data must be an Arrow table, record batch reader or "
                                f"dataset, got {type(data).__name__}", source=source)
        require(data.schema, columns, source)
        schema = pa.schema([data.schema.field(c) for c in columns])
        if isinstance(data, pa.Table):
            table = data.select(columns)
            if table.num_rows == 0:
                yield table
            for start in range(0, table.num_rows, BATCH_ROWS):
                yield table.slice(start, BATCH_ROWS)
            return
        stream = (batch.select(columns) for batch in data)
    waiting: list[pa.RecordBatch] = []
    rows = 0
    seen = False
    for batch in stream:
        waiting.append(batch)
        rows += batch.num_rows
        if rows >= BATCH_ROWS:
            yield pa.Table.from_batches(waiting, schema=schema)
            seen = True
            waiting, rows = [], 0
    if waiting or not seen:
        yield pa.Table.from_batches(waiting, schema=schema)


def require(schema: pa.Schema, columns: list[str], source: str) -> None:
    for column in columns:
        if column not in schema.names:
            raise DataError(f"the event data has no column '{column}' "
                            f"(columns: {', '.join(schema.names)})", source=source, column=column)
