"""Rule files to syntax trees.

A file is first cut into statements at their header lines (`segment ...`,
`segmentation ...`); each statement is parsed on its own with the packaged LALR grammar, so
one bad rule does not hide the errors of the next, and a huge file never builds one huge
parse. Lark's errors become `RuleError` diagnostics with the spec's format.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from functools import cache
from importlib import resources
from typing import Any

import lark
import attrs
from lark import Lark, Transformer

from segmint.language import ast
from segmint.errors import Diagnostic, RuleError
from segmint.language.types import BOOL, DATE, DURATION, NULL, NUMBER, STRING, TIMESTAMP

#: Deeper expressions are refused: every later pass may recurse this far.
MAX_DEPTH = 200
#: Larger rule files are refused up front, so parsing time stays bounded (about 10 s).
MAX_FILE_BYTES = 2 * 1024 * 1024

KEYWORDS = frozenset(
    "segment segmentation holdout otherwise or and not in between is null starts ends with "
    "contains any all matches top bottom within true false where".split()
)

_HEADER = re.compile(r"^[ \t]*(segmentation|segment)(?=[ \t\"':]|$)", re.IGNORECASE)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}

_TOKEN_NAMES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "DURATION": "a duration",
    "DATE": "a date",
    "TIMESTAMP": "a timestamp",
    "COMP_OP": "a comparison",
    "ADD_OP": "'+' or '-'",
    "MUL_OP": "'*' or '/'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COLON": "':'",
    "COMMA": "','",
    "DOT": "'.'",
    "PERCENT": "'%'",
    "MINUS": "'-'",
    "$END": "the end of the rule",
}


@cache
def _parser() -> Lark:
    """The LALR parser; it builds AST nodes as it reduces (no parse tree, no second pass)."""
    grammar = resources.files("segmint.language").joinpath("grammar/rules.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", keep_all_tokens=True, maybe_placeholders=False,
                transformer=_BUILDER)


def _token_name(kind: str) -> str:
    if kind in _TOKEN_NAMES:
        return _TOKEN_NAMES[kind]
    if kind.startswith("_") and kind[1:].isupper():
        return repr(kind[1:].lower())
    return kind.lower()


def _values(items: list[Any]) -> list[Any]:
    """The children that are not punctuation or keywords (the grammar keeps every token)."""
    return [item for item in items if not isinstance(item, lark.Token) or item.type in _KEPT]


#: Tokens that carry a value; every other token is punctuation or a keyword.
_KEPT = frozenset("NAME NUMBER STRING DURATION DATE TIMESTAMP COMP_OP ADD_OP MUL_OP".split())


class _Builder(Transformer):
    """Builds AST nodes while the parser reduces, with positions in the file.

    The parser keeps every token, so each node's span runs from its first token to its last;
    a parenthesised expression remembers the extent of its parentheses, so the node around
    it starts or ends there (the text of `(a or b) and c` is all of it). One instance serves
    every parse; `begin` sets where the statement being parsed sits in its file.
    """

    def __init__(self) -> None:
        super().__init__()
        self.begin("<string>", 0, 0)

    def begin(self, filename: str, line_offset: int, pos_offset: int) -> None:
        self.filename = filename
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
        first, last = self._extent(items[0]), self._extent(items[-1])
        return ast.Span(self.filename, first.line, first.column, last.end_line, last.end_column,
                        first.start, last.end)

    def _node(self, node: Any, *kids: Any) -> Any:
        depth = 1 + max((self.depth.get(id(k), 1) for k in kids), default=0)
        if depth > MAX_DEPTH:
            raise _TooDeep(node.span)
        self.depth[id(node)] = depth
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
        return ast.Literal(value, NUMBER, span=self._span(items))

    def string(self, items: list[Any]) -> ast.Literal:
        return ast.Literal(_unquote(str(items[0])), STRING, span=self._span(items))

    def duration(self, items: list[Any]) -> ast.Literal:
        text = str(items[0]).replace("_", "")
        match = re.fullmatch(r"([\d.]+)(mo|h|d|w|y)", text)
        assert match is not None
        value = ast.DURATION_UNITS[match.group(2)] * float(match.group(1))
        return ast.Literal(value, DURATION, span=self._span(items))

    def date(self, items: list[Any]) -> ast.Literal:
        try:
            value = dt.date.fromisoformat(str(items[0]))
        except ValueError as error:
            raise _Invalid(self._span(items), f"invalid date '{items[0]}': {error}") from None
        return ast.Literal(value, DATE, span=self._span(items))

    def timestamp(self, items: list[Any]) -> ast.Literal:
        try:
            value = dt.datetime.fromisoformat(str(items[0]))
        except ValueError as error:
            raise _Invalid(self._span(items), f"invalid timestamp '{items[0]}': {error}") from None
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
            raise _Invalid(self._span(items), f"unexpected keyword '{text}'; expected a value",
                           hint)
        return ast.Name(text, span=self._span(items))

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
                raise _Invalid(arg.span, f"{what} belongs in an aggregate over events, not in "
                                         f"{name}()", "like: count(orders where amount > 10, last 30d)")
        return self._node(ast.Call(name, tuple(args), span=self._span(items)), *args)

    def _aggregate(self, function: str, args: list[Any], items: list[Any]) -> ast.Aggregate:
        """`count(orders where ..., last 30d)`: a source (or source.column), a window."""
        span = self._span(items)
        example = "orders.amount" if function not in ("count", "exists") else "orders"
        if not args:
            raise _Invalid(span, f"{function}() needs an event source, like {function}({example})")
        first, *rest = args
        target, where = (first.target, first.where) if isinstance(first, _Filtered) else (first, None)
        if not isinstance(target, ast.Name):
            raise _Invalid(target.span if hasattr(target, "span") else span,
                           f"the first argument of {function}() must be an event source or one of "
                           f"its columns, like {example}")
        window = None
        if rest:
            window = rest[0]
            if isinstance(window, _Filtered):
                raise _Invalid(window.span, "'where' goes right after the source",
                               f"like: {function}({example} where ..., last 30d)")
            if not isinstance(window, ast.Window):
                hint = "a window is: last 30d, between 180d ago and 90d ago, since 2026-01-01, " \
                       "or between 2025-10-01 and 2025-12-31"
                if isinstance(window, ast.Literal) and window.type == DURATION:
                    hint = f"write it as: last {self._text_of(window)}"
                elif isinstance(window, _CONDITIONS):
                    hint = f"a condition on the events goes after 'where': " \
                           f"{function}({example if function in ('count', 'exists') else target.text} where ...)"
                raise _Invalid(window.span, f"the second argument of {function}() must be a time "
                                            f"window", hint)
            if len(rest) > 1:
                extra = rest[1]
                raise _Invalid(getattr(extra, "span", span),
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
            raise _Invalid(span, f"'{word}' takes a {'duration' if word.lower() == 'last' else 'date'}",
                           hint)
        raise _Invalid(self._token_span(word), f"unknown window '{word}'",
                       "a window is: last 30d, between 180d ago and 90d ago, since 2026-01-01, "
                       "or between 2025-10-01 and 2025-12-31")

    def window_ago(self, items: list[Any]) -> ast.Window:
        _, start, ago1, _, end, ago2 = items
        for word in (ago1, ago2):
            if word.lower() != "ago":
                raise _Invalid(self._token_span(word), f"unexpected name '{word}'; expected 'ago'",
                               "write: between 180d ago and 90d ago")
        first, second = self._bound(start), self._bound(end)
        span = self._span(items)
        if first.value < second.value:
            raise _Invalid(span, "the window ends before it starts",
                           f"write the longer time ago first: between {end} ago and {start} ago")
        return ast.Window("ago", first, second, span=span)

    def window_dates(self, items: list[Any]) -> ast.Window:
        _, start, _, end = items
        first, second = self._bound(start), self._bound(end)
        span = self._span(items)
        low, high = first.value, second.value
        if type(low) is type(high) and low > high:
            raise _Invalid(span, "the window ends before it starts",
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
            raise _Invalid(percent_span,
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
            raise _Invalid(span, f"holdout must be between 0% and 100%, got {percent:g}%")
        return _Holdout(percent)

    def _check_name(self, token: lark.Token) -> str:
        if str(token).lower() in KEYWORDS:
            raise _Invalid(self._token_span(token), f"'{token}' is a keyword and cannot be a name")
        return str(token)

    def segment(self, items: list[Any]) -> ast.Segment:
        name = items[1]
        self._check_name(name)
        description = next((i for i in items if isinstance(i, _Description)), None)
        holdout = next((i for i in items if isinstance(i, _Holdout)), None)
        condition = next(i for i in items[2:] if not isinstance(
            i, (lark.Token, _Description, _Holdout)))
        return ast.Segment(
            str(name), condition, description and description.text,
            holdout and holdout.percent, span=self._token_span(name),
        )

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


_BUILDER = _Builder()


class _TooDeep(Exception):
    def __init__(self, span: ast.Span) -> None:
        self.span = span


class _Invalid(Exception):
    def __init__(self, span: ast.Span, message: str, hint: str | None = None) -> None:
        self.span = span
        self.message = message
        self.hint = hint


def _unquote(text: str) -> str:
    body = text[1:-1]

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape.startswith("u") and len(escape) == 5:
            return chr(int(escape[1:], 16))
        return _ESCAPES.get(escape, escape)

    return _ESCAPE.sub(replace, body)


class _Chunk:
    """One statement's lines: its text, and where it starts in the file."""

    __slots__ = ("text", "line", "pos")

    def __init__(self, text: str, line: int, pos: int) -> None:
        self.text = text
        self.line = line
        self.pos = pos


