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
                     "PluginContext", "RunResult", "Sink", "Source", "SourceSettings", "SqlTable", "EVENTS", "PROFILES",
                     "SegmentInfo", "SegmentKind", "AsOf"], "segmint.plugin.api"),
    # the language's types, for function signatures and metric columns
    **dict.fromkeys(["Type", "Kind", "NUMBER", "STRING", "BOOL", "DATE", "TIMESTAMP", "DURATION",
                     "list_of"], "segmint.plugin.api"),
    # what sinks use: diff sync, its change kinds, atomic files, the key text holdouts hash
    **dict.fromkeys(["DiffSink", "Batch", "Action", "ADD", "REMOVE", "UPDATE"], "segmint.delivery.sync"),
    "atomic_write": "segmint.delivery.atomic", "key_text": "segmint.plugin.api",
    # what plugin commands and plugin tests use: the project options and loading, the registry
    **dict.fromkeys(["with_project", "project_options", "Project", "PluginRegistry", "load_registry"],
                    "segmint.plugin.commands"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'segmint' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "ADD",
    "Action",
    "AsOf",
    "BOOL",
    "Batch",
    "CallArgs",
    "ConfigError",
    "DATE",
    "DURATION",
    "DataError",
    "Delivery",
    "DiffSink",
    "EVENTS",
    "EvaluationError",
    "Function",
    "Kind",
    "Metric",
    "MetricColumn",
    "MetricContext",
    "NUMBER",
    "PROFILES",
    "PluginContext",
    "PluginError",
    "PluginRegistry",
    "Project",
    "ProjectRun",
    "REMOVE",
    "RuleError",
    "RunResult",
    "SQL",
    "STRING",
    "SegmentInfo",
    "SegmentKind",
    "SegmintError",
    "Sink",
    "Source",
    "SourceSettings",
    "SqlTable",
    "TIMESTAMP",
    "Type",
    "UPDATE",
    "atomic_write",
    "evaluate",
    "hookimpl",
    "key_text",
    "list_of",
    "load_registry",
    "parse_rules",
    "project_options",
    "run_project",
    "with_project",
]
