"""A long chain of segments on the duckdb engine, each referring to the previous one.

A rule set of more than `STAGE_LAYERS` dependency layers runs in stages: each run of that
many layers is one statement whose result is a temporary table the next stage reads, so
DuckDB binds bounded statements (one statement over N nested layers costs it N^2). Every
link's membership, and segmentations, holdouts, top/bottom N% and aggregates across the
stage boundaries, are the arrow engine's; an overflow in a late stage still names its
segment."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pytest

import segmint
from segmint.errors import EvaluationError

pytest.importorskip("duckdb")

from segmint.engines.duckdb import runner  # noqa: E402  (needs duckdb)
from segmint.engines.sql.query import STAGE_LAYERS  # noqa: E402

_LAYER_CTE = re.compile(r'"layer:\d+" AS \(')


class Recording:
    """A DuckDB connection that records the text of every statement it is given."""

    def __init__(self, con, texts: list[str]) -> None:
        self._con, self._texts = con, texts

    def execute(self, text, *args, **kwargs):
        self._texts.append(text)
        return self._con.execute(text, *args, **kwargs)

    def sql(self, text, *args, **kwargs):
        self._texts.append(text)
        return self._con.sql(text, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


@pytest.fixture
def statements(monkeypatch) -> list[str]:
    """The texts of the statements the duckdb engine runs in the test."""
    texts: list[str] = []
    connect = runner.connect
    monkeypatch.setattr(runner, "connect", lambda settings: Recording(connect(settings), texts))
    return texts


def chain(length: int) -> list[str]:
    return ["segment s0: x > 10"] + [f"segment s{k}: s{k - 1} and x > {10 + k}" for k in range(1, length)]


def both(rules: str, profiles: pa.Table, **kwargs) -> pa.Table:
    duck = segmint.evaluate(rules, profiles, engine="duckdb", **kwargs)
    arrow = segmint.evaluate(rules, profiles, engine="arrow", **kwargs)
    assert duck.schema == arrow.schema
    assert duck.to_pylist() == arrow.to_pylist()
    assert duck.equals(arrow)
    return duck


def created(texts: list[str]) -> list[str]:
    return [t for t in texts if t.startswith('CREATE TEMPORARY TABLE "stage:')]


def test_a_chain_of_1100_segments_gives_the_arrow_engines_membership(statements):
    length = 1100  # past DuckDB's default expression depth of 1000 in one statement
    x = np.random.default_rng(7).integers(0, 2000, 300)
    profiles = pa.table({"customer_id": np.arange(300), "x": x})
    duck = both("\n".join(chain(length)), profiles)
    assert duck.column(f"s{length - 1}").to_pylist() == (x > 10 + length - 1).tolist()
    assert len(created(statements)) == -(-length // STAGE_LAYERS)
    # every statement DuckDB binds holds one stage's layers at most
    assert max(len(_LAYER_CTE.findall(t)) for t in statements) == STAGE_LAYERS


def test_a_rule_set_no_deeper_than_a_stage_is_one_statement(statements):
    profiles = pa.table({"customer_id": np.arange(50), "x": np.arange(50) * 40})
    both("\n".join(chain(STAGE_LAYERS)), profiles)
    assert created(statements) == []
    assert [len(_LAYER_CTE.findall(t)) for t in statements if "layer:" in t] == [STAGE_LAYERS]


def test_segmentations_holdouts_top_n_and_aggregates_across_stage_boundaries(statements):
    rows = 400
    rng = np.random.default_rng(11)
    profiles = pa.table({
        "customer_id": [f"c{i}" for i in range(rows)],
        "x": rng.integers(0, 200, rows),
        "y": pa.array([None if i % 17 == 0 else float(i % 23) for i in range(rows)]),
    })
    events = pa.table({
        "customer_id": [f"c{i % 150}" for i in range(600)],
        "timestamp": pa.array([dt.datetime(2024, 5, 1 + i % 30, tzinfo=dt.timezone.utc) for i in range(600)],
                              pa.timestamp("us", "UTC")),
        "amount": [float(i % 41) for i in range(600)],
    })
    length = 2 * STAGE_LAYERS + 20  # three stages
    lines = [f"segment s{k}: s{k - 1} or x > {190 - k}" for k in range(1, length)]
    rules = "\n".join([
        "segment s0: x > 190 holdout 30%",  # held out in stage 1, referred to in stage 3
        *lines,
        f"segment upper: s{STAGE_LAYERS + 5} and y in top 40%",
        f"segment lower: not s{length - 1} and x in bottom 25%",
        "segmentation tier:",
        f"    a: s{length - 2} and upper",
        "    b: s3 and not s0",
        "    c: lower",
        "    d: otherwise",
        f"segment spender: tier == \"b\" and sum(orders.amount) > 100 or s{STAGE_LAYERS + 1}",
        "segment late: tier == \"d\" and count(orders, last 10d) >= 1 holdout 50%",
        f"segment missing: y is null and s{length - 1}",
        "",
    ])
    result = both(rules, profiles, as_of="2024-06-01", holdout_salt="chain", events={"orders": events})
    assert len(created(statements)) >= 3
    # the cases are not vacuous: every label and flag takes both values
    assert set(result["tier"].to_pylist()) == {"a", "b", "c", "d"}
    for name in ("s0", "s0__holdout", "upper", "lower", "spender", "late", "late__holdout", "missing"):
        assert set(result[name].to_pylist()) == {True, False}, name


def test_integer_overflow_in_a_late_stage_names_its_segment():
    profiles = pa.table({"customer_id": [1, 2, 3], "x": [5, 2**62, 40]})
    rules = "\n".join([*chain(2 * STAGE_LAYERS + 3), f"segment boom: s{2 * STAGE_LAYERS} or x * 4 > 0", ""])
    for engine in ("arrow", "duckdb"):
        with pytest.raises(EvaluationError, match="segment 'boom': integer overflow"):
            segmint.evaluate(rules, profiles, engine=engine)
