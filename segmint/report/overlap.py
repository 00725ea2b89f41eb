"""How segments overlap: every pair's common members from one matrix product.

The membership matrix (audiences × customers) times its transpose counts, for every pair at
once, the customers in both. It is computed in blocks of customers as float32 (exact: a
block's counts stay below 2**24) and added up as int64, so a million customers × 50
segments is a few BLAS calls, not 1,225 Python loops.
"""

from __future__ import annotations

import numpy as np

from segmint.report.audiences import Audiences
from segmint.report.model import Overlap

BLOCK = 1 << 22  # customers per block: float32 counts are exact below 2**24


def pair_counts(matrix: np.ndarray) -> np.ndarray:
    """counts[i, j] = customers in audiences i and j (the diagonal: members)."""
    k, n = matrix.shape
    counts = np.zeros((k, k), dtype=np.int64)
    for start in range(0, n, BLOCK):
        block = matrix[:, start:start + BLOCK].astype(np.float32)
        counts += np.rint(block @ block.T).astype(np.int64)
    return counts


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
