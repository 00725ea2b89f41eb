"""What the SQL engines' chain-of-segments tests share (tests/engines/duckdb and spark):
the chain itself, the comparison with the arrow engine, and the rule set that crosses
stage boundaries with every kind of statement."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

import segmint


class Chains:
    """A chain of segments, each referring to the previous one, run on `engine`."""

    def __init__(self, engine: str) -> None:
        self.engine = engine

    @staticmethod
    def chain(length: int) -> list[str]:
        return ["segment s0: x > 10"] + [f"segment s{k}: s{k - 1} and x > {10 + k}" for k in range(1, length)]

    def both(self, rules: str, profiles: pa.Table, **kwargs) -> pa.Table:
        """The engine's membership, which must be the arrow engine's, byte for byte."""
        ours = segmint.evaluate(rules, profiles, engine=self.engine, **kwargs)
        arrow = segmint.evaluate(rules, profiles, engine="arrow", **kwargs)
        assert ours.schema == arrow.schema
        assert ours.to_pylist() == arrow.to_pylist()
        assert ours.equals(arrow)
        return ours

    def across_stages(self, layers: int, length: int) -> pa.Table:
        """A chain of `length` links in stages of `layers`, with a holdout in the first stage
        referred to in the third, top/bottom N%, a segmentation, event aggregates and
        holdouts reading across the boundaries; the membership, checked not vacuous."""
        rows = 400
        rng = np.random.default_rng(11)
        profiles = pa.table({
            "customer_id": [f"c{i}" for i in range(rows)],
            "x": rng.integers(0, 200, rows),
            "y": pa.array([None if i % 17 == 0 else float(i % 23) for i in range(rows)]),
        })
        events = pa.table({
            "customer_id": [f"c{i % 150}" for i in range(600)],
            "timestamp": pa.array([dt.datetime(2024, 5, 1 + i % 30, tzinfo=dt.timezone.utc)
                                   for i in range(600)], pa.timestamp("us", "UTC")),
            "amount": [float(i % 41) for i in range(600)],
        })
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
        result = self.both(rules, profiles, as_of="2024-06-01", holdout_salt="chain", events={"orders": events})
        # the cases are not vacuous: every label and flag takes both values
        assert set(result["tier"].to_pylist()) == {"a", "b", "c", "d"}
        for name in ("s0", "s0__holdout", "upper", "lower", "spender", "late", "late__holdout", "missing"):
            assert set(result[name].to_pylist()) == {True, False}, name
        return result


@pytest.fixture
def chains(request: pytest.FixtureRequest) -> Chains:
    """Chains on the engine the test module names (its ``ENGINE``)."""
    return Chains(request.module.ENGINE)
