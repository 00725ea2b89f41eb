"""The rules-language parser: the AST it builds, with positions, and the driver's file handling.

The exact text of syntax errors is pinned in test_syntax_errors.py.
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


def test_parses_running_at_once_keep_their_own_positions() -> None:
    """Each parse has its own builder: files parsed in threads at the same time get the
    spans of their own file (no parse sees another's file name or line offsets)."""
    from concurrent.futures import ThreadPoolExecutor

    def parse(index: int) -> list[tuple[str, int, int]]:
        text = "\n" * index + "\n".join(f"segment s{i}: x{i} > {i} and (y or z)" for i in range(40))
        rules = parse_rules(text, f"file{index}.seg")
        return [(s.span.filename, s.span.line, s.condition.span.start) for s in rules.statements]

    expected = {index: parse(index) for index in range(8)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            found = dict(zip(range(8), pool.map(parse, range(8)), strict=True))
            assert found == expected
    assert expected[3][0] == ("file3.seg", 4, 3 + len("segment s0: "))
