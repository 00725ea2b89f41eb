"""Name resolution and type checking, on schemas only.

`check` binds every name of a rule set to a segment, a profile column or a built-in value,
infers the type of every expression, orders the statements so references come first, and
reports every problem of every file at once, in the spec's format, before any data is read.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from typing import Any

import attrs

from segmint.language import ast
from segmint.language.catalog import Catalog, Column, EventSource
from segmint.errors import Diagnostic, RuleError
from segmint.language.functions import BUILTIN_FUNCTIONS, result_type
from segmint.plugin.api import Function
from segmint.language.regex import regex_error
from segmint.language.types import (
    BOOL, DATE, DURATION, ERROR, NULL, NUMBER, ORDERED, STRING, TEMPORAL, TIMESTAMP, Kind,
    Type, comparable, describe, list_of, matches, unify,
)

#: After this many problems the checker only counts the rest (see RuleError.omitted).
MAX_DIAGNOSTICS = 200

#: Names that mean the run's reference instant, when no segment or column takes them.
BUILTIN_NAMES: dict[str, Type] = {"today": DATE, "now": TIMESTAMP}


@attrs.frozen
class Binding:
    """What a name refers to."""

    kind: str  # segment | segmentation | column | builtin | event (a column of an event source)
    name: str
    type: Type
    column: Column | None = None


@attrs.frozen
class CheckedRules:
    """A rule set that resolved and type-checked, ready for planning and compiling."""

    rules: ast.RuleSet
    catalog: Catalog
    functions: Mapping[str, Function]
    types: dict[int, Type]  # by id() of the node
    bindings: dict[int, Binding]
    order: tuple[str, ...]  # statement names, each after what it refers to
    depends: dict[str, frozenset[str]]
    #: Every distinct aggregate over events, in the order they first appear.
    aggregates: tuple[ast.Aggregate, ...] = ()

    def type_of(self, node: Any) -> Type:
        return self.types[id(node)]

    def binding(self, node: ast.Name) -> Binding:
        return self.bindings[id(node)]

    @property
    def columns_used(self) -> list[Column]:
        seen: dict[str, Column] = {}
        for binding in self.bindings.values():
            if binding.column is not None and binding.kind == "column":
                seen.setdefault(binding.column.physical, binding.column)
        return list(seen.values())


def check(
    rules: ast.RuleSet, catalog: Catalog, functions: Mapping[str, Function] | None = None
) -> CheckedRules:
    """Resolve and type-check `rules` against `catalog`; raise RuleError with every problem."""
    all_functions = {f.name: f for f in BUILTIN_FUNCTIONS}
    all_functions.update(functions or {})
    checker = _Checker(rules, catalog, all_functions)
    return checker.run()


class _Checker:
    def __init__(self, rules: ast.RuleSet, catalog: Catalog, functions: dict[str, Function]) -> None:
        self.rules = rules
        self.catalog = catalog
        self.functions = functions
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

    # driver ---------------------------------------------------------------------------
    def run(self) -> CheckedRules:
        for statement in self.rules.statements:
            first = self.statements.get(statement.name)
            if first is not None:
                self.error(
                    statement, f"duplicate name '{statement.name}'",
                    f"first defined at {first.span.filename}:{first.span.line}",
                )
            else:
                self.statements[statement.name] = statement
        for statement in self.rules.statements:
            self.current = statement.name
            self.depends.setdefault(statement.name, set())
            if isinstance(statement, ast.Segment):
                self.condition(statement.condition, f"segment '{statement.name}'")
            else:
                self.segmentation(statement)
        order = self.order()
        if self.diagnostics or self.omitted:
            self.diagnostics.sort(key=lambda d: (d.filename, d.line, d.column))
            raise RuleError(self.diagnostics, self.omitted)
        return CheckedRules(
            self.rules, self.catalog, self.functions, self.types, self.bindings, tuple(order),
            {name: frozenset(deps) for name, deps in self.depends.items()},
            tuple(self.aggregates),
        )

    def segmentation(self, statement: ast.Segmentation) -> None:
        labels: dict[str, ast.Arm] = {}
        for index, arm in enumerate(statement.arms):
            if arm.label in labels:
                self.error(arm, f"duplicate label '{arm.label}' in segmentation '{statement.name}'")
            labels[arm.label] = arm
            if arm.condition is None:
                if index != len(statement.arms) - 1:
                    self.error(
                        arm, "'otherwise' must be the last label of a segmentation",
                        "labels are tried in order, so nothing after 'otherwise' can match",
                    )
            else:
                self.condition(arm.condition, f"label '{arm.label}'")

    def condition(self, node: Any, what: str) -> None:
        found = self.expr(node)
        if found.kind not in (Kind.BOOL, Kind.NULL, Kind.ERROR):
            hint = None
            if found.kind is Kind.NUMBER:
                hint = f"compare it with a value, e.g. {self.text(node)} > 0"
            self.error(node, f"the condition of {what} must be true or false, got {found}", hint)

    def order(self) -> list[str]:
        """Statements in file order, moved after what they refer to; report any cycle."""
        done: dict[str, bool] = {}
        result: list[str] = []
        reported: set[frozenset[str]] = set()
        for start in self.statements:
            if start in done:
                continue
            stack: list[tuple[str, list[str]]] = [(start, sorted(self.depends.get(start, ())))]
            path = [start]
            done[start] = False
            while stack:
                name, pending = stack[-1]
                if pending:
                    nxt = pending.pop(0)
                    if nxt not in done:
                        done[nxt] = False
                        path.append(nxt)
                        stack.append((nxt, sorted(self.depends.get(nxt, ()))))
                    elif done[nxt] is False:
                        cycle = path[path.index(nxt):] + [nxt]
                        key = frozenset(cycle)
                        if key not in reported:
                            reported.add(key)
                            self.error(
                                self.statements[nxt],
                                "segments refer to each other in a cycle: " + _cycle_text(cycle),
                                "a segment cannot depend on itself, directly or through others",
                            )
                else:
                    stack.pop()
                    path.pop()
                    done[name] = True
                    result.append(name)
        return result

    # expressions ----------------------------------------------------------------------
    def expr(self, node: Any) -> Type:
        found = getattr(self, "_" + type(node).__name__)(node)
        self.types[id(node)] = found
        return found

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
            hint = _did_you_mean(node.source, self.catalog.sources)
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
                hint = _did_you_mean(node.name, [
                    c.name for c in self.catalog.columns if c.source == node.source])
            events = self.catalog.event_source(node.source)
            if events is not None and events.find(node.name) is not None:
                hint = (f"'{node.source}' is an event source: aggregate its events, "
                        f"like max({node.text}) or count({node.source} where {node.name} ...)")
            return self.error(node, f"source '{node.source}' has no column '{node.name}'", hint)
        known = list(self.statements) + list(self.catalog.names()) + list(BUILTIN_NAMES)
        suggestion = _did_you_mean(node.text, known)
        where = f"columns come from: {self.catalog.describe_sources()}"
        hint = f"{suggestion} ({where})" if suggestion else where
        return self.error(node, f"unknown name '{node.text}'", hint)

    def _Call(self, node: ast.Call) -> Type:
        types = [self.expr(arg) for arg in node.args]
        function = self.functions.get(node.function)
        if function is None:
            return self.error(node, f"unknown function '{node.function}'",
                              _did_you_mean(node.function, list(self.functions))
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
                       self.compare_hint(left, right, left_node, right_node, op))
        elif ordered and Kind.ERROR not in (left.kind, right.kind):
            kinds = {left.kind, right.kind} - {Kind.NULL}
            if kinds and not kinds <= (ORDERED | {Kind.BOOL}):
                self.error(node, f"values of type {left} cannot be ordered")

    def compare_hint(self, left: Type, right: Type, left_node: Any, right_node: Any,
                     op: str | None) -> str | None:
        literal = right_node.value if isinstance(right_node, ast.Literal) else None
        name = self.text(left_node)
        if left.kind is Kind.DURATION and right.kind is Kind.NUMBER:
            if literal is not None:
                shown = f"days({name}) {op} {literal:g}" if op else f"days({name})"
                return f"write {literal:g}d for {literal:g} days, or {shown}"
            return f"write days({name}) to compare a duration as a number of days"
        if left.kind is Kind.STRING and right.kind is Kind.NUMBER and literal is not None:
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
        if node.op == "matches":
            problem = regex_error(node.pattern.value)
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
        hint = _did_you_mean(node.name, [c.name for c in scope.columns])
        if hint is None and (node.name in self.statements or self.catalog.find(node.name)):
            hint = (f"'{node.name}' is a segment or profile column; a where condition is about "
                    f"each event, so it can only use columns of '{scope.name}'")
        where = "columns: " + ", ".join(c.name for c in scope.columns)
        return self.error(node, f"event source '{scope.name}' has no column '{node.name}'",
                          hint or where)

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
                hint = _did_you_mean(node.source, known) or (
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
                hint = _did_you_mean(node.column, [c.name for c in events.columns]) or (
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


def unify_all(types: list[Type]) -> Type | None:
    result: Type | None = NULL
    for found in types:
        result = unify(result, found) if result is not None else None
    return result


def arithmetic_type(op: str, left: Type, right: Type) -> Type | None:
    """The result type of `left op right`, or None when the operation has no meaning."""
    kinds = (left.kind, right.kind)
    if Kind.NULL in kinds:
        other = right if left.kind is Kind.NULL else left
        return other if other.kind in (Kind.NUMBER, Kind.DURATION, Kind.NULL) else (
            other if op in "+-" and other.kind in TEMPORAL else None)
    if kinds == (Kind.NUMBER, Kind.NUMBER):
        return NUMBER
    if op in "+-":
        if left.kind in TEMPORAL and right.kind is Kind.DURATION:
            return TIMESTAMP
        if op == "+" and left.kind is Kind.DURATION and right.kind in TEMPORAL:
            return TIMESTAMP
        if op == "-" and left.kind in TEMPORAL and right.kind in TEMPORAL:
            return DURATION
        if kinds == (Kind.DURATION, Kind.DURATION):
            return DURATION
    if op == "*" and Kind.DURATION in kinds and Kind.NUMBER in kinds:
        return DURATION
    if op == "/" and kinds == (Kind.DURATION, Kind.NUMBER):
        return DURATION
    return None


def _prefix_span(span: ast.Span, text: str) -> ast.Span:
    """The part of `span` holding its first `len(text)` characters (the source of a.b)."""
    if span.end_line != span.line:
        return span
    return attrs.evolve(span, end_column=span.column + len(text), end=span.start + len(text))


def _cycle_text(cycle: list[str]) -> str:
    """`a -> b -> a`; a long cycle shows its start and end around the count left out."""
    if len(cycle) <= 12:
        return " -> ".join(cycle)
    left_out = len(cycle) - 9
    return " -> ".join(cycle[:6]) + f" -> ({left_out} more) -> " + " -> ".join(cycle[-3:])


def _did_you_mean(name: str, known: list[str]) -> str | None:
    candidates = list(dict.fromkeys(known))
    same = [k for k in candidates if k.lower() == name.lower()]  # names are case-sensitive
    close = same or difflib.get_close_matches(name, candidates, n=1, cutoff=0.7)
    return f"did you mean '{close[0]}'?" if close else None