def _split(text: str, filename: str, diagnostics: list[Diagnostic], file_lines: _Lines) -> list[_Chunk]:
    """Cut a file into statements at header lines; report stray and under-indented lines."""
    chunks: list[_Chunk] = []
    # Lines end at "\n" only, as lark counts them (str.splitlines also splits at "\f"...).
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    pos = 0
    current: list[str] = []
    start_line = start_pos = 0
    header_indent = 0

    def flush() -> None:
        if current:
            chunks.append(_Chunk("".join(current), start_line, start_pos))

    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        code = stripped.split("#", 1)[0].strip() if stripped.startswith("#") else stripped
        indent = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
        if _HEADER.match(line):
            flush()
            current = [line]
            start_line, start_pos, header_indent = number, pos, indent
        elif not code:
            if current:
                current.append(line)
        elif not current:
            diagnostics.append(
                Diagnostic(
                    filename, number, indent + 1, "expected 'segment' or 'segmentation'",
                    file_lines[number], width=len(stripped.split()[0]) if stripped else 1,
                    hint="a rule starts with: segment NAME: CONDITION",
                )
            )
        elif indent <= header_indent:
            diagnostics.append(
                Diagnostic(
                    filename, number, indent + 1,
                    "a condition that continues on the next line must be indented",
                    file_lines[number], width=len(stripped.split()[0]),
                    hint=f"indent it deeper than the header on line {start_line}",
                )
            )
            current.append("\n")
        else:
            current.append(line)
        pos += len(line)
    flush()
    return chunks


