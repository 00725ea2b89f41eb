"""The parse-time builder: AST nodes made while the LALR parser reduces, with positions.

It also refuses, with a message in the user's words, what the grammar accepts but the
language does not (keywords as names, a `where` outside an aggregate, a window that ends
before it starts, expressions nested deeper than `MAX_DEPTH`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import attrs
import lark

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


def rule_names() -> list[str]:
    """The names of the builder's rule callbacks, one per grammar rule it builds."""
    return [name for name, value in vars(Builder).items()
            if callable(value) and not name.startswith("_") and name != "begin"]


def _values(items: list[Any]) -> list[Any]:
    """The children that are not punctuation or keywords (the grammar keeps every token)."""
    return [item for item in items if not isinstance(item, lark.Token) or item.type in _KEPT]


#: Tokens that carry a value; every other token is punctuation or a keyword.
_KEPT = frozenset("NAME NUMBER STRING DURATION DATE TIMESTAMP COMP_OP ADD_OP MUL_OP".split())


class Builder:
    """Builds AST nodes while the parser reduces, with positions in the file.

    The parser keeps every token, so each node's span runs from its first token to its last;
    a parenthesised expression remembers the extent of its parentheses, so the node around
    it starts or ends there (the text of `(a or b) and c` is all of it). One builder serves
    one file's parse; `begin` sets where the statement being parsed sits in the file.
    """

    def __init__(self, filename: str = "<string>") -> None:
        self.filename = filename
        self.begin(0, 0)

    def begin(self, line_offset: int, pos_offset: int) -> None:
        """Start a statement at line `line_offset + 1`, offset `pos_offset` of the file."""
        self.line_offset = line_offset
        self.pos_offset = pos_offset
        self.depth: dict[int, int] = {}
        self.outer: dict[int, ast.Span] = {}  # id(node) -> its extent with parentheses

    def _token_span(self, token: lark.Token) -> ast.Span:
        return ast.Span(
            self.filename,
            token.line + self.line_offset,
            token.column,
            token.end_line + self.line_offset,
            token.end_column,
            token.start_pos + self.pos_offset,
            token.end_pos + self.pos_offset,
        )

    def _extent(self, item: Any) -> ast.Span:
        if isinstance(item, lark.Token):
            return self._token_span(item)
        if isinstance(item, tuple):  # a percent: (value, span of the number, span with '%')
            return item[2]
        return self.outer.get(id(item), item.span)

    def _span(self, items: list[Any]) -> ast.Span:
        # The hottest code of a parse: positions are read straight off the first and last
        # items (a token's own, or a node's extent), making no Span for either.
        first, last = items[0], items[-1]
        if isinstance(first, lark.Token):
            line, column, start = first.line + self.line_offset, first.column, \
                first.start_pos + self.pos_offset
        else:
            extent = self._extent(first)
            line, column, start = extent.line, extent.column, extent.start
        if isinstance(last, lark.Token):
            end_line, end_column, end = last.end_line + self.line_offset, last.end_column, \
                last.end_pos + self.pos_offset
        else:
            extent = self._extent(last)
            end_line, end_column, end = extent.end_line, extent.end_column, extent.end
        return ast.Span(self.filename, line, column, end_line, end_column, start, end)

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

    # literals -----------------------------------------------------------------
    def number(self, items: list[Any]) -> ast.Literal:
        text = str(items[0]).replace("_", "")
        value: Any
        if text.isdigit():
            value = int(text)
            if value >= 2**63:
                value = float(value)
        else:
            value = float(text)
        return ast.Literal(value, NUMBER, span=self._token_span(items[0]))

    def string(self, items: list[Any]) -> ast.Literal:
        return ast.Literal(_unquote(str(items[0])), STRING, span=self._token_span(items[0]))

    def duration(self, items: list[Any]) -> ast.Literal:
        text = str(items[0]).replace("_", "")
        match = _DURATION.fullmatch(text)
        assert match is not None
        value = ast.DURATION_UNITS[match.group(2)] * float(match.group(1))
        return ast.Literal(value, DURATION, span=self._token_span(items[0]))

    def date(self, items: list[Any]) -> ast.Literal:
        try:
            value = dt.date.fromisoformat(str(items[0]))
        except ValueError as error:
            raise Invalid(self._span(items), f"invalid date '{items[0]}': {error}") from None
        return ast.Literal(value, DATE, span=self._span(items))

    def timestamp(self, items: list[Any]) -> ast.Literal:
        try:
            value = dt.datetime.fromisoformat(str(items[0]))
        except ValueError as error:
            raise Invalid(self._span(items), f"invalid timestamp '{items[0]}': {error}") from None
        return ast.Literal(value, TIMESTAMP, span=self._span(items))

    def true(self, items: list[Any]) -> ast.Literal:
        return ast.Literal(True, BOOL, span=self._span(items))

    def false(self, items: list[Any]) -> ast.Literal:
        return ast.Literal(False, BOOL, span=self._span(items))

    def null(self, items: list[Any]) -> ast.Literal:
        return ast.Literal(None, NULL, span=self._span(items))

    def list(self, items: list[Any]) -> ast.ListLiteral:
        values = _values(items)
        return self._node(ast.ListLiteral(tuple(values), span=self._span(items)), *values)

    def percent(self, items: list[Any]) -> tuple[float, ast.Span, ast.Span]:
        value = float(str(items[0]).replace("_", ""))
        return value, self._token_span(items[0]), self._span(items)

    def atom(self, items: list[Any]) -> Any:
        """`( expr )`: the expression itself, remembering where its parentheses are."""
        inner = items[1]
        self.outer[id(inner)] = self._span(items)
        return inner

    # names and calls ------------------------------------------------------------
    def name(self, items: list[Any]) -> ast.Name:
        text = str(items[0])
        if text.lower() in KEYWORDS:
            hint = None if text.lower() in ("and", "or", "not") else (
                f"a column named '{text}' can be written SOURCE.{text}")
            raise Invalid(self._span(items), f"unexpected keyword '{text}'; expected a value",
                           hint)
        return ast.Name(text, span=self._token_span(items[0]))

    def qualified_name(self, items: list[Any]) -> ast.Name:
        source, column = _values(items)
        return ast.Name(str(column), source=str(source), span=self._span(items))

    def call(self, items: list[Any]) -> Any:
        function, *args = _values(items)
        name = str(function)
        if name.lower() in ast.AGGREGATES:
            return self._aggregate(name.lower(), args, items)
        for arg in args:
            if isinstance(arg, (_Filtered, ast.Window)):
                what = "'where'" if isinstance(arg, _Filtered) else "a time window"
                raise Invalid(arg.span, f"{what} belongs in an aggregate over events, not in "
                                         f"{name}()", "like: count(orders where amount > 10, last 30d)")
        return self._node(ast.Call(name, tuple(args), span=self._span(items)), *args)

    def _aggregate(self, function: str, args: list[Any], items: list[Any]) -> ast.Aggregate:
        """`count(orders where ..., last 30d)`: a source (or source.column), a window."""
        span = self._span(items)
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

    def filtered(self, items: list[Any]) -> _Filtered:
        target, where = _values(items)
        return self._node(_Filtered(target, where, self._span(items)), target, where)

    def _bound(self, token: lark.Token) -> ast.Literal:
        kind = {"DURATION": self.duration, "DATE": self.date, "TIMESTAMP": self.timestamp}
        return kind[token.type]([token])

    def window_word(self, items: list[Any]) -> ast.Window:
        word, value = items
        span = self._span(items)
        bound = self._bound(value)
        if word.lower() == "last" and value.type == "DURATION":
            return ast.Window("last", bound, span=span)
        if word.lower() == "since" and value.type != "DURATION":
            return ast.Window("since", bound, span=span)
        if word.lower() in ("last", "since"):
            hint = f"write: since {value}" if word.lower() == "last" else (
                f"write: last {value}")
            raise Invalid(span, f"'{word}' takes a {'duration' if word.lower() == 'last' else 'date'}",
                           hint)
        raise Invalid(self._token_span(word), f"unknown window '{word}'",
                       "a window is: last 30d, between 180d ago and 90d ago, since 2026-01-01, "
                       "or between 2025-10-01 and 2025-12-31")

    def window_ago(self, items: list[Any]) -> ast.Window:
        _, start, ago1, _, end, ago2 = items
        for word in (ago1, ago2):
            if word.lower() != "ago":
                raise Invalid(self._token_span(word), f"unexpected name '{word}'; expected 'ago'",
                               "write: between 180d ago and 90d ago")
        first, second = self._bound(start), self._bound(end)
        span = self._span(items)
        if first.value < second.value:
            raise Invalid(span, "the window ends before it starts",
                           f"write the longer time ago first: between {end} ago and {start} ago")
        return ast.Window("ago", first, second, span=span)

    def window_dates(self, items: list[Any]) -> ast.Window:
        _, start, _, end = items
        first, second = self._bound(start), self._bound(end)
        span = self._span(items)
        low, high = first.value, second.value
        if type(low) is type(high) and low > high:
            raise Invalid(span, "the window ends before it starts",
                           f"write the earlier date first: between {end} and {start}")
        return ast.Window("dates", first, second, span=span)

    # operators ------------------------------------------------------------------
    def neg(self, items: list[Any]) -> Any:
        operand = items[-1]
        if isinstance(operand, ast.Literal) and operand.type is NUMBER:
            return ast.Literal(-operand.value, NUMBER, span=self._span(items))
        return self._node(ast.Negate(operand, span=self._span(items)), operand)

    def arith(self, items: list[Any]) -> ast.Arithmetic:
        left, op, right = items
        return self._node(ast.Arithmetic(str(op), left, right, span=self._span(items)),
                          left, right)

    def compare(self, items: list[Any]) -> ast.Compare:
        left, op, right = items
        return self._node(ast.Compare(str(op), left, right, span=self._span(items)), left, right)

    def _flat(self, cls: type, items: list[Any]) -> Any:
        values = _values(items)
        if len(values) == 1:
            return values[0]
        operands: list[Any] = []
        for value in values:
            operands.extend(value.operands if isinstance(value, cls) else [value])
        return self._node(cls(tuple(operands), span=self._span(items)), *values)

    def or_(self, items: list[Any]) -> ast.Or:
        return self._flat(ast.Or, items)

    def and_(self, items: list[Any]) -> ast.And:
        return self._flat(ast.And, items)

    def not_(self, items: list[Any]) -> ast.Not:
        return self._node(ast.Not(items[-1], span=self._span(items)), items[-1])

    def in_list(self, items: list[Any]) -> ast.InList:
        operand, values = _values(items)
        return self._node(ast.InList(operand, values, span=self._span(items)), operand, values)

    def not_in_list(self, items: list[Any]) -> ast.InList:
        operand, values = _values(items)
        node = ast.InList(operand, values, negated=True, span=self._span(items))
        return self._node(node, operand, values)

    def between(self, items: list[Any]) -> ast.Between:
        values = _values(items)
        return self._node(ast.Between(*values, span=self._span(items)), *values)

    def not_between(self, items: list[Any]) -> ast.Between:
        values = _values(items)
        return self._node(ast.Between(*values, negated=True, span=self._span(items)), *values)

    def is_null(self, items: list[Any]) -> ast.IsNull:
        return self._node(ast.IsNull(items[0], span=self._span(items)), items[0])

    def is_not_null(self, items: list[Any]) -> ast.IsNull:
        return self._node(ast.IsNull(items[0], negated=True, span=self._span(items)), items[0])

    def _string_test(self, op: str, items: list[Any]) -> ast.StringTest:
        operand, pattern = _values(items)
        node = ast.StringTest(op, operand, pattern, span=self._span(items))
        return self._node(node, operand, pattern)

    def starts_with(self, items: list[Any]) -> ast.StringTest:
        return self._string_test("starts_with", items)

    def ends_with(self, items: list[Any]) -> ast.StringTest:
        return self._string_test("ends_with", items)

    def matches(self, items: list[Any]) -> ast.StringTest:
        return self._string_test("matches", items)

    def _contains(self, mode: str, items: list[Any]) -> ast.Contains:
        operand, value = _values(items)
        node = ast.Contains(operand, value, mode=mode, span=self._span(items))
        return self._node(node, operand, value)

    def contains(self, items: list[Any]) -> ast.Contains:
        return self._contains("one", items)

    def contains_any(self, items: list[Any]) -> ast.Contains:
        return self._contains("any", items)

    def contains_all(self, items: list[Any]) -> ast.Contains:
        return self._contains("all", items)

    def _rank(self, top: bool, items: list[Any]) -> ast.Rank:
        operand, (percent, percent_span, _) = _values(items)
        if not 0 <= percent <= 100:
            raise Invalid(percent_span,
                           f"percentage must be between 0% and 100%, got {percent:g}%")
        return self._node(ast.Rank(operand, percent, top=top, span=self._span(items)), operand)

    def in_top(self, items: list[Any]) -> ast.Rank:
        return self._rank(True, items)

    def in_bottom(self, items: list[Any]) -> ast.Rank:
        return self._rank(False, items)

    def within(self, items: list[Any]) -> ast.Within:
        operand, duration = _values(items)
        return self._node(ast.Within(operand, duration, span=self._span(items)), operand, duration)

    # statements -----------------------------------------------------------------
    def description(self, items: list[Any]) -> _Description:
        return _Description(_unquote(str(items[0])))

    def holdout(self, items: list[Any]) -> _Holdout:
        percent, span, _ = items[-1]
        if not 0 <= percent <= 100:
            raise Invalid(span, f"holdout must be between 0% and 100%, got {percent:g}%")
        return _Holdout(percent)

    def _check_name(self, token: lark.Token) -> str:
        if str(token).lower() in KEYWORDS:
            raise Invalid(self._token_span(token), f"'{token}' is a keyword and cannot be a name")
        return str(token)

    def segment(self, items: list[Any]) -> ast.Segment:
        name = items[1]
        self._check_name(name)
        description = holdout = condition = None
        for item in items[2:]:  # one pass: this runs once per statement of a large file
            if isinstance(item, _Description):
                description = item.text
            elif isinstance(item, _Holdout):
                holdout = item.percent
            elif condition is None and not isinstance(item, lark.Token):
                condition = item
        return ast.Segment(str(name), condition, description, holdout,
                           span=self._token_span(name))

    def arm(self, items: list[Any]) -> ast.Arm:
        return ast.Arm(self._check_name(items[0]), items[-1], span=self._token_span(items[0]))

    def otherwise(self, items: list[Any]) -> ast.Arm:
        return ast.Arm(self._check_name(items[0]), None, span=self._token_span(items[0]))

    def segmentation(self, items: list[Any]) -> ast.Segmentation:
        name = items[1]
        self._check_name(name)
        description = next((i for i in items if isinstance(i, _Description)), None)
        arms = tuple(i for i in items if isinstance(i, ast.Arm))
        return ast.Segmentation(str(name), arms, description and description.text,
                                span=self._token_span(name))

    def start(self, items: list[Any]) -> Any:
        return items[0]


#: Nodes that are conditions (an aggregate's second argument that should be its where).
_CONDITIONS = (ast.Compare, ast.InList, ast.Between, ast.IsNull, ast.StringTest, ast.Contains,
               ast.Within, ast.Not, ast.And, ast.Or)


@attrs.frozen
class _Filtered:
    """`SOURCE where CONDITION`, the first argument of an aggregate (before it is built)."""

    target: Any
    where: Any
    span: ast.Span


@attrs.frozen
class _Description:
    text: str


@attrs.frozen
class _Holdout:
    percent: float



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

