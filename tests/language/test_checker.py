"""The resolver and type checker: what it accepts, and the exact text of every error.

Errors are a table of (rules, full message) over one catalog: sources `crm` and `web`
(profiles, sharing a `country` column) and `orders` (columns from the metric `rfm`).
"""

from __future__ import annotations

import attrs
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from segmint.language import ast
from segmint.language.catalog import Catalog
from segmint.language.checker import MAX_DIAGNOSTICS, check
from segmint.errors import MAX_SHOWN, RuleError
from segmint.language.parser import parse_rules
from segmint.plugin.api import Function
from segmint.language.types import BOOL, NUMBER, STRING

CRM = pa.schema([
    ("customer_id", pa.int64()), ("country", pa.string()), ("recency", pa.duration("s")),
    ("signup", pa.date32()), ("email_consent", pa.bool_()), ("interests", pa.list_(pa.string())),
    ("last_seen", pa.timestamp("us", tz="UTC")), ("age", pa.int32()), ("city", pa.string()),
])
WEB = pa.schema([("customer_id", pa.int64()), ("country", pa.string()), ("visits", pa.int64())])
RFM = pa.schema([
    ("customer_id", pa.int64()), ("frequency", pa.int64()), ("monetary", pa.float64()),
])
CATALOG = Catalog.from_parts(
    [("crm", CRM, None), ("web", WEB, None), ("orders", RFM, "metric rfm")], key="customer_id",
)


def check_text(rules: str, filename: str = "r.seg", **kwargs):
    return check(parse_rules(rules, filename), CATALOG, **kwargs)


