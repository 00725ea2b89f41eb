"""Built-in plugin: file sources (``csv``, ``parquet``, ``jsonl``) and the ``file`` sink.

Registered through the ``segmint`` entry-point group as ``files``, like any other plugin.
"""

from __future__ import annotations

from segmint.engine.hookspecs import hookimpl

from .csv_source import CsvSource
from .file_sink import FileSink
from .jsonl_source import JsonlSource
from .parquet_source import ParquetSource


@hookimpl
def register_sources() -> list[type]:
    return [CsvSource, ParquetSource, JsonlSource]


@hookimpl
def register_sinks() -> list[type]:
    return [FileSink]
