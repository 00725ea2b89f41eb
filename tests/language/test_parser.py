"""The rules-language parser: what it builds, and the exact text of its syntax errors.

Errors are a table of (input, full message) in the style of pytest's
testing/test_mark_expression.py: the message is what a user reads, so it is pinned whole.
"""

from __future__ import annotations

import datetime as dt

import pytest

from segmint.language import ast
from segmint.language.ast import (
    And, Arithmetic, Arm, Between, Call, Compare, Contains, InList, IsNull, ListLiteral, Name,
    Negate, Not, Or, Rank, Segment, Segmentation, StringTest, Within,
)
from segmint.errors import RuleError
from segmint.language.parser import decode_rule_file, parse_rules
from segmint.language.types import BOOL, DATE, DURATION, NULL, NUMBER, STRING, TIMESTAMP


def num(value: float) -> ast.Literal:
    return ast.Literal(value, NUMBER)


def text(value: str) -> ast.Literal:
    return ast.Literal(value, STRING)


def days(n: float) -> ast.Literal:
    return ast.Literal(dt.timedelta(days=n), DURATION)


def cond(rules: str) -> ast.Expr:
    """The condition of a one-segment rule file `segment s: RULES`."""
    (statement,) = parse_rules(f"segment s: {rules}").statements
    assert isinstance(statement, Segment)
    return statement.condition


x, y, z = Name("x"), Name("y"), Name("z")


# Every construct of the language, as the AST it parses to. ------------------------------------

@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        # literals
        ("x == 42", Compare("==", x, num(42))),
        ("x == -3.5", Compare("==", x, num(-3.5))),
        ("x == 1_000", Compare("==", x, num(1000))),
        ("x == 1e6", Compare("==", x, num(1e6))),
        ("x == .5", Compare("==", x, num(0.5))),
        ('x == "text"', Compare("==", x, text("text"))),
        ("x == 'text'", Compare("==", x, text("text"))),
        (r'x == "a\"b\n\u00e9"', Compare("==", x, text('a"b\né'))),
        (r"x == 'it\'s'", Compare("==", x, text("it's"))),
        ("x == true", Compare("==", x, ast.Literal(True, BOOL))),
        ("x == false", Compare("==", x, ast.Literal(False, BOOL))),
        ("x == null", Compare("==", x, ast.Literal(None, NULL))),
        ("x == 2026-01-31", Compare("==", x, ast.Literal(dt.date(2026, 1, 31), DATE))),
        ("x == 2026-01-31T10:00:00Z", Compare("==", x, ast.Literal(
            dt.datetime(2026, 1, 31, 10, tzinfo=dt.timezone.utc), TIMESTAMP))),
        ("x == 2026-01-31T10:00", Compare("==", x, ast.Literal(
            dt.datetime(2026, 1, 31, 10), TIMESTAMP))),
        ("x == 2026-01-31T10:00:00.5+01:00", Compare("==", x, ast.Literal(
            dt.datetime(2026, 1, 31, 10, 0, 0, 500_000, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            TIMESTAMP))),
        ("x == 12h", Compare("==", x, ast.Literal(dt.timedelta(hours=12), DURATION))),
        ("x == 30d", Compare("==", x, days(30))),
        ("x == 1.5d", Compare("==", x, days(1.5))),
        ("x == 2w", Compare("==", x, days(14))),
        ("x == 6mo", Compare("==", x, days(180))),
        ("x == 1y", Compare("==", x, days(365))),
        # names and calls
        ("x", x),
        ("crm.country == 'DE'", Compare("==", Name("country", source="crm"), text("DE"))),
        ("crm.in > 1", Compare(">", Name("in", source="crm"), num(1))),
        ("today_flag", Name("today_flag")),
        ("segment_x and segmentation_y", And((Name("segment_x"), Name("segmentation_y")))),
        ("f() > 1", Compare(">", Call("f", ()), num(1))),
        ("lower(x) == 'a'", Compare("==", Call("lower", (x,)), text("a"))),
        ("round(x, 2) > 1", Compare(">", Call("round", (x, num(2))), num(1))),
        # comparisons
        *[(f"x {op} 1", Compare(op, x, num(1))) for op in ("==", "!=", "<", "<=", ">", ">=")],
        ("x in (1, 2)", InList(x, ListLiteral((num(1), num(2))))),
        ("x not in ('a')", InList(x, ListLiteral((text("a"),)), negated=True)),
        ("x between 1 and 5", Between(x, num(1), num(5))),
        ("x not between 1 and 5", Between(x, num(1), num(5), negated=True)),
        ("x is null", IsNull(x)),
        ("x is not null", IsNull(x, negated=True)),
        ("x starts with 'a'", StringTest("starts_with", x, text("a"))),
        ("x ends with 'a'", StringTest("ends_with", x, text("a"))),
        ("x matches '^a+$'", StringTest("matches", x, text("^a+$"))),
        ("x contains 'yoga'", Contains(x, text("yoga"))),
        ("x contains any ('a', 'b')", Contains(x, ListLiteral((text("a"), text("b"))), mode="any")),
        ("x contains all ('a')", Contains(x, ListLiteral((text("a"),)), mode="all")),
        ("x in top 10%", Rank(x, 10.0)),
        ("x in bottom 2.5%", Rank(x, 2.5, top=False)),
        ("x in top 0%", Rank(x, 0.0)),
        ("x in top 100%", Rank(x, 100.0)),
        ("x within 30d", Within(x, days(30))),
        # arithmetic and precedence
        ("x + y * z > 1", Compare(">", Arithmetic("+", x, Arithmetic("*", y, z)), num(1))),
        ("(x + y) * z > 1", Compare(">", Arithmetic("*", Arithmetic("+", x, y), z), num(1))),
        ("x - y - z > 1", Compare(">", Arithmetic("-", Arithmetic("-", x, y), z), num(1))),
        ("x / y > 1", Compare(">", Arithmetic("/", x, y), num(1))),
        ("-x > 1", Compare(">", Negate(x), num(1))),
        ("- -x > 1", Compare(">", Negate(Negate(x)), num(1))),
        ("today - x > 30d", Compare(">", Arithmetic("-", Name("today"), x), days(30))),
        ("x between 1 + 1 and y * 2",
         Between(x, Arithmetic("+", num(1), num(1)), Arithmetic("*", y, num(2)))),
        # boolean structure: or < and < not, chains flattened
        ("x or y and z", Or((x, And((y, z))))),
        ("(x or y) and z", And((Or((x, y)), z))),
        ("x and y and z", And((x, y, z))),
        ("x or y or z", Or((x, y, z))),
        ("not x and y", And((Not(x), y))),
        ("not not x", Not(Not(x))),
        ("not x > 1", Not(Compare(">", x, num(1)))),
        ("x between 1 and 2 and y", And((Between(x, num(1), num(2)), y))),
        ("((x))", x),
    ],
)
def test_parses(rules: str, expected: ast.Expr) -> None:
    assert cond(rules) == expected


