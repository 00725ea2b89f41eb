"""Dependency layers: each statement after everything it refers to, independent ones together."""

from __future__ import annotations

import pyarrow as pa
import pytest

from segmint.api import check_rules
from segmint.semantics.plan import layers

SCHEMA = pa.schema([("customer_id", pa.int64()), ("visits", pa.int64()), ("spend", pa.float64())])


@pytest.mark.parametrize("rules, expected", [
    ("segment a: visits > 1\nsegment b: visits > 2\nsegment c: a or b\n", [["a", "b"], ["c"]]),
    ("segment engaged: visits >= 3\nsegment loyal: engaged and spend in top 50%\n"
     "segmentation tier:\n    gold: loyal\n    silver: engaged\n    other: otherwise\n"
     'segment fans: tier == "silver"\n', [["engaged"], ["loyal"], ["tier"], ["fans"]]),
    ("segment late: early and visits > 9\nsegment early: visits > 1\nsegment alone: spend > 0\n",
     [["early", "alone"], ["late"]]),
    ("segment d: c\nsegment c: b and a\nsegment b: a\nsegment a: visits > 0\n",
     [["a"], ["b"], ["c"], ["d"]]),
])
def test_statements_are_layered_by_their_references(rules, expected):
    checked = check_rules(rules, SCHEMA)
    found = layers(checked)
    assert found == expected
    depth = {name: i for i, layer in enumerate(found) for name in layer}
    for name, deps in checked.depends.items():
        assert all(depth[d] < depth[name] for d in deps)
