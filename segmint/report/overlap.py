"""How segments overlap: every pair's common members counted in bulk.

Membership is bit-packed (one bit per customer, 64 to a word) and, for each segment, its
words are ANDed with those of every later segment and the set bits counted at once
(`numpy.bitwise_count`): 50 segments over a million customers is 50 vectorised calls over
125 KB rows, not 1,225 Python loops over a million booleans. Where numpy is older than 2.0
the counts come from one matrix product instead.
"""

from __future__ import annotations

import numpy as np

from segmint.report.audiences import Audiences
from segmint.report.model import Overlap

BLOCK = 1 << 22  # customers per block of the fallback: float32 counts are exact below 2**24


def packed(matrix: np.ndarray) -> np.ndarray:
    """Rows of booleans as rows of uint64 words (zero bits pad the last word)."""
    bits = np.packbits(matrix, axis=1)
    pad = (-bits.shape[1]) % 8
    if pad:
        bits = np.pad(bits, ((0, 0), (0, pad)))
    return np.ascontiguousarray(bits).view(np.uint64)


def and_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """counts[i, j] = customers in row i of `a` and row j of `b` (boolean matrices)."""
    if not hasattr(np, "bitwise_count"):  # numpy < 2.0
        counts = np.zeros((len(a), len(b)), dtype=np.int64)
        for start in range(0, a.shape[1], BLOCK):
            left = a[:, start:start + BLOCK].astype(np.float32)
            right = b[:, start:start + BLOCK].astype(np.float32)
            counts += np.rint(left @ right.T).astype(np.int64)
        return counts
    pa_, pb = packed(a), packed(b)
    counts = np.zeros((len(a), len(b)), dtype=np.int64)
    for i in range(len(a)):
        counts[i] = np.bitwise_count(pa_[i] & pb).sum(axis=1, dtype=np.int64)
    return counts


def pair_counts(matrix: np.ndarray) -> np.ndarray:
    """counts[i, j] = customers in audiences i and j (the diagonal: members)."""
    return and_counts(matrix, matrix)


def overlaps(found: Audiences, counts: np.ndarray) -> tuple[Overlap, ...]:
    """Every pair but two labels of one segmentation (disjoint by construction)."""
    items = found.items
    rows = []
    for i, a in enumerate(items):
        for j in range(i + 1, len(items)):
            b = items[j]
            if a.segmentation is not None and a.segmentation == b.segmentation:
                continue
            both, na, nb = int(counts[i, j]), int(counts[i, i]), int(counts[j, j])
            union = na + nb - both
            rows.append(Overlap(a.id, b.id, both, both / union if union else None,
                                both / na if na else None, both / nb if nb else None))
    return tuple(rows)