@pytest.mark.parametrize(
    "rules",
    [
        "SEGMENT s: x AND y OR NOT z",
        "Segment s: x And y Or Not z",
        "segment s: x and y or not z",
    ],
)
def test_keywords_are_case_insensitive(rules: str) -> None:
    (statement,) = parse_rules(rules).statements
    assert statement == Segment("s", Or((And((x, y)), Not(z))))


def test_keywords_are_case_insensitive_everywhere() -> None:
    rules = parse_rules(
        "SEGMENT s: x IS NOT NULL and x NOT IN (1) and x BETWEEN 1 AND 2 and x IN TOP 5%"
        " and y STARTS WITH 'a' and y CONTAINS ANY ('b') and d WITHIN 1d and b == TRUE\n"
        "    HOLDOUT 5%\n"
        "SEGMENTATION t:\n"
        "    a: x MATCHES 'a' or x == NULL\n"
        "    b: OTHERWISE\n"
    )
    segment, segmentation = rules.statements
    assert segment.holdout == 5.0
    assert len(segment.condition.operands) == 8
    assert segmentation.arms[1] == Arm("b", None)


def test_names_are_case_sensitive() -> None:
    assert cond("Recency > 1 and recency > 1") == And((
        Compare(">", Name("Recency"), num(1)), Compare(">", Name("recency"), num(1)),
    ))


