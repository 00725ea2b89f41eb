"""RFM quintile scores: 1 + floor(5 * (rank - 1) / n) with SQL rank() (ties share the
lowest rank), worst first; found from four order statistics instead of a full ranking."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmint.plugins.metrics.rfm import quintile_scores


def ranked(values: list, *, descending: bool) -> list[int]:
    """The definition, as SQL computes it: rank() over the values, worst first."""
    if not values:
        return []
    order = "descending" if descending else "ascending"
    rank = pc.rank(pa.array(values), sort_keys=order, tiebreaker="min").to_numpy()
    return (1 + (5 * (rank.astype(np.int64) - 1)) // len(values)).tolist()


@pytest.mark.parametrize(("values", "descending", "scores"), [
    ([], False, []),
    ([7], False, [1]),
    ([7], True, [1]),
    ([1, 2], False, [1, 3]),
    ([1, 2], True, [3, 1]),
    ([1, 2, 3, 4, 5], False, [1, 2, 3, 4, 5]),
    ([1, 2, 3, 4, 5], True, [5, 4, 3, 2, 1]),
    ([5, 4, 3, 2, 1, 0, 9, 8, 7, 6], False, [3, 3, 2, 2, 1, 1, 5, 5, 4, 4]),
    # ties never split: all equal is all 1, a tied run takes its lowest rank's score
    ([3, 3, 3, 3, 3, 3], False, [1, 1, 1, 1, 1, 1]),
    ([3, 3, 3, 3, 3, 3], True, [1, 1, 1, 1, 1, 1]),
    ([1, 2, 2, 2, 2, 3], False, [1, 1, 1, 1, 1, 5]),
    ([1, 2, 2, 2, 2, 3], True, [5, 1, 1, 1, 1, 1]),
    ([0.5, -0.25, 0.5, 1e300], False, [2, 1, 2, 4]),
])
def test_quintile_scores(values, descending, scores):
    got = quintile_scores(np.array(values, dtype=float if values and isinstance(values[0], float)
                                   else np.int64), descending=descending)
    assert got.tolist() == scores == ranked(values, descending=descending)
    assert got.dtype == np.int64


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-5, 5), max_size=60), st.booleans())
def test_quintile_scores_agree_with_sql_rank_on_many_ties(values, descending):
    assert quintile_scores(np.array(values, np.int64), descending=descending).tolist() \
        == ranked(values, descending=descending)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**62), 2**62) | st.integers(0, 3), max_size=200), st.booleans())
def test_quintile_scores_agree_with_sql_rank_on_wide_integers(values, descending):
    assert quintile_scores(np.array(values, np.int64), descending=descending).tolist() \
        == ranked(values, descending=descending)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6) | st.sampled_from([0.1, 0.3, 1 / 3]), max_size=100),
       st.booleans())
def test_quintile_scores_agree_with_sql_rank_on_floats(values, descending):
    assert quintile_scores(np.array(values, float), descending=descending).tolist() \
        == ranked(values, descending=descending)
