"""Why one customer is in or out of a segment: every sub-condition with its value.

The rule set is evaluated over all customers first (so `in top N%` cuts and segment
references are exactly those of a run); then each sub-expression of the asked-for
statement is evaluated on that customer's row alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from segmint.language import ast
from segmint.engines.arrow.compiler import CompileContext
from segmint.errors import SegmintError
from segmint.engines.arrow.evaluator import Evaluation
from segmint.language.checker import CheckedRules
from segmint.semantics.holdout import HOLDOUT_SUFFIX
from segmint.semantics.names import name_hint

_LEAVES = (ast.Compare, ast.InList, ast.Between, ast.IsNull, ast.StringTest, ast.Contains,
           ast.Rank, ast.Within, ast.Name, ast.Call, ast.Literal)


@attrs.frozen
class Step:
    """One sub-condition: its text, its value for the customer, the values it read."""

    text: str
    value: bool | None
    inputs: tuple[tuple[str, Any], ...] = ()
    note: str | None = None
    children: tuple[Step, ...] = ()


@attrs.frozen
class Explanation:
    statement: str
    kind: str  # segment | segmentation
    key: Any
    result: Any  # bool for a segment, the label (or None) for a segmentation
    held_out: bool | None
    steps: tuple[Step, ...]


def matching_counts(checked: CheckedRules, name: str) -> CheckedRules:
    """`checked` with, for every aggregate of statement `name` (and of the segments it
    refers to) other than a count, its `count` twin: same source, condition and window.
    Evaluated with the rules, they let `explain` say how many events each aggregate saw
    (``exists(orders where ...)`` is false: 0 matching orders)."""
    statement = checked.rules.get(name)
    if statement is None:
        return checked
    twins = [_count_twin(a) for a in _aggregates_of(statement, checked.rules, set())
             if a.function != "count"]
    extra = [t for t in dict.fromkeys(twins) if t not in checked.aggregates]
    return attrs.evolve(checked, aggregates=(*checked.aggregates, *extra)) if extra else checked


def _count_twin(node: ast.Aggregate) -> ast.Aggregate:
    target = ast.Name(node.source, span=node.target.span)
    return attrs.evolve(node, function="count", target=target)


def _aggregates_of(statement: Any, rules: ast.RuleSet, seen: set[str]) -> list[ast.Aggregate]:
    if statement.name in seen:
        return []
    seen.add(statement.name)
    roots = ([statement.condition] if isinstance(statement, ast.Segment)
             else [arm.condition for arm in statement.arms if arm.condition is not None])
    found: list[ast.Aggregate] = []
    for root in roots:
        for node in ast.walk(root):
            if isinstance(node, ast.Aggregate):
                found.append(node)
            elif isinstance(node, ast.Name) and node.source is None and rules.get(node.name) is not None:
                found += _aggregates_of(rules.get(node.name), rules, seen)
    return found


def explain(evaluation: Evaluation, rules: ast.RuleSet, name: str, key_value: str, key: str) -> Explanation:
    """Explain statement `name` for the customer whose key is `key_value`."""
    statement = rules.get(name)
    if statement is None:
        close = name_hint(name, rules.names)
        hint = f"; {close}" if close else f"; segments: {', '.join(rules.names)}"
        raise SegmintError(f"no segment or segmentation named '{name}'{hint}")
    ctx = evaluation.context
    row = _row_of(ctx, key, key_value)
    membership = evaluation.membership.filter(_key_mask(evaluation.membership.column(key), key_value))
    result = membership.column(name)[0].as_py()
    if isinstance(statement, ast.Segment):
        held = None
        if statement.holdout is not None:
            held = membership.column(name + HOLDOUT_SUFFIX)[0].as_py()
            result = result or held
        steps = (_step(statement.condition, ctx, row, rules),)
        return Explanation(name, "segment", key_value, result, held, steps)
    steps = []
    for arm in statement.arms:
        if arm.condition is None:
            steps.append(Step(f"{arm.label}: otherwise", True))
        else:
            inner = _step(arm.condition, ctx, row, rules)
            steps.append(Step(f"{arm.label}:", inner.value, children=(inner,)))
    return Explanation(name, "segmentation", key_value, result, None, tuple(steps))


def _key_mask(keys: pa.ChunkedArray, key_value: str) -> pa.ChunkedArray:
    try:
        wanted = pa.scalar(key_value).cast(keys.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise SegmintError(f"'{key_value}' is not a valid customer key (keys are {keys.type})") from None
    return pc.equal(keys, wanted)


def _row_of(ctx: CompileContext, key: str, key_value: str) -> pa.Table:
    row = ctx.table.filter(_key_mask(ctx.table.column(key), key_value))
    if row.num_rows == 0:
        raise SegmintError(f"no customer with key '{key_value}'")
    return row


def _value(ctx: CompileContext, node: Any, row: pa.Table) -> Any:
    return ctx.evaluate(ctx.compile(node), row)[0].as_py()


def _text(rules: ast.RuleSet, node: Any) -> str:
    return " ".join(rules.source_text(node.span).split())


def _step(node: Any, ctx: CompileContext, row: pa.Table, rules: ast.RuleSet) -> Step:
    value = _value(ctx, node, row)
    text = _text(rules, node)
    if isinstance(node, (ast.And, ast.Or)):
        return Step(text if len(text) < 60 else ("all of:" if isinstance(node, ast.And) else "any of:"),
                    value, children=tuple(_step(o, ctx, row, rules) for o in node.operands))
    if isinstance(node, ast.Not):
        return Step("not", value, children=(_step(node.operand, ctx, row, rules),))
    inputs = []
    counts: list[str] = []  # how many events each aggregate inside saw
    seen: set[str] = set()
    for inner in ast.walk(node):
        if isinstance(inner, ast.Aggregate) and inner is not node:
            label = _text(rules, inner)
            if label not in seen:
                seen.add(label)
                inputs.append((label, _value(ctx, inner, row)))
                counted = _events_seen(inner, ctx, row)
                if counted is not None:
                    counts.append(f"{label} saw {counted}")
            continue
        if isinstance(inner, (ast.Name, ast.Call)) and inner is not node or (
            isinstance(inner, ast.Name) and inner is node and
            ctx.checked.binding(inner).kind == "column"
        ):
            label = _text(rules, inner)
            if label not in seen:
                seen.add(label)
                inputs.append((label, _value(ctx, inner, row)))
    note = "; ".join(counts) or None
    if isinstance(node, ast.Rank):
        cut = ctx.cuts.get(id(node))
        if cut is not None:
            where = "top" if node.top else "bottom"
            note = (f"nobody is in the {where} {node.percent:g}% of {cut.n:,} values" if cut.k == 0 else
                    f"cut: {format_value(cut.value)} ({where} {cut.k:,} of {cut.n:,} non-null values)")
    elif isinstance(node, ast.Within):
        note = f"as of {ctx.as_of.instant:%Y-%m-%d %H:%M:%S} UTC"
    elif isinstance(node, ast.Aggregate):
        note = _events_seen(node, ctx, row)
    elif isinstance(node, ast.Name) and ctx.checked.binding(node).kind == "segment":
        target = rules.get(node.name)
        assert isinstance(target, ast.Segment)
        return Step(f"segment {node.name}", value, children=(_step(target.condition, ctx, row, rules),))
    return Step(text, value, tuple(inputs), note)


def _events_seen(node: ast.Aggregate, ctx: CompileContext, row: pa.Table) -> str | None:
    """How many of the customer's events an aggregate other than count saw (its count
    twin, see `matching_counts`), or None when that was not computed."""
    if node.function == "count":
        return None
    twin = _count_twin(node)
    if twin not in ctx.aggregate_columns:
        return None
    n = _value(ctx, twin, row)
    where = "" if node.where is None and node.window is None else "matching "
    return f"{n:,} {where}event{'' if n == 1 else 's'} in {node.source}"


def format_value(value: Any) -> str:
    """A value as a person reads it: null, 12 days, 2026-01-31, 42.5."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.timedelta):
        days = value.total_seconds() / 86400
        return f"{days:g} days" if days != 1 else "1 day"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, str):
        return repr(value)
    return str(value)
