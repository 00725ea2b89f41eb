"""What event aggregates a rule set reads: its aggregates grouped by event source, and the
columns of each source they use. Engine-neutral: every engine reads the same columns."""

from __future__ import annotations

from segmint.language import ast
from segmint.language.catalog import EventSource
from segmint.language.checker import CheckedRules


def aggregates_by_source(checked: CheckedRules) -> dict[str, list[ast.Aggregate]]:
    """The aggregates of `checked`, grouped by the event source they read, in rule order."""
    by_source: dict[str, list[ast.Aggregate]] = {}
    for aggregate in checked.aggregates:
        by_source.setdefault(aggregate.source, []).append(aggregate)
    return by_source


def event_columns(checked: CheckedRules) -> dict[str, list[str]]:
    """The columns of each event source the aggregates read (besides the key): its
    timestamp, the aggregated columns and those the where conditions name."""
    return {
        source: source_columns(checked, checked.catalog.event_source(source), aggregates)  # type: ignore[arg-type]
        for source, aggregates in aggregates_by_source(checked).items()
    }


def source_columns(checked: CheckedRules, spec: EventSource, aggregates: list[ast.Aggregate]) -> list[str]:
    """The columns of `spec` that `aggregates` read, its timestamp first."""
    used: dict[str, None] = {spec.timestamp: None}
    for aggregate in aggregates:
        if aggregate.column is not None:
            used[aggregate.column] = None
        if aggregate.where is not None:
            for node in ast.walk(aggregate.where):
                if isinstance(node, ast.Name) and checked.binding(node).kind == "event":
                    used[node.name] = None
    return list(used)
