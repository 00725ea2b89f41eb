"""Parquet event sources stream batches; profiles come back as one table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from segmint.plugin.api import EVENTS, PROFILES, PluginContext, SourceSettings
from segmint.plugins.sources.parquet import ParquetOptions, ParquetSource


def _source(path: Path, role: str) -> ParquetSource:
    context = PluginContext(project_dir=path.parent, source=SourceSettings(role=role))
    return ParquetSource("orders", ParquetOptions(path=path), context)


def test_event_source_reads_a_stream_of_only_the_asked_columns(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    table = pa.table({"customer_id": list(range(10_000)), "amount": [1.0] * 10_000, "note": ["x"] * 10_000})
    pq.write_table(table, path, row_group_size=1_000)
    data = _source(path, EVENTS).read(["amount"])
    assert isinstance(data, pa.RecordBatchReader)
    batches = list(data)
    assert len(batches) > 1
    streamed = pa.Table.from_batches(batches)
    assert streamed.column_names == ["customer_id", "amount"]
    assert streamed.num_rows == 10_000


def test_profile_source_reads_one_table(tmp_path: Path) -> None:
    path = tmp_path / "customers.parquet"
    pq.write_table(pa.table({"customer_id": [1, 2], "country": ["DE", "FR"]}), path)
    data = _source(path, PROFILES).read(["country"])
    assert isinstance(data, pa.Table)
    assert data.to_pydict() == {"customer_id": [1, 2], "country": ["DE", "FR"]}