CHECK_ERRORS = [
    (
        'segment champions:\n    recency <= 30d and monetery >= 500',
        "r.seg:2:24: unknown name 'monetery'\n"
        '    recency <= 30d and monetery >= 500\n'
        '                       ^^^^^^^^\n'
        "did you mean 'monetary'? (columns come from: crm, web, orders via metric rfm)",
    ),
    (
        'segment s: xyz > 1',
        "r.seg:1:12: unknown name 'xyz'\n"
        '    segment s: xyz > 1\n'
        '               ^^^\n'
        'columns come from: crm, web, orders via metric rfm',
    ),
    (
        'segment s: Age > 1',
        "r.seg:1:12: unknown name 'Age'\n"
        '    segment s: Age > 1\n'
        '               ^^^\n'
        "did you mean 'age'? (columns come from: crm, web, orders via metric rfm)",
    ),
    (
        'segment s: order.frequency > 1',
        "r.seg:1:12: unknown source 'order'\n"
        '    segment s: order.frequency > 1\n'
        '               ^^^^^^^^^^^^^^^\n'
        "did you mean 'orders'?",
    ),
    (
        "segment s: zzz.country == 'DE'",
        "r.seg:1:12: unknown source 'zzz'\n"
        "    segment s: zzz.country == 'DE'\n"
        '               ^^^^^^^^^^^\n'
        'sources: crm, web, orders',
    ),
    (
        'segment s: web.monetary > 1',
        "r.seg:1:12: source 'web' has no column 'monetary'\n"
        '    segment s: web.monetary > 1\n'
        '               ^^^^^^^^^^^^\n'
        'it is a column of orders: write orders.monetary',
    ),
    (
        'segment s: crm.visits > 1',
        "r.seg:1:12: source 'crm' has no column 'visits'\n"
        '    segment s: crm.visits > 1\n'
        '               ^^^^^^^^^^\n'
        'it is a column of web: write web.visits',
    ),
    (
        "segment s: country == 'DE'",
        "r.seg:1:12: ambiguous name 'country': it is a column of crm, web\n"
        "    segment s: country == 'DE'\n"
        '               ^^^^^^^\n'
        'write crm.country or web.country',
    ),
    (
        'segment s: crm.country > 5',
        'r.seg:1:12: cannot compare string with number\n'
        '    segment s: crm.country > 5\n'
        '               ^^^^^^^^^^^^^^^\n'
        'crm.country is text, which compares letter by letter: read it as a number in its'
        ' source to compare it with 5',
    ),
    (
        'segment s: crm.country == 5',
        'r.seg:1:12: cannot compare string with number\n'
        '    segment s: crm.country == 5\n'
        '               ^^^^^^^^^^^^^^^^\n'
        'crm.country is text: quote the value, "5"',
    ),
    (
        'segment s: recency > 30',
        'r.seg:1:12: cannot compare duration with number\n'
        '    segment s: recency > 30\n'
        '               ^^^^^^^^^^^^\n'
        'write 30d for 30 days, or days(recency) > 30',
    ),
    (
        'segment s: recency <= 7.5',
        'r.seg:1:12: cannot compare duration with number\n'
        '    segment s: recency <= 7.5\n'
        '               ^^^^^^^^^^^^^^\n'
        'write 7.5d for 7.5 days, or days(recency) <= 7.5',
    ),
    (
        'segment s: recency > visits',
        'r.seg:1:12: cannot compare duration with number\n'
        '    segment s: recency > visits\n'
        '               ^^^^^^^^^^^^^^^^\n'
        'write days(recency) to compare a duration as a number of days',
    ),
    (
        "segment s: signup > '2024-01-01'",
        'r.seg:1:12: cannot compare date with string\n'
        "    segment s: signup > '2024-01-01'\n"
        '               ^^^^^^^^^^^^^^^^^^^^^\n'
        'write dates without quotes: 2024-01-01',
    ),
    (
        "segment s: last_seen < 'yesterday'",
        'r.seg:1:12: cannot compare timestamp with string\n'
        "    segment s: last_seen < 'yesterday'\n"
        '               ^^^^^^^^^^^^^^^^^^^^^^^\n'
        'write dates without quotes, like 2026-01-31',
    ),
    (
        'segment s: signup > 5',
        'r.seg:1:12: cannot compare date with number\n'
        '    segment s: signup > 5\n'
        '               ^^^^^^^^^^\n'
        'signup is a date: compare it with a date like 2026-01-31, or write signup within 30d',
    ),
    (
        "segment s: monetary > '500'",
        'r.seg:1:12: cannot compare number with string\n'
        "    segment s: monetary > '500'\n"
        '               ^^^^^^^^^^^^^^^^\n'
        'monetary is a number: write the value without quotes',
    ),
    (
        'segment s: interests > 1',
        'r.seg:1:12: cannot compare list of string with number\n'
        '    segment s: interests > 1\n'
        '               ^^^^^^^^^^^^^\n'
        "interests is a list: test it with 'contains', or compare length(interests)",
    ),
    (
        "segment s: lowr(city) == 'paris'",
        "r.seg:1:12: unknown function 'lowr'\n"
        "    segment s: lowr(city) == 'paris'\n"
        '               ^^^^^^^^^^\n'
        "did you mean 'lower'?",
    ),
    (
        'segment s: frobnicate(age) == 1',
        "r.seg:1:12: unknown function 'frobnicate'\n"
        '    segment s: frobnicate(age) == 1\n'
        '               ^^^^^^^^^^^^^^^\n'
        'functions: abs, coalesce, day_of_week, days, length, lower, month, round, upper, year',
    ),
    (
        "segment s: lower(city, 1) == 'paris'",
        'r.seg:1:12: lower() takes 1 argument, got 2\n'
        "    segment s: lower(city, 1) == 'paris'\n"
        '               ^^^^^^^^^^^^^^',
    ),
    (
        "segment s: lower() == 'paris'",
        'r.seg:1:12: lower() takes 1 argument, got 0\n'
        "    segment s: lower() == 'paris'\n"
        '               ^^^^^^^',
    ),
    (
        'segment s: coalesce() == 1',
        'r.seg:1:12: coalesce() takes at least 1 argument, got 0\n'
        '    segment s: coalesce() == 1\n'
        '               ^^^^^^^^^^',
    ),
    (
        'segment s: round(monetary, 1, 2) > 1',
        'r.seg:1:12: round() takes 1 to 2 arguments, got 3\n'
        '    segment s: round(monetary, 1, 2) > 1\n'
        '               ^^^^^^^^^^^^^^^^^^^^^',
    ),
    (
        "segment s: lower(age) == 'x'",
        'r.seg:1:18: argument 1 of lower() must be string, got number\n'
        "    segment s: lower(age) == 'x'\n"
        '                     ^^^',
    ),
    (
        'segment s: days(age) > 1',
        'r.seg:1:17: argument 1 of days() must be duration, got number\n'
        '    segment s: days(age) > 1\n'
        '                    ^^^',
    ),
    (
        'segment s: year(age) > 1',
        'r.seg:1:17: argument 1 of year() must be date or timestamp, got number\n'
        '    segment s: year(age) > 1\n'
        '                    ^^^',
    ),
    (
        'segment s: round(monetary, age) > 1',
        'r.seg:1:28: the digits of round() must be a whole number literal\n'
        '    segment s: round(monetary, age) > 1\n'
        '                               ^^^',
    ),
    (
        "segment s: coalesce(age, 'x') > 1",
        'r.seg:1:12: the arguments of coalesce() must all have one type: number, string\n'
        "    segment s: coalesce(age, 'x') > 1\n"
        '               ^^^^^^^^^^^^^^^^^^',
    ),
    (
        'segment s: city starts with country',
        "r.seg:1:29: ambiguous name 'country': it is a column of crm, web\n"
        '    segment s: city starts with country\n'
        '                                ^^^^^^^\n'
        'write crm.country or web.country',
    ),
    (
        "segment s: age starts with 'a'",
        "r.seg:1:12: 'starts with' needs a string, got number\n"
        "    segment s: age starts with 'a'\n"
        '               ^^^',
    ),
    (
        'segment s: age > 1\nsegment s: age > 2',
        "r.seg:2:9: duplicate name 's'\n"
        '    segment s: age > 2\n'
        '            ^\n'
        'first defined at r.seg:1',
    ),
    (
        'segmentation s:\n    a: age > 1\n    b: otherwise\n    c: age > 2',
        "r.seg:3:5: 'otherwise' must be the last label of a segmentation\n"
        '    b: otherwise\n'
        '    ^\n'
        "labels are tried in order, so nothing after 'otherwise' can match",
    ),
    (
        'segmentation s:\n    a: age > 1\n    a: age > 2',
        "r.seg:3:5: duplicate label 'a' in segmentation 's'\n"
        '    a: age > 2\n'
        '    ^',
    ),
    (
        'segment a: b\nsegment b: a',
        'r.seg:1:9: segments refer to each other in a cycle: a -> b -> a\n'
        '    segment a: b\n'
        '            ^\n'
        'a segment cannot depend on itself, directly or through others',
    ),
    (
        'segment a: b and age > 1\nsegment b: c\nsegment c: a',
        'r.seg:1:9: segments refer to each other in a cycle: a -> b -> c -> a\n'
        '    segment a: b and age > 1\n'
        '            ^\n'
        'a segment cannot depend on itself, directly or through others',
    ),
    (
        'segment a: age > 1 and a',
        'r.seg:1:9: segments refer to each other in a cycle: a -> a\n'
        '    segment a: age > 1 and a\n'
        '            ^\n'
        'a segment cannot depend on itself, directly or through others',
    ),
    (
        "segmentation tier:\n    top_tier: tier == 'top_tier'\n    rest: otherwise",
        'r.seg:1:14: segments refer to each other in a cycle: tier -> tier\n'
        '    segmentation tier:\n'
        '                 ^^^^\n'
        'a segment cannot depend on itself, directly or through others',
    ),
    (
        'segment s: age',
        "r.seg:1:12: the condition of segment 's' must be true or false, got number\n"
        '    segment s: age\n'
        '               ^^^\n'
        'compare it with a value, e.g. age > 0',
    ),
    (
        'segment s: age + 1',
        "r.seg:1:12: the condition of segment 's' must be true or false, got number\n"
        '    segment s: age + 1\n'
        '               ^^^^^^^\n'
        'compare it with a value, e.g. age + 1 > 0',
    ),
    (
        'segment s: city',
        "r.seg:1:12: the condition of segment 's' must be true or false, got string\n"
        '    segment s: city\n'
        '               ^^^^',
    ),
    (
        'segmentation s:\n    young: signup',
        "r.seg:2:12: the condition of label 'young' must be true or false, got date\n"
        '    young: signup\n'
        '           ^^^^^^',
    ),
    (
        'segment s: interests contains 5',
        'r.seg:1:31: interests is a list of string: it cannot contain a number\n'
        '    segment s: interests contains 5\n'
        '                                  ^\n'
        'quote the value: "5"',
    ),
    (
        "segment s: age contains 'yoga'",
        "r.seg:1:12: 'contains' needs a string or a list, got number\n"
        "    segment s: age contains 'yoga'\n"
        '               ^^^',
    ),
    (
        'segment s: city in (1, 2)',
        'r.seg:1:21: cannot compare string with number\n'
        '    segment s: city in (1, 2)\n'
        '                        ^\n'
        'city is text: quote the value, "1"\n'
        '\n'
        'r.seg:1:24: cannot compare string with number\n'
        '    segment s: city in (1, 2)\n'
        '                           ^\n'
        'city is text: quote the value, "2"\n'
        '\n'
        '2 errors',
    ),
    (
        "segment s: age in (1, 'a')",
        'r.seg:1:23: list items must all have one type: number and string\n'
        "    segment s: age in (1, 'a')\n"
        '                          ^^^',
    ),
    (
        "segment s: age between 'a' and 5",
        'r.seg:1:24: cannot compare number with string\n'
        "    segment s: age between 'a' and 5\n"
        '                           ^^^\n'
        'age is a number: write the value without quotes',
    ),
    (
        'segment s: email_consent in top 10%',
        "r.seg:1:12: 'in top N%' needs values that can be ordered, got bool\n"
        '    segment s: email_consent in top 10%\n'
        '               ^^^^^^^^^^^^^',
    ),
    (
        'segment s: age within 30d',
        "r.seg:1:12: 'within' needs a date or a timestamp, got number\n"
        '    segment s: age within 30d\n'
        '               ^^^',
    ),
    (
        'segment s: signup within 30',
        "r.seg:1:26: 'within' needs a duration literal, like 30d\n"
        '    segment s: signup within 30\n'
        '                             ^^\n'
        'write 30d for 30 days',
    ),
    (
        'segment s: not age',
        "r.seg:1:16: 'not' needs conditions (true or false), got number\n"
        '    segment s: not age\n'
        '                   ^^^',
    ),
    (
        'segment s: age and email_consent',
        "r.seg:1:12: 'and' needs conditions (true or false), got number\n"
        '    segment s: age and email_consent\n'
        '               ^^^',
    ),
    (
        'segment s: -city > 1',
        'r.seg:1:12: cannot negate a string\n'
        '    segment s: -city > 1\n'
        '               ^^^^^',
    ),
    (
        'segment s: signup + 5 > today',
        "r.seg:1:12: cannot apply '+' to date and number\n"
        '    segment s: signup + 5 > today\n'
        '               ^^^^^^^^^^\n'
        'add a duration, not a number: signup + 5d',
    ),
    (
        'segment s: signup - 5d > last_seen + city',
        "r.seg:1:26: cannot apply '+' to timestamp and string\n"
        '    segment s: signup - 5d > last_seen + city\n'
        '                             ^^^^^^^^^^^^^^^^',
    ),
    (
        'segmentation seg:\n    a: age > 1\n    b: otherwise\nsegment t: seg == 1',
        'r.seg:4:12: cannot compare string with number\n'
        '    segment t: seg == 1\n'
        '               ^^^^^^^^\n'
        'seg is text: quote the value, "1"',
    ),

]


