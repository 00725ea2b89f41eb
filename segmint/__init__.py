"""segmint: customer segmentation rules evaluated over Apache Arrow.

The public API: `parse_rules` and `evaluate`, the error types, and what plugins use
(`hookimpl`, `Source`, `Sink`, `Metric`, `MetricColumn`, `Function`, `Delivery`,
`RunResult`). Everything else is private.
"""

from segmint.api import evaluate, parse_rules
from segmint.errors import ConfigError, DataError, EvaluationError, PluginError, RuleError, SegmintError
from segmint.plugin.hookspecs import hookimpl
from segmint.plugin.api import (
    SQL, CallArgs, Delivery, Function, Metric, MetricColumn, MetricContext, PluginContext, RunResult,
    Sink, Source, SqlTable,
)

__version__ = "0.1.0"

__all__ = [
    "SQL",
    "CallArgs",
    "ConfigError",
    "DataError",
    "Delivery",
    "EvaluationError",
    "Function",
    "Metric",
    "MetricColumn",
    "MetricContext",
    "PluginContext",
    "PluginError",
    "RuleError",
    "RunResult",
    "SegmintError",
    "Sink",
    "Source",
    "SqlTable",
    "evaluate",
    "hookimpl",
    "parse_rules",
]
