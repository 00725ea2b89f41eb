"""The spark engine's plugin module, found through the ``segmint`` entry-point group.

It registers the engine only when PySpark and sqlglot are installed, so without them
``engine = "spark"`` is the clear "not installed; pip install 'segmint[spark]'" error
rather than a failure in the middle of a run.
"""

from __future__ import annotations

from segmint.engines.base import installed
from segmint.plugin.hookspecs import hookimpl


@hookimpl
def register_engines() -> list[type]:
    if not installed("pyspark", "sqlglot"):
        return []
    from segmint.engines.spark.engine import SparkEngine

    return [SparkEngine]
