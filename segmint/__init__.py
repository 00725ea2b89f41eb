"""segmint: customer segmentation rules evaluated over Apache Arrow.

The public API: `parse_rules`, `evaluate` and `run_project`, the error types, and what
plugins use (`hookimpl`, `Source`, `Sink`, `Metric`, `MetricColumn`, `Function`, `Delivery`,
`RunResult`). Everything else is private.
"""

from typing import Any

from segmint.version import __version__

#: Where the public API lives: imported on first use, so `segmint --version` and other
#: light commands do not pay for pyarrow, lark, pluggy or attrs.
_LAZY = {
    **dict.fromkeys(["ConfigError", "DataError", "EvaluationError", "PluginError", "RuleError",
                     "SegmintError"], "segmint.errors"),
    "evaluate": "segmint.api", "parse_rules": "segmint.api", "hookimpl": "segmint.plugin.hookspecs",
    "ProjectRun": "segmint.project.pipeline", "run_project": "segmint.project.pipeline",
    **dict.fromkeys(["SQL", "CallArgs", "Delivery", "Function", "Metric", "MetricColumn", "MetricContext",
                     "PluginContext", "RunResult", "Sink", "Source", "SqlTable"], "segmint.plugin.api"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'segmint' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


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
    "ProjectRun",
    "RuleError",
    "RunResult",
    "SegmintError",
    "Sink",
    "Source",
    "SqlTable",
    "evaluate",
    "hookimpl",
    "parse_rules",
    "run_project",
]
