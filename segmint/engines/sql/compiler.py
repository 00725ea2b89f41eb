"""Rule expressions to sqlglot expressions: one function per node type.

SQL already has the language's three-valued logic, `in` with nulls and null-propagating
comparisons; the rest is made explicit here: division by zero is null (`NULLIF`), integers
mixed with floats are cast to DOUBLE, dates compared with timestamps are their midnight in
the run's time zone, durations are BIGINT microseconds, strings compare by their bytes,
`in top/bottom N%` is a window (a customer is in when fewer than k = ceil(n * P / 100)
values rank above it), and `matches` runs RE2 patterns on the dialect's regex engine only
where they mean the same (see regex.py). What a dialect cannot express identically is
refused with the node's position, before any query runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from fractions import Fraction
from functools import singledispatch
from typing import Any

import attrs
import pyarrow as pa
import sqlglot.expressions as exp

from segmint.engines.sql.dialects import SqlDialect, call, number, string
from segmint.engines.sql.regex import UnmatchableRegex, translate
from segmint.language import ast
from segmint.language.checker import CheckedRules
from segmint.language.functions import is_builtin
from segmint.language.types import Kind
from segmint.plugin.api import SQL, CallArgs, Function
from segmint.semantics.asof import AsOf

Expr = exp.Expression

_COMPARE: dict[str, type[exp.Expression]] = {
    "==": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE,
}
_ARITHMETIC: dict[str, type[exp.Expression]] = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}
#: Operators that need parentheses as the operand of another operator (sqlglot's
#: constructors print the tree as given, without adding any).
_OPERATORS = (exp.Binary, exp.Not, exp.Neg, exp.In, exp.Between)


class Inexpressible(Exception):
    """A node the dialect cannot compute exactly as the language defines it."""

    def __init__(self, node: Any, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


def wrap(value: Expr) -> Expr:
    """`value` in parentheses when it is an operator, so operators nest as the tree says."""
    return exp.Paren(this=value) if isinstance(value, _OPERATORS) else value


def _logic(value: Expr, within: type[exp.Expression] | None = None) -> Expr:
    """An operand of AND, OR (`within`) or NOT: only an AND or OR of the other kind needs
    parentheses there (comparisons, IS, IN and NOT bind tighter in every dialect)."""
    if isinstance(value, exp.Connector) and not (within is not None and isinstance(value, within)):
        return exp.Paren(this=value)
    return value


def balanced(join: Callable[[Expr, Expr], Expr], items: list[Expr]) -> Expr:
    """Many operands as a balanced tree, so a 100,000-term `or` stays shallow."""
    while len(items) > 1:
        paired = [join(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            paired.append(items[-1])
        items = paired
    return items[0]


def and_(*items: Expr) -> Expr:
    return balanced(lambda a, b: exp.And(this=_logic(a, exp.And), expression=_logic(b, exp.And)), list(items))


def or_(*items: Expr) -> Expr:
    return balanced(lambda a, b: exp.Or(this=_logic(a, exp.Or), expression=_logic(b, exp.Or)), list(items))


def not_(value: Expr) -> Expr:
    return exp.Not(this=_logic(value))


def is_null(value: Expr) -> Expr:
    return exp.Is(this=wrap(value), expression=exp.Null())


def case(condition: Expr, then: Expr, otherwise: Expr | None = None) -> Expr:
    return exp.Case(ifs=[exp.If(this=condition, true=then)], default=otherwise)


def identifier(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def named(value: Expr, name: str) -> Expr:
    """`value AS name`, or the column itself when it already has that name."""
    if isinstance(value, exp.Column) and value.name == name and not value.table:
        return value
    return exp.alias_(value, identifier(name))


def column(name: str, table: str | None = None) -> exp.Column:
    return exp.Column(this=identifier(name), table=identifier(table) if table else None)


def utc_text(instant: dt.datetime) -> str:
    """An aware instant as the UTC wall clock text of a TIMESTAMP literal."""
    return instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


@attrs.define
class SqlContext:
    """What compiling an expression needs: the checked rules, as_of, the dialect, and where
    each column, segment and aggregate is found in the relation being selected from."""

    checked: CheckedRules
    as_of: AsOf
    dialect: SqlDialect
    #: profile column (physical name) -> its canonical value in the current relation
    columns: dict[str, Expr] = attrs.field(factory=dict)
    #: segment or segmentation name -> its member flag or label in the current relation
    segments: dict[str, Expr] = attrs.field(factory=dict)
    aggregates: dict[Any, Expr] = attrs.field(factory=dict)
    #: inside an aggregate's where: event column name -> its canonical value
    events: dict[str, Expr] | None = None
    #: whether a physical column holds floating point numbers
    floats: dict[str, bool] = attrs.field(factory=dict)
    statement: str = ""

    def compile(self, node: Any) -> Expr:
        return compile_node(node, self)

    def kind(self, node: Any) -> Kind:
        return self.checked.type_of(node).kind

    @property
    def zone(self) -> str:
        return self.as_of.timezone

    def is_float(self, node: Any) -> bool:
        """Whether a number-valued node computes DOUBLE (else BIGINT), as the Arrow engine does."""
        return is_float(node, self)

    def timestamp(self, instant: dt.datetime) -> Expr:
        return self.dialect.timestamp_literal(utc_text(instant))

    def midnight(self, value: Expr) -> Expr:
        """A DATE as the UTC wall clock of its midnight in the run's time zone."""
        stamp = self.dialect.date_to_timestamp(value)
        return stamp if self.zone == "UTC" else self.dialect.utc_from_local(stamp, self.zone)

    def wall_clock(self, value: Expr) -> Expr:
        """A UTC TIMESTAMP as the wall clock of the run's time zone."""
        return value if self.zone == "UTC" else self.dialect.local_from_utc(value, self.zone)


