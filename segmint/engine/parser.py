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
from lark import Lark, Transformer_NonRecursive, v_args

from . import ast
from .errors import Diagnostic, RuleError
from .types import BOOL, DATE, DURATION, NULL, NUMBER, STRING, TIMESTAMP

#: Deeper expressions are refused: every later pass may recurse this far.
MAX_DEPTH = 200
#: Larger rule files are refused up front, so parsing time stays bounded (about 10 s).
MAX_FILE_BYTES = 2 * 1024 * 1024

KEYWORDS = frozenset(
    "segment segmentation holdout otherwise or and not in between is null starts ends with "
    "contains any all matches top bottom within true false".split()
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
    grammar = resources.files("segmint.engine").joinpath("grammar/rules.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _token_name(kind: str) -> str:
    if kind in _TOKEN_NAMES:
        return _TOKEN_NAMES[kind]
    if kind.startswith("_") and kind[1:].isupper():
        return repr(kind[1:].lower())
    return kind.lower()


class _Builder(Transformer_NonRecursive):
    """Builds AST nodes from the parse tree, shifting positions to the statement's place."""

    def __init__(self, filename: str, line_offset: int, pos_offset: int) -> None:
        super().__init__()
        self.filename = filename
        self.line_offset = line_offset
        self.pos_offset = pos_offset
        self.depth: dict[int, int] = {}


    def _span(self, meta: Any) -> ast.Span:
        if getattr(meta, "empty", True):
            return ast.NO_SPAN
        return ast.Span(
            self.filename,
            meta.line + self.line_offset,
            meta.column,
            meta.end_line + self.line_offset,
            meta.end_column,
            meta.start_pos + self.pos_offset,
            meta.end_pos + self.pos_offset,
        )

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

    def _node(self, node: Any, *kids: Any) -> Any:
        depth = 1 + max((self.depth.get(id(k), 1) for k in kids), default=0)
        if depth > MAX_DEPTH:
            raise _TooDeep(node.span)
        self.depth[id(node)] = depth
        return node

    # literals -----------------------------------------------------------------
    @v_args(meta=True)
    def number(self, meta: Any, items: list[Any]) -> ast.Literal:
        text = str(items[0]).replace("_", "")
        value: Any
        if re.fullmatch(r"\d+", text):
            value = int(text)
            if value >= 2**63:
                value = float(value)
        else:
            value = float(text)
        return ast.Literal(value, NUMBER, span=self._span(meta))

    @v_args(meta=True)
    def string(self, meta: Any, items: list[Any]) -> ast.Literal:
        return ast.Literal(_unquote(str(items[0])), STRING, span=self._span(meta))

    @v_args(meta=True)
    def duration(self, meta: Any, items: list[Any]) -> ast.Literal:
        text = str(items[0]).replace("_", "")
        match = re.fullmatch(r"([\d.]+)(mo|h|d|w|y)", text)
        assert match is not None
        value = ast.DURATION_UNITS[match.group(2)] * float(match.group(1))
        return ast.Literal(value, DURATION, span=self._span(meta))

    @v_args(meta=True)
    def date(self, meta: Any, items: list[Any]) -> ast.Literal:
        try:
            value = dt.date.fromisoformat(str(items[0]))
        except ValueError as error:
            raise _Invalid(self._span(meta), f"invalid date '{items[0]}': {error}") from None
        return ast.Literal(value, DATE, span=self._span(meta))

    @v_args(meta=True)
    def timestamp(self, meta: Any, items: list[Any]) -> ast.Literal:
        try:
            value = dt.datetime.fromisoformat(str(items[0]))
        except ValueError as error:
            raise _Invalid(self._span(meta), f"invalid timestamp '{items[0]}': {error}") from None
        return ast.Literal(value, TIMESTAMP, span=self._span(meta))

    @v_args(meta=True)
    def true(self, meta: Any, items: list[Any]) -> ast.Literal:
        return ast.Literal(True, BOOL, span=self._span(meta))

    @v_args(meta=True)
    def false(self, meta: Any, items: list[Any]) -> ast.Literal:
        return ast.Literal(False, BOOL, span=self._span(meta))

    @v_args(meta=True)
    def null(self, meta: Any, items: list[Any]) -> ast.Literal:
        return ast.Literal(None, NULL, span=self._span(meta))

    @v_args(meta=True)
    def list(self, meta: Any, items: list[Any]) -> ast.ListLiteral:
        return self._node(ast.ListLiteral(tuple(items), span=self._span(meta)), *items)

    def percent(self, items: list[Any]) -> tuple[float, ast.Span]:
        token = items[0]
        return float(str(token).replace("_", "")), self._token_span(token)

    # names and calls ------------------------------------------------------------
    @v_args(meta=True)
    def name(self, meta: Any, items: list[Any]) -> ast.Name:
        return ast.Name(str(items[0]), span=self._span(meta))

    @v_args(meta=True)
    def qualified_name(self, meta: Any, items: list[Any]) -> ast.Name:
        return ast.Name(str(items[1]), source=str(items[0]), span=self._span(meta))

    @v_args(meta=True)
    def call(self, meta: Any, items: list[Any]) -> ast.Call:
        args = tuple(item for item in items[1:] if item is not None)
        return self._node(ast.Call(str(items[0]), args, span=self._span(meta)), *args)

    # operators ------------------------------------------------------------------
    @v_args(meta=True)
    def neg(self, meta: Any, items: list[Any]) -> Any:
        (operand,) = items
        if isinstance(operand, ast.Literal) and operand.type is NUMBER:
            return ast.Literal(-operand.value, NUMBER, span=self._span(meta))
        return self._node(ast.Negate(operand, span=self._span(meta)), operand)

    @v_args(meta=True)
    def arith(self, meta: Any, items: list[Any]) -> ast.Arithmetic:
        left, op, right = items
        return self._node(ast.Arithmetic(str(op), left, right, span=self._span(meta)), left, right)

    @v_args(meta=True)
    def compare(self, meta: Any, items: list[Any]) -> ast.Compare:
        left, op, right = items
        return self._node(ast.Compare(str(op), left, right, span=self._span(meta)), left, right)

    def _flat(self, cls: type, meta: Any, items: list[Any]) -> Any:
        if len(items) == 1:
            return items[0]
        operands: list[Any] = []
        for item in items:
            operands.extend(item.operands if isinstance(item, cls) else [item])
        return self._node(cls(tuple(operands), span=self._span(meta)), *items)

    @v_args(meta=True)
    def or_(self, meta: Any, items: list[Any]) -> ast.Or:
        return self._flat(ast.Or, meta, items)

    @v_args(meta=True)
    def and_(self, meta: Any, items: list[Any]) -> ast.And:
        return self._flat(ast.And, meta, items)

    @v_args(meta=True)
    def not_(self, meta: Any, items: list[Any]) -> ast.Not:
        return self._node(ast.Not(items[0], span=self._span(meta)), items[0])

    @v_args(meta=True)
    def in_list(self, meta: Any, items: list[Any]) -> ast.InList:
        return self._node(ast.InList(items[0], items[1], span=self._span(meta)), *items)

    @v_args(meta=True)
    def not_in_list(self, meta: Any, items: list[Any]) -> ast.InList:
        node = ast.InList(items[0], items[1], negated=True, span=self._span(meta))
        return self._node(node, *items)

    @v_args(meta=True)
    def between(self, meta: Any, items: list[Any]) -> ast.Between:
        return self._node(ast.Between(*items, span=self._span(meta)), *items)

    @v_args(meta=True)
    def not_between(self, meta: Any, items: list[Any]) -> ast.Between:
        return self._node(ast.Between(*items, negated=True, span=self._span(meta)), *items)

    @v_args(meta=True)
    def is_null(self, meta: Any, items: list[Any]) -> ast.IsNull:
        return self._node(ast.IsNull(items[0], span=self._span(meta)), items[0])

    @v_args(meta=True)
    def is_not_null(self, meta: Any, items: list[Any]) -> ast.IsNull:
        return self._node(ast.IsNull(items[0], negated=True, span=self._span(meta)), items[0])

    def _string_test(self, op: str, meta: Any, items: list[Any]) -> ast.StringTest:
        node = ast.StringTest(op, items[0], items[1], span=self._span(meta))
        return self._node(node, *items)

    @v_args(meta=True)
    def starts_with(self, meta: Any, items: list[Any]) -> ast.StringTest:
        return self._string_test("starts_with", meta, items)

    @v_args(meta=True)
    def ends_with(self, meta: Any, items: list[Any]) -> ast.StringTest:
        return self._string_test("ends_with", meta, items)

    @v_args(meta=True)
    def matches(self, meta: Any, items: list[Any]) -> ast.StringTest:
        return self._string_test("matches", meta, items)

    def _contains(self, mode: str, meta: Any, items: list[Any]) -> ast.Contains:
        node = ast.Contains(items[0], items[1], mode=mode, span=self._span(meta))
        return self._node(node, *items)

    @v_args(meta=True)
    def contains(self, meta: Any, items: list[Any]) -> ast.Contains:
        return self._contains("one", meta, items)

    @v_args(meta=True)
    def contains_any(self, meta: Any, items: list[Any]) -> ast.Contains:
        return self._contains("any", meta, items)

    @v_args(meta=True)
    def contains_all(self, meta: Any, items: list[Any]) -> ast.Contains:
        return self._contains("all", meta, items)

    def _rank(self, top: bool, meta: Any, items: list[Any]) -> ast.Rank:
        operand, (percent, percent_span) = items
        if not 0 <= percent <= 100:
            raise _Invalid(percent_span, f"percentage must be between 0 and 100, got {percent:g}%")
        return self._node(ast.Rank(operand, percent, top=top, span=self._span(meta)), operand)

    @v_args(meta=True)
    def in_top(self, meta: Any, items: list[Any]) -> ast.Rank:
        return self._rank(True, meta, items)

    @v_args(meta=True)
    def in_bottom(self, meta: Any, items: list[Any]) -> ast.Rank:
        return self._rank(False, meta, items)

    @v_args(meta=True)
    def within(self, meta: Any, items: list[Any]) -> ast.Within:
        return self._node(ast.Within(items[0], items[1], span=self._span(meta)), *items)

    # statements -----------------------------------------------------------------
    def description(self, items: list[Any]) -> str:
        return _unquote(str(items[0]))

    def holdout(self, items: list[Any]) -> tuple[str, float, ast.Span]:
        percent, span = items[0]
        if not 0 <= percent <= 100:
            raise _Invalid(span, f"holdout must be between 0% and 100%, got {percent:g}%")
        return ("holdout", percent, span)

    def _check_name(self, token: lark.Token) -> str:
        if str(token).lower() in KEYWORDS:
            raise _Invalid(self._token_span(token), f"'{token}' is a keyword and cannot be a name")
        return str(token)

    @v_args(meta=True)
    def segment(self, meta: Any, items: list[Any]) -> ast.Segment:
        name = self._check_name(items[0])
        description = next((i for i in items[1:] if isinstance(i, str)), None)
        holdout = next((i[1] for i in items if isinstance(i, tuple)), None)
        condition = next(i for i in items[1:] if not isinstance(i, (str, tuple)))
        return ast.Segment(name, condition, description, holdout, span=self._token_span(items[0]))

    @v_args(meta=True)
    def arm(self, meta: Any, items: list[Any]) -> ast.Arm:
        return ast.Arm(self._check_name(items[0]), items[1], span=self._token_span(items[0]))

    @v_args(meta=True)
    def otherwise(self, meta: Any, items: list[Any]) -> ast.Arm:
        return ast.Arm(str(items[0]), None, span=self._token_span(items[0]))

    @v_args(meta=True)
    def segmentation(self, meta: Any, items: list[Any]) -> ast.Segmentation:
        name = self._check_name(items[0])
        description = next((i for i in items[1:] if isinstance(i, str)), None)
        arms = tuple(i for i in items[1:] if isinstance(i, ast.Arm))
        return ast.Segmentation(name, arms, description, span=self._token_span(items[0]))

    def start(self, items: list[Any]) -> Any:
        return items[0]


class _TooDeep(Exception):
    def __init__(self, span: ast.Span) -> None:
        self.span = span


class _Invalid(Exception):
    def __init__(self, span: ast.Span, message: str) -> None:
        self.span = span
        self.message = message


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


def _split(text: str, filename: str, diagnostics: list[Diagnostic]) -> list[_Chunk]:
    """Cut a file into statements at header lines; report stray and under-indented lines."""
    chunks: list[_Chunk] = []
    lines = text.splitlines(keepends=True)
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
                    line, width=len(stripped.split()[0]) if stripped else 1,
                    hint="a rule starts with: segment NAME: CONDITION",
                )
            )
        elif indent <= header_indent:
            diagnostics.append(
                Diagnostic(
                    filename, number, indent + 1,
                    "a condition that continues on the next line must be indented",
                    line, width=len(stripped.split()[0]),
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


def _expected_text(expected: set[str]) -> str:
    names = sorted({_token_name(e) for e in expected if e not in {"COMMENT", "WS"}})
    if len(names) > 6:
        return "a value or an operator"
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1] if names else ""


def _syntax_diagnostic(error: lark.exceptions.LarkError, chunk: _Chunk, filename: str, text: str) -> Diagnostic:
    """Name the mistake in a user's words, not the grammar's."""
    hint: str | None = None
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        line, column = error.line, error.column
        char = chunk.text[error.pos_in_stream]
        width = 1
        following = chunk.text[error.pos_in_stream : error.pos_in_stream + 2]
        if char in "\"'":
            message = "unterminated string"
            hint = f"close it with {char} on the same line"
        elif following in ("&&", "||"):
            message = f"unexpected '{following}'"
            hint = "write 'and' / 'or'"
            width = 2
        elif char == "=":
            message = "unexpected '='"
            hint = "compare with '=='"
        elif char == "!":
            message = "unexpected '!'"
            hint = "write 'not' to negate a condition, '!=' to compare"
        else:
            message = f"unexpected character {char!r}"
    elif isinstance(error, lark.exceptions.UnexpectedToken):
        token = error.token
        line, column = (token.line, token.column) if token.line is not None else _end_position(chunk)
        width = max(len(str(token)), 1) if token.type != "$END" else 1
        stack = getattr(getattr(error, "interactive_parser", None), "parser_state", None)
        top = stack.value_stack[-1] if stack and stack.value_stack else None
        expected = _expected_text(set(error.expected))
        if token.type == "$END":
            if "RPAR" in error.expected and "COMP_OP" not in error.expected and top is not None:
                message = "missing closing parenthesis"
                hint = "add ')'"
            else:
                message = "unexpected end of rule" + (f"; expected {expected}" if expected else "")
        elif token.type == "COMP_OP" and stack and any(
            isinstance(v, lark.Token) and v.type == "COMP_OP" for v in stack.value_stack[-2:]
        ):
            message = "comparisons cannot be chained"
            hint = "combine two comparisons with 'and': a < b and b < c"
        else:
            shown = str(token)
            message = f"unexpected name '{shown}'" if token.type == "NAME" else f"unexpected '{shown}'"
            if expected:
                message += f"; expected {expected}"
            if token.type == "NAME" and _is_tree(top, "number"):
                unit = {"days": "d", "day": "d", "weeks": "w", "week": "w", "hours": "h",
                        "months": "mo", "month": "mo", "years": "y", "year": "y"}.get(shown.lower())
                if unit:
                    hint = f"write durations without a space: {top.children[0]}{unit}"
            elif token.type == "RPAR":
                hint = "remove the unmatched ')'"
    else:  # pragma: no cover - lark raises only the two above for LALR
        line, column, width, message = 1, 1, 1, str(error)
    file_line = line + chunk.line - 1
    return Diagnostic(filename, file_line, column, message, _line_at(text, file_line), width, hint)


def _is_tree(value: Any, data: str) -> bool:
    return isinstance(value, lark.Tree) and value.data == data


def _end_position(chunk: _Chunk) -> tuple[int, int]:
    lines = chunk.text.rstrip().splitlines() or [""]
    last = lines[-1].split("#", 1)[0].rstrip() if lines[-1].lstrip().startswith("#") is False else lines[-1]
    return len(lines), len(last) + 1


def _line_at(text: str, line: int) -> str:
    lines = text.splitlines()
    return lines[line - 1] if 0 < line <= len(lines) else ""


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
    for chunk in _split(text, filename, diagnostics):
        try:
            with _parse_lock:
                tree = _parser().parse(chunk.text)
            builder = _Builder(filename, chunk.line - 1, chunk.pos)
            try:
                statements.append(builder.transform(tree))
            except lark.exceptions.VisitError as error:
                raise error.orig_exc from None
        except lark.exceptions.UnexpectedInput as error:
            diagnostics.append(_syntax_diagnostic(error, chunk, filename, text))
        except _TooDeep as error:
            diagnostics.append(_span_diagnostic(
                text, error.span, f"expression nested more than {MAX_DEPTH} levels deep",
                "split it into several segments that refer to each other",
            ))
        except _Invalid as error:
            diagnostics.append(_span_diagnostic(text, error.span, error.message))
        except RecursionError:
            diagnostics.append(Diagnostic(
                filename, chunk.line, 1, f"rule nested more than {MAX_DEPTH} levels deep",
                _line_at(text, chunk.line),
            ))
    if diagnostics:
        raise RuleError(diagnostics)
    return ast.RuleSet(tuple(statements), {filename: text})


def _span_diagnostic(text: str, span: ast.Span, message: str, hint: str | None = None) -> Diagnostic:
    width = span.end_column - span.column if span.end_line == span.line else 1
    return Diagnostic(span.filename, span.line, span.column, message, _line_at(text, span.line), max(width, 1), hint)


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
