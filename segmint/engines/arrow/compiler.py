"""Rule expressions to `pyarrow.compute` expressions: one function per node type.

Most nodes compile to an `Expression` evaluated in bulk by Acero. Two need the data first:
`in top/bottom N%` (the cut value over all customers) and `contains` on a list column
(membership per row); the context evaluates their operand and adds a hidden column.
SQL semantics throughout: Kleene and/or, null-propagating comparisons, `in` with nulls as
in SQL, division by zero gives null, checked integer arithmetic.
"""

from __future__ import annotations

import datetime as dt
import contextlib
from collections.abc import Callable, Iterable, Iterator
from functools import singledispatch
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from segmint.language import ast
from segmint.semantics.asof import AsOf
from segmint.semantics.instants import utc_instants
from segmint.engines.arrow.kernels import Cut, list_contains, rank_cut
from segmint.language.checker import CheckedRules
from segmint.engines.arrow.functions import arrow_builder
from segmint.plugin.api import CallArgs
from segmint.language.types import Kind, Type

Expr = pc.Expression

TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
DURATION_TYPE = pa.duration("us")
HIDDEN = "__segmint__"

_COMPARE = {
    "==": pc.equal, "!=": pc.not_equal, "<": pc.less,
    "<=": pc.less_equal, ">": pc.greater, ">=": pc.greater_equal,
}
_ARITHMETIC = {"+": pc.add_checked, "-": pc.subtract_checked, "*": pc.multiply_checked}


def segment_column(name: str) -> str:
    """Hidden column holding a computed segment's membership (or segmentation's label)."""
    return f"{HIDDEN}segment:{name}"