@pytest.mark.parametrize(("rules", "message"), CHECK_ERRORS)
def test_check_errors(rules: str, message: str) -> None:
    with pytest.raises(RuleError) as excinfo:
        check_text(rules)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    "rules",
    [
        "segment s: crm.country == 'DE' and web.country != 'FR'",
        "segment s: recency <= 30d and days(recency) < 30.5 and frequency >= 5",
        "segment s: signup within 30d and last_seen > 2026-01-01 and signup < 2026-01-01T00:00Z",
        "segment s: signup + 30d > today and today - signup > 1w and last_seen < now",
        "segment s: interests contains 'yoga' and interests contains any ('a', 'b')",
        "segment s: city starts with 'Pa' and lower(city) matches '^pa(ris)?$'",
        "segment s: age in (18, 19, 20) and age not between 1 and 2 and age is not null",
        "segment s: monetary in top 10% or age in bottom 5%",
        "segment s: coalesce(age, 0) > 1 and round(monetary, 2) > 1 and abs(-age) > 1",
        "segment s: length(interests) > 1 and length(city) > 1 and year(signup) == 2026",
        "segment s: month(last_seen) == 1 and day_of_week(signup) in (6, 7)",
        "segment s: email_consent and not email_consent == false",
        "segment s: age == null and null",
        "segment s: monetary / frequency > 10 and -monetary < 0",
        "segmentation lifecycle:\n    new: recency <= 30d\n    lost: otherwise",
        "segmentation lifecycle:\n    new: recency <= 30d\nsegment s: lifecycle == 'new'",
    ],
)
def test_well_typed_rules_check(rules: str) -> None:
    check_text(rules)