_parse_lock = threading.Lock()

#: Tokens that can start a value (or a condition); `not` is left out, it is also infix.
_VALUE_TOKENS = frozenset(
    "NAME NUMBER STRING DURATION DATE TIMESTAMP LPAR MINUS _TRUE _FALSE _NULL".split()
)
#: Tokens that continue an expression after a value.
_OPERATOR_TOKENS = frozenset(
    "COMP_OP ADD_OP MUL_OP _IN _BETWEEN _IS _STARTS _ENDS _CONTAINS _MATCHES _WITHIN _AND _OR".split()
)
#: Syntax errors after this many are counted, not explained (only the first are shown).
_MAX_EXPLAINED = 200
#: Statements longer than this are not parsed a second time to explain an error.
_REPLAY_LIMIT = 20_000
_UNIT_WORDS = {
    "hour": "h", "hours": "h", "day": "d", "days": "d", "week": "w", "weeks": "w",
    "month": "mo", "months": "mo", "year": "y", "years": "y",
}


def _join_words(words: list[str]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)


def _expected_text(accepts: set[str]) -> str:
    """What the parser would have taken, in a user's words ("a value", "an operator")."""
    values = sorted(accepts & _VALUE_TOKENS)
    operators = sorted(accepts & _OPERATOR_TOKENS)
    rest = sorted(accepts - _VALUE_TOKENS - _OPERATOR_TOKENS - {"_NOT", "$END"})
    words: list[str] = []
    words += ["a value"] if len(values) > 2 else [_token_name(v) for v in values]
    words += ["an operator"] if len(operators) > 2 else [_token_name(o) for o in operators]
    words += [_token_name(r) for r in rest]
    if "_NOT" in accepts and not values and not operators:
        words.append("'not'")
    if "$END" in accepts:
        words.append("the end of the rule")
    return _join_words(words)