@attrs.define(init=False)
class CompileContext:
    """Everything compiling needs: checked rules, as_of, and the data for eager nodes.

    The working table is held as a dict of columns: adding one (a layer's results, an eager
    node's values) costs the same however many there are, and every projection reads a
    table of only the columns its expressions refer to (`used`, `table_of`), so a chain of
    segments each referring to the previous one costs linear time, not quadratic.
    """

    checked: CheckedRules
    as_of: AsOf
    columns: dict[str, pa.ChunkedArray | pa.Array]
    cache: dict[int, Expr]
    cuts: dict[int, Cut]
    shared_cuts: dict[Any, tuple[Cut, pa.Scalar | None]]
    #: The hidden column holding each aggregate over events (computed before compiling).
    aggregate_columns: dict[Any, str]
    _rows: pa.Table
    _table: pa.Table | None
    _hidden: int
    _floats: dict[int, bool]
    _fields: dict[int, frozenset[str]]
    _collecting: list[set[str]]

    def __init__(self, checked: CheckedRules, as_of: AsOf, table: pa.Table) -> None:
        self.checked, self.as_of = checked, as_of
        self.columns = dict(zip(table.column_names, table.columns))
        self.cache, self.cuts, self.shared_cuts, self.aggregate_columns = {}, {}, {}, {}
        # a zero-column projection still needs the row count: the first column carries it
        self._rows = table.select([0]) if table.num_columns else table
        self._table = table
        self._hidden = 0
        self._floats, self._fields, self._collecting = {}, {}, []

    @property
    def table(self) -> pa.Table:
        """The whole working table (built when asked for after columns were added)."""
        if self._table is None:
            self._table = pa.table(self.columns)
        return self._table

    def table_of(self, names: Iterable[str]) -> pa.Table:
        """The working table cut down to the named columns (the row count kept)."""
        wanted = [n for n in dict.fromkeys(names) if n in self.columns]
        if not wanted:
            return self._rows
        return pa.table({n: self.columns[n] for n in wanted})

    def compile(self, node: Any) -> Expr:
        key = id(node)
        found = self.cache.get(key)
        if found is None:
            self._collecting.append(set())
            try:
                found = compile_node(node, self)
            finally:
                fields = frozenset(self._collecting.pop())
            self.cache[key] = found
            self._fields[key] = fields
        else:
            fields = self._fields.get(key, frozenset())
        if self._collecting:
            self._collecting[-1].update(fields)
        return found

    @contextlib.contextmanager
    def used(self) -> Iterator[set[str]]:
        """Collect the columns the expressions compiled inside the block refer to."""
        collected: set[str] = set()
        self._collecting.append(collected)
        try:
            yield collected
        finally:
            self._collecting.pop()
            if self._collecting:
                self._collecting[-1].update(collected)

    def field(self, name: str) -> Expr:
        """A reference to a column of the working table (recorded as used)."""
        if self._collecting:
            self._collecting[-1].add(name)
        return pc.field(name)

    def fields_of(self, node: Any) -> frozenset[str]:
        """The columns a compiled node refers to."""
        return self._fields.get(id(node), frozenset())

    def type_of(self, node: Any) -> Type:
        return self.checked.type_of(node)

    def evaluate(self, expression: Expr, table: pa.Table | None = None) -> pa.ChunkedArray:
        """The value of `expression` for every row of the working table.

        Inside a compile the columns it may refer to are those collected so far; outside
        one, the whole table.
        """
        if table is None:
            table = self.table_of(self._collecting[-1]) if self._collecting else self.table
        return project(table, {"value": expression})["value"]

    def arrow_type(self, expression: Expr, names: Iterable[str] | None = None) -> pa.DataType:
        """The Arrow type `expression` produces, found on zero rows."""
        if names is None:
            table = self.table_of(self._collecting[-1]) if self._collecting else self.table
        else:
            table = self.table_of(names)
        return project(table.slice(0, 0), {"value": expression}).schema.field(0).type

    def is_float(self, node: Any) -> bool:
        """Whether a number-valued node computes floats (cheaply for literals and columns)."""
        if isinstance(node, ast.Literal):
            return isinstance(node.value, float)
        if isinstance(node, ast.Name):
            binding = self.checked.binding(node)
            if binding.column is not None and binding.column.physical in self.columns:
                return pa.types.is_floating(self.columns[binding.column.physical].type)
        found = self._floats.get(id(node))
        if found is None:
            expression = self.compile(node)
            found = pa.types.is_floating(self.arrow_type(expression, self.fields_of(node)))
            self._floats[id(node)] = found
        return found

    def materialize(self, values: pa.ChunkedArray | pa.Array) -> Expr:
        """Add a computed column to the working table and refer to it."""
        self._hidden += 1
        name = f"{HIDDEN}eager:{self._hidden}"
        self.add_column(name, values)
        return self.field(name)

    def add_column(self, name: str, values: pa.ChunkedArray | pa.Array) -> None:
        self.columns[name] = values
        self._table = None


def project(table: pa.Table, expressions: dict[str, Expr]) -> pa.Table:
    """Evaluate named expressions over a table in one bulk pass."""
    import pyarrow.dataset as ds  # imported when first used: it brings in pandas

    return ds.dataset(table).to_table(columns=expressions)


# helpers -------------------------------------------------------------------------------

def null_of(arrow_type: pa.DataType) -> Expr:
    return pc.scalar(pa.scalar(None, arrow_type))


def literal(value: Any, kind: Kind, timezone: str = "UTC") -> Expr:
    return pc.scalar(literal_scalar(value, kind, timezone))


def literal_scalar(value: Any, kind: Kind, timezone: str = "UTC") -> pa.Scalar:
    """A rule literal as an Arrow scalar of the canonical type of its kind."""
    if value is None:
        return pa.scalar(None, pa.null())
    if kind is Kind.NUMBER:
        return pa.scalar(value, pa.int64() if isinstance(value, int) else pa.float64())
    if kind is Kind.STRING:
        return pa.scalar(value, pa.string())
    if kind is Kind.BOOL:
        return pa.scalar(value, pa.bool_())
    if kind is Kind.DATE:
        return pa.scalar(value, pa.date32())
    if kind is Kind.TIMESTAMP:
        if value.tzinfo is None:
            value = AsOf.resolve(value, timezone).instant
        return pa.scalar(value.astimezone(dt.timezone.utc), TIMESTAMP_TYPE)
    if kind is Kind.DURATION:
        return pa.scalar(value, DURATION_TYPE)
    raise TypeError(f"no literal of kind {kind}")


