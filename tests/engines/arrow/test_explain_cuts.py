"""The arrow engine keeps the cut of every top/bottom test for explain."""

from __future__ import annotations

import pyarrow as pa

from segmint.api import check_rules
from segmint.engines.arrow.kernels import Cut
from segmint.engines.arrow.evaluator import evaluate_checked
from segmint.semantics.asof import AsOf

PROFILES = pa.table({"customer_id": list(range(8)),
                     "spend": [float(i * 10) if i % 4 else None for i in range(8)]})


def test_cut_values_are_kept_for_explain():
    checked = check_rules("segment big: spend in top 50%\n", PROFILES.schema)
    evaluation = evaluate_checked(checked, PROFILES, key="customer_id", as_of=AsOf.resolve("2024-06-15"))
    assert list(evaluation.context.cuts.values()) == [Cut(50.0, 3, 6)]
