"""The parse-time builder: AST nodes made from a rule's values and positions.

Both parsers call it: lark's LALR parser through `lark_rules` (which turns each rule's
tokens and nodes into values and a span) and the hand-written `fast_parser` directly, so
the tree and every check are one code. It also refuses, with a message in the user's
words, what the grammar accepts but the language does not (keywords as names, a `where`
outside an aggregate, a window that ends before it starts, expressions nested deeper than
`MAX_DEPTH`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, NamedTuple

import attrs

from segmint.language import ast
from segmint.language.types import BOOL, DATE, DURATION, NULL, NUMBER, STRING, TIMESTAMP

#: Deeper expressions are refused: every later pass may recurse this far.
MAX_DEPTH = 200

KEYWORDS = frozenset(
    "segment segmentation holdout otherwise or and not in between is null starts ends with "
    "contains any all matches top bottom within true false where".split()
)

_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
_DURATION = re.compile(r"([\d.]+)(mo|h|d|w|y)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}


class Lexeme(NamedTuple):
    """A token as the window rules read it: its terminal (``NAME``, ``DURATION``, ``DATE``,
    ``TIMESTAMP``), its text and where it is."""

    kind: str
    text: str
    span: ast.Span


class Percent(NamedTuple):
    """`N%`: its value, the span of the number (what a range error points at) and of it all."""

    value: float
    number_span: ast.Span
    span: ast.Span


class Builder:
    """Builds AST nodes from values and spans, with the checks the grammar cannot make.

    Positions come in as the parser counts them within the statement; `span` moves them to
    the file. One builder serves one file's parse; `begin` sets where the statement being
    parsed sits in the file.
    """

    def __init__(self, filename: str = "<string>") -> None:
        self.filename = filename
        self.begin(0, 0)

    def begin(self, line_offset: int, pos_offset: int) -> None:
        """Start a statement at line `line_offset + 1`, offset `pos_offset` of the file."""
        self.line_offset = line_offset
        self.pos_offset = pos_offset
        self.depth: dict[int, int] = {}

    def span(self, line: int, column: int, end_line: int, end_column: int, start: int,
             end: int) -> ast.Span:
        """The file's span of statement-relative positions (lines and offsets from the
        statement's start, columns as they are)."""
        return ast.Span(self.filename, line + self.line_offset, column,
                        end_line + self.line_offset, end_column, start + self.pos_offset,
                        end + self.pos_offset)

    def _node(self, node: Any, *kids: Any) -> Any:
        depths = self.depth
        depth = 1
        for kid in kids:
            kid_depth = depths.get(id(kid), 1)
            if kid_depth >= depth:
                depth = kid_depth + 1
        if depth > MAX_DEPTH:
            raise TooDeep(node.span)
        depths[id(node)] = depth
        return node

    # literals: the token's text and span -----------------------------------------
    def number(self, text: str, span: ast.Span) -> ast.Literal:
        text = text.replace("_", "")
        value: Any
        if text.isdigit():
            value = int(text)
            if value >= 2**63:
                value = float(value)
        else:
            value = float(text)
        return ast.Literal(value, NUMBER, span=span)

    def string(self, text: str, span: ast.Span) -> ast.Literal:
        return ast.Literal(_unquote(text), STRING, span=span)

    def duration(self, text: str, span: ast.Span) -> ast.Literal:
        match = _DURATION.fullmatch(text.replace("_", ""))
        assert match is not None
        value = ast.DURATION_UNITS[match.group(2)] * float(match.group(1))
        return ast.Literal(value, DURATION, span=span)

    def date(self, text: str, span: ast.Span) -> ast.Literal:
        try:
            value = dt.date.fromisoformat(text)
        except ValueError as error:
            raise Invalid(span, f"invalid date '{text}': {error}") from None
        return ast.Literal(value, DATE, span=span)

    def timestamp(self, text: str, span: ast.Span) -> ast.Literal:
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError as error:
            raise Invalid(span, f"invalid timestamp '{text}': {error}") from None
        return ast.Literal(value, TIMESTAMP, span=span)

    def true(self, span: ast.Span) -> ast.Literal:
        return ast.Literal(True, BOOL, span=span)

    def false(self, span: ast.Span) -> ast.Literal:
        return ast.Literal(False, BOOL, span=span)

    def null(self, span: ast.Span) -> ast.Literal:
        return ast.Literal(None, NULL, span=span)

    def list(self, values: list[Any], span: ast.Span) -> ast.ListLiteral:
        return self._node(ast.ListLiteral(tuple(values), span=span), *values)

    def percent(self, text: str, number_span: ast.Span, span: ast.Span) -> Percent:
        return Percent(float(text.replace("_", "")), number_span, span)

    # names and calls ------------------------------------------------------------
    def name(self, text: str, span: ast.Span) -> ast.Name:
        if text.lower() in KEYWORDS:
            hint = None if text.lower() in ("and", "or", "not") else (
                f"a column named '{text}' can be written SOURCE.{text}")
            raise Invalid(span, f"unexpected keyword '{text}'; expected a value", hint)
        return ast.Name(text, span=span)

    def qualified_name(self, source: str, column: str, span: ast.Span) -> ast.Name:
        return ast.Name(column, source=source, span=span)

    def call(self, name: str, args: list[Any], span: ast.Span) -> Any:
        if name.lower() in ast.AGGREGATES:
            return self._aggregate(name.lower(), args, span)
        for arg in args:
            if isinstance(arg, (_Filtered, ast.Window)):
                what = "'where'" if isinstance(arg, _Filtered) else "a time window"
                raise Invalid(arg.span, f"{what} belongs in an aggregate over events, not in "
                                         f"{name}()", "like: count(orders where amount > 10, last 30d)")
        return self._node(ast.Call(name, tuple(args), span=span), *args)

    def _aggregate(self, function: str, args: list[Any], span: ast.Span) -> ast.Aggregate:
        """`count(orders where ..., last 30d)`: a source (or source.column), a window."""
        example = "orders.amount" if function not in ("count", "exists") else "orders"
        if not args:
            raise Invalid(span, f"{function}() needs an event source, like {function}({example})")
        first, *rest = args
        target, where = (first.target, first.where) if isinstance(first, _Filtered) else (first, None)
        if not isinstance(target, ast.Name):
            raise Invalid(target.span if hasattr(target, "span") else span,
                           f"the first argument of {function}() must be an event source or one of "
                           f"its columns, like {example}")
        window = None
        if rest:
            window = rest[0]
            if isinstance(window, _Filtered):
                raise Invalid(window.span, "'where' goes right after the source",
                               f"like: {function}({example} where ..., last 30d)")
            if not isinstance(window, ast.Window):
                hint = "a window is: last 30d, between 180d ago and 90d ago, since 2026-01-01, " \
                       "or between 2025-10-01 and 2025-12-31"
                if isinstance(window, ast.Literal) and window.type == DURATION:
                    hint = f"write it as: last {self._text_of(window)}"
                elif isinstance(window, _CONDITIONS):
                    hint = f"a condition on the events goes after 'where': " \
                           f"{function}({example if function in ('count', 'exists') else target.text} where ...)"
                raise Invalid(window.span, f"the second argument of {function}() must be a time "
                                            f"window", hint)
            if len(rest) > 1:
                extra = rest[1]
                raise Invalid(getattr(extra, "span", span),
                               f"{function}() takes an event source and at most one window")
        node = ast.Aggregate(function, target, where, window, span=span)
        return self._node(node, *([where] if where is not None else []))

    def _text_of(self, node: Any) -> str:
        value = node.value
        if value.seconds == 0 and value.microseconds == 0:
            return f"{value.days}d"
        return f"{value.total_seconds() / 3600:g}h"

    def filtered(self, target: Any, where: Any, span: ast.Span) -> _Filtered:
        return self._node(_Filtered(target, where, span), target, where)

    def _bound(self, bound: Lexeme) -> ast.Literal:
        kind = {"DURATION": self.duration, "DATE": self.date, "TIMESTAMP": self.timestamp}
        return kind[bound.kind](bound.text, bound.span)

    def window_word(self, word: Lexeme, value: Lexeme, span: ast.Span) -> ast.Window:
        """`last 30d` or `since 2026-01-01`."""
        bound = self._bound(value)
        keyword = word.text.lower()
        if keyword == "last" and value.kind == "DURATION":
            return ast.Window("last", bound, span=span)
        if keyword == "since" and value.kind != "DURATION":
            return ast.Window("since", bound, span=span)
        if keyword in ("last", "since"):
            hint = f"write: since {value.text}" if keyword == "last" else (
                f"write: last {value.text}")
            takes = "duration" if keyword == "last" else "date"
            raise Invalid(span, f"'{word.text}' takes a {takes}", hint)
        raise Invalid(word.span, f"unknown window '{word.text}'",
                       "a window is: last 30d, between 180d ago and 90d ago, since 2026-01-01, "
                       "or between 2025-10-01 and 2025-12-31")

    def window_ago(self, start: Lexeme, ago1: Lexeme, end: Lexeme, ago2: Lexeme,
                   span: ast.Span) -> ast.Window:
        """`between 180d ago and 90d ago`."""
        for word in (ago1, ago2):
            if word.text.lower() != "ago":
                raise Invalid(word.span, f"unexpected name '{word.text}'; expected 'ago'",
                               "write: between 180d ago and 90d ago")
        first, second = self._bound(start), self._bound(end)
        if first.value < second.value:
            raise Invalid(span, "the window ends before it starts",
                           f"write the longer time ago first: between {end.text} ago and "
                           f"{start.text} ago")
        return ast.Window("ago", first, second, span=span)

    def window_dates(self, start: Lexeme, end: Lexeme, span: ast.Span) -> ast.Window:
        """`between 2025-10-01 and 2025-12-31`."""
        first, second = self._bound(start), self._bound(end)
        low, high = first.value, second.value
        if type(low) is type(high) and low > high:
            raise Invalid(span, "the window ends before it starts",
                           f"write the earlier date first: between {end.text} and {start.text}")
        return ast.Window("dates", first, second, span=span)

    # operators ------------------------------------------------------------------
    def neg(self, operand: Any, span: ast.Span) -> Any:
        if isinstance(operand, ast.Literal) and operand.type is NUMBER:
            return ast.Literal(-operand.value, NUMBER, span=span)
        return self._node(ast.Negate(operand, span=span), operand)

    def arith(self, op: str, left: Any, right: Any, span: ast.Span) -> ast.Arithmetic:
        return self._node(ast.Arithmetic(op, left, right, span=span), left, right)

    def compare(self, op: str, left: Any, right: Any, span: ast.Span) -> ast.Compare:
        return self._node(ast.Compare(op, left, right, span=span), left, right)

    def _flat(self, cls: type, values: list[Any], span: ast.Span) -> Any:
        if len(values) == 1:
            return values[0]
        operands: list[Any] = []
        for value in values:
            operands.extend(value.operands if isinstance(value, cls) else [value])
        return self._node(cls(tuple(operands), span=span), *values)

    def or_(self, values: list[Any], span: ast.Span) -> ast.Or:
        return self._flat(ast.Or, values, span)

    def and_(self, values: list[Any], span: ast.Span) -> ast.And:
        return self._flat(ast.And, values, span)

    def not_(self, operand: Any, span: ast.Span) -> ast.Not:
        return self._node(ast.Not(operand, span=span), operand)

    def in_list(self, operand: Any, values: ast.ListLiteral, span: ast.Span,
                negated: bool = False) -> ast.InList:
        return self._node(ast.InList(operand, values, negated=negated, span=span),
                          operand, values)

    def between(self, operand: Any, low: Any, high: Any, span: ast.Span,
                negated: bool = False) -> ast.Between:
        node = ast.Between(operand, low, high, negated=negated, span=span)
        return self._node(node, operand, low, high)

    def is_null(self, operand: Any, span: ast.Span, negated: bool = False) -> ast.IsNull:
        return self._node(ast.IsNull(operand, negated=negated, span=span), operand)

    def string_test(self, op: str, operand: Any, pattern: Any, span: ast.Span) -> ast.StringTest:
        """`starts with` (op ``starts_with``), `ends with` (``ends_with``), `matches`."""
        return self._node(ast.StringTest(op, operand, pattern, span=span), operand, pattern)

    def contains(self, mode: str, operand: Any, value: Any, span: ast.Span) -> ast.Contains:
        """`contains` (mode ``one``), `contains any` (``any``), `contains all` (``all``)."""
        return self._node(ast.Contains(operand, value, mode=mode, span=span), operand, value)

    def rank(self, top: bool, operand: Any, percent: Percent, span: ast.Span) -> ast.Rank:
        """`in top N%` (top true) or `in bottom N%`."""
        if not 0 <= percent.value <= 100:
            raise Invalid(percent.number_span,
                           f"percentage must be between 0% and 100%, got {percent.value:g}%")
        return self._node(ast.Rank(operand, percent.value, top=top, span=span), operand)

    def within(self, operand: Any, duration: Any, span: ast.Span) -> ast.Within:
        return self._node(ast.Within(operand, duration, span=span), operand, duration)

    # statements -----------------------------------------------------------------
    def description(self, text: str) -> str:
        """A statement's description: the string token's text, unquoted."""
        return _unquote(text)

    def holdout(self, percent: Percent) -> float:
        if not 0 <= percent.value <= 100:
            raise Invalid(percent.number_span,
                          f"holdout must be between 0% and 100%, got {percent.value:g}%")
        return percent.value

    def _check_name(self, name: str, span: ast.Span) -> str:
        if name.lower() in KEYWORDS:
            raise Invalid(span, f"'{name}' is a keyword and cannot be a name")
        return name

    def segment(self, name: str, name_span: ast.Span, description: str | None, condition: Any,
                holdout: float | None) -> ast.Segment:
        self._check_name(name, name_span)
        return ast.Segment(name, condition, description, holdout, span=name_span)

    def arm(self, label: str, label_span: ast.Span, condition: Any) -> ast.Arm:
        """`LABEL: CONDITION`, or `LABEL: otherwise` with condition None."""
        return ast.Arm(self._check_name(label, label_span), condition, span=label_span)

    def segmentation(self, name: str, name_span: ast.Span, description: str | None,
                     arms: list[ast.Arm]) -> ast.Segmentation:
        self._check_name(name, name_span)
        return ast.Segmentation(name, tuple(arms), description, span=name_span)


#: Nodes that are conditions (an aggregate's second argument that should be its where).
_CONDITIONS = (ast.Compare, ast.InList, ast.Between, ast.IsNull, ast.StringTest, ast.Contains,
               ast.Within, ast.Not, ast.And, ast.Or)


@attrs.frozen
class _Filtered:
    """`SOURCE where CONDITION`, the first argument of an aggregate (before it is built)."""

    target: Any
    where: Any
    span: ast.Span


class TooDeep(Exception):
    def __init__(self, span: ast.Span) -> None:
        self.span = span


class Invalid(Exception):
    def __init__(self, span: ast.Span, message: str, hint: str | None = None) -> None:
        self.span = span
        self.message = message
        self.hint = hint


def _unquote(text: str) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape.startswith("u") and len(escape) == 5:
            return chr(int(escape[1:], 16))
        return _ESCAPES.get(escape, escape)

    return _ESCAPE.sub(replace, body)

