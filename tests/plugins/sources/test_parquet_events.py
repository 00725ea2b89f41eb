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


def test_reads_do_not_pre_buffer_and_give_every_row_of_files_and_folders(tmp_path: Path) -> None:
    """Column chunks are read as decoded (pre_buffer off: it only raised the peak on local
    files); a file and a hive folder of files still read whole, in file order."""
    table = pa.table({"customer_id": list(range(5_000)), "amount": [i / 4 for i in range(5_000)]})
    single = tmp_path / "orders.parquet"
    pq.write_table(table, single, row_group_size=700)
    folder = tmp_path / "by_year"
    for year, part in (("2023", table.slice(0, 2_000)), ("2024", table.slice(2_000))):
        (folder / f"year={year}").mkdir(parents=True)
        pq.write_table(part, folder / f"year={year}" / "part.parquet", row_group_size=300)
    for path in (single, folder):
        source = _source(path, EVENTS)
        options = source._dataset().format.default_fragment_scan_options
        assert options.pre_buffer is False
        read = pa.Table.from_batches(list(source.read(["amount"])))
        assert read.select(["customer_id", "amount"]).equals(table)
