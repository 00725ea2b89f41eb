"""A long chain of segments on the spark engine, each referring to the previous one.

A rule set of more than `STAGE_LAYERS` dependency layers runs in stages: each run of that
many layers is one statement whose result is checkpointed (``localCheckpoint``) and made a
temporary view the next stage reads, so Spark analyses bounded plans (one statement over
~30 nested layers stops its analyzer); more than `JOIN_STAGES` stage views are joined that
many at a time. Every link's membership, and segmentations, holdouts, top/bottom N% and
aggregates across the stage boundaries, are the arrow engine's; an overflow in a late
stage still names its segment, even where OR would skip it; no view is left behind.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

import segmint
from segmint.engines.spark import engine
from segmint.engines.spark.engine import JOIN_STAGES, STAGE_LAYERS
from segmint.errors import EvaluationError


@pytest.fixture
def statements(spark, monkeypatch) -> list[str]:
    """The SQL texts the spark engine runs in the test."""
    texts: list[str] = []
    sql = engine.run

    def recording(session, text, rules, action):
        texts.append(text)
        return sql(session, text, rules, action)

    monkeypatch.setattr(engine, "run", recording)
    return texts


def chain(length: int) -> list[str]:
    return ["segment s0: x > 10"] + [f"segment s{k}: s{k - 1} and x > {10 + k}" for k in range(1, length)]


def both(rules: str, profiles: pa.Table, **kwargs) -> pa.Table:
    on_spark = segmint.evaluate(rules, profiles, engine="spark", **kwargs)
    arrow = segmint.evaluate(rules, profiles, engine="arrow", **kwargs)
    assert on_spark.schema == arrow.schema
    assert on_spark.to_pylist() == arrow.to_pylist()
    assert on_spark.equals(arrow)
    return on_spark


def layer_ctes(text: str) -> int:
    return text.count("`layer:") // 2  # each defined, and read by the next (or the end)


@pytest.mark.full  # ~20 s on two cores
def test_a_chain_of_several_stages_gives_the_arrow_engines_membership(spark, statements):
    length = 8 * STAGE_LAYERS  # 8 stages; one statement of 40 layers fails in Spark
    x = np.random.default_rng(7).integers(0, 2 * length, 300)
    profiles = pa.table({"customer_id": np.arange(300), "x": x})
    result = both("\n".join(chain(length)), profiles)
    assert result.column(f"s{length - 1}").to_pylist() == (x > 10 + length - 1).tolist()
    assert 0 < sum(result.column(f"s{length - 1}").to_pylist()) < 300
    # every statement Spark analyses holds one stage's layers at most
    assert max(layer_ctes(t) for t in statements) == STAGE_LAYERS
    assert len(statements) == 8 + 1  # the stages, then the join of their views
    # the run's views, the stages' among them, are dropped
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("segmint_")]


def test_a_rule_set_no_deeper_than_a_stage_is_one_statement(spark, statements):
    profiles = pa.table({"customer_id": np.arange(50), "x": np.arange(50) * 40})
    both("\n".join(chain(STAGE_LAYERS)), profiles)
    assert [layer_ctes(t) for t in statements] == [STAGE_LAYERS]


def test_many_stage_views_are_joined_a_few_at_a_time(spark, statements, monkeypatch):
    # small stages and joins of 3, so that the joins take two rounds (12 -> 4 -> 2)
    monkeypatch.setattr(engine, "STAGE_LAYERS", 4)
    monkeypatch.setattr(engine, "JOIN_STAGES", 3)
    profiles = pa.table({"customer_id": [f"c{i}" for i in range(80)], "x": np.arange(80)})
    rules = "\n".join([*chain(47), "segment far: s0 and not s46 and x > 20", ""])  # 48 layers
    persisted = len(spark.sparkContext._jsc.getPersistentRDDs())
    both(rules, profiles)
    # the 12 + 5 checkpoints are freed, and the views dropped
    assert len(spark.sparkContext._jsc.getPersistentRDDs()) == persisted
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("segmint_")]
    joins = [t for t in statements if "JOIN" in t]
    assert len(joins) == 4 + 1 + 1  # two rounds (12 views -> 4 -> 2), then the result
    assert max(t.count("JOIN") for t in joins) <= 3 - 1
    assert JOIN_STAGES >= 2


@pytest.mark.parametrize("layers", [pytest.param(5, id="stages-of-5"),
                                    pytest.param(STAGE_LAYERS, id="stages-as-run", marks=pytest.mark.full)])
def test_segmentations_holdouts_top_n_and_aggregates_across_stage_boundaries(spark, statements, monkeypatch,
                                                                            layers):
    monkeypatch.setattr(engine, "STAGE_LAYERS", layers)
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
    length = 2 * layers + 10  # three stages
    lines = [f"segment s{k}: s{k - 1} or x > {190 - k}" for k in range(1, length)]
    rules = "\n".join([
        "segment s0: x > 190 holdout 30%",  # held out in stage 1, referred to in stage 3
        *lines,
        f"segment upper: s{layers + 5} and y in top 40%",
        f"segment lower: not s{length - 1} and x in bottom 25%",
        "segmentation tier:",
        f"    a: s{length - 2} and upper",
        "    b: s3 and not s0",
        "    c: lower",
        "    d: otherwise",
        f"segment spender: tier == \"b\" and sum(orders.amount) > 100 or s{layers + 1}",
        "segment late: tier == \"d\" and count(orders, last 10d) >= 1 holdout 50%",
        f"segment missing: y is null and s{length - 1}",
        "",
    ])
    result = both(rules, profiles, as_of="2024-06-01", holdout_salt="chain", events={"orders": events})
    assert sum(1 for t in statements if layer_ctes(t)) >= 3  # the stages (the result reads views)
    # the cases are not vacuous: every label and flag takes both values
    assert set(result["tier"].to_pylist()) == {"a", "b", "c", "d"}
    for name in ("s0", "s0__holdout", "upper", "lower", "spender", "late", "late__holdout", "missing"):
        assert set(result[name].to_pylist()) == {True, False}, name


def test_integer_overflow_in_a_late_stage_names_its_segment(spark):
    profiles = pa.table({"customer_id": [1, 2, 3], "x": [5, 2**62, 40]})
    # s{2K} is true where x * 4 overflows: OR need not compute it, the language does
    rules = "\n".join([*chain(2 * STAGE_LAYERS + 3), f"segment boom: s{2 * STAGE_LAYERS} or x * 4 > 0", ""])
    for name in ("arrow", "spark"):
        with pytest.raises(EvaluationError, match=f"<string>:{2 * STAGE_LAYERS + 4}: segment 'boom': integer overflow"):
            segmint.evaluate(rules, profiles, engine=name)
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("segmint_")]


def test_integer_overflow_that_or_would_skip_is_an_error_in_one_statement(spark):
    profiles = pa.table({"customer_id": [1, 2], "x": [5, 2**62]})
    with pytest.raises(EvaluationError, match=r"<string>:2: segment 'boom': integer overflow"):
        segmint.evaluate("segment big: x > 10\nsegment boom: big or x * 4 > 0\n", profiles, engine="spark")


def test_of_two_overflows_the_first_statement_in_file_order_is_named(spark):
    # 'late' overflows on the first row, 'early' (before it in the file) on the last only
    profiles = pa.table({"customer_id": [1, 2, 3], "x": [2**62, 5, 3], "y": [1, 2, 2**62]})
    rules = "segment early: y * 4 > 0\nsegment late: x * 4 > 0\n"
    for name in ("arrow", "spark"):
        with pytest.raises(EvaluationError, match=r"<string>:1: segment 'early': integer overflow"):
            segmint.evaluate(rules, profiles, engine=name)
