"""The top/bottom cut: k = ceil(n * N / 100) exactly, checked against decimal arithmetic."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from segmint.semantics.ranking import cut_position, rank_count


@pytest.mark.parametrize("n, percent, k", [
    (0, 10, 0), (1, 0.1, 1), (1000, 0.1, 1), (1001, 0.1, 2), (10, 10, 1), (11, 10, 2),
    (2357, 10, 236), (3, 33.3, 1), (3, 33.4, 2), (100, 100, 100), (7, 50, 4),
])
def test_rank_count(n, percent, k):
    assert rank_count(n, percent) == k


@given(st.integers(0, 10**7), st.decimals(min_value="0.001", max_value="100", places=3))
def test_rank_count_is_the_exact_ceiling(n, percent):
    exact = (Decimal(n) * percent / 100).to_integral_value(rounding=ROUND_CEILING)
    assert rank_count(n, float(percent)) == int(exact)


@pytest.mark.parametrize("n, k, top, position", [(10, 1, True, 9), (10, 1, False, 0),
                                                 (10, 10, True, 0), (10, 10, False, 9)])
def test_cut_position(n, k, top, position):
    assert cut_position(n, k, top) == position
