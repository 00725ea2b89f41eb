"""Name resolution and type checking, on schemas only.

`check` binds every name of a rule set to a segment, a profile column or a built-in value,
infers the type of every expression, orders the statements so references come first, and
reports every problem of every file at once, in the spec's format, before any data is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from segmint.errors import RuleError
from segmint.language import ast
from segmint.language.aggregate_types import AggregateTypes
from segmint.language.catalog import Catalog
from segmint.language.checked import Binding, CheckedRules
from segmint.language.checker_base import MAX_DIAGNOSTICS
from segmint.language.expression_types import ExpressionTypes
from segmint.language.functions import BUILTIN_FUNCTIONS
from segmint.language.gc_pause import no_gc
from segmint.language.target import Target
from segmint.language.types import Kind
from segmint.plugin.api import Function

__all__ = ["MAX_DIAGNOSTICS", "Binding", "CheckedRules", "check"]


def check(
    rules: ast.RuleSet, catalog: Catalog, functions: Mapping[str, Function] | None = None,
    *, engine: Target | None = None,
) -> CheckedRules:
    """Resolve and type-check `rules` against `catalog`; raise RuleError with every problem.

    With `engine` (the engine the rules will run on), also refuse what it cannot run: a
    `matches` pattern it rejects, a function it has no builder for. The collector is
    paused meanwhile (`no_gc`): its collections walked the whole tree, half of a 2 MB
    file's check."""
    all_functions = {f.name: f for f in BUILTIN_FUNCTIONS}
    all_functions.update(functions or {})
    checker = _Checker(rules, catalog, all_functions, engine)
    with no_gc():
        return checker.run()


class _Checker(ExpressionTypes, AggregateTypes):
    """Checks every statement, then orders them so each comes after what it refers to."""

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


def _cycle_text(cycle: list[str]) -> str:
    """`a -> b -> a`; a long cycle shows its start and end around the count left out."""
    if len(cycle) <= 12:
        return " -> ".join(cycle)
    left_out = len(cycle) - 9
    return " -> ".join(cycle[:6]) + f" -> ({left_out} more) -> " + " -> ".join(cycle[-3:])
