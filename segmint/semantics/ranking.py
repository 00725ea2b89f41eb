"""`in top N%` and `in bottom N%`: how many customers the cut takes, the same on every engine.

Of the n customers whose value is not null, the cut is the k-th largest value (top) or the
k-th smallest (bottom), k = ceil(n * N / 100) computed exactly (N as written, in decimal).
A customer is in when its value is at least the cut (top) or at most it (bottom), so every
customer tied with the cut is in: more than k may be. k is 0 when no value is present or
N is 0: then nobody is in. A null value is never in.
"""

from __future__ import annotations

import math
from fractions import Fraction


def rank_count(n: int, percent: float) -> int:
    """k = ceil(n * percent / 100), without floating-point error (0.1% of 1000 is 1)."""
    return math.ceil(Fraction(n) * Fraction(str(percent)) / 100)


def cut_position(n: int, k: int, top: bool) -> int:
    """Where the cut value sits among the n values in ascending order (0-based), k >= 1."""
    return n - k if top else k - 1