def _replay(chunk: _Chunk, stop: int | None) -> tuple[Any, list[lark.Token]]:
    """Parse `chunk` again up to offset `stop`: the parser's state there and the tokens read."""
    parser = _parser().parse_interactive(chunk.text)
    tokens: list[lark.Token] = []
    try:
        for token in parser.iter_parse():
            if stop is not None and token.start_pos >= stop:
                break
            tokens.append(token)
    except (lark.exceptions.LarkError, _TooDeep, _Invalid):
        pass
    return parser, tokens


def _accepts(parser: Any) -> set[str]:
    try:
        return set(parser.accepts())
    except lark.exceptions.LarkError:  # pragma: no cover - defensive
        return set()


def _open_parens(tokens: list[lark.Token]) -> list[lark.Token]:
    stack: list[lark.Token] = []
    for token in tokens:
        if token.type == "LPAR":
            stack.append(token)
        elif token.type == "RPAR" and stack:
            stack.pop()
    return stack


class _Problem:
    """A syntax error's place within its statement, its message and hint."""

    def __init__(self, line: int, column: int, width: int, message: str, hint: str | None = None):
        self.line, self.column, self.width = line, column, width
        self.message, self.hint = message, hint


def _after(token: lark.Token) -> tuple[int, int]:
    return token.end_line, token.end_column


def _end_of(chunk: _Chunk) -> tuple[int, int]:
    """Line and column just after the last character of a statement that is not a comment."""
    lines = chunk.text.split("\n")
    for index in range(len(lines) - 1, -1, -1):
        code = lines[index].rstrip()
        if code and not code.lstrip().startswith("#"):
            return index + 1, len(code) + 1
    return 1, 1


def _character_problem(error: lark.exceptions.UnexpectedCharacters, chunk: _Chunk) -> _Problem:
    pos = error.pos_in_stream
    char = chunk.text[pos]
    following = chunk.text[pos : pos + 2]
    width, hint = 1, None
    if char in "\"'":
        message = "unterminated string"
        hint = f"close it with {char} on the same line"
    elif following in ("&&", "||"):
        message, width = f"unexpected '{following}'", 2
        hint = "write 'and' / 'or'"
    elif char == "=":
        message = "unexpected '='"
        hint = {"=>": "write '>=' for 'greater than or equal'",
                "=<": "write '<=' for 'less than or equal'"}.get(following, "compare with '=='")
    elif char == "!":
        message = "unexpected '!'"
        hint = "write 'not' to negate a condition, '!=' to compare"
    elif char.isdigit():
        word = re.match(r"[\w.]+", chunk.text[pos:])
        text = word.group(0) if word else char
        message, width = f"unexpected '{text}'", len(text)
        if re.fullmatch(r"\s*(segmentation|segment)\s+", chunk.text[:pos], re.IGNORECASE):
            return _Problem(error.line, error.column, width, f"invalid name '{text}'",
                            "a name starts with a letter or '_'")
        duration = re.fullmatch(r"(\d[\d_]*(?:\.\d+)?)([a-zA-Z]+)", text)
        if duration and duration.group(2).lower() in _UNIT_WORDS:
            hint = f"write durations as a number and a unit letter: {duration.group(1)}" \
                   f"{_UNIT_WORDS[duration.group(2).lower()]}"
        elif duration and duration.group(2).lower() in ast.DURATION_UNITS:
            hint = f"duration units are lower case: {duration.group(1)}{duration.group(2).lower()}"
        elif duration and duration.group(2).lower() in ("s", "sec", "m", "min", "mins", "minutes"):
            hint = "duration units are h, d, w, mo and y: 12h, 30d, 2w, 6mo, 1y"
    else:
        message = f"unexpected character {char!r}"
    return _Problem(error.line, error.column, width, message, hint)


