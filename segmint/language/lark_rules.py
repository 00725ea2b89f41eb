"""The grammar's rule callbacks for lark: a rule's items to a `Builder` call.

Lark keeps every token (keywords and punctuation too), so each node's span runs from its
first item to its last; a parenthesised expression remembers the extent of its
parentheses, so the node around it starts or ends there (the text of `(a or b) and c` is
all of it). Each callback picks the values out of its items, works out the span, and hands
both to the builder, which makes the node.
"""

from __future__ import annotations

from typing import Any

import attrs
import lark

from segmint.language import ast
from segmint.language.builder import Builder, Lexeme, Percent

__all__ = ["LarkRules", "rule_names"]

#: Tokens that carry a value; every other token is punctuation or a keyword.
_KEPT = frozenset("NAME NUMBER STRING DURATION DATE TIMESTAMP COMP_OP ADD_OP MUL_OP".split())


def rule_names() -> list[str]:
    """The names of the grammar rules the callbacks build, one callback each."""
    return [name for name, value in vars(LarkRules).items()
            if callable(value) and not name.startswith("_") and name != "begin"]


def _values(items: list[Any]) -> list[Any]:
    """The children that are not punctuation or keywords, tokens as their text."""
    return [str(item) if isinstance(item, lark.Token) else item for item in items
            if not isinstance(item, lark.Token) or item.type in _KEPT]


@attrs.frozen
class _Description:
    text: str


@attrs.frozen
class _Holdout:
    percent: float


