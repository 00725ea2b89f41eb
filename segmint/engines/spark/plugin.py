"""The spark engine's plugin module, found through the ``segmint`` entry-point group.

It registers the engine only when PySpark is installed, so without it ``engine = "spark"``
is the clear "not installed; pip install 'segmint[spark]'" error rather than a failure
in the middle of a run.
"""

from __future__ import annotations

import importlib.util

from segmint.plugin.hookspecs import hookimpl


@hookimpl
def register_engines() -> list[type]:
    if importlib.util.find_spec("pyspark") is None:
        return []
    from segmint.engines.spark.engine import SparkEngine

    return [SparkEngine]