def _token_problem(error: lark.exceptions.UnexpectedToken, chunk: _Chunk) -> _Problem:
    token = error.token
    at_end = token.type == "$END"
    if len(chunk.text) <= _REPLAY_LIMIT:
        parser, tokens = _replay(chunk, None if at_end else token.start_pos)
    else:  # too long to parse twice: what the failed parse knows will do
        parser, tokens = error.interactive_parser, []
    accepts = _accepts(parser)
    previous = tokens[-1] if tokens else None
    expected = _expected_text(accepts)
    if at_end:
        line, column = _after(previous) if previous is not None else _end_of(chunk)
        opened = _open_parens(tokens)
        if previous is not None and previous.type == "COLON":
            if accepts == {"NAME"}:
                return _Problem(line, column, 1, f"segmentation '{tokens[1]}' has no labels",
                                "add indented lines like:  active: recency <= 90d")
            return _Problem(line, column, 1, "missing condition after ':'",
                            "write a condition, like: orders >= 1")
        if not tokens and "RPAR" in accepts and "COMP_OP" not in accepts:
            return _Problem(*_end_of(chunk), 1, "missing closing parenthesis", "add ')'")
        if opened and "RPAR" in accepts:
            first = opened[-1]
            return _Problem(line, column, 1, "missing closing parenthesis",
                            f"add ')' to close the '(' at line {first.line + chunk.line - 1}, "
                            f"column {first.column}")
        if "_AND" in accepts and "_OR" not in accepts and "_BETWEEN" in {t.type for t in tokens}:
            return _Problem(line, column, 1, "unexpected end of rule; expected 'and' and the "
                                             "upper bound", "write: x between LOW and HIGH")
        if len(accepts & _VALUE_TOKENS) > 2 and not accepts - _VALUE_TOKENS - {"_NOT"} \
                and previous is not None:
            return _Problem(line, column, 1, f"unexpected end of rule; expected a value after "
                                             f"'{previous}'")
        return _Problem(line, column, 1, "unexpected end of rule" + (
            f"; expected {expected}" if expected else ""))
    line, column, width = token.line, token.column, max(len(str(token)), 1)
    if previous is not None and previous.type == "NAME" and str(previous).lower() in KEYWORDS:
        # a keyword read as a name because nothing else fitted there: `x > 1 or or y`
        return _Problem(previous.line, previous.column, len(str(previous)),
                        f"unexpected '{previous}'; expected a value")
    if token.type == "COMP_OP" and previous is not None and previous.type == "COMP_OP":
        text = f"{previous}{token}"
        hint = "write '!=' for 'not equal'" if text == "<>" else None
        return _Problem(previous.line, previous.column, len(text), f"unexpected '{text}'", hint)
    stack = getattr(getattr(error, "interactive_parser", None), "parser_state", None)
    if token.type == "COMP_OP" and stack and any(
        isinstance(v, lark.Token) and v.type == "COMP_OP" for v in stack.value_stack[-2:]
    ):
        return _Problem(line, column, width, "comparisons cannot be chained",
                        "combine two comparisons with 'and': a < b and b < c")
    if token.type == "RPAR":
        if not _open_parens(tokens):
            return _Problem(line, column, width, "unmatched ')'",
                            "remove it, or add the '(' it closes")
        if previous is not None and previous.type == "LPAR":
            before = tokens[-2].type if len(tokens) > 1 else ""
            if before in ("_IN", "_ANY", "_ALL"):
                return _Problem(line, column, width, "empty list",
                                'a list needs at least one value: ("DE", "FR")')
            return _Problem(line, column, width, "empty parentheses",
                            "put a condition or a value between them")
    shown = str(token)
    message = f"unexpected name '{shown}'" if token.type == "NAME" else f"unexpected '{shown}'"
    if expected:
        message += f"; expected {expected}"
    hint = None
    if token.type == "NAME" and str(token).lower() in ("last", "since") and "COMMA" in accepts:
        hint = f"put a comma before the window: ..., {token} ..."
    if token.type == "NAME" and previous is not None and previous.type == "NUMBER":
        unit = _UNIT_WORDS.get(shown.lower())
        if unit:
            hint = f"write durations without a space: {previous}{unit}"
    return _Problem(line, column, width, message, hint)


