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


import numpy as np
import pyarrow as pa
import pytest

import segmint
from segmint.engines.spark import engine
from segmint.engines.spark.engine import JOIN_STAGES, STAGE_LAYERS
from segmint.errors import EvaluationError


ENGINE = "spark"  # the `chains` fixture's engine

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


def layer_ctes(text: str) -> int:
    return text.count("`layer:") // 2  # each defined, and read by the next (or the end)


@pytest.mark.full  # ~20 s on two cores
def test_a_chain_of_several_stages_gives_the_arrow_engines_membership(spark, statements, chains):
    length = 8 * STAGE_LAYERS  # 8 stages; one statement of 40 layers fails in Spark
    x = np.random.default_rng(7).integers(0, 2 * length, 300)
    profiles = pa.table({"customer_id": np.arange(300), "x": x})
    result = chains.both("\n".join(chains.chain(length)), profiles)
    assert result.column(f"s{length - 1}").to_pylist() == (x > 10 + length - 1).tolist()
    assert 0 < sum(result.column(f"s{length - 1}").to_pylist()) < 300
    # every statement Spark analyses holds one stage's layers at most
    assert max(layer_ctes(t) for t in statements) == STAGE_LAYERS
    assert len(statements) == 8 + 1  # the stages, then the join of their views
    # the run's views, the stages' among them, are dropped
    assert not [t for t in spark.catalog.listTables() if t.name.startswith("segmint_")]


def test_a_rule_set_no_deeper_than_a_stage_is_one_statement(spark, statements, chains):
    profiles = pa.table({"customer_id": np.arange(50), "x": np.arange(50) * 40})
    chains.both("\n".join(chains.chain(STAGE_LAYERS)), profiles)
    assert [layer_ctes(t) for t in statements] == [STAGE_LAYERS]


def test_many_stage_views_are_joined_a_few_at_a_time(spark, statements, monkeypatch, chains):
    # small stages and joins of 3, so that the joins take two rounds (12 -> 4 -> 2)
    monkeypatch.setattr(engine, "STAGE_LAYERS", 4)
    monkeypatch.setattr(engine, "JOIN_STAGES", 3)
    profiles = pa.table({"customer_id": [f"c{i}" for i in range(80)], "x": np.arange(80)})
    rules = "\n".join([*chains.chain(47), "segment far: s0 and not s46 and x > 20", ""])  # 48 layers
    persisted = len(spark.sparkContext._jsc.getPersistentRDDs())
    chains.both(rules, profiles)
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
                                                                            layers, chains):
    monkeypatch.setattr(engine, "STAGE_LAYERS", layers)
    chains.across_stages(layers, 2 * layers + 10)  # three stages
    assert sum(1 for t in statements if layer_ctes(t)) >= 3  # the stages (the result reads views)


def test_integer_overflow_in_a_late_stage_names_its_segment(spark, chains):
    profiles = pa.table({"customer_id": [1, 2, 3], "x": [5, 2**62, 40]})
    # s{2K} is true where x * 4 overflows: OR need not compute it, the language does
    rules = "\n".join([*chains.chain(2 * STAGE_LAYERS + 3), f"segment boom: s{2 * STAGE_LAYERS} or x * 4 > 0", ""])
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
