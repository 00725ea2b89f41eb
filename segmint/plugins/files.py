"""Built-in plugin: file sources (``csv``, ``parquet``, ``jsonl``) and the ``file`` sink.

Registered through the ``segmint`` entry-point group as ``files``, like any other plugin.
"""

from __future__ import annotations

from segmint.plugin.hookspecs import hookimpl

from segmint.plugins.sources.csv import CsvSource
from segmint.plugins.sinks.file import FileSink
from segmint.plugins.sources.jsonl import JsonlSource
from segmint.plugins.sources.parquet import ParquetSource


@hookimpl
def register_sources() -> list[type]:
    return [CsvSource, ParquetSource, JsonlSource]


@hookimpl
def register_sinks() -> list[type]:
    return [FileSink]
