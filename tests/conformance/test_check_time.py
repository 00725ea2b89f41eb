"""What an engine refuses is refused at check time, with the rule's position, on every
engine: a `matches` pattern RE2 rejects, a plugin function without a builder for it."""

from __future__ import annotations

import pyarrow as pa
import pytest

import segmint
from segmint.language.types import STRING

from cases import table

DATA = table(city=pa.array(["Berlin", None]))


def rule_error(call) -> str:
    with pytest.raises(segmint.RuleError) as raised:
        call()
    return str(raised.value)


@pytest.mark.parametrize("rules, message", [
    ("segment s: city matches '(abc'",
     "r.seg:1:25: invalid regular expression: missing ): (abc\n"
     "    segment s: city matches '(abc'\n"
     "                            ^^^^^^\n"
     "patterns use RE2 syntax"),
    ("segment s: city matches '(?=x)'",
     "r.seg:1:25: invalid regular expression: invalid perl operator: (?=\n"
     "    segment s: city matches '(?=x)'\n"
     "                            ^^^^^^^\n"
     "patterns use RE2 syntax"),
])
def test_a_pattern_re2_refuses_is_a_rule_error(evaluate, rules, message):
    assert rule_error(lambda: evaluate(segmint.parse_rules(rules, "r.seg"), DATA)) == message


def test_a_function_with_no_builder_for_the_engine_is_a_rule_error(evaluate, engine):
    elsewhere = segmint.Function("shout", (STRING,), STRING, builders={"warehouse": lambda c: c})
    rules = segmint.parse_rules("segment s: shout(city) == 'BERLIN'", "r.seg")
    assert rule_error(lambda: evaluate(rules, DATA, functions={"shout": elsewhere})) == (
        f"r.seg:1:12: shout() has no builder for the {engine} engine\n"
        "    segment s: shout(city) == 'BERLIN'\n"
        "               ^^^^^^^^^^^\n"
        "it has builders for: warehouse")
