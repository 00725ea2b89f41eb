"""The syntax tree of a rule file: frozen attrs nodes that remember where they came from.

Positions live in a `Span` field excluded from equality, so two occurrences of the same
expression compare (and hash) equal; the checker and compilers rely on that to share work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Union

import attrs

from segmint.language.types import Type


@attrs.frozen
class Span:
    """Where a node sits: 1-based line and column, and offsets into its file's text."""

    filename: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int


NO_SPAN = Span("<unknown>", 1, 1, 1, 1, 0, 0)


def _span() -> Any:
    return attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Literal:
    value: Any
    type: Type
    span: Span = _span()


@attrs.frozen
class ListLiteral:
    items: tuple[Expr, ...]
    span: Span = _span()


@attrs.frozen
class Name:
    name: str
    source: str | None = None
    span: Span = _span()

    @property
    def text(self) -> str:
        return f"{self.source}.{self.name}" if self.source else self.name


@attrs.frozen
class Call:
    function: str
    args: tuple[Expr, ...]
    span: Span = _span()


@attrs.frozen
class Negate:
    operand: Expr
    span: Span = _span()


@attrs.frozen
class Arithmetic:
    op: str  # + - * /
    left: Expr
    right: Expr
    span: Span = _span()


@attrs.frozen
class Compare:
    op: str  # == != < <= > >=
    left: Expr
    right: Expr
    span: Span = _span()


@attrs.frozen
class InList:
    operand: Expr
    items: ListLiteral
    negated: bool = False
    span: Span = _span()


@attrs.frozen
class Between:
    operand: Expr
    low: Expr
    high: Expr
    negated: bool = False
    span: Span = _span()


@attrs.frozen
class IsNull:
    operand: Expr
    negated: bool = False
    span: Span = _span()


@attrs.frozen
class StringTest:
    """`starts with`, `ends with` and `matches`: a string operand against a literal."""

    op: str  # starts_with | ends_with | matches
    operand: Expr
    pattern: Expr
    span: Span = _span()


@attrs.frozen
class Contains:
    """`contains` (substring on a string, membership on a list) and `contains any/all`."""

    operand: Expr
    value: Expr  # a single value, or a ListLiteral for any/all
    mode: str = "one"  # one | any | all
    span: Span = _span()


@attrs.frozen
class Rank:
    """`x in top N%` / `x in bottom N%`."""

    operand: Expr
    percent: float
    top: bool = True
    span: Span = _span()


@attrs.frozen
class Within:
    operand: Expr
    duration: Expr
    span: Span = _span()


@attrs.frozen
class Not:
    operand: Expr
    span: Span = _span()


@attrs.frozen
class And:
    operands: tuple[Expr, ...]
    span: Span = _span()


@attrs.frozen
class Or:
    operands: tuple[Expr, ...]
    span: Span = _span()


@attrs.frozen
class Window:
    """The time window of an aggregate, relative to as_of (bounds are literals).

    kind ``last``: `start` is a duration (`last 30d`); ``ago``: `start` and `end` are
    durations (`between 180d ago and 90d ago`); ``since``: `start` is a date or timestamp;
    ``dates``: `start` and `end` are dates or timestamps (`between 2025-10-01 and 2025-12-31`).
    """

    kind: str  # last | ago | since | dates
    start: Literal
    end: Literal | None = None
    span: Span = _span()


#: The aggregate functions over event sources.
AGGREGATES = ("count", "exists", "sum", "avg", "min", "max", "count_distinct", "first", "last")


@attrs.frozen
class Aggregate:
    """`AGG(SOURCE[.COLUMN] [where CONDITION] [, WINDOW])` over an event source.

    `target` is the name as written: `orders` (no column) or `orders.amount`. The `where`
    condition is about the source's events, not customers, so `children` does not descend
    into it: for every other pass an aggregate is a leaf, like a column.
    """

    function: str
    target: Name
    where: Expr | None = None
    window: Window | None = None
    span: Span = _span()

    @property
    def source(self) -> str:
        return self.target.source if self.target.source is not None else self.target.name

    @property
    def column(self) -> str | None:
        return self.target.name if self.target.source is not None else None


Expr = Union[
    Literal, ListLiteral, Name, Call, Negate, Arithmetic, Compare, InList, Between, IsNull,
    StringTest, Contains, Rank, Within, Not, And, Or, Aggregate,
]


@attrs.frozen
class Segment:
    name: str
    condition: Expr
    description: str | None = None
    holdout: float | None = None
    span: Span = _span()


@attrs.frozen
class Arm:
    """One `LABEL: CONDITION` line of a segmentation; `condition` None is `otherwise`."""

    label: str
    condition: Expr | None
    span: Span = _span()


@attrs.frozen
class Segmentation:
    name: str
    arms: tuple[Arm, ...]
    description: str | None = None
    span: Span = _span()


Statement = Union[Segment, Segmentation]


@attrs.frozen
class RuleSet:
    """Parsed statements of one or more files, in file order, with the files' text."""

    statements: tuple[Statement, ...]
    texts: dict[str, str] = attrs.field(factory=dict, eq=False, repr=False)

    def __add__(self, other: RuleSet) -> RuleSet:
        return RuleSet(self.statements + other.statements, {**self.texts, **other.texts})

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.statements]

    def get(self, name: str) -> Statement | None:
        for statement in self.statements:
            if statement.name == name:
                return statement
        return None

    def source_line(self, span: Span) -> str:
        text = self.texts.get(span.filename, "")
        start = text.rfind("\n", 0, span.start) + 1
        end = text.find("\n", span.start)
        return text[start : end if end >= 0 else len(text)]

    def source_text(self, span: Span) -> str:
        return self.texts.get(span.filename, "")[span.start : span.end]


def children(node: Any) -> Iterator[Any]:
    """The direct sub-expressions of a node (statements yield their conditions)."""
    if isinstance(node, (And, Or)):
        yield from node.operands
    elif isinstance(node, (Not, Negate)):
        yield node.operand
    elif isinstance(node, (Arithmetic, Compare)):
        yield node.left
        yield node.right
    elif isinstance(node, ListLiteral):
        yield from node.items
    elif isinstance(node, Call):
        yield from node.args
    elif isinstance(node, InList):
        yield node.operand
        yield node.items
    elif isinstance(node, Between):
        yield from (node.operand, node.low, node.high)
    elif isinstance(node, (IsNull, Rank)):
        yield node.operand
    elif isinstance(node, StringTest):
        yield node.operand
        yield node.pattern
    elif isinstance(node, Contains):
        yield node.operand
        yield node.value
    elif isinstance(node, Within):
        yield node.operand
        yield node.duration
    elif isinstance(node, Segment):
        yield node.condition
    elif isinstance(node, Segmentation):
        for arm in node.arms:
            if arm.condition is not None:
                yield arm.condition


def walk(node: Any) -> Iterator[Any]:
    """Every node under `node`, itself first, without recursion (deep trees are allowed)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))


DURATION_UNITS: dict[str, dt.timedelta] = {
    "h": dt.timedelta(hours=1),
    "d": dt.timedelta(days=1),
    "w": dt.timedelta(days=7),
    "mo": dt.timedelta(days=30),
    "y": dt.timedelta(days=365),
}
