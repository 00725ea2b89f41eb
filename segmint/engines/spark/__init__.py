"""The spark engine: the SQL compiler's spark dialect run through PySpark.

Local mode (``local[*]``) by default; ``[engine] master`` in segmint.toml, or running under
``spark-submit``, names a cluster (see `session` and docs/engines.md).
"""
