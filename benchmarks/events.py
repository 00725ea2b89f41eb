"""Benchmark: 20 behavioural rules over a Parquet dataset of generated order events.

The events (customer key, timestamp, amount, category, channel, quantity; with nulls, events
after as_of and keys of customers not in the profiles) are written once, as a directory of
Parquet files under benchmarks/data/ (not committed), and reused. segmint evaluates the 20
rules with `segmint.evaluate(..., events={"orders": pyarrow.dataset.dataset(DIR)})`, which
streams the dataset batch by batch; DuckDB runs the same aggregates as one
`GROUP BY customer_id` query with `FILTER (WHERE ...)` clauses over `read_parquet(DIR/*)`,
left-joined to the same profiles. Both must agree on every segment's member count.

Each engine runs in its own child process, so its peak memory (the process's maximum
resident set size, from `resource.getrusage`) is its own; for segmint the peak of Arrow's
memory pool is reported as well. DuckDB gets all cores and a 10 GB memory limit (set
DUCKDB_MEMORY_LIMIT to change it), beyond which it spills to disk.

    python benchmarks/events.py                        # 20,000,000 events
    python benchmarks/events.py --events 200000000     # the target size (about 4 GB of Parquet)
    python benchmarks/events.py --events 1000000       # a quick run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

AS_OF = dt.date(2026, 1, 31)
KEY = "customer_id"
DATA = Path(__file__).resolve().parent / "data"
CATEGORIES = ["shoes", "books", "electronics", "home", "toys", "beauty", "sports", "garden"]
CHANNELS = ["web", "store", "app"]
CHUNK = 4_000_000
AS = "TIMESTAMP '2026-01-31 23:59:59.999999'"


def ago(days: int) -> str:
    return f"({AS} - INTERVAL {days} DAY)"


#: (name, segmint condition, DuckDB aggregates (alias, SQL), DuckDB condition over them).
RULES: list[tuple[str, str, list[tuple[str, str]], str]] = [
    ("active_30d", "count(orders, last 30d) >= 2",
     [("a1", f"count(*) FILTER (WHERE ts >= {ago(30)})")], "a1 >= 2"),
    ("repeat_shoe_buyers", 'count(orders where category == "shoes", last 365d) >= 2',
     [("a2", f"count(*) FILTER (WHERE category = 'shoes' AND ts >= {ago(365)})")], "a2 >= 2"),
    ("bought_this_week", "exists(orders, last 7d)",
     [("a3", f"count(*) FILTER (WHERE ts >= {ago(7)})")], "a3 > 0"),
    ("lapsed", "not exists(orders, last 90d) and exists(orders)",
     [("a4", f"count(*) FILTER (WHERE ts >= {ago(90)})"), ("a5", "count(*)")], "a4 = 0 AND a5 > 0"),
    ("big_spenders", "sum(orders.amount, last 365d) > 600",
     [("a6", f"sum(amount) FILTER (WHERE ts >= {ago(365)})")], "a6 > 600"),
    ("high_basket", "avg(orders.amount) > 80",
     [("a7", "avg(amount)")], "a7 > 80"),
    ("splurged_recently", "max(orders.amount, last 90d) > 400",
     [("a8", f"max(amount) FILTER (WHERE ts >= {ago(90)})")], "a8 > 400"),
    ("bargain_hunters", "min(orders.amount) < 3",
     [("a9", "min(amount)")], "a9 < 3"),
    ("explorers", "count_distinct(orders.category, last 365d) >= 5",
     [("a10", f"count(DISTINCT category) FILTER (WHERE ts >= {ago(365)})")], "a10 >= 5"),
    ("web_natives", 'first(orders.channel) == "web"',
     [("a11", "(min({'t': ts, 'v': channel}) FILTER (WHERE channel IS NOT NULL)).v")], "a11 = 'web'"),
    ("back_to_store", 'last(orders.channel) == "store"',
     [("a12", "(max({'t': ts, 'v': channel}) FILTER (WHERE channel IS NOT NULL)).v")], "a12 = 'store'"),
    ("slipping", "count(orders, between 180d ago and 90d ago) >= 2 and count(orders, last 90d) == 0",
     [("a13", f"count(*) FILTER (WHERE ts BETWEEN {ago(180)} AND {ago(90)})")], "a13 >= 2 AND a4 = 0"),
    ("big_q4", "sum(orders.amount, between 2025-10-01 and 2025-12-31) > 300",
     [("a14", "sum(amount) FILTER (WHERE ts >= TIMESTAMP '2025-10-01' AND ts < TIMESTAMP '2026-01-01')")],
     "a14 > 300"),
    ("app_regulars", 'count(orders where channel == "app", since 2025-07-01) >= 4',
     [("a15", "count(*) FILTER (WHERE channel = 'app' AND ts >= TIMESTAMP '2025-07-01')")], "a15 >= 4"),
    ("premium_home", 'exists(orders where amount > 150 and category in ("electronics", "home"))',
     [("a16", "count(*) FILTER (WHERE amount > 150 AND category IN ('electronics', 'home'))")], "a16 > 0"),
    ("seen_this_month", "max(orders.ts) within 30d",
     [("a17", "max(ts)")], f"a17 BETWEEN {ago(30)} AND {AS}"),
    ("single_channel", "count_distinct(orders.channel) == 1",
     [("a18", "count(DISTINCT channel)")], "a18 = 1"),
    ("bookworms", 'sum(orders.quantity where category == "books") >= 12',
     [("a19", "sum(quantity) FILTER (WHERE category = 'books')")], "a19 >= 12"),
    ("last_order_big", "last(orders.amount, last 365d) > 100",
     [("a20", f"(max({{'t': ts, 'v': amount}}) FILTER (WHERE amount IS NOT NULL AND ts >= {ago(365)})).v")],
     "a20 > 100"),
    ("loyal", "count(orders, last 365d) >= 12",
     [("a21", f"count(*) FILTER (WHERE ts >= {ago(365)})")], "a21 >= 12"),
]


def rule_text() -> str:
    return "\n".join(f"segment {name}: {condition}" for name, condition, _, _ in RULES)


def customers(n_events: int) -> int:
    return max(1_000, n_events // 20)


def dataset_dir(n_events: int, seed: int) -> Path:
    return DATA / f"events_{n_events}_{seed}"


def generate(n_events: int, seed: int) -> Path:
    """Write the events as Parquet files of CHUNK rows (once; reused when present)."""
    path = dataset_dir(n_events, seed)
    done = path / "_done"
    if done.exists():
        return path
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_customers = customers(n_events)
    end = int(dt.datetime(2026, 2, 10).timestamp())  # some events after as_of
    start = end - 3 * 365 * 86400
    written = 0
    part = 0
    while written < n_events:
        n = min(CHUNK, n_events - written)
        keys = rng.integers(0, int(n_customers * 1.02), n)  # 2% of keys are not customers
        seconds = rng.integers(start, end, n)
        amounts = np.round(rng.lognormal(3.5, 0.9, n))  # whole units: sums are exact in any order
        amount_null = rng.random(n) < 0.02
        channel_codes = rng.integers(0, len(CHANNELS) + 1, n)  # the extra code is null
        table = pa.table({
            KEY: pa.array(keys, pa.int64()),
            "ts": pa.array(seconds * 1_000_000, pa.int64()).cast(pa.timestamp("us")),
            "amount": pa.array(amounts, pa.float64(), mask=amount_null),
            "category": pa.DictionaryArray.from_arrays(
                pa.array(rng.integers(0, len(CATEGORIES), n), pa.int32()), CATEGORIES).cast(pa.string()),
            "channel": pa.DictionaryArray.from_arrays(
                pa.array(channel_codes, pa.int32(), mask=channel_codes == len(CHANNELS)), CHANNELS
            ).cast(pa.string()),
            "quantity": pa.array(rng.integers(1, 6, n), pa.int32()),
        })
        pq.write_table(table, path / f"part-{part:05d}.parquet", row_group_size=1 << 20)
        written += n
        part += 1
        print(f"  generated {written:,} / {n_events:,} events", file=sys.stderr)
    done.touch()
    return path


def profiles(n_events: int) -> pa.Table:
    n = customers(n_events)
    return pa.table({KEY: pa.array(np.arange(n), pa.int64())})


def run_segmint(path: Path, n_events: int) -> dict:
    import pyarrow.dataset as ds

    import segmint

    people = profiles(n_events)
    cpu = _cpu()
    start = time.perf_counter()
    result = segmint.evaluate(rule_text(), people, key=KEY, as_of=AS_OF,
                              events={"orders": ds.dataset(path, format="parquet")},
                              timestamps={"orders": "ts"})
    elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
    counts = {name: int(pa.compute.sum(result[name]).as_py() or 0) for name, *_ in RULES}
    return {"seconds": elapsed, "cpu": cpu, "counts": counts, "arrow_peak": pa.default_memory_pool().max_memory()}


def _cpu() -> float:
    """CPU seconds this process has used (all threads): less sensitive than wall time to
    other work on the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def duckdb_query(path: Path) -> str:
    aggregates: dict[str, str] = {}
    for _, _, parts, _ in RULES:
        aggregates.update(parts)
    inner = ",\n       ".join(f"{sql} AS {alias}" for alias, sql in aggregates.items())
    outer = ",\n       ".join(f"coalesce({condition}, false) AS {name}" for name, _, _, condition in RULES)
    return (f"WITH agg AS (SELECT {KEY},\n       {inner}\n  FROM read_parquet('{path}/*.parquet')\n"
            f"  WHERE ts <= {AS} GROUP BY {KEY})\n"
            f"SELECT p.{KEY},\n       {outer}\nFROM people p LEFT JOIN agg USING ({KEY})")


