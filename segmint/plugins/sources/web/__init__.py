"""Built-in web analytics plugin: the ``segment_events`` and ``ga4`` event sources and the
``web`` metrics (``last_seen``, ``sessions_30d``, ``pageviews_30d``) over the event source
named ``events``. Registered through the ``segmint`` entry-point group as ``web``."""

from __future__ import annotations

from segmint.plugin.hookspecs import hookimpl
from segmint.plugin.api import Metric

from segmint.plugins.sources.web.ga4 import Ga4Source
from segmint.plugins.sources.web.metrics import WEB
from segmint.plugins.sources.web.segment import SegmentSource


@hookimpl
def register_sources() -> list[type]:
    return [SegmentSource, Ga4Source]


@hookimpl
def register_metrics() -> list[Metric]:
    return [WEB]
