"""A long chain of segments on the duckdb engine, each referring to the previous one: each
dependency layer is one CTE reading the one before (the query is built once, not copied per
CTE, and the binder's depth limit follows the number of CTEs), and every link's membership
is the arrow engine's."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

import segmint


def test_a_chain_of_1100_segments_gives_the_arrow_engines_membership():
    length = 1100  # past DuckDB's default expression depth of 1000
    x = np.random.default_rng(7).integers(0, 2000, 300)
    rules = "\n".join(["segment s0: x > 10"] + [f"segment s{k}: s{k - 1} and x > {10 + k}"
                                                for k in range(1, length)])
    profiles = pa.table({"customer_id": np.arange(300), "x": x})
    duck = segmint.evaluate(rules, profiles, engine="duckdb")
    assert duck.equals(segmint.evaluate(rules, profiles, engine="arrow"))
    assert duck.column(f"s{length - 1}").to_pylist() == (x > 10 + length - 1).tolist()