def test_a_whole_file() -> None:
    rules = parse_rules(
        "# rules/retail.seg\n"
        "\n"
        'segment champions "Bought recently, often, and the most":\n'
        "    recency <= 30d and frequency >= 5   # trailing comment\n"
        "        and monetary >= 500\n"
        "\n"
        "segment big_spenders: monetary in top 10%\n"
        "segment win_back: big_spenders and not champions      # another segment\n"
        "    # a comment inside the rule\n"
        "    holdout 10%                                       # control group\n"
        "\n"
        'segmentation lifecycle "first match wins":\n'
        "    new:     tenure <= 30d\n"
        "    active:  recency <= 90d\n"
        "             or frequency > 10\n"
        "    lost:    otherwise\n",
        "rules/retail.seg",
    )
    recency, frequency, monetary = Name("recency"), Name("frequency"), Name("monetary")
    assert rules.statements == (
        Segment(
            "champions",
            And((Compare("<=", recency, days(30)), Compare(">=", frequency, num(5)),
                 Compare(">=", monetary, num(500)))),
            description="Bought recently, often, and the most",
        ),
        Segment("big_spenders", Rank(monetary, 10.0)),
        Segment("win_back", And((Name("big_spenders"), Not(Name("champions")))), holdout=10.0),
        Segmentation(
            "lifecycle",
            (
                Arm("new", Compare("<=", Name("tenure"), days(30))),
                Arm("active", Or((Compare("<=", recency, days(90)),
                                  Compare(">", frequency, num(10))))),
                Arm("lost", None),
            ),
            description="first match wins",
        ),
    )
    assert rules.names == ["champions", "big_spenders", "win_back", "lifecycle"]


def test_positions_point_into_the_file() -> None:
    rules = parse_rules(
        "# header\n"
        "segment s:\n"
        "    a > 1 and\n"
        "    crm.b < 2\n",
        "f.seg",
    )
    (segment,) = rules.statements
    assert (segment.span.filename, segment.span.line, segment.span.column) == ("f.seg", 2, 9)
    first, second = segment.condition.operands
    assert (first.left.span.line, first.left.span.column) == (3, 5)
    qualified = second.left
    assert (qualified.span.line, qualified.span.column, qualified.span.end_column) == (4, 5, 10)
    assert rules.source_text(qualified.span) == "crm.b"
    assert rules.source_text(segment.condition.span) == "a > 1 and\n    crm.b < 2"


def test_a_node_spans_the_parentheses_it_contains() -> None:
    rules = parse_rules("segment s: (x or (y)) and not (z)")
    condition = rules.statements[0].condition
    assert rules.source_text(condition.span) == "(x or (y)) and not (z)"
    either, negated = condition.operands
    assert rules.source_text(either.span) == "x or (y)"
    assert rules.source_text(negated.span) == "not (z)"
    assert rules.source_text(negated.operand.span) == "z"


@pytest.mark.parametrize(
    "condition",
    ["x in top 10%", "x in bottom 2.5 %", "x within 30d", "x is not null", "lower(x) == 'a'",
     "x contains any ('a', 'b')", "-x > 1", "x between 1 and (2)", "crm.x not in (1, 2)"],
)
def test_a_node_spans_its_whole_text(condition: str) -> None:
    rules = parse_rules(f"segment s: {condition}")
    assert rules.source_text(rules.statements[0].condition.span) == condition


def test_or_and_chains_are_flat_whatever_their_parentheses() -> None:
    assert cond("((x or y) or z)") == Or((x, y, z))
    assert cond("x and (y and (z and x))") == And((x, y, z, x))


def test_windows_line_endings_and_byte_order_mark() -> None:
    rules = parse_rules("\ufeffsegment s:\r\n    x > 1\r\n    and y\r\n")
    assert rules.statements == (Segment("s", And((Compare(">", x, num(1)), y))),)


def test_an_empty_file_has_no_rules() -> None:
    assert parse_rules("").statements == ()
    assert parse_rules("# nothing yet\n\n").statements == ()


def test_rule_error_carries_the_first_position() -> None:
    with pytest.raises(RuleError) as excinfo:
        parse_rules("segment s: x > 1\nsegment t: (y", "a.seg")
    error = excinfo.value
    assert (error.filename, error.line, error.column) == ("a.seg", 2, 14)


def test_non_utf8_bytes_are_a_rule_error() -> None:
    with pytest.raises(RuleError) as excinfo:
        decode_rule_file(b"segment s:\n    name == '\xe9t\xe9'\n", "bad.seg")
    assert str(excinfo.value) == (
        "bad.seg:2:14: rule files must be UTF-8; byte 0xe9 is not\n"
        "    name == '\n"
        "             ^\n"
        "save the file as UTF-8"
    )


# Syntax errors: (input, the whole message). --------------------------------------------------

