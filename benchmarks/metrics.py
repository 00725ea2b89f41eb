"""Benchmark: RFM metrics + AOV + tenure in segmint against the same SQL in DuckDB.

    python benchmarks/metrics.py                       # 1,000,000 customers, 10,000,000 orders
    python benchmarks/metrics.py --customers 10000 --orders 100000   # a quick run

Generates an orders table as Parquet under benchmarks/data/ (kept between runs), then runs
each engine in its own fresh process, alternating, ``--repeat`` times:

- *in memory*: the Parquet is loaded into an Arrow table first (what a metric's
  ``compute`` receives), then timed: segmint's ``purchase`` and ``rfm`` metrics vs one DuckDB
  query over the same Arrow table, both returning an Arrow table of key, recency, frequency,
  monetary, aov, tenure, rfm_r, rfm_f, rfm_m, rfm_score, rfm_segment;
- *from Parquet*: the same, timing the read too (segmint reads with pyarrow; DuckDB scans
  the file itself);
- *command*: end to end as a user runs it, each a fresh process writing Parquet: ``segmint
  profile --events orders=FILE --metrics ... --out FILE`` against ``python -c`` running the
  DuckDB query over ``read_parquet`` with ``COPY ... TO``; peak memory is the child's
  peak resident set (``/usr/bin/time``), start-up included.

Both compute the same semantics: orders at or before as_of, amounts in cents, refunds
lower monetary but are not orders, SQL rank() quintiles. Time is the best of the repeats;
peak memory is the process's peak resident set during the timed part minus its resident
set before it (Linux /proc), the largest over the repeats.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segmint.plugin.api import MetricContext
from segmint.plugins.metrics.definitions import compute_purchase, compute_rfm

DATA = Path(__file__).parent / "data"
AS_OF = dt.date(2025, 12, 31)
COLUMNS = ["recency", "frequency", "monetary", "aov", "tenure"]

DUCKDB_SQL = """
WITH lines AS (
    SELECT customer_id, "timestamp" AS ts, CAST(round(amount * 100) AS BIGINT) AS units
    FROM {source} WHERE "timestamp" <= TIMESTAMPTZ '{cutoff}'
),
per AS (
    SELECT customer_id,
           count(*) FILTER (WHERE units >= 0) AS frequency,
           sum(units) AS units,
           max(ts) FILTER (WHERE units >= 0) AS last_at,
           min(ts) FILTER (WHERE units >= 0) AS first_at
    FROM lines GROUP BY customer_id
),
measured AS (
    SELECT customer_id, frequency, units / 100 AS monetary,
           CASE WHEN frequency > 0 THEN units / frequency / 100 END AS aov,
           to_days(DATE '{day}' - CAST(last_at AS DATE)) AS recency,
           to_days(DATE '{day}' - CAST(first_at AS DATE)) AS tenure,
           units
    FROM per
),
scored AS (
    SELECT customer_id,
           1 + (5 * (rank() OVER (ORDER BY recency DESC) - 1)) // count(*) OVER () AS rfm_r,
           1 + (5 * (rank() OVER (ORDER BY frequency) - 1)) // count(*) OVER () AS rfm_f,
           1 + (5 * (rank() OVER (ORDER BY units) - 1)) // count(*) OVER () AS rfm_m
    FROM measured WHERE frequency > 0
)
SELECT m.customer_id, recency, frequency, monetary, aov, tenure, rfm_r, rfm_f, rfm_m,
       CAST(rfm_r * 100 + rfm_f * 10 + rfm_m AS VARCHAR) AS rfm_score,
       CASE
           WHEN rfm_r >= 4 AND (rfm_f + rfm_m) // 2 >= 4 THEN 'Champions'
           WHEN rfm_r = 5 AND (rfm_f + rfm_m) // 2 = 1 THEN 'New Customers'
           WHEN rfm_r = 4 AND (rfm_f + rfm_m) // 2 = 1 THEN 'Promising'
           WHEN rfm_r >= 4 AND (rfm_f + rfm_m) // 2 = 2 THEN 'Potential Loyalist'
           WHEN rfm_r >= 3 AND (rfm_f + rfm_m) // 2 >= 3
                AND NOT (rfm_r = 3 AND (rfm_f + rfm_m) // 2 = 3) THEN 'Loyal'
           WHEN rfm_r = 3 AND (rfm_f + rfm_m) // 2 = 3 THEN 'Need Attention'
           WHEN rfm_r = 3 THEN 'About To Sleep'
           WHEN (rfm_r <= 2 AND (rfm_f + rfm_m) // 2 = 5)
                OR (rfm_r = 1 AND (rfm_f + rfm_m) // 2 = 4) THEN 'Cannot Lose Them'
           WHEN rfm_r <= 2 AND (rfm_f + rfm_m) // 2 >= 3 THEN 'At Risk'
           WHEN rfm_r = 2 THEN 'Hibernating'
           WHEN rfm_r = 1 THEN 'Lost'
       END AS rfm_segment
FROM measured m LEFT JOIN scored s USING (customer_id)
ORDER BY m.customer_id
"""


def generate(path: Path, customers: int, orders: int, seed: int = 0) -> None:
    """Orders of `customers` customers over three years, with 3 % refunds, in row groups."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-01-01T00:00:00", "us")
    span_us = 3 * 365 * 86_400 * 1_000_000
    schema = pa.schema([
        ("customer_id", pa.int64()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("amount", pa.float64()),
    ])
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with pq.ParquetWriter(partial, schema) as writer:
        step = 1_000_000
        for low in range(0, orders, step):
            n = min(step, orders - low)
            amount = np.round(rng.gamma(2.0, 35.0, n), 2)
            amount[rng.random(n) < 0.03] *= -1
            writer.write_table(pa.table({
                "customer_id": rng.integers(0, customers, n),
                "timestamp": pa.array(
                    start + rng.integers(0, span_us, n).astype("timedelta64[us]"),
                    pa.timestamp("us", tz="UTC"),
                ),
                "amount": amount,
            }, schema=schema))
    partial.rename(path)


def _resident() -> tuple[int, int]:
    """(current, peak) resident set of this process in bytes."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def run_segmint(table: pa.Table | None, path: Path) -> pa.Table:
    if table is None:
        table = pq.read_table(path)
    as_of = dt.datetime.combine(AS_OF, dt.time.max, dt.UTC)

    def ctx(columns):
        return MetricContext(events={"orders": table}, key="customer_id", as_of=as_of,
                             as_of_date=AS_OF, columns=frozenset(columns))

    measures = compute_purchase(ctx(COLUMNS))
    scores = compute_rfm(ctx(()))
    for name in scores.column_names[1:]:
        measures = measures.append_column(name, scores[name])
    return measures


def run_duckdb(table: pa.Table | None, path: Path) -> pa.Table:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if table is None:
        source = f"read_parquet('{path}')"
    else:
        con.register("orders", table)
        source = "orders"
    cutoff = f"{AS_OF} 23:59:59.999999+00"
    return con.sql(DUCKDB_SQL.format(source=source, cutoff=cutoff, day=AS_OF)).to_arrow_table()


ENGINES = {"segmint": run_segmint, "duckdb": run_duckdb}


def measure(engine: str, path: Path, mode: str) -> dict:
    """Time and peak memory of one engine in this (fresh) process."""
    table = pq.read_table(path) if mode == "memory" else None
    before, _ = _resident()
    _reset_peak()
    started = time.perf_counter()
    result = ENGINES[engine](table, path)
    seconds = time.perf_counter() - started
    _, peak = _resident()
    return {
        "engine": engine, "mode": mode, "seconds": seconds, "peak_bytes": peak - before,
        "customers": result.num_rows,
        "frequency": pc.sum(result["frequency"]).as_py(),
        "champions": pc.sum(pc.equal(result["rfm_segment"], "Champions")).as_py(),
    }


RFM = ["rfm_r", "rfm_f", "rfm_m", "rfm_score", "rfm_segment"]


def run_command(engine: str, path: Path) -> dict:
    """One end-to-end command in a fresh process (outside any project directory)."""
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "profile.parquet"
        if engine == "segmint":
            command = [str(Path(sys.executable).with_name("segmint")), "profile",
                       "--events", f"orders={path}", "--as-of", str(AS_OF),
                       "--metrics", ",".join(COLUMNS + RFM), "--out", str(out)]
        else:
            sql = DUCKDB_SQL.format(source=f"read_parquet('{path}')",
                                    cutoff=f"{AS_OF} 23:59:59.999999+00", day=AS_OF)
            script = ("import duckdb, sys; c = duckdb.connect(); c.execute(\"SET TimeZone = 'UTC'\");"
                      " c.execute(sys.argv[1])")
            command = [sys.executable, "-c", script, f"COPY ({sql}) TO '{out}' (FORMAT parquet)"]
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", *command], cwd=work, capture_output=True,
                              text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{engine} failed:\n{done.stdout}\n{done.stderr}")
        result = pq.read_table(out)
    return {
        "engine": engine, "mode": "command", "seconds": seconds,
        "peak_bytes": int(done.stderr.strip().splitlines()[-1]) * 1024,
        "customers": result.num_rows, "frequency": pc.sum(result["frequency"]).as_py(),
        "champions": pc.sum(pc.equal(result["rfm_segment"], "Champions")).as_py(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default="memory,parquet,command")
    parser.add_argument("--measure", choices=sorted(ENGINES), help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = DATA / f"orders_{args.customers}_{args.orders}.parquet"
    if args.measure:
        print(json.dumps(measure(args.measure, path, args.mode)))
        return
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        generate(path, args.customers, args.orders)
    print(f"{args.orders:,} orders of {args.customers:,} customers, as of {AS_OF}")
    for mode in args.modes.split(","):
        runs = {engine: [] for engine in ENGINES}
        for _ in range(args.repeat):
            for engine in ENGINES:
                if mode == "command":
                    runs[engine].append(run_command(engine, path))
                    continue
                output = subprocess.run(
                    [sys.executable, __file__, "--customers", str(args.customers),
                     "--orders", str(args.orders), "--measure", engine, "--mode", mode],
                    check=True, capture_output=True, text=True,
                ).stdout
                runs[engine].append(json.loads(output.splitlines()[-1]))
        best = {e: min(r["seconds"] for r in rs) for e, rs in runs.items()}
        peak = {e: max(r["peak_bytes"] for r in rs) for e, rs in runs.items()}
        agree = {(r["customers"], r["frequency"], r["champions"]) for rs in runs.values()
                 for r in rs}
        print(f"\n{mode}: " + ("results agree" if len(agree) == 1 else f"RESULTS DIFFER {agree}"))
        for engine in ENGINES:
            print(f"  {engine:8} {best[engine]:8.3f} s   peak +{peak[engine] / 2**20:8.1f} MiB")
        print(f"  ratio segmint/duckdb: time {best['segmint'] / best['duckdb']:.2f}x,"
              f" peak memory {peak['segmint'] / max(peak['duckdb'], 1):.2f}x")


if __name__ == "__main__":
    main()
