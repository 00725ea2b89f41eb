"""The built-in ``parquet`` source: a Parquet file, or a directory of them read as one
dataset (hive-style ``name=value`` folders become columns). The schema comes from file
metadata, and reads fetch only the columns a run uses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa

from segmint.engines.base import Scan
from segmint.errors import DataError
from segmint.plugin.api import PROFILES

from segmint.plugins.sources.file_common import FileSource


@attrs.frozen
class ParquetOptions:
    """Options of the ``parquet`` source."""

    path: Path = attrs.field(
        metadata={"help": "a Parquet file or a directory of them, relative to the project"}
    )


class ParquetSource(FileSource):
    """Customer data from Parquet files."""

    name = "parquet"
    description = "Parquet files, or a directory of them"
    Options = ParquetOptions
    extensions = (".parquet",)
    reads_directories = True

    def _dataset(self) -> Any:
        """The files as a `pyarrow.dataset.Dataset` (imported here: it brings in pandas)."""
        import pyarrow.dataset as ds

        # Column chunks are read as they are decoded, not pre-buffered whole: that is for
        # high-latency stores, and on local files it only raised the peak (10M orders,
        # three columns: 530 -> 410 MB, as fast).
        parquet = ds.ParquetFileFormat(
            default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False))
        if self.path.is_dir():
            dataset = ds.dataset(self.path, format=parquet, partitioning="hive")
            if not dataset.files:
                raise self.error("the directory holds no Parquet files")
            return dataset
        return ds.dataset(self.path, format=parquet)

    def _read_schema(self) -> pa.Schema:
        return self._dataset().schema

    def _read_table(self, names: list[str]) -> pa.Table:
        return self._dataset().to_table(columns=names)

    def read(self, columns: Sequence[str] | None = None) -> pa.Table | pa.RecordBatchReader:
        """Profiles as one table; events as a stream of batches, so event data larger than
        memory is aggregated batch by batch."""
        if self.role == PROFILES:
            return super().read(columns)
        names = self._projection(self.schema(), columns)
        with self._data_errors():
            return self._dataset().scanner(columns=names).to_reader()

    def scan(self, columns: Sequence[str]) -> Scan | None:
        """The files, for an engine that reads Parquet itself (DuckDB, Spark): the key and
        `columns`, the row count from the files' metadata. None when a column asked for
        comes from the folder names (hive partitions), which only pyarrow's dataset reads
        as segmint types them."""
        if self.role == PROFILES:
            return None
        names = self._projection(self.schema(), columns)
        with self._data_errors():
            dataset = self._dataset()
            fragments = list(dataset.get_fragments())
            physical = set(fragments[0].physical_schema.names) if fragments else set()
            if not fragments or not set(names) <= physical:
                return None
            rows = dataset.count_rows()  # from the footers, nothing decoded
        return Scan("parquet", tuple(dataset.files), tuple(names), rows=rows,
                    arrow=lambda: self.read(columns))

    def _explain(self, exc: pa.ArrowException) -> DataError:
        text = str(exc)
        if "file size is 0 bytes" in text:
            return self.error("file is empty")
        if "magic bytes not found" in text:
            return self.error("not a Parquet file (or a damaged one)")
        return self.error(text)
