"""A long chain of segments, each referring to the previous one: the arrow engine evaluates
one layer per link over only the columns the layer uses (linear in the chain's length), and
every link's membership is what the chain means (s_k = x > 10 + j for every j <= k, that is
x > 10 + k)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

import segmint


def test_a_chain_of_1500_segments_gives_every_links_membership():
    length = 1500
    x = np.random.default_rng(7).integers(0, 2000, 1000)
    rules = ["segment s0: x > 10"] + [f"segment s{k}: s{k - 1} and x > {10 + k}" for k in range(1, length)]
    result = segmint.evaluate("\n".join(rules), pa.table({"customer_id": np.arange(1000), "x": x}))
    for k in (0, 1, 2, 499, 1000, length - 1):
        assert result.column(f"s{k}").to_pylist() == (x > 10 + k).tolist()
    sizes = [pa.compute.sum(result.column(f"s{k}")).as_py() for k in range(length)]
    assert sizes == [int((x > 10 + k).sum()) for k in range(length)]


def test_layers_see_only_the_columns_they_use_and_keep_the_others():
    table = pa.table({"customer_id": [1, 2, 3], "x": [5, 50, 500], "name": ["a", "b", "c"]})
    result = segmint.evaluate('segment big: x > 10\nsegment bigger: big and x > 100\n'
                              'segment named: bigger or name == "a"', table)
    assert result.column("big").to_pylist() == [False, True, True]
    assert result.column("bigger").to_pylist() == [False, False, True]
    assert result.column("named").to_pylist() == [True, False, True]
