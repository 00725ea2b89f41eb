"""The checker's state and how it reports a problem (shared by the parts of the checker)."""

from __future__ import annotations

from typing import Any

from segmint.errors import Diagnostic
from segmint.language import ast
from segmint.language.catalog import Catalog, EventSource
from segmint.language.checked import Binding
from segmint.language.target import Target
from segmint.language.types import DATE, ERROR, TIMESTAMP, Type
from segmint.plugin.api import Function

#: After this many problems the checker only counts the rest (see RuleError.omitted).
MAX_DIAGNOSTICS = 200

#: Names that mean the run's reference instant, when no segment or column takes them.
BUILTIN_NAMES: dict[str, Type] = {"today": DATE, "now": TIMESTAMP}


class CheckerBase:
    """What the checker knows while it walks a rule set, and how it records a problem."""

    def __init__(self, rules: ast.RuleSet, catalog: Catalog, functions: dict[str, Function],
                 engine: Target | None = None) -> None:
        self.rules = rules
        self.catalog = catalog
        self.functions = functions
        self.engine = engine  # the engine the rules will run on, when known
        self.types: dict[int, Type] = {}
        self.bindings: dict[int, Binding] = {}
        self.diagnostics: list[Diagnostic] = []
        self.omitted = 0
        self._lines: dict[tuple[str, int], str] = {}
        self.statements: dict[str, ast.Statement] = {}
        self.depends: dict[str, set[str]] = {}
        self.current: str = ""
        self.scope: EventSource | None = None  # inside an aggregate's where condition
        self.aggregates: dict[ast.Aggregate, None] = {}

    # reporting ----------------------------------------------------------------------
    def error(self, node: Any, message: str, hint: str | None = None) -> Type:
        if len(self.diagnostics) >= MAX_DIAGNOSTICS:
            self.omitted += 1
            return ERROR
        span = node.span
        line = self.source_line(span)
        width = span.end_column - span.column if span.end_line == span.line else len(
            line) - span.column + 1
        self.diagnostics.append(Diagnostic(
            span.filename, span.line, span.column, message, line, max(width, 1), hint,
        ))
        return ERROR

    def source_line(self, span: ast.Span) -> str:
        """The line of `span`, each line cut out once however many problems it has."""
        key = (span.filename, span.line)
        if key not in self._lines:
            self._lines[key] = self.rules.source_line(span)
        return self._lines[key]

    def text(self, node: Any) -> str:
        return self.rules.source_text(node.span) or getattr(node, "name", "?")

    def expr(self, node: Any) -> Type:
        found = getattr(self, "_" + type(node).__name__)(node)
        self.types[id(node)] = found
        return found
