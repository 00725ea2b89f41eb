"""The quarantine: rows sources left out under ``on_bad_rows = "skip"``, written one CSV
file per source to ``<state_dir>/quarantine/<source>.csv`` so someone can fix and re-feed
them. Each row says where the bad row was (file, line, column), why, and its text; the line
is the file's line as an editor numbers it (a CSV header is line 1)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from segmint.delivery.atomic import atomic_write
from segmint.errors import SegmintError
from segmint.project.data_report import DataReport

COLUMNS = ("source", "file", "line", "column", "reason", "text")


def write_quarantine(report: DataReport, state_dir: Path) -> None:
    """Write each source's bad rows (a source without any gets no file), atomically."""
    for source in report.sources.values():
        if not source.bad_rows:
            continue
        path = state_dir / "quarantine" / f"{source.source}.csv"
        table = pa.table({
            "source": [source.source] * len(source.bad_rows),
            "file": [b.file for b in source.bad_rows],
            "line": pa.array([b.row if b.line is None else b.line for b in source.bad_rows], pa.int64()),
            "column": [b.column for b in source.bad_rows],
            "reason": [b.reason for b in source.bad_rows],
            "text": [b.text for b in source.bad_rows],
        }, schema=pa.schema([(c, pa.int64() if c == "line" else pa.string()) for c in COLUMNS]))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(path) as temp:
                pacsv.write_csv(table, temp)
        except OSError as exc:
            raise SegmintError(f"cannot write the quarantine file {path}: {exc.strerror or exc}") from None
        source.quarantine_file = path
