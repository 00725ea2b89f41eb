"""A hand-written parser for the statements the grammar accepts, the fast path of `parser`.

Lark's LALR parser spends about 10 µs of Python per token (its lexer and its parse loop),
so a 2 MB rule file took 5–20 s. This recursive-descent parser reads the same grammar
(grammar/rules.lark) with one regular expression for the tokens, and calls the same
`Builder` methods `lark_rules` calls, so the syntax tree, positions and every check
`Builder` makes are shared, not copied. Its tokens are plain lists (terminal, text, start
and end offset), not lark `Token` objects, and a node's span is that of its first token to
its last, which is what lark's items give (parentheses included).

It only ever succeeds on statements lark would parse to the same tree: anything it does
not expect — a syntax error, a keyword where lark's contextual lexer would read a name, a
problem `Builder` raises, nesting deep enough to exhaust the stack — makes it give up
(`NotFast`), and the caller parses that statement with lark, whose messages are the ones
users see. Its tokens are tried in lark's order (terminal priority, then width), so where
both accept a statement they read the same tokens.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from typing import Any

from segmint.language import ast
from segmint.language.builder import KEYWORDS, Builder, Invalid, Lexeme, Percent, TooDeep

__all__ = ["NotFast", "fast_parse"]


class NotFast(Exception):
    """The fast path cannot vouch for this statement: parse it with lark instead."""


# The terminals of grammar/rules.lark, in lark's order (priority, then width), each after
# the whitespace and comments lark ignores; keywords are read as NAME and looked up, as each
# keyword's pattern is the word with `\b` after it. NAME, the most common, is tried first:
# no other terminal starts with a letter or `_`, so the order among them is unchanged.
_TOKEN = re.compile(
    r"""(?:[ \t\f\r\n]+|\#[^\n]*)*
      (?:(?P<NAME>[A-Za-z_][A-Za-z0-9_]*)
      |(?P<TIMESTAMP>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)
      |(?P<DATE>\d{4}-\d{2}-\d{2}(?![\w]))
      |(?P<DURATION>\d[\d_]*(?:\.\d+)?(?:mo|h|d|w|y)(?![\w]))
      |(?P<NUMBER>(?:\d[\d_]*(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w]))
      |(?P<STRING>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      |(?P<COMP_OP>==|!=|<=|>=|<|>)
      |(?P<PUNCT>[-+*/%().,:])
      |(?P<END>\Z)
      |(?P<ERROR>(?s:.)))""",
    re.VERBOSE,
)

_KEYWORD_TYPES = {word: "_" + word.upper() for word in KEYWORDS}

_PUNCT_TYPES = {"+": "ADD_OP", "-": "ADD_OP", "*": "MUL_OP", "/": "MUL_OP", "%": "PERCENT",
                "(": "LPAR", ")": "RPAR", ".": "DOT", ",": "COMMA", ":": "COLON"}

#: The builder's method for each literal made from its token's text, and for each keyword
#: literal (made from its position only).
_TEXT_LITERALS = {"NUMBER": "number", "STRING": "string", "DURATION": "duration",
                  "DATE": "date", "TIMESTAMP": "timestamp"}
_WORD_LITERALS = {"_TRUE": "true", "_FALSE": "false", "_NULL": "null"}

_WINDOW_BOUNDS = frozenset(("DURATION", "DATE", "TIMESTAMP"))
_DATES = frozenset(("DATE", "TIMESTAMP"))

#: Each group of `_TOKEN` by number (`match.lastindex`), cheaper to look up than its name.
_GROUP_NAMES: tuple[str | None, ...] = tuple(
    {index: name for name, index in _TOKEN.groupindex.items()}.get(i) for i in range(_TOKEN.groups + 1))


def _tokens(text: str) -> tuple[list[str], list[str], list[int], list[int]]:
    """The statement's tokens as four lists — lark's terminal names, texts, start and end
    offsets — ending with an end marker (``$END``)."""
    kinds: list[str] = []
    texts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    keyword = _KEYWORD_TYPES.get
    punct = _PUNCT_TYPES.__getitem__
    names = _GROUP_NAMES
    for match in _TOKEN.finditer(text):
        group = match.lastindex
        kind = names[group]  # type: ignore[index]
        start, end = match.span(group)
        value = text[start:end]
        if kind == "NAME":
            kind = keyword(value.lower(), "NAME")
        elif kind == "PUNCT":
            kind = punct(value)
        elif kind == "END":
            break
        elif kind == "ERROR":
            raise NotFast
        kinds.append(kind)  # type: ignore[arg-type]
        texts.append(value)
        starts.append(start)
        ends.append(end)
    kinds.append("$END")
    texts.append("")
    starts.append(len(text))
    ends.append(len(text))
    return kinds, texts, starts, ends


def _line_starts(text: str) -> list[int]:
    """The offset each line of `text` starts at (lines end at "\\n", as lark counts them)."""
    starts = [0]
    newline = text.find("\n")
    while newline >= 0:
        starts.append(newline + 1)
        newline = text.find("\n", newline + 1)
    return starts


def fast_parse(text: str, builder: Builder) -> Any:
    """One statement's syntax tree, built by `builder`; `NotFast` where lark must parse it."""
    try:
        return _Parser(text, builder).statement()
    except (Invalid, TooDeep, RecursionError, IndexError):
        raise NotFast from None


class _Parser:
    """Recursive descent over one statement's tokens, mirroring grammar/rules.lark.

    `at` is the index of the next token; each rule notes the index it starts at, so the
    node it builds spans from that token to the last one it read (`_span`)."""

    __slots__ = ("kinds", "texts", "starts", "ends", "line_starts", "at", "b", "filename",
                 "line_offset", "pos_offset")

    def __init__(self, text: str, builder: Builder) -> None:
        self.kinds, self.texts, self.starts, self.ends = _tokens(text)
        self.line_starts = _line_starts(text)
        self.at = 0
        self.b = builder
        self.filename = builder.filename
        self.line_offset, self.pos_offset = builder.line_offset, builder.pos_offset

    # tokens -------------------------------------------------------------------------
    def _span(self, first: int, last: int) -> ast.Span:
        """The file's span from token `first` to token `last`, both included (what
        `Builder.span` makes, without a call more for each of the parse's 200,000 spans)."""
        start, end = self.starts[first], self.ends[last]
        line_starts = self.line_starts
        if len(line_starts) == 1:  # a one-line statement
            line = end_line = 1
            column, end_column = start + 1, end + 1
        else:
            line = bisect_right(line_starts, start)
            end_line = bisect_right(line_starts, self.starts[last])
            column = start - line_starts[line - 1] + 1
            end_column = end - line_starts[end_line - 1] + 1
        lines, offset = self.line_offset, self.pos_offset
        return ast.Span(self.filename, line + lines, column, end_line + lines, end_column,
                        start + offset, end + offset)

    def _to(self, first: int) -> ast.Span:
        """The span from token `first` to the last token read."""
        return self._span(first, self.at - 1)

    def _lexeme(self, index: int) -> Lexeme:
        return Lexeme(self.kinds[index], self.texts[index], self._span(index, index))

    def _expect(self, kind: str) -> int:
        """The index of the next token, which must be a `kind`."""
        at = self.at
        if self.kinds[at] != kind:
            raise NotFast
        self.at = at + 1
        return at

    # statements ---------------------------------------------------------------------
    def statement(self) -> Any:
        kind = self.kinds[0]
        if kind == "_SEGMENT":
            node = self._segment()
        elif kind == "_SEGMENTATION":
            node = self._segmentation()
        else:
            raise NotFast
        self._expect("$END")
        return node

    def _header(self) -> tuple[int, str | None]:
        """`segment NAME ["description"]:`: the name's index and the description."""
        self.at = 1
        name = self._expect("NAME")
        description = None
        if self.kinds[self.at] == "STRING":
            description = self.b.description(self.texts[self.at])
            self.at += 1
        self._expect("COLON")
        return name, description

    def _segment(self) -> Any:
        name, description = self._header()
        condition = self._expr()
        holdout = None
        if self.kinds[self.at] == "_HOLDOUT":
            self.at += 1
            holdout = self.b.holdout(self._percent())
        return self.b.segment(self.texts[name], self._span(name, name), description, condition,
                              holdout)

    def _segmentation(self) -> Any:
        name, description = self._header()
        arms = [self._arm()]
        while self.kinds[self.at] == "NAME":
            arms.append(self._arm())
        return self.b.segmentation(self.texts[name], self._span(name, name), description, arms)

    def _arm(self) -> Any:
        label = self._expect("NAME")
        self._expect("COLON")
        if self.kinds[self.at] == "_OTHERWISE":
            self.at += 1
            condition = None
        else:
            condition = self._expr()
        return self.b.arm(self.texts[label], self._span(label, label), condition)

    def _percent(self) -> Percent:
        number = self._expect("NUMBER")
        self._expect("PERCENT")
        return self.b.percent(self.texts[number], self._span(number, number),
                              self._span(number, number + 1))

    # conditions ---------------------------------------------------------------------
    def _expr(self, level: int = 0) -> Any:
        """A condition: `or` of `and`s (level 0), or the `and` of `not`s of level 1; one
        operand is itself, several are joined by the builder's ``or_`` or ``and_``."""
        word, build = _JOINED[level]
        innermost = level + 1 == len(_JOINED)
        first = self.at
        left = self._not() if innermost else self._expr(level + 1)
        if self.kinds[self.at] != word:
            return left
        operands = [left]
        while self.kinds[self.at] == word:
            self.at += 1
            operands.append(self._not() if innermost else self._expr(level + 1))
        return getattr(self.b, build)(operands, self._to(first))

    def _not(self) -> Any:
        first = self.at
        if self.kinds[first] == "_NOT":
            self.at += 1
            operand = self._not()
            return self.b.not_(operand, self._to(first))
        return self._predicate()

    def _predicate(self) -> Any:
        """A sum, or a sum and the predicate after it (whose word `_PREDICATES` reads)."""
        first = self.at
        left = self._sum()
        read = _PREDICATES.get(self.kinds[self.at])
        if read is None:
            return left
        self.at += 1
        return read(self, left, first)

    def _compare(self, left: Any, first: int) -> Any:
        op = self.texts[self.at - 1]
        right = self._sum()
        return self.b.compare(op, left, right, self._to(first))

    def _in(self, left: Any, first: int) -> Any:
        """`in (list)`, `in top N%`, `in bottom N%`."""
        after = self.kinds[self.at]
        if after in ("_TOP", "_BOTTOM"):
            self.at += 1
            percent = self._percent()
            return self.b.rank(after == "_TOP", left, percent, self._to(first))
        values = self._list()
        return self.b.in_list(left, values, self._to(first))

    def _negated(self, left: Any, first: int) -> Any:
        """`not in (list)`, `not between A and B`."""
        after = self.kinds[self.at]
        self.at += 1
        if after == "_IN":
            values = self._list()
            return self.b.in_list(left, values, self._to(first), negated=True)
        if after == "_BETWEEN":
            low, high = self._range()
            return self.b.between(left, low, high, self._to(first), negated=True)
        raise NotFast

    def _between(self, left: Any, first: int) -> Any:
        low, high = self._range()
        return self.b.between(left, low, high, self._to(first))

    def _range(self) -> tuple[Any, Any]:
        """`LOW and HIGH` after `between`."""
        low = self._sum()
        self._expect("_AND")
        return low, self._sum()

    def _is(self, left: Any, first: int) -> Any:
        """`is null`, `is not null`."""
        negated = self.kinds[self.at] == "_NOT"
        if negated:
            self.at += 1
        self._expect("_NULL")
        return self.b.is_null(left, self._to(first), negated=negated)

    def _starts(self, left: Any, first: int) -> Any:
        return self._string_test("starts_with", left, first)

    def _ends(self, left: Any, first: int) -> Any:
        return self._string_test("ends_with", left, first)

    def _matches(self, left: Any, first: int) -> Any:
        return self._string_test("matches", left, first)

    def _string_test(self, op: str, left: Any, first: int) -> Any:
        """The pattern of `starts with`, `ends with` (a `with` first) or `matches`."""
        if op != "matches":
            self._expect("_WITH")
        pattern = self._sum()
        return self.b.string_test(op, left, pattern, self._to(first))

    def _contains(self, left: Any, first: int) -> Any:
        """`contains X`, `contains any (list)`, `contains all (list)`."""
        after = self.kinds[self.at]
        if after in ("_ANY", "_ALL"):
            self.at += 1
            values = self._list()
            return self.b.contains(after[1:].lower(), left, values, self._to(first))
        value = self._sum()
        return self.b.contains("one", left, value, self._to(first))

    def _within(self, left: Any, first: int) -> Any:
        duration = self._sum()
        return self.b.within(left, duration, self._to(first))

    def _list(self) -> Any:
        first = self._expect("LPAR")
        values = [self._expr()]
        while self.kinds[self.at] == "COMMA":
            self.at += 1
            values.append(self._expr())
        self._expect("RPAR")
        return self.b.list(values, self._to(first))

    # arithmetic ---------------------------------------------------------------------
    def _sum(self, level: int = 0) -> Any:
        """A sum of products (level 0), or the product of atoms of level 1: each `+ -` or
        `* /` builds an ``arith`` node of what is to its left and the operand after it."""
        kind = _ARITHMETIC[level]
        innermost = level + 1 == len(_ARITHMETIC)
        first = self.at
        left = self._atom() if innermost else self._sum(level + 1)
        kinds = self.kinds
        while kinds[self.at] == kind:
            op = self.texts[self.at]
            self.at += 1
            right = self._atom() if innermost else self._sum(level + 1)
            left = self.b.arith(op, left, right, self._to(first))
        return left

    def _atom(self) -> Any:
        """A literal, a name, a call, `( condition )`, or a unary minus and its atom."""
        at = self.at
        kind = self.kinds[at]
        self.at = at + 1
        literal = _TEXT_LITERALS.get(kind)
        if literal is not None:
            return getattr(self.b, literal)(self.texts[at], self._span(at, at))
        if kind == "NAME":
            after = self.kinds[at + 1]
            if after == "DOT":
                return self._qualified_name(at)
            if after == "LPAR":
                return self._call(at)
            return self.b.name(self.texts[at], self._span(at, at))
        if kind == "LPAR":
            inner = self._expr()
            self._expect("RPAR")
            return inner
        word = _WORD_LITERALS.get(kind)
        if word is not None:
            return getattr(self.b, word)(self._span(at, at))
        if kind == "ADD_OP" and self.texts[at] == "-":
            operand = self._atom()
            return self.b.neg(operand, self._to(at))
        raise NotFast

    def _qualified_name(self, source: int) -> Any:
        """`source.column`; after the dot lark reads a keyword as a name."""
        column = source + 2
        kind = self.kinds[column]
        if kind != "NAME" and not kind.startswith("_"):
            raise NotFast
        self.at = column + 1
        return self.b.qualified_name(self.texts[source], self.texts[column],
                                     self._span(source, column))

    def _call(self, function: int) -> Any:
        self.at = function + 2  # after the '('
        args: list[Any] = []
        if self.kinds[self.at] != "RPAR":
            args.append(self._arg())
            while self.kinds[self.at] == "COMMA":
                self.at += 1
                args.append(self._arg())
        self._expect("RPAR")
        return self.b.call(self.texts[function], args, self._to(function))

    def _arg(self) -> Any:
        """An argument: a condition (`where` one after it), or an aggregate's window."""
        first = self.at
        kind = self.kinds[first]
        if kind == "_BETWEEN":
            return self._between_window()
        if kind == "NAME" and self.kinds[first + 1] in _WINDOW_BOUNDS:
            self.at = first + 2
            return self.b.window_word(self._lexeme(first), self._lexeme(first + 1),
                                      self._span(first, first + 1))
        target = self._expr()
        if self.kinds[self.at] == "_WHERE":
            self.at += 1
            where = self._expr()
            return self.b.filtered(target, where, self._to(first))
        return target

    def _between_window(self) -> Any:
        """`between 180d ago and 90d ago` or `between DATE and DATE`."""
        first = self.at
        start = first + 1
        self.at = start + 1
        kind = self.kinds[start]
        if kind == "DURATION":
            ago = self._expect("NAME")
            self._expect("_AND")
            end = self._expect("DURATION")
            ago_end = self._expect("NAME")
            return self.b.window_ago(self._lexeme(start), self._lexeme(ago), self._lexeme(end),
                                     self._lexeme(ago_end), self._to(first))
        if kind in _DATES:
            self._expect("_AND")
            end = self.at
            if self.kinds[end] not in _DATES:
                raise NotFast
            self.at = end + 1
            return self.b.window_dates(self._lexeme(start), self._lexeme(end),
                                       self._span(first, end))
        raise NotFast


#: The levels of `_Parser._expr`, loosest first: the word joining the operands, and the
#: builder's method joining them.
_JOINED = (("_OR", "or_"), ("_AND", "and_"))

#: The levels of `_Parser._sum`, loosest first: the operator's terminal.
_ARITHMETIC = ("ADD_OP", "MUL_OP")

#: What follows a sum in a predicate, by its first token: the reader of the rest.
_PREDICATES: dict[str, Callable[[_Parser, Any, int], Any]] = {
    "COMP_OP": _Parser._compare, "_IN": _Parser._in, "_NOT": _Parser._negated,
    "_BETWEEN": _Parser._between, "_IS": _Parser._is, "_STARTS": _Parser._starts,
    "_ENDS": _Parser._ends, "_CONTAINS": _Parser._contains, "_MATCHES": _Parser._matches,
    "_WITHIN": _Parser._within,
}
