"""Choosing an engine by name among those plugins register (`register_engines`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
    choices = sorted(set(registry.engines) | set(INSTALL_HINTS))
    raise ConfigError(f"unknown engine '{name}'{did_you_mean(name, choices)}; known engines: "
                      f"{', '.join(choices)}", file=file, key=key)