def _syntax_diagnostic(error: lark.exceptions.UnexpectedInput, chunk: _Chunk, filename: str,
                       lines: _Lines) -> Diagnostic:
    """Name the mistake in a user's words, not the grammar's."""
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        problem = _character_problem(error, chunk)
    elif isinstance(error, lark.exceptions.UnexpectedToken):
        problem = _token_problem(error, chunk)
    else:  # pragma: no cover - lark raises only the two above for LALR
        problem = _Problem(1, 1, 1, str(error))
    file_line = problem.line + chunk.line - 1
    return Diagnostic(filename, file_line, problem.column, problem.message, lines[file_line],
                      problem.width, problem.hint)


class _Lines:
    """A file's lines by number, split once (only when an error needs them)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[str] | None = None

    def __getitem__(self, number: int) -> str:
        if self._lines is None:
            self._lines = [line.rstrip("\r") for line in self.text.split("\n")]
        return self._lines[number - 1] if 0 < number <= len(self._lines) else ""


def parse_rules(text: str, filename: str = "<string>") -> ast.RuleSet:
    """Parse a rule file's text; raise `RuleError` listing every syntax error found."""
    diagnostics: list[Diagnostic] = []
    statements: list[ast.Statement] = []
    if len(text) > MAX_FILE_BYTES:
        raise RuleError(Diagnostic(
            filename, 1, 1,
            f"rule file is {len(text) / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_FILE_BYTES // 1024 // 1024} MB",
            hint="split the rules over several files",
        ))
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = _Lines(text)
    for chunk in _split(text, filename, diagnostics, lines):
        try:
            with _parse_lock:
                _BUILDER.begin(filename, chunk.line - 1, chunk.pos)
                statements.append(_parser().parse(chunk.text))
        except lark.exceptions.UnexpectedInput as error:
            if len(diagnostics) >= _MAX_EXPLAINED:  # only counted: shown are the first ones
                line = error.line + chunk.line - 1 if isinstance(error.line, int) else chunk.line
                diagnostics.append(Diagnostic(filename, line, 1, "syntax error"))
                continue
            with _parse_lock:
                _BUILDER.begin(filename, chunk.line - 1, chunk.pos)
                diagnostics.append(_syntax_diagnostic(error, chunk, filename, lines))
        except _TooDeep as error:
            diagnostics.append(_span_diagnostic(
                lines, error.span, f"expression nested more than {MAX_DEPTH} levels deep",
                "split it into several segments that refer to each other",
            ))
        except _Invalid as error:
            diagnostics.append(_span_diagnostic(lines, error.span, error.message, error.hint))
        except RecursionError:
            diagnostics.append(Diagnostic(
                filename, chunk.line, 1, f"rule nested more than {MAX_DEPTH} levels deep",
                lines[chunk.line],
            ))
    if diagnostics:
        raise RuleError(sorted(diagnostics, key=lambda d: (d.line, d.column)))
    return ast.RuleSet(tuple(statements), {filename: text})


def _span_diagnostic(lines: _Lines, span: ast.Span, message: str, hint: str | None = None) -> Diagnostic:
    width = span.end_column - span.column if span.end_line == span.line else 1
    return Diagnostic(span.filename, span.line, span.column, message, lines[span.line],
                      max(width, 1), hint)


def decode_rule_file(data: bytes, filename: str) -> str:
    """Decode a rule file as UTF-8; a bad byte is a RuleError pointing at it."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        line = before.count(b"\n") + 1
        column = error.start - (before.rfind(b"\n") + 1) + 1
        shown = before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")
        raise RuleError(Diagnostic(
            filename, line, column,
            f"rule files must be UTF-8; byte 0x{data[error.start]:02x} is not",
            shown, hint="save the file as UTF-8",
        )) from None
