"""A hand-written parser for the statements the grammar accepts, the fast path of `parser`.

Lark's LALR parser spends about 10 µs of Python per token (its lexer and its parse loop),
so a 2 MB rule file took 5–20 s. This recursive-descent parser reads the same grammar
(grammar/rules.lark) with one regular expression for the tokens, and hands the same items
(lark tokens with the same types and positions, and the nodes already built) to the same
`Builder` callbacks, so the syntax tree, positions and every check `Builder` makes are
shared, not copied.

It only ever succeeds on statements lark would parse to the same tree: anything it does
not expect — a syntax error, a keyword where lark's contextual lexer would read a name, a
problem `Builder` raises, nesting deep enough to exhaust the stack — makes it give up
(`NotFast`), and the caller parses that statement with lark, whose messages are the ones
users see. Its tokens are tried in lark's order (terminal priority, then width), so where
both accept a statement they read the same tokens.
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token

from segmint.language.builder import KEYWORDS, Builder, Invalid, TooDeep

__all__ = ["NotFast", "fast_parse"]


class NotFast(Exception):
    """The fast path cannot vouch for this statement: parse it with lark instead."""


# The terminals of grammar/rules.lark, in lark's order (priority, then width), each after
# the whitespace and comments lark ignores; keywords are read as NAME and looked up, as each
# keyword's pattern is the word with `\b` after it.
_TOKEN = re.compile(
    r"""(?:[ \t\f\r\n]+|\#[^\n]*)*
      (?:(?P<TIMESTAMP>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)
      |(?P<DATE>\d{4}-\d{2}-\d{2}(?![\w]))
      |(?P<DURATION>\d[\d_]*(?:\.\d+)?(?:mo|h|d|w|y)(?![\w]))
      |(?P<NUMBER>(?:\d[\d_]*(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w]))
      |(?P<STRING>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      |(?P<NAME>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<COMP_OP>==|!=|<=|>=|<|>)
      |(?P<PUNCT>[-+*/%().,:])
      |(?P<END>\Z)
      |(?P<ERROR>(?s:.)))""",
    re.VERBOSE,
)

_KEYWORD_TYPES = {word: "_" + word.upper() for word in KEYWORDS}

_PUNCT_TYPES = {"+": "ADD_OP", "-": "ADD_OP", "*": "MUL_OP", "/": "MUL_OP", "%": "PERCENT",
                "(": "LPAR", ")": "RPAR", ".": "DOT", ",": "COMMA", ":": "COLON"}

_LITERALS = {"NUMBER": "number", "STRING": "string", "DURATION": "duration", "DATE": "date",
             "TIMESTAMP": "timestamp", "_TRUE": "true", "_FALSE": "false", "_NULL": "null"}

_WINDOW_BOUNDS = frozenset(("DURATION", "DATE", "TIMESTAMP"))
_DATES = frozenset(("DATE", "TIMESTAMP"))

_END = Token("$END", "")


#: Each group of `_TOKEN` by number (`match.lastindex`), cheaper to look up than its name.
_GROUP_NAMES: tuple[str | None, ...] = tuple(
    {index: name for name, index in _TOKEN.groupindex.items()}.get(i) for i in range(_TOKEN.groups + 1))


def _tokens(text: str) -> list[Token]:
    """The statement's tokens with lark's types and positions, then an end marker."""
    tokens: list[Token] = []
    append = tokens.append
    new = Token._future_new
    keyword = _KEYWORD_TYPES.get
    punct = _PUNCT_TYPES.__getitem__
    names = _GROUP_NAMES
    line, line_start = 1, 0
    newline = text.find("\n")  # the next line end: a token after it starts a later line
    for match in _TOKEN.finditer(text):
        group = match.lastindex
        start = match.start(group)
        if start > newline >= 0:  # lines end in the whitespace before a token
            line += text.count("\n", match.start(), start)
            line_start = text.rindex("\n", 0, start) + 1
            newline = text.find("\n", start)
        end = match.end(group)
        kind = names[group]
        if kind == "NAME":
            value = text[start:end]
            kind = keyword(value.lower(), "NAME")
        elif kind == "PUNCT":
            value = text[start]
            kind = punct(value)
        elif kind == "END":
            break
        elif kind == "ERROR":
            raise NotFast
        else:
            value = text[start:end]
        column = start - line_start + 1
        append(new(kind, value, start, line, column, line, column + end - start, end))
    append(_END)
    return tokens


def fast_parse(text: str, builder: Builder) -> Any:
    """One statement's syntax tree, built by `builder`; `NotFast` where lark must parse it."""
    try:
        return _Parser(_tokens(text), builder).statement()
    except (Invalid, TooDeep, RecursionError, IndexError):
        raise NotFast from None


class _Parser:
    """Recursive descent over one statement's tokens, mirroring grammar/rules.lark."""

    __slots__ = ("tokens", "at", "b")

    def __init__(self, tokens: list[Token], builder: Builder) -> None:
        self.tokens = tokens
        self.at = 0
        self.b = builder

    def _peek(self) -> str:
        return self.tokens[self.at].type

    def _take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _expect(self, kind: str) -> Token:
        token = self.tokens[self.at]
        if token.type != kind:
            raise NotFast
        self.at += 1
        return token

    # statements ---------------------------------------------------------------------
    def statement(self) -> Any:
        kind = self._peek()
        if kind == "_SEGMENT":
            node = self._segment()
        elif kind == "_SEGMENTATION":
            node = self._segmentation()
        else:
            raise NotFast
        self._expect("$END")
        return node

    def _header(self) -> list[Any]:
        items: list[Any] = [self._take(), self._expect("NAME")]
        if self._peek() == "STRING":
            items.append(self.b.description([self._take()]))
        items.append(self._expect("COLON"))
        return items

    def _segment(self) -> Any:
        items = self._header()
        items.append(self._expr())
        if self._peek() == "_HOLDOUT":
            word = self._take()
            items.append(self.b.holdout([word, self._percent()]))
        return self.b.segment(items)

    def _segmentation(self) -> Any:
        items = self._header()
        items.append(self._arm())
        while self._peek() == "NAME":
            items.append(self._arm())
        return self.b.segmentation(items)

    def _arm(self) -> Any:
        name, colon = self._expect("NAME"), self._expect("COLON")
        if self._peek() == "_OTHERWISE":
            return self.b.otherwise([name, colon, self._take()])
        return self.b.arm([name, colon, self._expr()])

    def _percent(self) -> Any:
        number = self._expect("NUMBER")
        return self.b.percent([number, self._expect("PERCENT")])

    # conditions ---------------------------------------------------------------------
    def _expr(self) -> Any:
        first = self._and()
        if self._peek() != "_OR":
            return first
        items = [first]
        while self._peek() == "_OR":
            items.append(self._take())
            items.append(self._and())
        return self.b.or_(items)

    def _and(self) -> Any:
        first = self._not()
        if self._peek() != "_AND":
            return first
        items = [first]
        while self._peek() == "_AND":
            items.append(self._take())
            items.append(self._not())
        return self.b.and_(items)

    def _not(self) -> Any:
        if self._peek() == "_NOT":
            word = self._take()
            return self.b.not_([word, self._not()])
        return self._predicate()

    def _predicate(self) -> Any:  # noqa: C901 - one branch per predicate of the grammar
        left = self._sum()
        kind = self._peek()
        b = self.b
        if kind == "COMP_OP":
            op = self._take()
            return b.compare([left, op, self._sum()])
        if kind == "_IN":
            word = self._take()
            after = self._peek()
            if after in ("_TOP", "_BOTTOM"):
                which = self._take()
                items = [left, word, which, self._percent()]
                return b.in_top(items) if after == "_TOP" else b.in_bottom(items)
            return b.in_list([left, word, self._list()])
        if kind == "_NOT":
            word = self._take()
            after = self._peek()
            if after == "_IN":
                return b.not_in_list([left, word, self._take(), self._list()])
            if after == "_BETWEEN":
                return b.not_between([left, word, *self._between()])
            raise NotFast
        if kind == "_BETWEEN":
            return b.between([left, *self._between()])
        if kind == "_IS":
            word = self._take()
            if self._peek() == "_NOT":
                negation = self._take()
                return b.is_not_null([left, word, negation, self._expect("_NULL")])
            return b.is_null([left, word, self._expect("_NULL")])
        if kind in ("_STARTS", "_ENDS"):
            word = self._take()
            items = [left, word, self._expect("_WITH"), self._sum()]
            return b.starts_with(items) if kind == "_STARTS" else b.ends_with(items)
        if kind == "_CONTAINS":
            word = self._take()
            after = self._peek()
            if after == "_ANY":
                return b.contains_any([left, word, self._take(), self._list()])
            if after == "_ALL":
                return b.contains_all([left, word, self._take(), self._list()])
            return b.contains([left, word, self._sum()])
        if kind == "_MATCHES":
            word = self._take()
            return b.matches([left, word, self._sum()])
        if kind == "_WITHIN":
            word = self._take()
            return b.within([left, word, self._sum()])
        return left

    def _between(self) -> list[Any]:
        """`between LOW and HIGH`: its items (the caller has the operand and any `not`)."""
        word = self._expect("_BETWEEN")
        low = self._sum()
        conjunction = self._expect("_AND")
        return [word, low, conjunction, self._sum()]

    def _list(self) -> Any:
        items: list[Any] = [self._expect("LPAR"), self._expr()]
        while self._peek() == "COMMA":
            items.append(self._take())
            items.append(self._expr())
        items.append(self._expect("RPAR"))
        return self.b.list(items)

    # arithmetic ---------------------------------------------------------------------
    def _sum(self) -> Any:
        left = self._product()
        while self._peek() == "ADD_OP":
            op = self._take()
            left = self.b.arith([left, op, self._product()])
        return left

    def _product(self) -> Any:
        left = self._unary()
        while self._peek() == "MUL_OP":
            op = self._take()
            left = self.b.arith([left, op, self._unary()])
        return left

    def _unary(self) -> Any:
        token = self.tokens[self.at]
        if token.type == "ADD_OP" and token.value == "-":
            self.at += 1
            minus = Token("MINUS", "-", token.start_pos, token.line, token.column,
                          token.end_line, token.end_column, token.end_pos)
            return self.b.neg([minus, self._unary()])
        return self._atom()

    def _atom(self) -> Any:
        token = self._take()
        kind = token.type
        literal = _LITERALS.get(kind)
        if literal is not None:
            return getattr(self.b, literal)([token])
        if kind == "NAME":
            after = self._peek()
            if after == "DOT":
                dot = self._take()
                column = self._take()
                if column.type != "NAME":
                    if not column.type.startswith("_"):  # after '.', lark reads a keyword as a name
                        raise NotFast
                    column = Token("NAME", column.value, column.start_pos, column.line,
                                   column.column, column.end_line, column.end_column,
                                   column.end_pos)
                return self.b.qualified_name([token, dot, column])
            if after == "LPAR":
                return self._call(token)
            return self.b.name([token])
        if kind == "LPAR":
            inner = self._expr()
            return self.b.atom([token, inner, self._expect("RPAR")])
        raise NotFast

    def _call(self, function: Token) -> Any:
        items: list[Any] = [function, self._take()]
        if self._peek() != "RPAR":
            items.append(self._arg())
            while self._peek() == "COMMA":
                items.append(self._take())
                items.append(self._arg())
        items.append(self._expect("RPAR"))
        return self.b.call(items)

    def _arg(self) -> Any:
        token = self.tokens[self.at]
        if token.type == "_BETWEEN":
            self.at += 1
            start = self._take()
            if start.type == "DURATION":
                ago = self._expect("NAME")
                conjunction = self._expect("_AND")
                end = self._expect("DURATION")
                return self.b.window_ago([token, start, ago, conjunction, end,
                                          self._expect("NAME")])
            if start.type in _DATES:
                conjunction = self._expect("_AND")
                end = self._take()
                if end.type not in _DATES:
                    raise NotFast
                return self.b.window_dates([token, start, conjunction, end])
            raise NotFast
        if token.type == "NAME" and self.tokens[self.at + 1].type in _WINDOW_BOUNDS:
            self.at += 2
            return self.b.window_word([token, self.tokens[self.at - 1]])
        target = self._expr()
        if self._peek() == "_WHERE":
            word = self._take()
            return self.b.filtered([target, word, self._expr()])
        return target
