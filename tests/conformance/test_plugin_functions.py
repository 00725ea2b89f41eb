"""A plugin function with a builder per engine gives the same membership on every engine:
arrow builds it with pyarrow.compute, the SQL engines with sqlglot (`segmint.SQL`)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot.expressions as exp

import segmint
from segmint.language.types import NUMBER, STRING

from cases import table

DATA = table(city=pa.array(["Berlin", None, "bern", "Köln"]), n=pa.array([3, None, -2, 10]))

SHOUT = segmint.Function("shout", (STRING,), STRING, builders={
    "arrow": lambda call: pc.utf8_upper(call.args[0]),
    segmint.SQL: lambda call: exp.Upper(this=call.args[0]),
})
TWICE = segmint.Function("twice", (NUMBER,), NUMBER, builders={
    "arrow": lambda call: pc.multiply_checked(call.args[0], 2),
    segmint.SQL: lambda call: exp.Mul(this=exp.paren(call.args[0]), expression=exp.Literal.number(2)),
})


def test_a_plugin_function_built_for_each_engine(evaluate):
    rules = segmint.parse_rules(
        "segment loud: shout(city) in ('BERLIN', 'KÖLN')\n"
        "segment big: twice(n) > 5\n", "r.seg")
    result = evaluate(rules, DATA, functions={"shout": SHOUT, "twice": TWICE})
    assert result["loud"].to_pylist() == [True, False, False, True]
    assert result["big"].to_pylist() == [True, False, False, True]
