"""Rule files to syntax trees: the driver.

A file is cut into statements (`statements`), each statement is parsed on its own — by the
hand-written `fast_parser` where it can, else with the packaged LALR grammar (whose rule
callbacks are `lark_rules`) — while `builder` makes the AST nodes, and lark's errors
become `RuleError` diagnostics in the spec's format (`syntax_errors`). Only lark explains a
statement that is wrong, so every message comes from one place.
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from importlib import resources
from typing import Any

import lark
from lark import Lark, Transformer

from segmint.errors import Diagnostic, RuleError
from segmint.language import ast
from segmint.language.builder import KEYWORDS, MAX_DEPTH, Builder, Invalid, TooDeep
from segmint.language.fast_parser import NotFast, fast_parse
from segmint.language.gc_pause import no_gc
from segmint.language.lark_rules import LarkRules, rule_names
from segmint.language.statements import Lines, split_statements
from segmint.language.syntax_errors import syntax_diagnostic

__all__ = ["KEYWORDS", "MAX_DEPTH", "MAX_FILE_BYTES", "decode_rule_file", "parse_rules"]

#: Larger rule files are refused up front, so parsing time stays bounded (about 10 s).
MAX_FILE_BYTES = 2 * 1024 * 1024


#: The rule callbacks of the parse under way in this thread or task: each `parse_rules` call
#: makes its own, so parses never share state (and need no lock).
_BUILDING: ContextVar[LarkRules] = ContextVar("segmint_rule_builder")


def _forward(rule: str) -> Any:
    """The callback for grammar rule `rule`: the current parse's callbacks make its node."""

    def callback(self: Any, items: list[Any]) -> Any:
        return getattr(_BUILDING.get(), rule)(items)
    callback.__name__ = rule
    return callback


#: A stateless transformer for the compiled parser: each rule's callback hands its children to
#: the current parse's `LarkRules`.
_Forward = type("_Forward", (Transformer,), {rule: _forward(rule) for rule in rule_names()})


@cache
def _parser() -> Lark:
    """The LALR parser; it builds AST nodes as it reduces (no parse tree, no second pass).
    Compiled once and never changed: what a parse builds goes to that parse's builder."""
    grammar = resources.files("segmint.language").joinpath("grammar/rules.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", keep_all_tokens=True, maybe_placeholders=False,
                transformer=_Forward())


#: Syntax errors after this many are counted, not explained (only the first are shown).
_MAX_EXPLAINED = 200


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
    lines = Lines(text)
    builder = Builder(filename)
    rules = LarkRules(builder)
    building = _BUILDING.set(rules)
    try:
        with no_gc():
            _parse_statements(text, filename, rules, lines, statements, diagnostics)
    finally:
        _BUILDING.reset(building)
    if diagnostics:
        raise RuleError(sorted(diagnostics, key=lambda d: (d.line, d.column)))
    return ast.RuleSet(tuple(statements), {filename: text})


def _parse_statements(text: str, filename: str, rules: LarkRules, lines: Lines,
                      statements: list[ast.Statement], diagnostics: list[Diagnostic]) -> None:
    """Parse each statement of `text` with `rules`' builder, collecting statements and
    problems."""
    builder = rules.b
    for chunk in split_statements(text, filename, diagnostics, lines):
        builder.begin(chunk.line - 1, chunk.pos)
        try:
            statements.append(fast_parse(chunk.text, builder))
            continue
        except NotFast:  # lark parses it (and explains what is wrong with it)
            pass
        try:
            rules.begin(chunk.line - 1, chunk.pos)
            statements.append(_parser().parse(chunk.text))
        except lark.exceptions.UnexpectedInput as error:
            if len(diagnostics) >= _MAX_EXPLAINED:  # only counted: shown are the first ones
                line = error.line + chunk.line - 1 if isinstance(error.line, int) else chunk.line
                diagnostics.append(Diagnostic(filename, line, 1, "syntax error"))
                continue
            rules.begin(chunk.line - 1, chunk.pos)
            diagnostics.append(syntax_diagnostic(error, chunk, filename, lines, _parser()))
        except TooDeep as error:
            diagnostics.append(_span_diagnostic(
                lines, error.span, f"expression nested more than {MAX_DEPTH} levels deep",
                "split it into several segments that refer to each other",
            ))
        except Invalid as error:
            diagnostics.append(_span_diagnostic(lines, error.span, error.message, error.hint))
        except RecursionError:
            diagnostics.append(Diagnostic(
                filename, chunk.line, 1, f"rule nested more than {MAX_DEPTH} levels deep",
                lines[chunk.line],
            ))


def _span_diagnostic(lines: Lines, span: ast.Span, message: str, hint: str | None = None) -> Diagnostic:
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