def test_checked_rules_order_statements_after_what_they_use() -> None:
    checked = check_text(
        "segment win_back: at_risk and not big\n"
        "segment at_risk: recency > 90d\n"
        "segment big: monetary in top 10%\n"
        "segmentation tier:\n"
        "    vip: win_back\n"
        "    rest: otherwise\n"
    )
    order = list(checked.order)
    assert order.index("at_risk") < order.index("win_back")
    assert order.index("big") < order.index("win_back") < order.index("tier")
    assert checked.depends["win_back"] == {"at_risk", "big"}
    assert checked.depends["tier"] == {"win_back"}
    assert {c.physical for c in checked.columns_used} == {"recency", "monetary"}


def test_types_and_bindings_are_recorded() -> None:
    checked = check_text("segment s: crm.country == 'DE' and frequency > 1 and today > signup")
    compare, frequency, today = checked.rules.statements[0].condition.operands
    assert checked.type_of(compare) == BOOL
    country = compare.left
    binding = checked.binding(country)
    assert (binding.kind, binding.type, binding.column.physical) == (
        "column", STRING, "crm.country")
    assert checked.binding(frequency.left).column.via == "metric rfm"
    assert checked.type_of(frequency.left) == NUMBER
    assert checked.binding(today.left).kind == "builtin"


