"""Holdout groups on every engine: the documented hash, their size, and their stability.

The contract: a member of segment S is held out when the first 8 bytes of SHA-256 of the
UTF-8 text "salt:S:key", read as a big-endian unsigned integer u, satisfy u < N/100 * 2**64.
Every expected value here is computed again from that sentence with hashlib (and once with
DuckDB's sha256, as a later SQL backend would), not with segmint's own helpers.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from fractions import Fraction

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st


NAMES = ["alice", "bob", "", "Zoë", "日本", "a:b"]


def expected_held(salt: str, segment: str, key: str, percent: str) -> bool:
    u = int.from_bytes(hashlib.sha256(f"{salt}:{segment}:{key}".encode()).digest()[:8], "big")
    return u < Fraction(percent) / 100 * 2**64


def run(evaluate: Callable[..., pa.Table], rules: str, keys, salt: str = "s3cret",
        **columns) -> pa.Table:
    data = pa.table({"customer_id": keys, **columns})
    return evaluate(rules, data, holdout_salt=salt)


@pytest.mark.parametrize(
    ("keys", "texts"),
    [
        (pa.array(range(-5, 300), pa.int64()), [str(k) for k in range(-5, 300)]),
        (pa.array([7, 2**63 - 1, 0], pa.int64()), ["7", str(2**63 - 1), "0"]),
        (pa.array([1, 40000], pa.int32()), ["1", "40000"]),
        (pa.array([2**64 - 1], pa.uint64()), [str(2**64 - 1)]),
        (pa.array(NAMES), NAMES),
        (pa.array(["x1", "x2"], pa.large_string()), ["x1", "x2"]),
        (pa.array(["d1", "d2", "d3"]).dictionary_encode(), ["d1", "d2", "d3"]),
        # a whole float key hashes as the integer it is
        (pa.array([3.0, 2.5, 1e20]), ["3", "2.5", "100000000000000000000"]),
    ],
)
@pytest.mark.parametrize("percent", ["10", "50", "12.5", "33.3"])
def test_holdout_is_the_documented_hash(evaluate, keys, texts, percent):
    result = run(evaluate, f"segment everyone: true holdout {percent}%\n", keys)
    expected = [expected_held("s3cret", "everyone", text, percent) for text in texts]
    assert result["everyone__holdout"].to_pylist() == expected
    assert result["everyone"].to_pylist() == [not held for held in expected]


@given(salt=st.text(max_size=12), name=st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True),
       keys=st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=40, unique=True),
       percent=st.sampled_from(["0", "1", "5", "10", "12.5", "33.3", "50", "99", "99.9", "100"]))
def test_holdout_is_the_documented_hash_for_any_salt_name_and_key(evaluate, salt, name, keys, percent):
    from segmint.language.parser import KEYWORDS  # a segment name cannot be a keyword

    if name.lower() in KEYWORDS:
        name += "_"
    result = run(evaluate, f"segment {name}: true holdout {percent}%\n", keys, salt=salt)
    expected = [expected_held(salt, name, key, percent) for key in keys]
    assert result[f"{name}__holdout"].to_pylist() == expected


def test_same_groups_as_sql_sha256(evaluate):
    keys = [f"c{i}" for i in range(2000)]
    result = run(evaluate, "segment promo: true holdout 20%\n", keys, salt="pepper")
    con = duckdb.connect()
    con.register("k", pa.table({"customer_id": keys}))
    rows = con.sql("SELECT customer_id, sha256('pepper:promo:' || customer_id) FROM k").fetchall()
    held_in_sql = {key: int(digest[:16], 16) < 2**64 // 5 for key, digest in rows}
    assert dict(zip(keys, result["promo__holdout"].to_pylist())) == held_in_sql


@pytest.mark.parametrize("percent", [1, 5, 10, 25, 50, 90])
def test_share_held_out_is_n_percent(evaluate, percent):
    n = 100_000
    result = run(evaluate, f"segment all_: true holdout {percent}%\n", pa.array(range(n), pa.int64()))
    share = result["all___holdout"].to_pylist().count(True) / n * 100
    assert abs(share - percent) < 1


def test_zero_and_hundred_percent(evaluate):
    keys = pa.array(range(500), pa.int64())
    none = run(evaluate, "segment s: true holdout 0%\n", keys)
    assert not any(none["s__holdout"].to_pylist()) and all(none["s"].to_pylist())
    everyone = run(evaluate, "segment s: true holdout 100%\n", keys)
    assert all(everyone["s__holdout"].to_pylist()) and not any(everyone["s"].to_pylist())


def test_only_members_are_held_out_and_the_column_follows_its_segment(evaluate):
    keys = pa.array(range(1000), pa.int64())
    x = pa.array([i if i % 3 else None for i in range(1000)], pa.int64())
    result = run(evaluate, "segment big: x >= 500 holdout 30%\nsegment other: true\n", keys, x=x)
    assert result.column_names == ["customer_id", "big", "big__holdout", "other"]
    assert result["big__holdout"].null_count == 0 and result["big"].null_count == 0
    for key, value, member, held in zip(range(1000), x.to_pylist(), result["big"].to_pylist(),
                                        result["big__holdout"].to_pylist()):
        qualifies = value is not None and value >= 500
        assert held == (qualifies and expected_held("s3cret", "big", str(key), "30"))
        assert member == (qualifies and not held)


def test_groups_do_not_depend_on_row_order(evaluate):
    keys = list(range(5000))
    shuffled = keys[:]
    random.Random(7).shuffle(shuffled)
    rules = "segment s: true holdout 10%\n"
    first = run(evaluate, rules, pa.array(keys, pa.int64()))
    second = run(evaluate, rules, pa.array(shuffled, pa.int64()))
    assert dict(zip(keys, first["s__holdout"].to_pylist())) == \
        dict(zip(shuffled, second["s__holdout"].to_pylist()))
    chunked = pa.table({"customer_id": pa.chunked_array([keys[:1234], keys[1234:]], pa.int64())})
    third = evaluate(rules, chunked, holdout_salt="s3cret")
    assert third["s__holdout"].to_pylist() == first["s__holdout"].to_pylist()


def test_groups_do_not_depend_on_unrelated_edits_of_the_rules(evaluate):
    keys = pa.array(range(5000), pa.int64())
    x = pa.array([i % 100 for i in range(5000)], pa.int64())
    before = run(evaluate, "segment win_back: x > 20 holdout 15%\n", keys, x=x)
    after = run(evaluate, 
        "# a comment and another segment first\n"
        "segment vip: x > 90 holdout 50%\n\n"
        "segment win_back \"described now\":\n    x > 20\n    holdout 15%\n"
        "segmentation tiers:\n    high: x > 50\n    low: otherwise\n",
        keys, x=x,
    )
    assert after["win_back__holdout"].to_pylist() == before["win_back__holdout"].to_pylist()
    assert after["win_back"].to_pylist() == before["win_back"].to_pylist()
    # a changed condition changes who is a member, never who of them is held out
    narrower = run(evaluate, "segment win_back: x > 60 holdout 15%\n", keys, x=x)
    for old, new, value in zip(before["win_back__holdout"].to_pylist(),
                               narrower["win_back__holdout"].to_pylist(), x.to_pylist()):
        assert new == (old and value > 60)


def test_salt_and_segment_name_pick_different_groups(evaluate):
    keys = pa.array(range(2000), pa.int64())
    base = run(evaluate, "segment s: true holdout 50%\n", keys)["s__holdout"].to_pylist()
    salted = run(evaluate, "segment s: true holdout 50%\n", keys, salt="other")["s__holdout"].to_pylist()
    renamed = run(evaluate, "segment t: true holdout 50%\n", keys)["t__holdout"].to_pylist()
    assert base != salted and base != renamed
    # independent groups: about half of one group is in the other
    overlap = sum(a and b for a, b in zip(base, salted)) / sum(base)
    assert 0.4 < overlap < 0.6


def test_references_see_every_member_held_out_or_not(evaluate):
    keys = pa.array(range(1000), pa.int64())
    result = run(evaluate, "segment base: true holdout 30%\nsegment follower: base\n", keys)
    assert all(result["follower"].to_pylist())
    assert 0 < sum(result["base__holdout"].to_pylist()) < 1000
