"""The built-in ``file`` sink: writes a run's membership table to a Parquet or CSV file,
atomically, so a failed run leaves the previous file as it was. A Parquet file of the
membership the run stored is a copy of the snapshot's file (the same bytes, not encoded
twice)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import attrs
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from segmint import atomic_write
from segmint.errors import ConfigError, SegmintError
from segmint.plugin.api import Delivery, PluginContext, RunResult, Sink

from segmint.plugins.sources.file_common import resolve_path

_WRITERS: dict[str, Callable[[pa.Table, Path], None]] = {
    "parquet": lambda table, path: pq.write_table(table, path),
    "csv": lambda table, path: pacsv.write_csv(table, path),
}
_FORMAT_OF_EXTENSION = {".parquet": "parquet", ".csv": "csv"}


@attrs.frozen
class FileSinkOptions:
    """Options of the ``file`` sink."""

    path: Path = attrs.field(metadata={"help": "the file to write, relative to the project"})
    format: Literal["parquet", "csv"] | None = attrs.field(
        default=None, metadata={"help": "parquet or csv; by default from the path's extension"}
    )


class FileSink(Sink):
    """Writes the membership table (key, segment and segmentation columns) to a file."""

    name = "file"
    description = "a Parquet or CSV file of the membership table"
    Options = FileSinkOptions
    extensions = (".parquet", ".csv")

    def __init__(self, sink_name: str, options: Any, context: PluginContext) -> None:
        super().__init__(sink_name, options, context)
        self.path = resolve_path(options.path, context)
        self.format = options.format or _FORMAT_OF_EXTENSION.get(self.path.suffix.lower())
        if self.format is None:
            known = ", ".join(_FORMAT_OF_EXTENSION)
            raise ConfigError(
                f"sink '{sink_name}': cannot tell the format of '{options.path}' from its"
                f' extension ({known}); set format = "parquet" or format = "csv"'
            )

    def deliver(self, result: RunResult, *, dry_run: bool = False) -> Delivery:
        """Write the membership table (unless `dry_run`) and count its rows as added."""
        table = result.membership
        if not dry_run:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                stored = result.stored_parquet(table) if self.format == "parquet" else None
                with atomic_write(self.path) as temp:
                    if stored is None or not _copied(stored, temp):
                        _WRITERS[self.format](table, temp)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise SegmintError(
                    f"sink '{self.sink_name}': cannot write {self.path}: {reason}"
                ) from None
        return Delivery(
            sink=self.sink_name, added=table.num_rows, target=str(self.path), dry_run=dry_run
        )


def _copied(source: Path, target: Path) -> bool:
    """Copy the stored run's file over `target`; False when the copy fails (the stored
    file gone or unreadable): then the table is written, and an error that stays is the
    target's own."""
    try:
        shutil.copyfile(source, target)
    except OSError:
        return False
    return True
