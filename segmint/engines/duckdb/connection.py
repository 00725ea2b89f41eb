"""The in-process DuckDB a run uses: its memory limit, threads and spill directory.

Larger than memory: DuckDB keeps under ``memory_limit`` (by default a share of the
machine's memory) and spills what does not fit to ``temp_directory`` (under the project's
state directory in a project run). Its session time zone is UTC; the SQL never depends on
it, since timestamps are carried as UTC wall clocks.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from segmint.errors import ConfigError, EvaluationError

if TYPE_CHECKING:
    import duckdb

#: The share of the machine's memory DuckDB may use unless the project says otherwise.
DEFAULT_SHARE = 0.5
#: Below this DuckDB cannot run a query at all; a smaller limit is refused up front.
MINIMUM_BYTES = 16 * 2**20

_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str, *, key: str | None = "engine.memory_limit", file: str | None = None) -> int:
    """'4GB', '512MiB', '2.5 GB' as bytes; a clear error for anything else or too little."""
    found = _SIZE.match(str(text))
    unit = found.group(2).lower() if found else ""
    if found is None or unit not in _UNITS or unit == "" and found.group(1) != "0":
        raise ConfigError(f"must be a size like \"4GB\" or \"512MiB\", got {text!r}", file=file, key=key)
    size = int(float(found.group(1)) * _UNITS[unit])
    if size < MINIMUM_BYTES:
        raise ConfigError(f"{text!r} is too small for DuckDB to run a query: give it at least "
                          f"16MiB (the default is half of this machine's memory)", file=file, key=key)
    return size


def default_memory() -> int:
    """Half of this machine's physical memory."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return max(MINIMUM_BYTES, int(total * DEFAULT_SHARE))


@attrs.frozen
class Settings:
    """How DuckDB runs: bytes of memory, threads (None: DuckDB's default, one per core) and
    where it spills (None: DuckDB's default temporary directory)."""

    memory_limit: int = attrs.field(factory=default_memory)
    threads: int | None = None
    temp_directory: Path | None = None


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB with `settings` applied."""
    import duckdb  # here, not at start-up: `segmint validate` loads this engine but never runs it

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{int(settings.memory_limit)}B'")
    if settings.threads is not None:
        con.execute(f"SET threads = {int(settings.threads)}")
    if settings.temp_directory is not None:
        settings.temp_directory.mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory = '{_quoted(str(settings.temp_directory))}'")
    return con


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def memory_error(error: Exception) -> EvaluationError:
    """DuckDB running out of memory, as a clear error saying what to change."""
    return EvaluationError(f"DuckDB ran out of memory ({str(error).splitlines()[0]}); raise "
                           f"memory_limit in the project's [engine] table, or free memory")
