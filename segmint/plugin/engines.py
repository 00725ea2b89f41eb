"""Choosing an engine: by name among those plugins register (`register_engines`), or
``auto`` (a project's default), which picks one from what the run will read."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from segmint.engines.base import Engine
from segmint.errors import ConfigError
from segmint.plugin.host import PluginRegistry
from segmint.plugin.options import build_options
from segmint.semantics.names import did_you_mean

#: Engines segmint ships behind extras, and how to get each when it is not installed.
INSTALL_HINTS: dict[str, str] = {
    "duckdb": "pip install 'segmint[duckdb]'",
    "spark": "pip install 'segmint[spark]'",
}

#: The name that lets segmint choose (``engine = "auto"``, the default of a project).
AUTO = "auto"

#: Rows of Parquet events the duckdb engine would read itself from which ``auto`` picks it.
#: `segmint run` end to end, 21 event rules (``python benchmarks/engines.py --part run
#: --events N --engines arrow,duckdb,duckdb-sql``, 2026-12-04): 200,000 events arrow 1.01 s,
#: duckdb 1.13 s; 1,000,000 arrow 1.83 s, duckdb 1.52 s; 5,000,000 arrow 5.61 s, duckdb
#: 4.11 s (docs/engines.md, "Choosing an engine").
AUTO_DUCKDB_ROWS = 500_000


@attrs.frozen
class AutoChoice:
    """The engine ``auto`` picked, and why (the run says so when it is not arrow)."""

    name: str
    reason: str
    #: Whether a run should say so: auto went to another engine than arrow, fell back from
    #: one, or would have taken one that is not installed.
    notable: bool = False

    def line(self) -> str:
        """What `segmint run` prints of the choice."""
        return f"engine {self.name} (engine = \"auto\": {self.reason})"


def auto_engine(registry: PluginRegistry, scanned_rows: int) -> AutoChoice:
    """``auto``'s engine for a run whose event sources hold `scanned_rows` rows the duckdb
    engine would read itself (Parquet files that need no change on the way): duckdb from
    `AUTO_DUCKDB_ROWS` when it is installed, arrow otherwise. Everything else (profile
    rules, events segmint must read itself) measured fastest on arrow at the sizes tried."""
    if scanned_rows >= AUTO_DUCKDB_ROWS and "duckdb" in registry.engines:
        return AutoChoice("duckdb", f"{scanned_rows:,} Parquet event rows, at least "
                                    f"{AUTO_DUCKDB_ROWS:,}", notable=True)
    if scanned_rows >= AUTO_DUCKDB_ROWS:
        return AutoChoice("arrow", f"{scanned_rows:,} Parquet event rows, but the duckdb engine "
                                   f"is not installed ({INSTALL_HINTS['duckdb']} runs them faster)",
                          notable=True)
    return AutoChoice("arrow", f"{scanned_rows:,} Parquet event rows, fewer than {AUTO_DUCKDB_ROWS:,}"
                      if scanned_rows else "no Parquet event rows the duckdb engine would read itself")


def engine_named(name: str, registry: PluginRegistry, *, file: str | None = None,
                 key: str | None = None, options: Mapping[str, Any] | None = None,
                 state_dir: Path | None = None) -> Engine:
    """The engine registered as `name`, built with `options` (the ``[engine]`` table); a
    clear `ConfigError` (naming `file` and `key`) when none is: how to install a known
    one, the known ones for a typo; or when an option is wrong."""
    cls = registry.engines.get(name)
    if cls is not None:
        return cls(build_options(cls.Options, options or {}, plugin=f"engine {name}",
                                 where=file or "[engine]"), state_dir=state_dir)
    known = ", ".join(sorted(registry.engines)) or "none"
    hint = INSTALL_HINTS.get(name)
    if hint is not None:
        failed = [f.error_text for f in registry.failures if f.entry_point == name]
        because = f" (its plugin failed to load: {failed[0]})" if failed else ""
        raise ConfigError(f"the {name} engine is not installed{because}; install it with "
                          f"{hint} (installed engines: {known})", file=file, key=key)
    choices = sorted(set(registry.engines) | set(INSTALL_HINTS) | {AUTO})
    raise ConfigError(f"unknown engine '{name}'{did_you_mean(name, choices)}; known engines: "
                      f"{', '.join(choices)}", file=file, key=key)
