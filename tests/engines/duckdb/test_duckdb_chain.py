"""A long chain of segments on the duckdb engine, each referring to the previous one.

A rule set of more than `STAGE_LAYERS` dependency layers runs in stages: each run of that
many layers is one statement whose result is a temporary table the next stage reads, so
DuckDB binds bounded statements (one statement over N nested layers costs it N^2). Every
link's membership, and segmentations, holdouts, top/bottom N% and aggregates across the
stage boundaries, are the arrow engine's; an overflow in a late stage still names its
segment."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest

import segmint
from segmint.errors import EvaluationError

pytest.importorskip("duckdb")

from segmint.engines.duckdb import runner  # noqa: E402  (needs duckdb)
from segmint.engines.sql.query import STAGE_LAYERS  # noqa: E402

ENGINE = "duckdb"  # the `chains` fixture's engine

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


def created(texts: list[str]) -> list[str]:
    return [t for t in texts if t.startswith('CREATE TEMPORARY TABLE "stage:')]


def test_a_chain_of_1100_segments_gives_the_arrow_engines_membership(statements, chains):
    length = 1100  # past DuckDB's default expression depth of 1000 in one statement
    x = np.random.default_rng(7).integers(0, 2000, 300)
    profiles = pa.table({"customer_id": np.arange(300), "x": x})
    duck = chains.both("\n".join(chains.chain(length)), profiles)
    assert duck.column(f"s{length - 1}").to_pylist() == (x > 10 + length - 1).tolist()
    assert len(created(statements)) == -(-length // STAGE_LAYERS)
    # every statement DuckDB binds holds one stage's layers at most
    assert max(len(_LAYER_CTE.findall(t)) for t in statements) == STAGE_LAYERS


def test_a_rule_set_no_deeper_than_a_stage_is_one_statement(statements, chains):
    profiles = pa.table({"customer_id": np.arange(50), "x": np.arange(50) * 40})
    chains.both("\n".join(chains.chain(STAGE_LAYERS)), profiles)
    assert created(statements) == []
    assert [len(_LAYER_CTE.findall(t)) for t in statements if "layer:" in t] == [STAGE_LAYERS]


def test_segmentations_holdouts_top_n_and_aggregates_across_stage_boundaries(statements, chains):
    chains.across_stages(STAGE_LAYERS, 2 * STAGE_LAYERS + 20)  # three stages
    assert len(created(statements)) >= 3


def test_integer_overflow_in_a_late_stage_names_its_segment(chains):
    profiles = pa.table({"customer_id": [1, 2, 3], "x": [5, 2**62, 40]})
    rules = "\n".join([*chains.chain(2 * STAGE_LAYERS + 3), f"segment boom: s{2 * STAGE_LAYERS} or x * 4 > 0", ""])
    for engine in ("arrow", "duckdb"):
        with pytest.raises(EvaluationError, match="segment 'boom': integer overflow"):
            segmint.evaluate(rules, profiles, engine=engine)