def test_a_segment_or_column_wins_over_a_builtin_name() -> None:
    catalog = Catalog.from_schemas(
        {"crm": pa.schema([("customer_id", pa.int64()), ("today", pa.string())])},
        key="customer_id",
    )
    checked = check(parse_rules("segment s: today == 'x'"), catalog)
    assert checked.binding(checked.rules.statements[0].condition.left).kind == "column"


def test_plugin_functions_are_checked_like_builtins() -> None:
    plus_one = Function("plus_one", (NUMBER,), NUMBER, lambda call: pc.add(call.args[0], 1))
    check_text("segment s: plus_one(age) > 1", functions={"plus_one": plus_one})
    with pytest.raises(RuleError) as excinfo:
        check_text("segment s: plus_one(city, 2) > 1", functions={"plus_one": plus_one})
    assert str(excinfo.value) == (
        "r.seg:1:12: plus_one() takes 1 argument, got 2\n"
        "    segment s: plus_one(city, 2) > 1\n"
        "               ^^^^^^^^^^^^^^^^^"
    )
    with pytest.raises(RuleError) as excinfo:
        check_text("segment s: plus_one(last_seen) > 1", functions={"plus_one": plus_one})
    assert str(excinfo.value).split("\n")[0] == (
        "r.seg:1:21: argument 1 of plus_one() must be number, got timestamp")