class LarkRules:
    """One callback per grammar rule, each taking the rule's items; one per file's parse."""

    def __init__(self, builder: Builder) -> None:
        self.b = builder
        self.outer: dict[int, ast.Span] = {}  # id(node) -> its extent with parentheses

    def begin(self, line_offset: int, pos_offset: int) -> None:
        """Start a statement at line `line_offset + 1`, offset `pos_offset` of the file."""
        self.b.begin(line_offset, pos_offset)
        self.outer = {}

    # positions ------------------------------------------------------------------
    def _token_span(self, token: lark.Token) -> ast.Span:
        return self.b.span(token.line, token.column, token.end_line, token.end_column,
                           token.start_pos, token.end_pos)

    def _lexeme(self, token: lark.Token) -> Lexeme:
        return Lexeme(token.type, str(token), self._token_span(token))

    def _extent(self, item: Any) -> ast.Span:
        if isinstance(item, lark.Token):
            return self._token_span(item)
        if isinstance(item, Percent):
            return item.span
        return self.outer.get(id(item), item.span)

    def _span(self, items: list[Any]) -> ast.Span:
        first, last = self._extent(items[0]), self._extent(items[-1])
        return ast.Span(first.filename, first.line, first.column, last.end_line,
                        last.end_column, first.start, last.end)

    # literals -------------------------------------------------------------------
    def number(self, items: list[Any]) -> ast.Literal:
        return self.b.number(str(items[0]), self._token_span(items[0]))

    def string(self, items: list[Any]) -> ast.Literal:
        return self.b.string(str(items[0]), self._token_span(items[0]))

    def duration(self, items: list[Any]) -> ast.Literal:
        return self.b.duration(str(items[0]), self._token_span(items[0]))

    def date(self, items: list[Any]) -> ast.Literal:
        return self.b.date(str(items[0]), self._token_span(items[0]))

    def timestamp(self, items: list[Any]) -> ast.Literal:
        return self.b.timestamp(str(items[0]), self._token_span(items[0]))

    def true(self, items: list[Any]) -> ast.Literal:
        return self.b.true(self._span(items))

    def false(self, items: list[Any]) -> ast.Literal:
        return self.b.false(self._span(items))

    def null(self, items: list[Any]) -> ast.Literal:
        return self.b.null(self._span(items))

    def list(self, items: list[Any]) -> ast.ListLiteral:
        return self.b.list(_values(items), self._span(items))

    def percent(self, items: list[Any]) -> Percent:
        return self.b.percent(str(items[0]), self._token_span(items[0]), self._span(items))

    def atom(self, items: list[Any]) -> Any:
        """`( expr )`: the expression itself, remembering where its parentheses are."""
        inner = items[1]
        self.outer[id(inner)] = self._span(items)
        return inner

    # names and calls ------------------------------------------------------------
    def name(self, items: list[Any]) -> ast.Name:
        return self.b.name(str(items[0]), self._token_span(items[0]))

    def qualified_name(self, items: list[Any]) -> ast.Name:
        source, column = _values(items)
        return self.b.qualified_name(source, column, self._span(items))

    def call(self, items: list[Any]) -> Any:
        function, *args = _values(items)
        return self.b.call(function, args, self._span(items))

    def filtered(self, items: list[Any]) -> Any:
        target, where = _values(items)
        return self.b.filtered(target, where, self._span(items))

    def window_word(self, items: list[Any]) -> ast.Window:
        word, value = items
        return self.b.window_word(self._lexeme(word), self._lexeme(value), self._span(items))

    def window_ago(self, items: list[Any]) -> ast.Window:
        _, start, ago1, _, end, ago2 = items
        return self.b.window_ago(self._lexeme(start), self._lexeme(ago1), self._lexeme(end),
                                 self._lexeme(ago2), self._span(items))

    def window_dates(self, items: list[Any]) -> ast.Window:
        _, start, _, end = items
        return self.b.window_dates(self._lexeme(start), self._lexeme(end), self._span(items))

    # operators ------------------------------------------------------------------
    def neg(self, items: list[Any]) -> Any:
        return self.b.neg(items[-1], self._span(items))

    def arith(self, items: list[Any]) -> ast.Arithmetic:
        left, op, right = items
        return self.b.arith(str(op), left, right, self._span(items))

    def compare(self, items: list[Any]) -> ast.Compare:
        left, op, right = items
        return self.b.compare(str(op), left, right, self._span(items))

    def or_(self, items: list[Any]) -> Any:
        return self.b.or_(_values(items), self._span(items))

    def and_(self, items: list[Any]) -> Any:
        return self.b.and_(_values(items), self._span(items))

    def not_(self, items: list[Any]) -> ast.Not:
        return self.b.not_(items[-1], self._span(items))

    def in_list(self, items: list[Any]) -> ast.InList:
        return self.b.in_list(*_values(items), self._span(items))

    def not_in_list(self, items: list[Any]) -> ast.InList:
        return self.b.in_list(*_values(items), self._span(items), negated=True)

    def between(self, items: list[Any]) -> ast.Between:
        return self.b.between(*_values(items), self._span(items))

    def not_between(self, items: list[Any]) -> ast.Between:
        return self.b.between(*_values(items), self._span(items), negated=True)

    def is_null(self, items: list[Any]) -> ast.IsNull:
        return self.b.is_null(items[0], self._span(items))

    def is_not_null(self, items: list[Any]) -> ast.IsNull:
        return self.b.is_null(items[0], self._span(items), negated=True)

    def starts_with(self, items: list[Any]) -> ast.StringTest:
        return self.b.string_test("starts_with", *_values(items), self._span(items))

    def ends_with(self, items: list[Any]) -> ast.StringTest:
        return self.b.string_test("ends_with", *_values(items), self._span(items))

    def matches(self, items: list[Any]) -> ast.StringTest:
        return self.b.string_test("matches", *_values(items), self._span(items))

    def contains(self, items: list[Any]) -> ast.Contains:
        return self.b.contains("one", *_values(items), self._span(items))

    def contains_any(self, items: list[Any]) -> ast.Contains:
        return self.b.contains("any", *_values(items), self._span(items))

    def contains_all(self, items: list[Any]) -> ast.Contains:
        return self.b.contains("all", *_values(items), self._span(items))

    def in_top(self, items: list[Any]) -> ast.Rank:
        return self.b.rank(True, *_values(items), self._span(items))

    def in_bottom(self, items: list[Any]) -> ast.Rank:
        return self.b.rank(False, *_values(items), self._span(items))

    def within(self, items: list[Any]) -> ast.Within:
        return self.b.within(*_values(items), self._span(items))

    # statements -----------------------------------------------------------------
    def description(self, items: list[Any]) -> _Description:
        return _Description(self.b.description(str(items[0])))

    def holdout(self, items: list[Any]) -> _Holdout:
        return _Holdout(self.b.holdout(items[-1]))

    def segment(self, items: list[Any]) -> ast.Segment:
        name = items[1]
        description = holdout = condition = None
        for item in items[2:]:
            if isinstance(item, _Description):
                description = item.text
            elif isinstance(item, _Holdout):
                holdout = item.percent
            elif condition is None and not isinstance(item, lark.Token):
                condition = item
        return self.b.segment(str(name), self._token_span(name), description, condition, holdout)

    def arm(self, items: list[Any]) -> ast.Arm:
        return self.b.arm(str(items[0]), self._token_span(items[0]), items[-1])

    def otherwise(self, items: list[Any]) -> ast.Arm:
        return self.b.arm(str(items[0]), self._token_span(items[0]), None)

    def segmentation(self, items: list[Any]) -> ast.Segmentation:
        name = items[1]
        description = next((i.text for i in items if isinstance(i, _Description)), None)
        arms = [i for i in items if isinstance(i, ast.Arm)]
        return self.b.segmentation(str(name), self._token_span(name), description, arms)

    def start(self, items: list[Any]) -> Any:
        return items[0]
