"""Types of aggregates over events (`count(orders where ..., last 30d)`): the event source,
its timestamp, the aggregated column, and the where condition read in the source's scope."""

from __future__ import annotations

import attrs

from segmint.language import ast
from segmint.language.catalog import Column, EventSource
from segmint.language.checker_base import CheckerBase
from segmint.language.types import BOOL, ERROR, NUMBER, ORDERED, TEMPORAL, Kind, Type
from segmint.semantics.names import name_hint


class AggregateTypes(CheckerBase):
    """The type of an aggregate node, and the aggregates a rule set uses."""

    def _Aggregate(self, node: ast.Aggregate) -> Type:
        function = node.function
        if self.scope is not None:
            return self.error(node, "an aggregate cannot be used inside another aggregate's where")
        events = self.catalog.event_source(node.source)
        if events is None:
            known = [e.name for e in self.catalog.events]
            if node.source in self.catalog.sources:
                message = f"'{node.source}' is not an event source"
                hint = ("aggregates read event sources (role = \"events\", or --events "
                        f"NAME=PATH); event sources: {', '.join(known) or 'none'}")
            else:
                message = f"unknown event source '{node.source}'"
                hint = name_hint(node.source, known) or (
                    f"event sources: {', '.join(known)}" if known else
                    "add one with --events NAME=PATH, or role = \"events\" in segmint.toml")
            target = attrs.evolve(node.target, span=_prefix_span(node.target.span, node.source))
            self.error(target, message, hint)
            return BOOL if function == "exists" else (NUMBER if function == "count" else ERROR)
        result: Type = ERROR
        column = None
        if not events.has_timestamp:
            self.error(node.target, f"event source '{events.name}' has no timestamp column "
                       f"'{events.timestamp}'",
                       f"name it with timestamp_column = \"...\" in [sources.{events.name}]; "
                       f"columns: {', '.join(c.name for c in events.columns)}")
        elif events.find(events.timestamp).type.kind not in TEMPORAL:  # type: ignore[union-attr]
            self.error(node.target, f"the timestamp column '{events.timestamp}' of '{events.name}' "
                       f"holds {events.find(events.timestamp).type} values, not dates or timestamps")  # type: ignore[union-attr]
        if node.column is not None:
            column = events.find(node.column)
            if column is None:
                hint = name_hint(node.column, [c.name for c in events.columns]) or (
                    "columns: " + ", ".join(c.name for c in events.columns))
                return self.error(node.target, f"event source '{events.name}' has no column "
                                  f"'{node.column}'", hint)
        result = self.aggregate_type(node, events, column)
        if node.where is not None:
            self.scope = events
            try:
                found = self.expr(node.where)
            finally:
                self.scope = None
            if found.kind not in (Kind.BOOL, Kind.NULL, Kind.ERROR):
                self.error(node.where, f"the where condition of {function}() must be true or "
                           f"false, got {found}")
        if result.kind is not Kind.ERROR:
            self.aggregates.setdefault(node, None)
        return result

    def aggregate_type(self, node: ast.Aggregate, events: EventSource, column: Column | None) -> Type:
        """The type an aggregate gives, or an error when its column does not fit it."""
        function = node.function
        if function in ("count", "exists"):
            if column is not None and column.type.kind is Kind.OTHER:
                return self.error(node.target, f"{function}() cannot read {column.type} values")
            return BOOL if function == "exists" else NUMBER
        if column is None:
            wanted = [c.name for c in events.columns if self._fits(function, c.type)]
            example = f"{function}({events.name}.{wanted[0]})" if wanted else None
            return self.error(node, f"{function}() needs a column of '{events.name}'",
                              f"like {example}" if example else None)
        if not self._fits(function, column.type):
            need = {"sum": "numbers", "avg": "numbers", "min": "values that can be ordered",
                    "max": "values that can be ordered"}.get(function, "single values")
            hint = None
            if function in ("sum", "avg") and column.type.kind is Kind.STRING:
                hint = f"count its values instead: count_distinct({node.target.text})"
            return self.error(node.target, f"{function}() needs {need}, but {node.target.text} "
                              f"holds {column.type} values", hint)
        if function in ("sum", "avg", "count_distinct"):
            return NUMBER
        return column.type

    @staticmethod
    def _fits(function: str, found: Type) -> bool:
        if function in ("sum", "avg"):
            return found.kind in (Kind.NUMBER, Kind.NULL)
        if function in ("min", "max"):
            return found.kind in ORDERED | {Kind.NULL}
        return found.kind in ORDERED | {Kind.BOOL, Kind.NULL}  # count_distinct, first, last


def _prefix_span(span: ast.Span, text: str) -> ast.Span:
    """The part of `span` holding its first `len(text)` characters (the source of a.b)."""
    if span.end_line != span.line:
        return span
    return attrs.evolve(span, end_column=span.column + len(text), end=span.start + len(text))
