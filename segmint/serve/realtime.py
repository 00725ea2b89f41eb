"""Real-time evaluation of the project's rules on one posted profile.

Most rules decide on one customer's own columns, and those are evaluated here exactly as a
run evaluates them (same checker, same Arrow compiler, same holdouts). Two kinds cannot be:
percentile cuts (``in top 10%``) rank a customer among all customers, and metric columns
are computed from event data (orders); a rule using either, or referring to a segment that
does, is reported as not evaluable, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa

from segmint.language import ast
from segmint.semantics.asof import AsOf
from segmint.language.catalog import Column
from segmint.language.checker import CheckedRules, check
from segmint.errors import SegmintError
from segmint.engines.arrow.evaluator import evaluate_checked
from segmint.semantics.holdout import HOLDOUT_SUFFIX
from segmint.project.pipeline import Prepared

#: Event aggregates (`count(orders, last 30d)`), where the language has them.
_AGGREGATE = getattr(ast, "Aggregate", None)


class NotEvaluable(SegmintError):
    """A request the service cannot answer from one profile (HTTP 422)."""


@attrs.frozen
class Decision:
    segments: list[str]
    labels: dict[str, str]
    not_evaluated: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"segments": self.segments, "labels": self.labels}
        if self.not_evaluated:
            document["not_evaluated"] = self.not_evaluated
        return document


class RealtimeEvaluator:
    """The project's rules, split once into those one profile decides and the others."""

    def __init__(self, prepared: Prepared) -> None:
        self.project = prepared.project
        self.key = prepared.project.key
        checked = prepared.checked
        self.reasons = _reasons(checked)
        statements = [s for s in checked.rules.statements if s.name not in self.reasons]
        subset = ast.RuleSet(tuple(statements), dict(checked.rules.texts))
        self.checked: CheckedRules = check(subset, checked.catalog, checked.functions)
        self.names = [s.name for s in checked.rules.statements]
        self.kinds = {s.name: "segment" if isinstance(s, ast.Segment) else "segmentation"
                      for s in checked.rules.statements}
        self.columns: list[Column] = self.checked.columns_used
        self.key_type = _key_type(prepared)

    def evaluate(self, profile: Mapping[str, Any], wanted: Sequence[str] | None = None) -> Decision:
        """Segments and labels of one profile: `wanted` ones (all decidable ones by default)."""
        if wanted is not None:
            unknown = [n for n in wanted if n not in self.kinds]
            if unknown:
                raise NotEvaluable(f"unknown segment '{unknown[0]}'; the rules define: "
                                   f"{', '.join(self.names) or 'nothing'}")
            refused = {n: self.reasons[n] for n in wanted if n in self.reasons}
            if refused:
                name, reason = next(iter(refused.items()))
                raise NotEvaluable(f"segment '{name}' cannot be evaluated on one profile: {reason}")
        if self.key not in profile or profile[self.key] is None:
            raise NotEvaluable(f"the profile needs the customer key '{self.key}'")
        table = self._table(profile)
        as_of = AsOf.resolve(self.project.as_of, self.project.timezone)
        membership = evaluate_checked(self.checked, table, key=self.key, as_of=as_of,
                                      holdout_salt=self.project.holdout_salt).membership
        row = {name: values[0] for name, values in membership.to_pydict().items()}
        chosen = set(self.names if wanted is None else wanted)
        segments, labels = [], {}
        for name in membership.column_names:
            base = name.removesuffix(HOLDOUT_SUFFIX)
            if name == self.key or base not in chosen:
                continue
            if self.kinds.get(name) == "segmentation":
                if row[name] is not None:
                    labels[name] = row[name]
            elif row[name]:
                segments.append(name)
        skipped = {} if wanted is not None else dict(self.reasons)
        return Decision(segments, labels, skipped)

    def _table(self, profile: Mapping[str, Any]) -> pa.Table:
        columns = {self.key: _column(profile[self.key], self.key_type, self.key)}
        for column in self.columns:
            value = profile.get(column.name, profile.get(column.physical))
            target = column.arrow_type or pa.null()
            columns[column.physical] = _column(value, target, column.name)
        return pa.table(columns)


def _column(value: Any, target: pa.DataType, name: str) -> pa.Array:
    if value is None:
        return pa.nulls(1, target)
    if isinstance(value, (dict,)):
        raise NotEvaluable(f"profile field '{name}' must be a single value or a list, not an object")
    try:
        array = pa.array([value])
        return array if array.type == target else array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OverflowError):
        raise NotEvaluable(f"profile field '{name}': cannot read {value!r} as {target}") from None


def _key_type(prepared: Prepared) -> pa.DataType:
    for source in prepared.profile_sources.values():
        schema = source.schema()
        if prepared.project.key in schema.names:
            return schema.field(prepared.project.key).type
    return pa.string()


def _reasons(checked: CheckedRules) -> dict[str, str]:
    """Statements one profile cannot decide, with the first reason of each."""
    reasons: dict[str, str] = {}
    texts = checked.rules.texts
    for name in checked.order:
        statement = next(s for s in checked.rules.statements if s.name == name)
        reason = None
        for node in _nodes(statement):
            if _AGGREGATE is not None and isinstance(node, _AGGREGATE):
                reason = f"'{_text(texts, node)}' aggregates event data from '{node.source}'"
            elif isinstance(node, ast.Rank):
                reason = f"'{_text(texts, node)}' ranks the customer among all customers"
            elif isinstance(node, ast.Name) and id(node) in checked.bindings:
                binding = checked.binding(node)
                if binding.column is not None and binding.column.via is not None:
                    via = binding.column.via.removeprefix("metric ")
                    reason = (f"'{node.text}' is computed from event data by the metric "
                              f"'{via}'")
                elif binding.kind in ("segment", "segmentation") and binding.name in reasons:
                    reason = f"it uses '{binding.name}': {reasons[binding.name]}"
            if reason:
                break
        if reason:
            reasons[name] = reason
    return reasons


def _nodes(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, tuple):
        for item in node:
            yield from _nodes(item)
    elif _is_node(node):
        for field in attrs.fields(type(node)):
            value = getattr(node, field.name)
            if isinstance(value, tuple) or _is_node(value):
                yield from _nodes(value)


def _is_node(value: Any) -> bool:
    return type(value).__module__ == ast.__name__ and not isinstance(value, ast.Span)


def _text(texts: Mapping[str, str], node: Any) -> str:
    span = node.span
    text = texts.get(span.filename, "")[span.start:span.end]
    return " ".join(text.split()) or "a percentile cut"