def as_timestamp(expression: Expr, kind: Kind, timezone: str) -> Expr:
    """A date as the timestamp of its midnight in the run's time zone."""
    if kind is not Kind.DATE:
        return expression
    naive = expression.cast(pa.timestamp("us"))
    if timezone == "UTC":  # midnight UTC: the same microseconds, read as UTC (no zone lookups)
        return naive.cast(TIMESTAMP_TYPE)
    local = utc_instants(naive, timezone)
    return local.cast(TIMESTAMP_TYPE)


def balanced(function: Callable[[Expr, Expr], Expr], items: list[Expr]) -> Expr:
    """Combine many operands as a balanced tree, so a 100,000-term `or` stays shallow."""
    while len(items) > 1:
        paired = [function(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            paired.append(items[-1])
        items = paired
    return items[0]


def _null_typed(node: Any, ctx: CompileContext) -> bool:
    """Whether a node is `null` itself (a literal, or a call like coalesce(null))."""
    return ctx.type_of(node).kind is Kind.NULL


def promote_numbers(nodes: list[Any], exprs: list[Expr], ctx: CompileContext) -> list[Expr]:
    """Integers mixed with floats, cast to float64 first.

    Arrow's implicit cast refuses integers beyond 2**53 (it is a safe cast); SQL engines
    round them to the nearest double, and so does segmint.
    """
    if any(ctx.type_of(n).kind not in (Kind.NUMBER, Kind.NULL) for n in nodes):
        return exprs
    floats = [ctx.is_float(n) for n in nodes]
    if not any(floats) or all(floats):
        return exprs
    return [e if f else e.cast(pa.float64(), safe=False) for e, f in zip(exprs, floats)]


def _pair(node_a: Any, node_b: Any, ctx: CompileContext) -> tuple[Expr, Expr]:
    """Both operands, dates lifted to timestamps when compared with timestamps."""
    a, b = promote_numbers([node_a, node_b], [ctx.compile(node_a), ctx.compile(node_b)], ctx)
    kind_a, kind_b = ctx.type_of(node_a).kind, ctx.type_of(node_b).kind
    if {kind_a, kind_b} == {Kind.DATE, Kind.TIMESTAMP}:
        a = as_timestamp(a, kind_a, ctx.as_of.timezone)
        b = as_timestamp(b, kind_b, ctx.as_of.timezone)
    return a, b


def compare(op: str, a: Expr, b: Expr) -> Expr:
    return _COMPARE[op](a, b)


# node compilers ----------------------------------------------------------------------

@singledispatch
def compile_node(node: Any, ctx: CompileContext) -> Expr:
    raise NotImplementedError(f"the Arrow backend cannot compile {type(node).__name__}")


@compile_node.register
def _literal(node: ast.Literal, ctx: CompileContext) -> Expr:
    if node.value is None:
        return null_of(pa.bool_())
    return literal(node.value, node.type.kind, ctx.as_of.timezone)


@compile_node.register
def _name(node: ast.Name, ctx: CompileContext) -> Expr:
    binding = ctx.checked.binding(node)
    if binding.kind in ("segment", "segmentation"):
        return ctx.field(segment_column(binding.name))
    if binding.kind == "builtin":
        if binding.name == "today":
            return pc.scalar(pa.scalar(ctx.as_of.date, pa.date32()))
        return pc.scalar(pa.scalar(ctx.as_of.instant, TIMESTAMP_TYPE))
    assert binding.column is not None
    return ctx.field(binding.column.physical)


_NULL_TYPES = {
    Kind.NUMBER: pa.int64(), Kind.STRING: pa.string(), Kind.BOOL: pa.bool_(), Kind.DATE: pa.date32(),
    Kind.TIMESTAMP: TIMESTAMP_TYPE, Kind.DURATION: DURATION_TYPE,
}


@compile_node.register
def _call(node: ast.Call, ctx: CompileContext) -> Expr:
    function = ctx.checked.functions[node.function]
    args = [ctx.compile(arg) for arg in node.args]
    types = tuple(ctx.type_of(arg) for arg in node.args)
    for i, found in enumerate(types):
        if found.kind is Kind.NULL:  # a `null` argument, typed as the function expects
            declared = function.params[min(i, len(function.params) - 1)] if function.params else None
            if isinstance(declared, tuple):
                declared = declared[0]
            wanted = _NULL_TYPES.get((declared or ctx.type_of(node)).kind)
            if wanted is not None:
                args[i] = null_of(wanted)
    if node.function == "coalesce":
        args = promote_numbers(list(node.args), args, ctx)
        if ctx.type_of(node).kind is Kind.TIMESTAMP:  # dates among timestamps: local midnight
            args = [as_timestamp(a, t.kind, ctx.as_of.timezone) for a, t in zip(args, types)]
    build = arrow_builder(function)
    if build is None:  # the checker refuses such calls for the arrow engine
        raise NotImplementedError(f"{node.function}() has no builder for the arrow engine")
    return build(CallArgs(tuple(args), types, node.args, ctx.as_of.timezone))


@compile_node.register
def _negate(node: ast.Negate, ctx: CompileContext) -> Expr:
    operand = ctx.compile(node.operand)
    if _null_typed(node.operand, ctx):
        return null_of(pa.int64())
    if ctx.type_of(node.operand).kind is Kind.DURATION:
        return pc.negate_checked(operand.cast(pa.int64())).cast(DURATION_TYPE)
    return pc.negate_checked(operand)


@compile_node.register
def _arithmetic(node: ast.Arithmetic, ctx: CompileContext) -> Expr:
    result = ctx.type_of(node).kind
    left_kind, right_kind = ctx.type_of(node.left).kind, ctx.type_of(node.right).kind
    if Kind.NULL in (left_kind, right_kind):
        return null_of({Kind.NUMBER: pa.int64(), Kind.DURATION: DURATION_TYPE}.get(result, TIMESTAMP_TYPE))
    a, b = ctx.compile(node.left), ctx.compile(node.right)
    if Kind.DURATION in (left_kind, right_kind) and Kind.NUMBER in (left_kind, right_kind):
        duration, number = (a, b) if left_kind is Kind.DURATION else (b, a)
        micros = duration.cast(pa.int64()).cast(pa.float64(), safe=False)
        number = number.cast(pa.float64(), safe=False)
        if node.op == "/":
            scaled = pc.divide(micros, _nonzero(number))
            return pc.round(scaled).cast(pa.int64()).cast(DURATION_TYPE)
        return pc.round(pc.multiply(micros, number)).cast(pa.int64()).cast(DURATION_TYPE)
    if left_kind in (Kind.DATE, Kind.TIMESTAMP) or right_kind in (Kind.DATE, Kind.TIMESTAMP):
        a = as_timestamp(a, left_kind, ctx.as_of.timezone)
        b = as_timestamp(b, right_kind, ctx.as_of.timezone)
    if node.op == "/":
        return pc.divide(a.cast(pa.float64(), safe=False), _nonzero(b.cast(pa.float64(), safe=False)))
    a, b = promote_numbers([node.left, node.right], [a, b], ctx)
    return _ARITHMETIC[node.op](a, b)


def _nonzero(divisor: Expr) -> Expr:
    """The divisor with zeros made null, so division by zero gives null, never inf or an error."""
    return pc.if_else(pc.equal(divisor, pc.scalar(0.0)), pc.scalar(pa.scalar(None, pa.float64())), divisor)


@compile_node.register
def _compare(node: ast.Compare, ctx: CompileContext) -> Expr:
    if _null_typed(node.left, ctx) or _null_typed(node.right, ctx):
        return null_of(pa.bool_())
    a, b = _pair(node.left, node.right, ctx)
    return compare(node.op, a, b)


@compile_node.register
def _in_list(node: ast.InList, ctx: CompileContext) -> Expr:
    if _null_typed(node.operand, ctx):
        return null_of(pa.bool_())
    items = node.items.items
    literals = [i for i in items if isinstance(i, ast.Literal)]
    if len(literals) == len(items):
        result = _in_literals(node.operand, literals, ctx)
    else:
        result = balanced(pc.or_kleene, [
            null_of(pa.bool_()) if _null_typed(i, ctx) else compare("==", *_pair(node.operand, i, ctx))
            for i in items
        ])
    return pc.invert(result) if node.negated else result


def _in_literals(operand_node: Any, items: list[ast.Literal], ctx: CompileContext) -> Expr:
    """`x in (literals)` with `is_in`, keeping SQL's answer for null operands and items."""
    operand = ctx.compile(operand_node)
    kind = ctx.type_of(operand_node).kind
    values = [i for i in items if i.value is not None]
    has_null = len(values) < len(items)
    if not values:  # null either way, but the operand is still computed: an overflow shows
        return pc.if_else(pc.is_null(operand), null_of(pa.bool_()), null_of(pa.bool_()))
    if kind is Kind.NUMBER:
        floats = any(isinstance(v.value, float) for v in values) or ctx.is_float(operand_node)
        arrow_type = pa.float64() if floats else pa.int64()
        operand = operand.cast(arrow_type, safe=False)
        if floats:  # is_in hashes bits, and -0.0 must equal 0.0 as it does with ==
            operand = pc.add(operand, pc.scalar(0.0))
        value_set = pa.array([float(v.value) + 0.0 if floats else v.value for v in values], arrow_type)
    elif kind is Kind.TIMESTAMP or (kind is Kind.DATE and any(v.type.kind is Kind.TIMESTAMP for v in values)):
        operand = as_timestamp(operand, kind, ctx.as_of.timezone)
        tz = ctx.as_of.timezone
        value_set = pa.array([
            literal_scalar(v.value, Kind.TIMESTAMP, tz).as_py() if v.type.kind is Kind.TIMESTAMP
            else pa.scalar(AsOf.resolve(dt.datetime.combine(v.value, dt.time()), tz).instant)
            .as_py() for v in values], TIMESTAMP_TYPE)
    else:
        value_set = pa.array([literal_scalar(v.value, v.type.kind).as_py() for v in values],
                             literal_scalar(values[0].value, values[0].type.kind).type)
    hit = pc.is_in(operand, value_set=value_set, skip_nulls=True)
    if has_null:
        hit = pc.if_else(hit, pc.scalar(True), null_of(pa.bool_()))
    return pc.if_else(pc.is_null(operand), null_of(pa.bool_()), hit)


@compile_node.register
def _between(node: ast.Between, ctx: CompileContext) -> Expr:
    if _null_typed(node.operand, ctx):
        return null_of(pa.bool_())
    low = compare(">=", *_pair(node.operand, node.low, ctx))
    high = compare("<=", *_pair(node.operand, node.high, ctx))
    if _null_typed(node.low, ctx):
        low = null_of(pa.bool_())
    if _null_typed(node.high, ctx):
        high = null_of(pa.bool_())
    result = pc.and_kleene(low, high)
    return pc.invert(result) if node.negated else result


@compile_node.register
def _is_null(node: ast.IsNull, ctx: CompileContext) -> Expr:
    if _null_typed(node.operand, ctx):
        return pc.scalar(not node.negated)
    operand = ctx.compile(node.operand)
    return pc.is_valid(operand) if node.negated else pc.is_null(operand, nan_is_null=True)


@compile_node.register
def _string_test(node: ast.StringTest, ctx: CompileContext) -> Expr:
    operand = ctx.compile(node.operand)
    pattern = node.pattern.value  # type: ignore[union-attr]
    if pattern is None or _null_typed(node.operand, ctx):
        return null_of(pa.bool_())
    if node.op == "starts_with":
        return pc.starts_with(operand, pattern=pattern)
    if node.op == "ends_with":
        return pc.ends_with(operand, pattern=pattern)
    return pc.match_substring_regex(operand, pattern=pattern)


@compile_node.register
def _contains(node: ast.Contains, ctx: CompileContext) -> Expr:
    values = node.value.items if isinstance(node.value, ast.ListLiteral) else (node.value,)
    literals = [v.value for v in values]  # type: ignore[union-attr]
    kind = ctx.type_of(node.operand).kind
    if kind is Kind.NULL:
        return null_of(pa.bool_())
    if kind is Kind.STRING:
        operand = ctx.compile(node.operand)
        tests = [null_of(pa.bool_()) if v is None else pc.match_substring(operand, pattern=v) for v in literals]
        return balanced(pc.and_kleene if node.mode == "all" else pc.or_kleene, tests)
    return ctx.materialize(list_contains(ctx.evaluate(ctx.compile(node.operand)), literals, node.mode))


@compile_node.register
def _rank(node: ast.Rank, ctx: CompileContext) -> Expr:
    operand = ctx.compile(node.operand)
    values = ctx.evaluate(operand)
    if pa.types.is_floating(values.type):
        values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)
    shared = (node.operand, node.percent, node.top)  # the same test elsewhere shares its cut
    if shared not in ctx.shared_cuts:
        ctx.shared_cuts[shared] = rank_cut(pc.drop_null(values), node.percent, node.top)
    cut, found = ctx.shared_cuts[shared]
    ctx.cuts[id(node)] = cut
    if found is None:
        return pc.if_else(pc.is_null(operand), null_of(pa.bool_()), pc.scalar(False))
    return compare(">=" if node.top else "<=", operand, pc.scalar(found))


@compile_node.register
def _within(node: ast.Within, ctx: CompileContext) -> Expr:
    operand = ctx.compile(node.operand)
    duration: dt.timedelta = node.duration.value  # type: ignore[union-attr]
    if _null_typed(node.operand, ctx):
        return null_of(pa.bool_())
    if ctx.type_of(node.operand).kind is Kind.DATE:
        today = ctx.as_of.date
        low = pc.scalar(pa.scalar(today - dt.timedelta(days=duration.days), pa.date32()))
        high = pc.scalar(pa.scalar(today, pa.date32()))
    else:
        low = pc.scalar(pa.scalar(ctx.as_of.instant - duration, TIMESTAMP_TYPE))
        high = pc.scalar(pa.scalar(ctx.as_of.instant, TIMESTAMP_TYPE))
    return pc.and_kleene(pc.greater_equal(operand, low), pc.less_equal(operand, high))


@compile_node.register
def _aggregate(node: ast.Aggregate, ctx: CompileContext) -> Expr:
    """An aggregate over events: computed in bulk beforehand (event_aggregates), read here."""
    name = ctx.aggregate_columns.get(node)
    if name is None:
        raise NotImplementedError(f"the aggregate {node.function}({node.target.text}) was not computed")
    return ctx.field(name)


def aggregate_column(index: int) -> str:
    """Hidden column holding the value of the index-th aggregate over events."""
    return f"{HIDDEN}aggregate:{index}"


@compile_node.register
def _not(node: ast.Not, ctx: CompileContext) -> Expr:
    return pc.invert(ctx.compile(node.operand))


@compile_node.register
def _and(node: ast.And, ctx: CompileContext) -> Expr:
    return _connect(pc.and_kleene, [ctx.compile(o) for o in node.operands], ctx)


@compile_node.register
def _or(node: ast.Or, ctx: CompileContext) -> Expr:
    return _connect(pc.or_kleene, [ctx.compile(o) for o in node.operands], ctx)


#: Arrow flattens and/or trees and crashes on ~20,000 operands: longer chains are cut.
MAX_OPERANDS = 512


def _connect(function: Callable[..., Any], operands: list[Expr], ctx: CompileContext) -> Expr:
    """Operands joined by and/or; a very long chain is evaluated slice by slice."""
    if len(operands) <= MAX_OPERANDS:
        return balanced(function, operands)
    combined = None
    for start in range(0, len(operands), MAX_OPERANDS):
        part = ctx.evaluate(balanced(function, operands[start : start + MAX_OPERANDS]))
        combined = part if combined is None else function(combined, part)
    return ctx.materialize(combined)