SYNTAX_ERRORS = [
    (
        "segment s: a < b < c",
        "r.seg:1:18: comparisons cannot be chained\n"
        "    segment s: a < b < c\n"
        "                     ^\n"
        "combine two comparisons with 'and': a < b and b < c",
    ),
    (
        "segment s: (a > 1 and b < 2",
        "r.seg:1:28: missing closing parenthesis\n"
        "    segment s: (a > 1 and b < 2\n"
        "                               ^\n"
        "add ')' to close the '(' at line 1, column 12",
    ),
    (
        "segment s:\n"
        "    (x > 1\n"
        "    and y > 2\n"
        "# trailing comment\n",
        "r.seg:3:14: missing closing parenthesis\n"
        "    and y > 2\n"
        "             ^\n"
        "add ')' to close the '(' at line 2, column 5",
    ),
    (
        "segment s: lower(x == 'a'",
        "r.seg:1:26: missing closing parenthesis\n"
        "    segment s: lower(x == 'a'\n"
        "                             ^\n"
        "add ')' to close the '(' at line 1, column 17",
    ),
    (
        "segment s: a > 1)",
        "r.seg:1:17: unmatched ')'\n"
        "    segment s: a > 1)\n"
        "                    ^\n"
        "remove it, or add the '(' it closes",
    ),
    (
        "segment s: a = 1",
        "r.seg:1:14: unexpected '='\n"
        "    segment s: a = 1\n"
        "                 ^\n"
        "compare with '=='",
    ),
    (
        "segment s: a => 1",
        "r.seg:1:14: unexpected '='\n"
        "    segment s: a => 1\n"
        "                 ^\n"
        "write '>=' for 'greater than or equal'",
    ),
    (
        "segment s: a <> 1",
        "r.seg:1:14: unexpected '<>'\n"
        "    segment s: a <> 1\n"
        "                 ^^\n"
        "write '!=' for 'not equal'",
    ),
    (
        "segment s: a > 1 && b < 2",
        "r.seg:1:18: unexpected '&&'\n"
        "    segment s: a > 1 && b < 2\n"
        "                     ^^\n"
        "write 'and' / 'or'",
    ),
    (
        "segment s: a > 1 || b < 2",
        "r.seg:1:18: unexpected '||'\n"
        "    segment s: a > 1 || b < 2\n"
        "                     ^^\n"
        "write 'and' / 'or'",
    ),
    (
        "segment s: !a",
        "r.seg:1:12: unexpected '!'\n"
        "    segment s: !a\n"
        "               ^\n"
        "write 'not' to negate a condition, '!=' to compare",
    ),
    (
        'segment s: name == "abc',
        "r.seg:1:20: unterminated string\n"
        '    segment s: name == "abc\n'
        "                       ^\n"
        'close it with " on the same line',
    ),
    (
        "segment s: name == 'abc\n    and x > 1",
        "r.seg:1:20: unterminated string\n"
        "    segment s: name == 'abc\n"
        "                       ^\n"
        "close it with ' on the same line",
    ),
    (
        "segment s: recency > 30 days",
        "r.seg:1:25: unexpected name 'days'; expected an operator, 'holdout' or the end of "
        "the rule\n"
        "    segment s: recency > 30 days\n"
        "                            ^^^^\n"
        "write durations without a space: 30d",
    ),
    (
        "segment s: recency > 2weeks",
        "r.seg:1:22: unexpected '2weeks'\n"
        "    segment s: recency > 2weeks\n"
        "                         ^^^^^^\n"
        "write durations as a number and a unit letter: 2w",
    ),
    (
        "segment s: recency > 30D",
        "r.seg:1:22: unexpected '30D'\n"
        "    segment s: recency > 30D\n"
        "                         ^^^\n"
        "duration units are lower case: 30d",
    ),
    (
        "segment s: recency > 90s",
        "r.seg:1:22: unexpected '90s'\n"
        "    segment s: recency > 90s\n"
        "                         ^^^\n"
        "duration units are h, d, w, mo and y: 12h, 30d, 2w, 6mo, 1y",
    ),
    (
        "segment s: d > 2026-02-30",
        "r.seg:1:16: invalid date '2026-02-30': day is out of range for month\n"
        "    segment s: d > 2026-02-30\n"
        "                   ^^^^^^^^^^",
    ),
    (
        "segment s: d > 2026-13-01",
        "r.seg:1:16: invalid date '2026-13-01': month must be in 1..12\n"
        "    segment s: d > 2026-13-01\n"
        "                   ^^^^^^^^^^",
    ),
    (
        "segment s: t > 2026-01-01T25:00",
        "r.seg:1:16: invalid timestamp '2026-01-01T25:00': hour must be in 0..23\n"
        "    segment s: t > 2026-01-01T25:00\n"
        "                   ^^^^^^^^^^^^^^^^",
    ),
    (
        "segment s: x in top 150%",
        "r.seg:1:21: percentage must be between 0% and 100%, got 150%\n"
        "    segment s: x in top 150%\n"
        "                        ^^^",
    ),
    (
        "segment s: x > 1\n    holdout 120%",
        "r.seg:2:13: holdout must be between 0% and 100%, got 120%\n"
        "    holdout 120%\n"
        "            ^^^",
    ),
    (
        "segment s: x in top 10",
        "r.seg:1:23: unexpected end of rule; expected '%'\n"
        "    segment s: x in top 10\n"
        "                          ^",
    ),
    (
        "segment and: x > 1",
        "r.seg:1:9: 'and' is a keyword and cannot be a name\n"
        "    segment and: x > 1\n"
        "            ^^^",
    ),
    (
        "segmentation s:\n    all: x > 1",
        "r.seg:2:5: 'all' is a keyword and cannot be a name\n"
        "    all: x > 1\n"
        "    ^^^",
    ),
    (
        "segment s: top > 1",
        "r.seg:1:12: unexpected keyword 'top'; expected a value\n"
        "    segment s: top > 1\n"
        "               ^^^\n"
        "a column named 'top' can be written SOURCE.top",
    ),
    (
        "segment s: x > 1 or or y",
        "r.seg:1:21: unexpected keyword 'or'; expected a value\n"
        "    segment s: x > 1 or or y\n"
        "                        ^^",
    ),
    (
        "segment 1st: x > 1",
        "r.seg:1:9: invalid name '1st'\n"
        "    segment 1st: x > 1\n"
        "            ^^^\n"
        "a name starts with a letter or '_'",
    ),
    (
        "hello\nsegment s: x > 1",
        "r.seg:1:1: expected 'segment' or 'segmentation'\n"
        "    hello\n"
        "    ^^^^^\n"
        "a rule starts with: segment NAME: CONDITION",
    ),
    (
        "  recency > 30d\nsegment s: x > 1",
        "r.seg:1:3: expected 'segment' or 'segmentation'\n"
        "    recency > 30d\n"
        "    ^^^^^^^\n"
        "a rule starts with: segment NAME: CONDITION",
    ),
    (
        "segment s:\n    x > 1\nand y > 2",
        "r.seg:3:1: a condition that continues on the next line must be indented\n"
        "    and y > 2\n"
        "    ^^^\n"
        "indent it deeper than the header on line 1",
    ),
    (
        "  segment s: x > 1\n  and y > 2",
        "r.seg:2:3: a condition that continues on the next line must be indented\n"
        "    and y > 2\n"
        "    ^^^\n"
        "indent it deeper than the header on line 1",
    ),
    (
        "segment s:",
        "r.seg:1:11: missing condition after ':'\n"
        "    segment s:\n"
        "              ^\n"
        "write a condition, like: orders >= 1",
    ),
    (
        "segment s:   # to do\n\nsegment t: x",
        "r.seg:1:11: missing condition after ':'\n"
        "    segment s:   # to do\n"
        "              ^\n"
        "write a condition, like: orders >= 1",
    ),
    (
        "segmentation s:\n    a: x > 1\n    b:",
        "r.seg:3:7: missing condition after ':'\n"
        "    b:\n"
        "      ^\n"
        "write a condition, like: orders >= 1",
    ),
    (
        "segmentation s:",
        "r.seg:1:16: segmentation 's' has no labels\n"
        "    segmentation s:\n"
        "                   ^\n"
        "add indented lines like:  active: recency <= 90d",
    ),
    (
        "segment s: x >",
        "r.seg:1:15: unexpected end of rule; expected a value after '>'\n"
        "    segment s: x >\n"
        "                  ^",
    ),
    (
        "segment s: x > 1 and",
        "r.seg:1:21: unexpected end of rule; expected a value after 'and'\n"
        "    segment s: x > 1 and\n"
        "                        ^",
    ),
    (
        "segment s: x is not",
        "r.seg:1:20: unexpected end of rule; expected 'null'\n"
        "    segment s: x is not\n"
        "                       ^",
    ),
    (
        "segment s: x between 1",
        "r.seg:1:23: unexpected end of rule; expected 'and' and the upper bound\n"
        "    segment s: x between 1\n"
        "                          ^\n"
        "write: x between LOW and HIGH",
    ),
    (
        "segment s: x starts y",
        "r.seg:1:21: unexpected name 'y'; expected 'with'\n"
        "    segment s: x starts y\n"
        "                        ^",
    ),
    (
        "segment s: x > 1 y > 2",
        "r.seg:1:18: unexpected name 'y'; expected an operator, 'holdout' or the end of the rule\n"
        "    segment s: x > 1 y > 2\n"
        "                     ^",
    ),
    (
        "segment s x > 1",
        "r.seg:1:11: unexpected name 'x'; expected a string or ':'\n"
        "    segment s x > 1\n"
        "              ^",
    ),
    (
        "segment s: x in ()",
        "r.seg:1:18: empty list\n"
        "    segment s: x in ()\n"
        "                     ^\n"
        'a list needs at least one value: ("DE", "FR")',
    ),
    (
        "segment s: ()",
        "r.seg:1:13: empty parentheses\n"
        "    segment s: ()\n"
        "                ^\n"
        "put a condition or a value between them",
    ),
    (
        "segment s: x @ 1",
        "r.seg:1:14: unexpected character '@'\n"
        "    segment s: x @ 1\n"
        "                 ^",
    ),
    (
        "segment s: a.b.c > 1",
        "r.seg:1:15: unexpected '.'; expected an operator, 'holdout' or the end of the rule\n"
        "    segment s: a.b.c > 1\n"
        "                  ^",
    ),
    (
        "segment s: x > 1 holdout 10",
        "r.seg:1:28: unexpected end of rule; expected '%'\n"
        "    segment s: x > 1 holdout 10\n"
        "                               ^",
    ),
    (
        "segment s:\n\tx > 1 and\n\ty < ",
        "r.seg:3:5: unexpected end of rule; expected a value after '<'\n"
        "    y <\n"
        "       ^",
    ),
]