# floating point or integer -------------------------------------------------------------

def is_float(node: Any, ctx: SqlContext) -> bool:
    if isinstance(node, ast.Literal):
        return isinstance(node.value, float)
    if isinstance(node, ast.Name):
        binding = ctx.checked.binding(node)
        if binding.column is None:
            return False
        if binding.kind == "column" and binding.column.physical in ctx.floats:
            return ctx.floats[binding.column.physical]
        return float_type(binding.column.arrow_type)
    if isinstance(node, ast.Negate):
        return is_float(node.operand, ctx)
    if isinstance(node, ast.Arithmetic):
        return node.op == "/" or is_float(node.left, ctx) or is_float(node.right, ctx)
    if isinstance(node, ast.Call):
        if node.function in ("abs", "round"):
            return is_float(node.args[0], ctx)
        if node.function == "coalesce":
            return any(ctx.kind(a) is Kind.NUMBER and is_float(a, ctx) for a in node.args)
        return node.function == "days"
    if isinstance(node, ast.Aggregate):
        if node.function == "avg":
            return True
        if node.function in ("sum", "min", "max", "first", "last") and node.column is not None:
            spec = ctx.checked.catalog.event_source(node.source)
            found = spec.find(node.column) if spec is not None else None
            return found is not None and float_type(found.arrow_type)
    return False


def float_type(arrow_type: pa.DataType | None) -> bool:
    if arrow_type is None:
        return False
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    return pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type)


def numbers(nodes: list[Any], values: list[Expr], ctx: SqlContext) -> list[Expr]:
    """Integers mixed with floats, cast to DOUBLE first (as the Arrow engine does)."""
    if any(ctx.kind(n) not in (Kind.NUMBER, Kind.NULL) for n in nodes):
        return values
    floats = [ctx.is_float(n) for n in nodes]
    if not any(floats) or all(floats):
        return values
    return [v if f or isinstance(v, exp.Null) else ctx.dialect.to_double(v)
            for v, f in zip(values, floats, strict=True)]


def pair(a_node: Any, b_node: Any, ctx: SqlContext) -> tuple[Expr, Expr]:
    """Both operands, dates lifted to timestamps when compared with timestamps, strings by bytes."""
    a, b = numbers([a_node, b_node], [ctx.compile(a_node), ctx.compile(b_node)], ctx)
    kinds = (ctx.kind(a_node), ctx.kind(b_node))
    if set(kinds) == {Kind.DATE, Kind.TIMESTAMP}:
        a = as_timestamp(a_node, a, ctx)
        b = as_timestamp(b_node, b, ctx)
    if Kind.STRING in kinds and ctx.dialect.needs_byte_collation:
        a, b = ctx.dialect.byte_order(a), ctx.dialect.byte_order(b)
    return a, b