def run_duckdb(path: Path, n_events: int) -> dict:
    import duckdb

    people = profiles(n_events)
    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count()}")
    con.execute(f"SET memory_limit = '{os.environ.get('DUCKDB_MEMORY_LIMIT', '10GB')}'")  # it spills beyond
    con.register("people", people)
    cpu = _cpu()
    start = time.perf_counter()
    cursor = con.execute(duckdb_query(path))
    fetch = getattr(cursor, "to_arrow_table", None) or cursor.fetch_arrow_table
    result = fetch()
    elapsed, cpu = time.perf_counter() - start, _cpu() - cpu
    counts = {name: int(pa.compute.sum(result[name]).as_py() or 0) for name, *_ in RULES}
    return {"seconds": elapsed, "cpu": cpu, "counts": counts}


def child(engine: str, path: Path, n_events: int) -> None:
    found = (run_segmint if engine == "segmint" else run_duckdb)(path, n_events)
    found["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(found))


def measure(engine: str, path: Path, n_events: int) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", engine, "--events", str(n_events), "--path", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000_000, help="number of events (default 20,000,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=1, help="runs per engine; the best time is kept")
    parser.add_argument("--child", choices=["segmint", "duckdb"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.events)
        return
    path = generate(args.events, args.seed)
    size = sum(f.stat().st_size for f in path.glob("*.parquet"))
    print(f"{args.events:,} events of {customers(args.events):,} customers in {path} ({size / 2**20:,.0f} MiB "
          f"Parquet); {len(RULES)} rules; {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, pyarrow {pa.__version__}")
    results: dict[str, list[dict]] = {"segmint": [], "duckdb": []}
    for _ in range(args.rounds):
        for engine in results:  # turns, so a busy moment of the machine favours neither
            results[engine].append(measure(engine, path, args.events))
    ours = min(results["segmint"], key=lambda r: r["seconds"])
    theirs = min(results["duckdb"], key=lambda r: r["seconds"])
    ours_rss = max(r["peak_rss"] for r in results["segmint"])
    theirs_rss = max(r["peak_rss"] for r in results["duckdb"])
    load = os.getloadavg()[0]
    print(f"{'engine':<10}{'seconds':>10}{'CPU s':>10}{'peak RSS':>14}   (load average {load:.1f})")
    print(f"{'segmint':<10}{ours['seconds']:>10.2f}{ours.get('cpu', 0):>10.2f}{gib(ours_rss):>14}   "
          f"(Arrow pool peak {gib(ours['arrow_peak'])})")
    print(f"{'duckdb':<10}{theirs['seconds']:>10.2f}{theirs.get('cpu', 0):>10.2f}{gib(theirs_rss):>14}")
    print(f"segmint / duckdb: time {ours['seconds'] / theirs['seconds']:.2f}x, CPU "
          f"{ours.get('cpu', 0) / max(theirs.get('cpu', 0), 1e-9):.2f}x, peak memory {ours_rss / theirs_rss:.2f}x")
    if ours["counts"] != theirs["counts"]:
        for name in ours["counts"]:
            if ours["counts"][name] != theirs["counts"][name]:
                print(f"MISMATCH {name}: segmint {ours['counts'][name]:,}, duckdb {theirs['counts'][name]:,}")
        sys.exit(1)
    print("member counts agree: " + ", ".join(f"{n} {c:,}" for n, c in ours["counts"].items()))


if __name__ == "__main__":
    main()
