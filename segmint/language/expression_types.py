"""Types of expressions: names (profile columns, segments, event columns inside a where),
calls, arithmetic, comparisons and the other conditions, with a hint for common mistakes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from segmint.language import ast
from segmint.language.checked import Binding
from segmint.language.checker_base import BUILTIN_NAMES, CheckerBase
from segmint.language.catalog import EventSource
from segmint.language.functions import result_type
from segmint.language.type_rules import arithmetic_type, unify_all
from segmint.language.types import (
    BOOL, DURATION, ERROR, NULL, NUMBER, ORDERED, STRING, TEMPORAL, Kind, Type, comparable,
    describe, list_of, matches, unify,
)
from segmint.semantics.names import name_hint


class ExpressionTypes(CheckerBase):
    """The type of each expression node (one `_NodeClass` method per node)."""

    def _Literal(self, node: ast.Literal) -> Type:
        return node.type

    def _ListLiteral(self, node: ast.ListLiteral) -> Type:
        element = NULL
        for item in node.items:
            found = self.expr(item)
            merged = unify(element, found)
            if merged is None:
                return self.error(item, f"list items must all have one type: {element} and {found}")
            element = merged
        return list_of(element)

    def _Name(self, node: ast.Name) -> Type:
        if self.scope is not None:
            return self.event_name(node, self.scope)
        if node.source is None and node.name in self.statements:
            target = self.statements[node.name]
            kind = "segment" if isinstance(target, ast.Segment) else "segmentation"
            found = BOOL if kind == "segment" else STRING
            self.bindings[id(node)] = Binding(kind, node.name, found)
            self.depends.setdefault(self.current, set()).add(node.name)
            return found
        events = self.catalog.event_source(node.source or node.name)
        if events is not None and (node.source or node.name) not in self.catalog.sources:
            example = f"sum({node.text})" if node.source else f"count({node.name}, last 30d)"
            return self.error(node, f"'{events.name}' is an event source: rules use its events "
                              f"through an aggregate", f"like {example}")
        if node.source is not None and node.source not in self.catalog.sources:
            hint = name_hint(node.source, self.catalog.sources)
            return self.error(node, f"unknown source '{node.source}'", hint or
                              f"sources: {', '.join(self.catalog.sources) or 'none'}")
        candidates = self.catalog.find(node.name, node.source)
        if len(candidates) == 1:
            column = candidates[0]
            self.bindings[id(node)] = Binding("column", node.text, column.type, column)
            return column.type
        if len(candidates) > 1:
            options = " or ".join(f"{c.source}.{c.name}" for c in candidates)
            return self.error(
                node, f"ambiguous name '{node.name}': it is a column of "
                + ", ".join(c.source for c in candidates), f"write {options}",
            )
        if node.source is None and node.name in BUILTIN_NAMES:
            found = BUILTIN_NAMES[node.name]
            self.bindings[id(node)] = Binding("builtin", node.name, found)
            return found
        if node.source is not None:
            elsewhere = [c.source for c in self.catalog.find(node.name)]
            if elsewhere:
                hint = "it is a column of " + ", ".join(elsewhere) + ": write " + " or ".join(
                    f"{s}.{node.name}" for s in elsewhere)
            else:
                hint = name_hint(node.name, [
                    c.name for c in self.catalog.columns if c.source == node.source])
            events = self.catalog.event_source(node.source)
            if events is not None and events.find(node.name) is not None:
                hint = (f"'{node.source}' is an event source: aggregate its events, "
                        f"like max({node.text}) or count({node.source} where {node.name} ...)")
            return self.error(node, f"source '{node.source}' has no column '{node.name}'", hint)
        known = list(self.statements) + list(self.catalog.names()) + list(BUILTIN_NAMES)
        suggestion = name_hint(node.text, known)
        where = f"columns come from: {self.catalog.describe_sources()}"
        hint = f"{suggestion} ({where})" if suggestion else where
        return self.error(node, f"unknown name '{node.text}'", hint)

    def _Call(self, node: ast.Call) -> Type:
        types = [self.expr(arg) for arg in node.args]
        function = self.functions.get(node.function)
        if function is None:
            return self.error(node, f"unknown function '{node.function}'",
                              name_hint(node.function, list(self.functions))
                              or "functions: " + ", ".join(sorted(self.functions)))
        most = None if function.variadic else len(function.params)
        least = function.min_args if function.min_args is not None else len(function.params)
        if len(types) < least or (most is not None and len(types) > most):
            expected = f"{least}" if least == most else (
                f"{least} to {most}" if most is not None else f"at least {least}")
            noun = "argument" if expected in ("1", "at least 1") else "arguments"
            return self.error(node, f"{node.function}() takes {expected} {noun}, got {len(types)}")
        bad = False
        for index, found in enumerate(types):
            expected_type = function.params[min(index, len(function.params) - 1)]
            if not matches(found, expected_type):
                bad = True
                self.error(
                    node.args[index],
                    f"argument {index + 1} of {node.function}() must be {describe(expected_type)},"
                    f" got {found}",
                )
        if node.function == "round" and len(node.args) > 1 and not (
            isinstance(node.args[1], ast.Literal) and isinstance(node.args[1].value, int)
        ):
            return self.error(node.args[1], "the digits of round() must be a whole number literal")
        if node.function == "coalesce" and unify_all(types) is None:
            return self.error(node, "the arguments of coalesce() must all have one type: "
                              + ", ".join(str(t) for t in types))
        if self.engine is not None and not self.engine.supports(function):
            engines = ", ".join(function.engines) or "none"
            return self.error(node, f"{node.function}() has no builder for the {self.engine.name} "
                              f"engine", f"it has builders for: {engines}")
        return ERROR if bad else result_type(function, types)

    def _Negate(self, node: ast.Negate) -> Type:
        found = self.expr(node.operand)
        if found.kind not in (Kind.NUMBER, Kind.DURATION, Kind.NULL, Kind.ERROR):
            return self.error(node, f"cannot negate a {found}")
        return found

    def _Arithmetic(self, node: ast.Arithmetic) -> Type:
        left, right = self.expr(node.left), self.expr(node.right)
        if Kind.ERROR in (left.kind, right.kind):
            return ERROR
        result = arithmetic_type(node.op, left, right)
        if result is None:
            hint = None
            if node.op in "+-" and {left.kind, right.kind} <= {Kind.DATE, Kind.TIMESTAMP, Kind.NUMBER}:
                if right.kind is Kind.NUMBER and isinstance(node.right, ast.Literal):
                    hint = (f"add a duration, not a number: {self.text(node.left)} {node.op} "
                            f"{node.right.value:g}d")
                else:
                    hint = "add or subtract a duration, like 30d"
            return self.error(node, f"cannot apply '{node.op}' to {left} and {right}", hint)
        return result

    def _Compare(self, node: ast.Compare) -> Type:
        left, right = self.expr(node.left), self.expr(node.right)
        self.require_comparable(node, left, right, node.left, node.right,
                                ordered=node.op not in ("==", "!="), op=node.op)
        return BOOL

    def require_comparable(self, node: Any, left: Type, right: Type, left_node: Any,
                           right_node: Any, *, ordered: bool, op: str | None = None) -> None:
        """Report `left_node op right_node` (at `node`) when the two cannot be compared."""
        if not comparable(left, right):
            self.error(node, f"cannot compare {left} with {right}",
                       self.compare_hint(left, right, left_node, right_node, op, ordered=ordered))
        elif ordered and Kind.ERROR not in (left.kind, right.kind):
            kinds = {left.kind, right.kind} - {Kind.NULL}
            if kinds and not kinds <= (ORDERED | {Kind.BOOL}):
                self.error(node, f"values of type {left} cannot be ordered")

    def compare_hint(self, left: Type, right: Type, left_node: Any, right_node: Any,
                     op: str | None, *, ordered: bool = False) -> str | None:
        literal = right_node.value if isinstance(right_node, ast.Literal) else None
        name = self.text(left_node)
        if left.kind is Kind.DURATION and right.kind is Kind.NUMBER:
            if literal is not None:
                shown = f"days({name}) {op} {literal:g}" if op else f"days({name})"
                return f"write {literal:g}d for {literal:g} days, or {shown}"
            return f"write days({name}) to compare a duration as a number of days"
        if left.kind is Kind.STRING and right.kind is Kind.NUMBER and literal is not None:
            if ordered:
                return self.number_type_hint(left_node, literal)
            return f'{name} is text: quote the value, "{literal:g}"'
        if left.kind is Kind.NUMBER and right.kind is Kind.STRING and literal is not None:
            return f"{name} is a number: write the value without quotes"
        if left.kind in TEMPORAL and right.kind is Kind.STRING and literal is not None:
            try:
                example = dt.date.fromisoformat(literal).isoformat()
            except ValueError:
                return "write dates without quotes, like 2026-01-31"
            return f"write dates without quotes: {example}"
        if left.kind is Kind.LIST:
            return f"{name} is a list: test it with 'contains', or compare length({name})"
        if left.kind in TEMPORAL and right.kind is Kind.NUMBER:
            return (f"{name} is a {left}: compare it with a date like 2026-01-31, "
                    f"or write {name} within 30d")
        return None

    def number_type_hint(self, column_node: Any, literal: float) -> str:
        """For a text column ordered against a number (``age > 30``): text compares letter
        by letter, so the column needs a number type, which its source's option sets."""
        name = self.text(column_node)
        kind = "int" if isinstance(literal, int) else "float"
        binding = self.bindings.get(id(column_node))
        column = binding.column if binding is not None else None
        option = self.catalog.type_options.get(column.source) if column is not None else None
        if option is None:
            return (f"{name} is text, which compares letter by letter: read it as a number in"
                    f" its source to compare it with {literal:g}")
        return (f"{name} is text, which compares letter by letter: give it a number type with"
                f" the {option} option of source '{column.source}'"
                f' ({option} = {{ {column.name} = "{kind}" }})')

    def _InList(self, node: ast.InList) -> Type:
        operand = self.expr(node.operand)
        if self.expr(node.items).kind is Kind.ERROR:
            return BOOL
        for item in node.items.items:
            self.require_comparable(item, operand, self.types[id(item)], node.operand, item,
                                    ordered=False)
        return BOOL

    def _Between(self, node: ast.Between) -> Type:
        operand = self.expr(node.operand)
        for bound in (node.low, node.high):
            self.require_comparable(bound, operand, self.expr(bound), node.operand, bound,
                                    ordered=True)
        return BOOL

    def _IsNull(self, node: ast.IsNull) -> Type:
        self.expr(node.operand)
        return BOOL

    def _StringTest(self, node: ast.StringTest) -> Type:
        operand = self.expr(node.operand)
        pattern = self.expr(node.pattern)
        words = {"starts_with": "starts with", "ends_with": "ends with", "matches": "matches"}[node.op]
        if operand.kind not in (Kind.STRING, Kind.NULL, Kind.ERROR):
            return self.error(node.operand, f"'{words}' needs a string, got {operand}")
        if pattern.kind is Kind.ERROR:
            return ERROR
        if not (isinstance(node.pattern, ast.Literal) and node.pattern.type == STRING):
            return self.error(node.pattern, f"'{words}' needs a string literal after it")
        if node.op == "matches" and self.engine is not None:
            problem = self.engine.pattern_error(node.pattern.value)
            if problem:
                return self.error(node.pattern, f"invalid regular expression: {problem}",
                                  "patterns use RE2 syntax")
        return BOOL

    def _Contains(self, node: ast.Contains) -> Type:
        operand = self.expr(node.operand)
        self.expr(node.value)
        values = node.value.items if isinstance(node.value, ast.ListLiteral) else (node.value,)
        if any(not isinstance(v, ast.Literal) for v in values):
            return self.error(node.value, "'contains' needs literal values, like \"yoga\" or (\"a\", \"b\")")
        if operand.kind is Kind.STRING:
            for item in values:
                if item.type not in (STRING, NULL):
                    self.error(item, f"a string contains strings, got {self.types[id(item)]}")
            return BOOL
        if operand.kind is Kind.LIST:
            element = operand.element or NULL
            for item in values:
                found = self.types[id(item)]
                if not comparable(element, found):
                    hint = (f'quote the value: "{item.value:g}"'
                            if element.kind is Kind.STRING and found.kind is Kind.NUMBER else None)
                    self.error(item, f"{self.text(node.operand)} is a {operand}: it cannot "
                                     f"contain a {found}", hint)
            return BOOL
        if operand.kind in (Kind.NULL, Kind.ERROR):
            return BOOL if operand.kind is Kind.NULL else ERROR
        return self.error(node.operand, f"'contains' needs a string or a list, got {operand}")

    def _Rank(self, node: ast.Rank) -> Type:
        operand = self.expr(node.operand)
        if self.scope is not None:
            where = "top" if node.top else "bottom"
            return self.error(node, f"'in {where} N%' ranks customers; it cannot be used in an "
                                    f"aggregate's where condition")
        if operand.kind not in ORDERED | {Kind.ERROR, Kind.NULL}:
            where = "top" if node.top else "bottom"
            return self.error(node.operand, f"'in {where} N%' needs values that can be ordered, got {operand}")
        return BOOL

    def _Within(self, node: ast.Within) -> Type:
        operand = self.expr(node.operand)
        self.expr(node.duration)
        if operand.kind not in TEMPORAL | {Kind.ERROR, Kind.NULL}:
            return self.error(node.operand, f"'within' needs a date or a timestamp, got {operand}")
        if not (isinstance(node.duration, ast.Literal) and node.duration.type == DURATION):
            hint = None
            if isinstance(node.duration, ast.Literal) and node.duration.type == NUMBER:
                hint = f"write {node.duration.value:g}d for {node.duration.value:g} days"
            return self.error(node.duration, "'within' needs a duration literal, like 30d", hint)
        return BOOL

    def event_name(self, node: ast.Name, scope: EventSource) -> Type:
        """A name inside an aggregate's where: a column of that event source (or today/now)."""
        if node.source is not None and node.source != scope.name:
            return self.error(node, f"inside an aggregate over '{scope.name}', names are "
                              f"columns of '{scope.name}'", f"write {scope.name}.{node.name} or {node.name}")
        column = scope.find(node.name)
        if column is not None:
            self.bindings[id(node)] = Binding("event", node.text, column.type, column)
            return column.type
        if node.source is None and node.name in BUILTIN_NAMES:
            found = BUILTIN_NAMES[node.name]
            self.bindings[id(node)] = Binding("builtin", node.name, found)
            return found
        hint = name_hint(node.name, [c.name for c in scope.columns])
        if hint is None and (node.name in self.statements or self.catalog.find(node.name)):
            hint = (f"'{node.name}' is a segment or profile column; a where condition is about "
                    f"each event, so it can only use columns of '{scope.name}'")
        where = "columns: " + ", ".join(c.name for c in scope.columns)
        return self.error(node, f"event source '{scope.name}' has no column '{node.name}'",
                          hint or where)

    def _bool_operands(self, node: Any, operands: Any, word: str) -> Type:
        for operand in operands:
            found = self.expr(operand)
            if found.kind not in (Kind.BOOL, Kind.NULL, Kind.ERROR):
                self.error(operand, f"'{word}' needs conditions (true or false), got {found}")
        return BOOL

    def _Not(self, node: ast.Not) -> Type:
        return self._bool_operands(node, (node.operand,), "not")

    def _And(self, node: ast.And) -> Type:
        return self._bool_operands(node, node.operands, "and")

    def _Or(self, node: ast.Or) -> Type:
        return self._bool_operands(node, node.operands, "or")
