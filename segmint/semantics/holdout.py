"""Deterministic holdout (control) groups.

A customer is held out of segment S when the first 8 bytes of SHA-256 of the UTF-8 text
``salt:S:key``, read as a big-endian unsigned integer u, satisfy u < N/100 * 2**64. The
answer depends only on (salt, segment name, key): not on row order, the machine, or other
rules, and any SQL engine with SHA-256 reproduces it.
"""

from __future__ import annotations

import hashlib
import math
from fractions import Fraction

import numpy as np
import pyarrow as pa


#: The column after a segment with a holdout, flagging its held-out members.
HOLDOUT_SUFFIX = "__holdout"

def threshold(percent: float) -> int:
    """The smallest u that is not held out: ceil(N/100 * 2**64)."""
    return math.ceil(Fraction(str(percent)) / 100 * 2**64)


def key_text(keys: pa.Array | pa.ChunkedArray) -> list[str]:
    """Keys as the text that is hashed: strings as they are, numbers in decimal.

    A whole float is written as the integer it is (3.0 as "3", 1e20 in all its digits), so
    a key read as float hashes as the same key read as integer.
    """
    if pa.types.is_floating(keys.type):
        return [str(int(v)) if v.is_integer() else repr(v) for v in keys.to_pylist()]
    return keys.cast(pa.string()).to_pylist()


def is_held_out(salt: str, segment: str, key: str, percent: float) -> bool:
    """The holdout test for one customer key."""
    digest = hashlib.sha256(f"{salt}:{segment}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < threshold(percent)


def held_out(salt: str, segment: str, keys: pa.Array | pa.ChunkedArray, percent: float) -> np.ndarray:
    """The holdout test for many keys at once (a bool array in key order)."""
    limit = threshold(percent)
    prefix = f"{salt}:{segment}:".encode()
    sha = hashlib.sha256
    return np.fromiter(
        (int.from_bytes(sha(prefix + k.encode()).digest()[:8], "big") < limit for k in key_text(keys)),
        dtype=bool,
        count=len(keys),
    )
