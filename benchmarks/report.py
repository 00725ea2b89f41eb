"""Benchmark: `segmint report` over 1,000,000 customers × 50 segments.

    python benchmarks/report.py                                  # 1,000,000 × 50
    python benchmarks/report.py --customers 100000 --segments 20  # a quick run

Stores two runs (membership with 50 random segments of 0.1% to 60% of the customers and a
5-label segmentation, profiles with a numeric and a categorical column) in a temporary
state directory, makes per-customer value (revenue in cents, orders), then times the parts
of the report and the whole of it (no predicted CLV: its bootstrap is per segment and
scales with the segment). Overlap is bit-packed membership ANDed and popcounted per segment;
the benchmark checks it against a float64 matrix product for a sample of pairs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from segmint.delivery.snapshots import load_snapshot, write_snapshot
from segmint.plugin.api import RunResult, SegmentInfo
from segmint.report import changes
from segmint.report.audiences import audiences
from segmint.report.build import assemble
from segmint.report.options import ReportOptions
from segmint.report.overlap import pair_counts
from segmint.report.value import ValueData

LABELS = ("active", "lapsing", "lost", "new", "vip")


def make_run(rng: np.random.Generator, n: int, segments: int, shift: float) -> RunResult:
    keys = pa.array(np.arange(n, dtype=np.int64))
    columns = {"customer_id": keys}
    score = rng.random(n)
    for i in range(segments):
        share = 0.001 + 0.6 * i / max(segments - 1, 1)
        columns[f"s{i:02d}"] = pa.array(rng.random(n) < share)
    columns["s00__holdout"] = pa.array(rng.random(n) < 0.0005)
    columns["tier"] = pa.array(np.array(LABELS)[np.minimum(((score + shift) % 1) * 5, 4).astype(int)])
    membership = pa.table(columns)
    profiles = pa.table({"customer_id": keys, "age": pa.array(rng.integers(18, 80, n)),
                         "country": pa.array(np.array(["DE", "FR", "US", "GB", "IT"])[rng.integers(0, 5, n)])})
    infos = tuple(SegmentInfo(f"s{i:02d}", "segment") for i in range(segments)) + (
        SegmentInfo("tier", "segmentation"),)
    return RunResult(membership, profiles, "customer_id",
                     dt.datetime(2026, 1, 31, tzinfo=dt.timezone.utc), infos)


def timed(label: str, function, *args, **kwargs):
    """Wall-clock and this process's CPU time: on a shared machine the CPU time says more."""
    start, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    print(f"{label:<40} {time.perf_counter() - start:7.2f} s wall {time.process_time() - cpu:7.2f} s CPU")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--segments", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    n = args.customers
    with tempfile.TemporaryDirectory() as state:
        before = write_snapshot(state, make_run(rng, n, args.segments, 0.0))
        time.sleep(0.01)
        run = write_snapshot(state, make_run(rng, n, args.segments, 0.1))
        run, before = load_snapshot(state, run.run_id), load_snapshot(state, before.run_id)
        print(f"{n:,} customers × {args.segments} segments + 5 labels")
        found = timed("read membership, build masks", audiences, run.membership, run.key)
        matrix = found.matrix()
        counts = timed("overlap: every pair (popcount)", pair_counts, matrix)
        for i, j in [(0, 1), (3, 40 % len(found.items)), (10, len(found.items) - 1)]:
            assert int(matrix[i].astype(np.float64) @ matrix[j].astype(np.float64)) == counts[i, j]
        orders = rng.poisson(3, n)
        value = ValueData(revenue_minor=(orders * rng.integers(500, 20_000, n)).astype(np.int64),
                          orders=orders.astype(np.int64), clv_historical=np.zeros(n),
                          churned=(rng.random(n) < 0.3).astype(float),
                          recency_days=rng.exponential(120, n), scale=2)
        from segmint.report import stats  # statsmodels' import (seconds) is not the report's work

        stats.wilson(1, 2)
        report = timed("whole report (all sections, no CLV)", assemble, run, before, found, value,
                       None, ReportOptions(), history=changes.history(state))
        print(f"{len(report.overlap):,} overlap pairs, {len(report.warnings)} warnings, "
              f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
