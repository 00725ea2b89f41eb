"""The exact text of the parser's syntax errors (segmint.language.syntax_errors, statements).

Errors are a table of (input, full message) in the style of pytest's
testing/test_mark_expression.py: the message is what a user reads, so it is pinned whole.
"""

from __future__ import annotations

import pytest

from segmint.errors import RuleError
from segmint.language.parser import parse_rules


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