def test_every_error_of_every_file_is_reported_in_file_order() -> None:
    first = parse_rules(
        "segment a: monetery > 1\n"
        "segment b: city > 5\n",
        "rules/a.seg",
    )
    second = parse_rules(
        "segment b: age > 1\n"
        "segmentation c:\n"
        "    x: otherwise\n"
        "    y: lowr(city) == 'x'\n",
        "rules/b.seg",
    )
    with pytest.raises(RuleError) as excinfo:
        check(first + second, CATALOG)
    error = excinfo.value
    assert [(d.filename, d.line, d.message) for d in error.diagnostics] == [
        ("rules/a.seg", 1, "unknown name 'monetery'"),
        ("rules/a.seg", 2, "cannot compare string with number"),
        ("rules/b.seg", 1, "duplicate name 'b'"),
        ("rules/b.seg", 3, "'otherwise' must be the last label of a segmentation"),
        ("rules/b.seg", 4, "unknown function 'lowr'"),
    ]
    text = str(error)
    assert text.endswith("\n\n5 errors")
    assert (
        "rules/b.seg:1:9: duplicate name 'b'\n"
        "    segment b: age > 1\n"
        "            ^\n"
        "first defined at rules/a.seg:2\n"
    ) in text


def test_thousands_of_errors_are_counted_not_all_shown() -> None:
    rules = "segment s: " + " or ".join(f"missing_{i} > 1" for i in range(1000))
    with pytest.raises(RuleError) as excinfo:
        check_text(rules)
    error = excinfo.value
    assert len(error.diagnostics) == MAX_DIAGNOSTICS
    assert error.omitted == 1000 - MAX_DIAGNOSTICS
    text = str(error)
    assert text.endswith(f"\n\n1000 errors ({1000 - MAX_SHOWN} more not shown)")
    assert text.count("unknown name") == MAX_SHOWN


@pytest.mark.parametrize(("rule", "hint"), [
    ("segment s: country > 30",
     'country is text, which compares letter by letter: give it a number type with the types'
     ' option of source \'crm\' (types = { country = "int" })'),
    ("segment s: country between 1.5 and 2",
     'country is text, which compares letter by letter: give it a number type with the types'
     ' option of source \'crm\' (types = { country = "float" })'),
    ('segment s: country == 30', 'country is text: quote the value, "30"'),
])
def test_a_text_column_ordered_against_a_number_points_at_its_sources_types_option(rule, hint):
    catalog = attrs.evolve(Catalog.from_schemas({"crm": CRM}, key="customer_id"),
                           type_options={"crm": "types"})
    with pytest.raises(RuleError) as caught:
        check(parse_rules(rule, "r.seg"), catalog)
    assert str(caught.value).splitlines()[3] == hint


def test_errors_are_found_without_data() -> None:
    """The checker needs schemas only: a catalog of types, no rows anywhere."""
    catalog = Catalog.from_schemas({"crm": CRM}, key="customer_id")
    checked = check(parse_rules("segment s: age > 1"), catalog)
    assert isinstance(checked.rules, ast.RuleSet)