def as_timestamp(node: Any, value: Expr, ctx: SqlContext) -> Expr:
    """A date node's value as its midnight (a date literal folded here), else as it is."""
    if ctx.kind(node) is not Kind.DATE:
        return value
    day = node.value if isinstance(node, ast.Literal) else None
    if isinstance(node, ast.Name) and ctx.checked.binding(node).kind == "builtin":
        day = ctx.as_of.date  # today
    if day is not None:
        return ctx.timestamp(AsOf.resolve(dt.datetime.combine(day, dt.time()), ctx.zone).instant)
    return ctx.midnight(value)


# node compilers ------------------------------------------------------------------------

@singledispatch
def compile_node(node: Any, ctx: SqlContext) -> Expr:
    raise Inexpressible(node, f"the SQL engines cannot compile {type(node).__name__}")


@compile_node.register
def _literal(node: ast.Literal, ctx: SqlContext) -> Expr:
    return literal(node.value, node.type.kind, ctx)


def literal(value: Any, kind: Kind, ctx: SqlContext) -> Expr:
    """A rule literal in the canonical SQL representation of its kind."""
    dialect = ctx.dialect
    if value is None:
        return exp.Null()
    if kind is Kind.NUMBER:
        return dialect.double_literal(value) if isinstance(value, float) else number(value)
    if kind is Kind.STRING:
        return string(value)
    if kind is Kind.BOOL:
        return exp.Boolean(this=bool(value))
    if kind is Kind.DATE:
        return dialect.date_literal(value.isoformat())
    if kind is Kind.TIMESTAMP:
        return ctx.timestamp(AsOf.resolve(value, ctx.zone).instant if value.tzinfo is None else value)
    if kind is Kind.DURATION:
        micros = number(value // dt.timedelta(microseconds=1))
        micros.add_comments([_duration_text(value)])
        return micros
    raise Inexpressible(None, f"no SQL literal of kind {kind.value}")


def _duration_text(value: dt.timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@compile_node.register
def _name(node: ast.Name, ctx: SqlContext) -> Expr:
    binding = ctx.checked.binding(node)
    if binding.kind in ("segment", "segmentation"):
        return ctx.segments[binding.name].copy()
    if binding.kind == "builtin":
        if binding.name == "today":
            return ctx.dialect.date_literal(ctx.as_of.date.isoformat())
        return ctx.timestamp(ctx.as_of.instant)
    assert binding.column is not None
    if binding.kind == "event":
        assert ctx.events is not None
        return ctx.events[binding.column.name].copy()
    return ctx.columns[binding.column.physical].copy()


@compile_node.register
def _call(node: ast.Call, ctx: SqlContext) -> Expr:
    function = ctx.checked.functions[node.function]
    if not is_builtin(function):
        return _plugin_call(function, node, ctx)
    build = FUNCTIONS.get(node.function)
    if build is None:
        raise Inexpressible(node, f"the function {node.function}() has no SQL implementation "
                                  f"for the {ctx.dialect.name} dialect")
    if node.function != "coalesce" and any(ctx.kind(a) is Kind.NULL for a in node.args[:1]):
        return exp.Null()  # every function but coalesce is null for a null argument
    return build(node, ctx)


def _plugin_call(function: Function, node: ast.Call, ctx: SqlContext) -> Expr:
    """A plugin function's call, built by its `SQL` builder (the checker refuses a call
    of one without, on a SQL engine; `segmint sql` meets it here)."""
    build = function.builder(ctx.dialect.name, SQL)
    if build is None:
        raise Inexpressible(node, f"the function {node.function}() has no SQL builder "
                                  f"(Function.builders[segmint.SQL])")
    args = tuple(ctx.compile(a) for a in node.args)
    types = tuple(ctx.checked.type_of(a) for a in node.args)
    return build(CallArgs(args, types, node.args, ctx.zone))


def _args(node: ast.Call, ctx: SqlContext) -> list[Expr]:
    return [ctx.compile(a) for a in node.args]


def _round(node: ast.Call, ctx: SqlContext) -> Expr:
    value = ctx.compile(node.args[0])
    digits = node.args[1].value if len(node.args) > 1 else 0  # type: ignore[union-attr]
    if isinstance(value, exp.Null) or digits is None:
        return exp.Null()
    rounded = ctx.dialect.round_half_away(value, int(digits))
    return rounded if ctx.is_float(node.args[0]) else ctx.dialect.to_bigint(rounded)


def _coalesce(node: ast.Call, ctx: SqlContext) -> Expr:
    values = numbers(list(node.args), _args(node, ctx), ctx)
    if ctx.kind(node) is Kind.TIMESTAMP:  # dates among timestamps: their midnight
        values = [as_timestamp(a, v, ctx) for a, v in zip(node.args, values, strict=True)]
    if ctx.kind(node) is Kind.STRING and ctx.dialect.needs_byte_collation:
        values = [ctx.dialect.byte_order(v) for v in values]
    if len(values) == 1:
        return values[0]
    return exp.Coalesce(this=values[0], expressions=values[1:])


def _days(node: ast.Call, ctx: SqlContext) -> Expr:
    micros = ctx.dialect.to_double(ctx.compile(node.args[0]))
    return exp.Div(this=wrap(micros), expression=ctx.dialect.double_literal(86_400_000_000.0))


def _local(node: ast.Call, ctx: SqlContext) -> Expr:
    value = ctx.compile(node.args[0])
    return ctx.wall_clock(value) if ctx.kind(node.args[0]) is Kind.TIMESTAMP else value


def _length(node: ast.Call, ctx: SqlContext) -> Expr:
    value = ctx.compile(node.args[0])
    if ctx.kind(node.args[0]) is Kind.LIST:
        return ctx.dialect.to_bigint(ctx.dialect.list_length(value))
    return ctx.dialect.to_bigint(ctx.dialect.length(value))


def _null_safe(build: Callable[[Expr, SqlContext], Expr]) -> Callable[[ast.Call, SqlContext], Expr]:
    def compiled(node: ast.Call, ctx: SqlContext) -> Expr:
        value = ctx.compile(node.args[0])
        return exp.Null() if isinstance(value, exp.Null) else build(value, ctx)
    return compiled


FUNCTIONS: dict[str, Callable[[ast.Call, SqlContext], Expr]] = {
    "lower": _null_safe(lambda v, c: exp.Lower(this=v)),
    "upper": _null_safe(lambda v, c: exp.Upper(this=v)),
    "length": _length,
    "abs": _null_safe(lambda v, c: exp.Abs(this=v)),
    "round": _round,
    "coalesce": _coalesce,
    "days": _days,
    "year": lambda n, c: c.dialect.to_bigint(c.dialect.year(_local(n, c))),
    "month": lambda n, c: c.dialect.to_bigint(c.dialect.month(_local(n, c))),
    "day_of_week": lambda n, c: c.dialect.to_bigint(c.dialect.day_of_week(_local(n, c))),
}


@compile_node.register
def _negate(node: ast.Negate, ctx: SqlContext) -> Expr:
    value = ctx.compile(node.operand)
    return exp.Null() if isinstance(value, exp.Null) else exp.Neg(this=wrap(value))


@compile_node.register
def _arithmetic(node: ast.Arithmetic, ctx: SqlContext) -> Expr:
    left_kind, right_kind = ctx.kind(node.left), ctx.kind(node.right)
    if Kind.NULL in (left_kind, right_kind):
        return exp.Null()
    dialect = ctx.dialect
    a, b = ctx.compile(node.left), ctx.compile(node.right)
    if Kind.DURATION in (left_kind, right_kind) and Kind.NUMBER in (left_kind, right_kind):
        duration, factor = (a, b) if left_kind is Kind.DURATION else (b, a)
        micros, factor = dialect.to_double(duration), dialect.to_double(factor)
        if node.op == "/":
            scaled = exp.Div(this=wrap(micros), expression=_nonzero(factor, ctx))
        else:
            scaled = exp.Mul(this=wrap(micros), expression=wrap(factor))
        return dialect.to_bigint(dialect.round_half_even(scaled))
    temporal = {Kind.DATE, Kind.TIMESTAMP}
    if left_kind in temporal or right_kind in temporal:
        a, b = as_timestamp(node.left, a, ctx), as_timestamp(node.right, b, ctx)
        if left_kind in temporal and right_kind in temporal:  # a duration between two instants
            return exp.Sub(this=wrap(dialect.to_micros(a)), expression=wrap(dialect.to_micros(b)))
        stamp, micros = (a, b) if left_kind in temporal else (b, a)
        shifted = _ARITHMETIC[node.op](this=wrap(dialect.to_micros(stamp)), expression=wrap(micros))
        return dialect.from_micros(shifted)
    if node.op == "/":
        return exp.Div(this=wrap(dialect.to_double(a)), expression=_nonzero(dialect.to_double(b), ctx))
    a, b = numbers([node.left, node.right], [a, b], ctx)
    return _ARITHMETIC[node.op](this=wrap(a), expression=wrap(b))


def _nonzero(divisor: Expr, ctx: SqlContext) -> Expr:
    """The divisor with zero made null: division by zero is null, never infinity or an error."""
    return exp.Nullif(this=divisor, expression=ctx.dialect.double_literal(0.0))


@compile_node.register
def _compare(node: ast.Compare, ctx: SqlContext) -> Expr:
    if Kind.NULL in (ctx.kind(node.left), ctx.kind(node.right)):
        return exp.Null()
    a, b = pair(node.left, node.right, ctx)
    return _COMPARE[node.op](this=wrap(a), expression=wrap(b))


@compile_node.register
def _in_list(node: ast.InList, ctx: SqlContext) -> Expr:
    if ctx.kind(node.operand) is Kind.NULL:
        return exp.Null()
    items = node.items.items
    if not all(isinstance(i, ast.Literal) for i in items):  # compared item by item
        found = or_(*[exp.Null() if ctx.kind(i) is Kind.NULL else exp.EQ(
            **dict(zip(("this", "expression"), map(wrap, pair(node.operand, i, ctx)), strict=True)))
            for i in items])
        return not_(found) if node.negated else found
    nodes = [node.operand, *items]
    values = numbers(nodes, [ctx.compile(n) for n in nodes], ctx)
    if ctx.kind(node.operand) is Kind.DATE and any(ctx.kind(i) is Kind.TIMESTAMP for i in items) or (
            ctx.kind(node.operand) is Kind.TIMESTAMP):
        values = [as_timestamp(n, v, ctx) for n, v in zip(nodes, values, strict=True)]
    if ctx.kind(node.operand) is Kind.STRING and ctx.dialect.needs_byte_collation:
        values = [v if isinstance(v, exp.Null) else ctx.dialect.byte_order(v) for v in values]
    found = exp.In(this=wrap(values[0]), expressions=values[1:])
    return not_(found) if node.negated else found


@compile_node.register
def _between(node: ast.Between, ctx: SqlContext) -> Expr:
    if ctx.kind(node.operand) is Kind.NULL:
        return exp.Null()
    low = exp.Null() if ctx.kind(node.low) is Kind.NULL else exp.GTE(
        **dict(zip(("this", "expression"), map(wrap, pair(node.operand, node.low, ctx)), strict=True)))
    high = exp.Null() if ctx.kind(node.high) is Kind.NULL else exp.LTE(
        **dict(zip(("this", "expression"), map(wrap, pair(node.operand, node.high, ctx)), strict=True)))
    inside = and_(low, high)
    return not_(inside) if node.negated else inside


@compile_node.register
def _is_null(node: ast.IsNull, ctx: SqlContext) -> Expr:
    if ctx.kind(node.operand) is Kind.NULL:
        return exp.Boolean(this=not node.negated)
    value = ctx.compile(node.operand)
    missing = is_null(value)
    if not node.negated and ctx.kind(node.operand) is Kind.NUMBER and ctx.is_float(node.operand) \
            and not isinstance(node.operand, ast.Name):  # a computed NaN counts as missing
        missing = or_(missing, exp.Coalesce(this=ctx.dialect.is_nan(value), expressions=[exp.false()]))
    return not_(missing) if node.negated else missing


@compile_node.register
def _string_test(node: ast.StringTest, ctx: SqlContext) -> Expr:
    pattern = node.pattern.value  # type: ignore[union-attr]
    if pattern is None or ctx.kind(node.operand) is Kind.NULL:
        return exp.Null()
    value = ctx.compile(node.operand)
    dialect = ctx.dialect
    if node.op == "starts_with":
        return dialect.starts_with(value, pattern)
    if node.op == "ends_with":
        return dialect.ends_with(value, pattern)
    try:
        translated = translate(pattern, dialect.regex)
    except UnmatchableRegex as error:
        raise Inexpressible(node.pattern, f"the {dialect.name} dialect's regular expressions "
                            f"cannot match this pattern exactly as RE2 does: {error}") from None
    return dialect.regex_match(value, translated)


@compile_node.register
def _contains(node: ast.Contains, ctx: SqlContext) -> Expr:
    items = node.value.items if isinstance(node.value, ast.ListLiteral) else (node.value,)
    wanted = [i.value for i in items]  # type: ignore[union-attr]
    kind = ctx.kind(node.operand)
    if kind is Kind.NULL:
        return exp.Null()
    value = ctx.compile(node.operand)
    join = and_ if node.mode == "all" else or_
    if kind is Kind.STRING:
        tests = [exp.Null() if v is None else ctx.dialect.contains_text(value.copy(), v) for v in wanted]
        return join(*tests)
    present = list(dict.fromkeys(v for v in wanted if v is not None))
    if not present:
        # The language's answer: `contains null` is false for an empty list (it holds
        # nothing) and null for any other, and `contains any`/`all` of nulls only are
        # false/true for every list that is not null.
        if node.mode == "one":
            empty = exp.EQ(this=ctx.dialect.list_length(value.copy()), expression=number(0))
            return case(empty, exp.Boolean(this=False), exp.Null())
        return case(is_null(value), exp.Null(), exp.Boolean(this=node.mode == "all"))
    element = ctx.checked.type_of(node.operand).element
    element_kind = element.kind if element is not None else Kind.NULL
    tests = [ctx.dialect.list_contains(value.copy(), literal(v, element_kind, ctx)) for v in present]
    return case(is_null(value), exp.Null(), join(*tests))


@compile_node.register
def _rank(node: ast.Rank, ctx: SqlContext) -> Expr:
    """In when fewer than k values rank above the customer's: (rank - 1) * 100 * b < n * a,
    with P = a / b exactly, which is rank <= ceil(n * P / 100) without division."""
    value = ctx.compile(node.operand)
    if isinstance(value, exp.Null):
        return exp.Null()
    order_by = value.copy()
    if ctx.kind(node.operand) is Kind.NUMBER and ctx.is_float(node.operand):
        order_by = exp.Add(this=wrap(order_by), expression=ctx.dialect.double_literal(0.0))  # -0.0 ties 0.0
    if ctx.kind(node.operand) is Kind.STRING and ctx.dialect.needs_byte_collation:
        order_by = ctx.dialect.byte_order(order_by)
    ordered = exp.Ordered(this=order_by, desc=node.top, nulls_first=False)
    rank = exp.Window(this=exp.Anonymous(this="RANK", expressions=[]),
                      order=exp.Order(expressions=[ordered]))
    count = exp.Window(this=exp.Count(this=value.copy()))
    share = Fraction(str(node.percent))
    above = exp.Mul(this=exp.Paren(this=exp.Sub(this=rank, expression=number(1))),
                    expression=number(100 * share.denominator))
    fits = exp.LT(this=above, expression=exp.Mul(this=count, expression=number(share.numerator)))
    return case(is_null(value), exp.Null(), fits)


@compile_node.register
def _within(node: ast.Within, ctx: SqlContext) -> Expr:
    if ctx.kind(node.operand) is Kind.NULL:
        return exp.Null()
    value = ctx.compile(node.operand)
    duration: dt.timedelta = node.duration.value  # type: ignore[union-attr]
    dialect = ctx.dialect
    if ctx.kind(node.operand) is Kind.DATE:
        today = ctx.as_of.date
        low = dialect.date_literal((today - dt.timedelta(days=duration.days)).isoformat())
        high = dialect.date_literal(today.isoformat())
    else:
        low, high = ctx.timestamp(ctx.as_of.instant - duration), ctx.timestamp(ctx.as_of.instant)
    return and_(exp.GTE(this=wrap(value), expression=low), exp.LTE(this=wrap(value.copy()), expression=high))


@compile_node.register
def _aggregate(node: ast.Aggregate, ctx: SqlContext) -> Expr:
    return ctx.aggregates[node].copy()


@compile_node.register
def _not(node: ast.Not, ctx: SqlContext) -> Expr:
    return not_(ctx.compile(node.operand))


@compile_node.register
def _and(node: ast.And, ctx: SqlContext) -> Expr:
    return and_(*[ctx.compile(o) for o in node.operands])


@compile_node.register
def _or(node: ast.Or, ctx: SqlContext) -> Expr:
    return or_(*[ctx.compile(o) for o in node.operands])
