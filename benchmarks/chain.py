"""Benchmark: a chain of --links segments, s_k = s_{k-1} and x > 10 + k, over --rows
profiles, on a segmint engine (default duckdb) against the same chain written by hand in
DuckDB SQL (one CTE per link reading the one before), in the same run. Prints both times,
their ratio, and exits 1 when the last link's member count differs or the engine fails.

On spark the session (local[*], the engine's default) is started, and a one-segment rule
set run, before the clock starts: the figure is the chain's, not the JVM's start.

    python benchmarks/chain.py --links 1000
    python benchmarks/chain.py --links 2000 --engine arrow
    python benchmarks/chain.py --links 1000 --engine spark
"""

from __future__ import annotations

import argparse
import sys
import time

import duckdb
import numpy as np
import pyarrow as pa

import segmint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--engine", default="duckdb")
    args = parser.parse_args()
    n = args.links
    x = np.random.default_rng(7).integers(0, 2000, args.rows)
    profiles = pa.table({"customer_id": np.arange(args.rows), "x": x})
    rules = "\n".join(["segment s0: x > 10"] + [f"segment s{k}: s{k - 1} and x > {10 + k}" for k in range(1, n)])

    if args.engine == "spark":
        start = time.perf_counter()
        segmint.evaluate("segment s0: x > 10", profiles, engine="spark")
        print(f"spark session started and warmed up in {time.perf_counter() - start:.1f} s (not counted)")

    start = time.perf_counter()
    try:
        ours = segmint.evaluate(rules, profiles, engine=args.engine)
    except segmint.SegmintError as error:
        print(f"{n} links, {args.rows} rows: segmint {args.engine} FAILED after "
              f"{time.perf_counter() - start:.2f} s: {str(error).splitlines()[0][:300]}")
        return 1
    segmint_s = time.perf_counter() - start

    con = duckdb.connect()
    con.register("profiles", profiles)
    con.execute(f"SET max_expression_depth TO {2 * n + 100}")
    ctes = ["l0 AS (SELECT *, x > 10 AS s0 FROM profiles)"] + [
        f"l{k} AS (SELECT *, s{k - 1} AND x > {10 + k} AS s{k} FROM l{k - 1})" for k in range(1, n)]
    start = time.perf_counter()
    hand = con.sql("WITH " + ", ".join(ctes) + f" SELECT * FROM l{n - 1} ORDER BY customer_id").to_arrow_table()
    hand_s = time.perf_counter() - start

    last = f"s{n - 1}"
    same = pa.compute.sum(ours.column(last)).as_py() == pa.compute.sum(hand.column(last)).as_py()
    print(f"{n} links, {args.rows} rows: segmint {args.engine} {segmint_s:.2f} s, "
          f"hand-written DuckDB {hand_s:.2f} s, ratio {segmint_s / hand_s:.2f}"
          + ("" if same else "  MEMBER COUNTS DIFFER"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
