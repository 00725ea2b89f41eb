"""Syntax errors explained in a user's words, not the grammar's.

Lark says "Unexpected token RPAR"; this module says "unmatched ')'" and how to fix it,
replaying the statement up to the mistake to know what the parser would have taken there.
"""

from __future__ import annotations

import re
from typing import Any

import lark

from segmint.errors import Diagnostic
from segmint.language import ast
from segmint.language.builder import KEYWORDS, Invalid, TooDeep
from segmint.language.statements import Chunk, Lines

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


def _token_name(kind: str) -> str:
    if kind in _TOKEN_NAMES:
        return _TOKEN_NAMES[kind]
    if kind.startswith("_") and kind[1:].isupper():
        return repr(kind[1:].lower())
    return kind.lower()


#: Tokens that can start a value (or a condition); `not` is left out, it is also infix.
_VALUE_TOKENS = frozenset(
    "NAME NUMBER STRING DURATION DATE TIMESTAMP LPAR MINUS _TRUE _FALSE _NULL".split()
)
#: Tokens that continue an expression after a value.
_OPERATOR_TOKENS = frozenset(
    "COMP_OP ADD_OP MUL_OP _IN _BETWEEN _IS _STARTS _ENDS _CONTAINS _MATCHES _WITHIN _AND _OR".split()
)
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


def _replay(grammar: lark.Lark, chunk: Chunk, stop: int | None) -> tuple[Any, list[lark.Token]]:
    """Parse `chunk` again up to offset `stop`: the parser's state there and the tokens read."""
    parser = grammar.parse_interactive(chunk.text)
    tokens: list[lark.Token] = []
    try:
        for token in parser.iter_parse():
            if stop is not None and token.start_pos >= stop:
                break
            tokens.append(token)
    except (lark.exceptions.LarkError, TooDeep, Invalid):
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


def _end_of(chunk: Chunk) -> tuple[int, int]:
    """Line and column just after the last character of a statement that is not a comment."""
    lines = chunk.text.split("\n")
    for index in range(len(lines) - 1, -1, -1):
        code = lines[index].rstrip()
        if code and not code.lstrip().startswith("#"):
            return index + 1, len(code) + 1
    return 1, 1


def _character_problem(error: lark.exceptions.UnexpectedCharacters, chunk: Chunk) -> _Problem:
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


def _token_problem(error: lark.exceptions.UnexpectedToken, chunk: Chunk, grammar: lark.Lark) -> _Problem:
    token = error.token
    at_end = token.type == "$END"
    if len(chunk.text) <= _REPLAY_LIMIT:
        parser, tokens = _replay(grammar, chunk, None if at_end else token.start_pos)
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


def syntax_diagnostic(error: lark.exceptions.UnexpectedInput, chunk: Chunk, filename: str,
                      lines: Lines, grammar: lark.Lark) -> Diagnostic:
    """Name the mistake in a user's words, not the grammar's; `grammar` replays the statement."""
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        problem = _character_problem(error, chunk)
    elif isinstance(error, lark.exceptions.UnexpectedToken):
        problem = _token_problem(error, chunk, grammar)
    else:  # pragma: no cover - lark raises only the two above for LALR
        problem = _Problem(1, 1, 1, str(error))
    file_line = problem.line + chunk.line - 1
    return Diagnostic(filename, file_line, problem.column, problem.message, lines[file_line],
                      problem.width, problem.hint)

