"""The arrow engine's plugin module, found through the ``segmint`` entry-point group like
any third party's engine."""

from __future__ import annotations

from segmint.engines.arrow.engine import ArrowEngine
from segmint.plugin.hookspecs import hookimpl


@hookimpl
def register_engines() -> list[type]:
    return [ArrowEngine]