@pytest.mark.parametrize(("rules", "message"), SYNTAX_ERRORS)
def test_syntax_errors(rules: str, message: str) -> None:
    with pytest.raises(RuleError) as excinfo:
        parse_rules(rules, "r.seg")
    assert str(excinfo.value) == message


def test_every_syntax_error_of_a_file_is_reported() -> None:
    rules = (
        "stray words\n"
        "segment ok: x > 1\n"
        "\n"
        "segment one: y >\n"
        "\n"
        "segment two: (z\n"
        "segment three: a = 1\n"
        "segment fine: b\n"
        "segmentation four:\n"
        "    a: x > 1\n"
        "    b:\n"
        "segment five: c\n"
        "d\n"
    )
    with pytest.raises(RuleError) as excinfo:
        parse_rules(rules, "multi.seg")
    error = excinfo.value
    assert [(d.line, d.message) for d in error.diagnostics] == [
        (1, "expected 'segment' or 'segmentation'"),
        (4, "unexpected end of rule; expected a value after '>'"),
        (6, "missing closing parenthesis"),
        (7, "unexpected '='"),
        (11, "missing condition after ':'"),
        (13, "a condition that continues on the next line must be indented"),
    ]
    assert str(error).endswith("\n\n6 errors")
    assert str(error).startswith(
        "multi.seg:1:1: expected 'segment' or 'segmentation'\n"
        "    stray words\n"
        "    ^^^^^\n"
        "a rule starts with: segment NAME: CONDITION\n"
        "\n"
        "multi.seg:4:17: unexpected end of rule; expected a value after '>'\n"
        "    segment one: y >\n"
        "                    ^\n"
        "\n"
    )


def test_a_long_line_is_shown_around_the_mistake() -> None:
    rules = "segment s: " + " or ".join(f"x{i} == {i}" for i in range(200)) + " or y ="
    with pytest.raises(RuleError) as excinfo:
        parse_rules(rules, "r.seg")
    lines = str(excinfo.value).split("\n")
    assert lines[0] == f"r.seg:1:{len(rules)}: unexpected '='"
    assert lines[1].startswith("    ...") and lines[1].endswith("or y =")
    assert lines[2] == "    " + " " * (len(lines[1]) - 4 - 1) + "^"
    assert len(lines[1]) < 100
