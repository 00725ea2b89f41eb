"""Benchmark: segmint's engines against the same jobs written by hand, in the same run.

(a) profiles: the 50 profile rules of benchmarks/rules.py over --rows generated profiles;
(b) events: the 21 event rules of benchmarks/events.py over --events Parquet events of
    events / 20 customers (20M events: 1M customers; 200M: 10M);
(c) run: the same job as a project, end to end: `segmint run --engine E` (the CLI, reading
    the profiles and the events from Parquet, storing the run's snapshot, writing the
    membership file through the file sink) against a Python process that does the same by
    hand in DuckDB (read, compute, `COPY ... TO` Parquet). Its time is the whole command's.

Each job runs on segmint's engines `arrow`, `duckdb` and `spark` (local mode) through
`segmint.evaluate(..., engine=E)`, and as written by hand in DuckDB SQL and in Polars
(lazy, streaming for the events). Every run is a child process of its own; its time is the
evaluation alone (data generated or loaded before, Spark's start-up reported apart), its
peak memory the largest resident set of its whole process tree (Spark's JVM included),
sampled every 0.1 s. Every run must give the same member count for every segment (and
label): the script exits 1 when one differs.

    python benchmarks/engines.py                             # (a) 1M rows, (b) 20M events
    python benchmarks/engines.py --part profiles --rows 10000000
    python benchmarks/engines.py --part events --events 200000000
    python benchmarks/engines.py --part run --engines arrow,duckdb,duckdb-sql
    python benchmarks/engines.py --part run --events 200000000 --memory-limit 4GB
    python benchmarks/engines.py --engines arrow,duckdb      # a subset of the runs
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
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import events as event_bench  # noqa: E402  (benchmarks/events.py: data, rules, DuckDB SQL)
import rules as profile_bench  # noqa: E402  (benchmarks/rules.py: data, rules, SQL, Polars)

RUNS = ("arrow", "duckdb", "spark", "duckdb-sql", "polars")
#: (c) has no Polars run: the end-to-end job by hand is DuckDB's.
END_TO_END = ("arrow", "duckdb", "spark", "duckdb-sql")
#: Spark local mode: all cores, shuffle partitions a few per core, driver memory enough for
#: the result and Arrow hand-over (the machine's share, not all of it).
SPARK_SETTINGS = {
    "spark.sql.shuffle.partitions": str(4 * (os.cpu_count() or 2)),
    "spark.driver.memory": os.environ.get("SPARK_DRIVER_MEMORY", "8g"),
}


# ---------------------------------------------------------------------------------------
# The jobs, in a child process


def profiles_job(run: str, rows: int) -> dict[str, Any]:
    table = profile_bench.generate(rows)
    statements = profile_bench.rules()
    timer = Timer(run)
    if run in ("arrow", "duckdb", "spark"):
        import segmint

        text = profile_bench.seg_text(statements)
        with timer:
            result = segmint.evaluate(text, table, key=profile_bench.KEY, as_of=profile_bench.AS_OF,
                                      engine=run)
    elif run == "duckdb-sql":
        import duckdb

        con = duckdb.connect()
        con.register("profiles", table)
        with timer:
            result = con.sql(profile_bench.sql_query(statements)).to_arrow_table()
    else:
        import polars as pl

        frame = pl.from_arrow(table)
        with timer:
            result = frame.select(profile_bench.polars_exprs(statements)).to_arrow()
    return timer.report(profile_bench.counts(result))


def events_job(run: str, n_events: int, path: Path) -> dict[str, Any]:
    import pyarrow.dataset as ds

    people = event_bench.profiles(n_events)
    timer = Timer(run)
    if run in ("arrow", "duckdb", "spark"):
        import segmint

        with timer:
            result = segmint.evaluate(event_bench.rule_text(), people, key=event_bench.KEY,
                                      as_of=event_bench.AS_OF,
                                      events={"orders": ds.dataset(path, format="parquet")},
                                      timestamps={"orders": "ts"}, engine=run)
    elif run == "duckdb-sql":
        import duckdb

        con = duckdb.connect()
        con.register("people", people)
        with timer:
            result = con.sql(event_bench.duckdb_query(path)).to_arrow_table()
    else:
        with timer:
            result = polars_events(people, path)
    names = [name for name, *_ in event_bench.RULES]
    return timer.report({n: int(pc.sum(result[n]).as_py() or 0) for n in names})


def polars_events(people: pa.Table, path: Path) -> pa.Table:
    """The 21 event rules as one lazy, streaming Polars query over the Parquet files."""
    import polars as pl

    end = dt.datetime(2026, 1, 31, 23, 59, 59, 999999)

    def ago(days: int) -> dt.datetime:
        return end - dt.timedelta(days=days)

    ts, amount, category, channel = pl.col("ts"), pl.col("amount"), pl.col("category"), pl.col("channel")

    def count(condition: pl.Expr) -> pl.Expr:
        return condition.fill_null(False).sum()

    def latest(value: pl.Expr, where: pl.Expr) -> pl.Expr:  # largest value at the latest instant
        return value.filter(where).sort_by([ts.filter(where), value.filter(where)]).last()

    def earliest(value: pl.Expr, where: pl.Expr) -> pl.Expr:
        return value.filter(where).sort_by([ts.filter(where), value.filter(where)]).first()

    aggregates = [
        count(ts >= ago(30)).alias("a1"),
        count((category == "shoes") & (ts >= ago(365))).alias("a2"),
        count(ts >= ago(7)).alias("a3"),
        count(ts >= ago(90)).alias("a4"),
        pl.len().alias("a5"),
        amount.filter(ts >= ago(365)).sum().alias("a6"),
        amount.filter(ts >= ago(365)).count().alias("a6n"),
        amount.mean().alias("a7"),
        amount.filter(ts >= ago(90)).max().alias("a8"),
        amount.min().alias("a9"),
        category.filter(ts >= ago(365)).drop_nulls().n_unique().alias("a10"),
        earliest(channel, channel.is_not_null()).alias("a11"),
        latest(channel, channel.is_not_null()).alias("a12"),
        count((ts >= ago(180)) & (ts <= ago(90))).alias("a13"),
        amount.filter((ts >= dt.datetime(2025, 10, 1)) & (ts < dt.datetime(2026, 1, 1))).sum().alias("a14"),
        count((channel == "app") & (ts >= dt.datetime(2025, 7, 1))).alias("a15"),
        count((amount > 150) & category.is_in(["electronics", "home"])).alias("a16"),
        ts.max().alias("a17"),
        channel.drop_nulls().n_unique().alias("a18"),
        pl.col("quantity").filter(category == "books").sum().alias("a19"),
        latest(amount, amount.is_not_null() & (ts >= ago(365))).alias("a20"),
        count(ts >= ago(365)).alias("a21"),
    ]
    events = (pl.scan_parquet(f"{path}/*.parquet").filter(ts <= end)
              .group_by(event_bench.KEY).agg(aggregates))
    a = pl.col
    conditions = {
        "active_30d": a("a1") >= 2,
        "repeat_shoe_buyers": a("a2") >= 2,
        "bought_this_week": a("a3") > 0,
        "lapsed": (a("a4") == 0) & (a("a5") > 0),
        "big_spenders": (a("a6n") > 0) & (a("a6") > 600),
        "high_basket": a("a7") > 80,
        "splurged_recently": a("a8") > 400,
        "bargain_hunters": a("a9") < 3,
        "explorers": a("a10") >= 5,
        "web_natives": a("a11") == "web",
        "back_to_store": a("a12") == "store",
        "slipping": (a("a13") >= 2) & (a("a4") == 0),
        "big_q4": a("a14") > 300,
        "app_regulars": a("a15") >= 4,
        "premium_home": a("a16") > 0,
        "seen_this_month": a("a17").is_between(ago(30), end),
        "single_channel": a("a18") == 1,
        "bookworms": a("a19") >= 12,
        "last_order_big": a("a20") > 100,
        "loyal": a("a21") >= 12,
    }
    joined = pl.from_arrow(people).lazy().join(events, on=event_bench.KEY, how="left")
    selected = [pl.col(event_bench.KEY)] + [c.fill_null(False).alias(n) for n, c in conditions.items()]
    return joined.select(selected).collect(engine="streaming").to_arrow()


def write_project(path: Path, n_events: int, memory_limit: str | None = None) -> Path:
    """A project directory for (c): the profiles as Parquet, the events directory, the 21
    rules, the file sink (and, with `memory_limit`, the duckdb engine's limit); its
    segmint.toml's path."""
    import pyarrow.parquet as pq

    project = path.parent / f"project_{path.name}"
    (project / "rules").mkdir(parents=True, exist_ok=True)
    pq.write_table(event_bench.profiles(n_events), project / "people.parquet")
    (project / "rules" / "events.seg").write_text(event_bench.rule_text() + "\n")
    (project / "segmint.toml").write_text(f"""rules = ["rules/*.seg"]
key = "{event_bench.KEY}"
as_of = "{event_bench.AS_OF.isoformat()}"

[sources.people]
plugin = "parquet"
path = "people.parquet"

[sources.orders]
plugin = "parquet"
path = "{path}"
role = "events"
timestamp_column = "ts"

[sinks.membership]
plugin = "file"
path = "out/membership.parquet"
""" + (f'\n[engine]\nname = "duckdb"\nmemory_limit = "{memory_limit}"\n' if memory_limit else ""))
    return project / "segmint.toml"


def run_command(run: str, project_file: Path, events: Path, memory_limit: str | None = None) -> list[str]:
    """The command of one end-to-end run of (c); with `memory_limit`, the by-hand DuckDB job
    runs under the same limit as the duckdb engine."""
    if run != "duckdb-sql":
        segmint = str(Path(sys.executable).with_name("segmint"))
        return [segmint, "run", "-p", str(project_file), "--engine", run]
    out = project_file.parent / "out" / "by_hand.parquet"
    script = (
        "import duckdb, sys\n"
        "sys.path.insert(0, {bench!r})\n"
        "import events\n"
        "con = duckdb.connect()\n"
        + (f"con.execute(\"SET memory_limit = '{memory_limit}'\")\n"  # and a spill directory, as segmint's
           f"con.execute(\"SET temp_directory = '{project_file.parent / 'by_hand_spill'}'\")\n"
           if memory_limit else "")
        + "con.execute(\"CREATE VIEW people AS SELECT * FROM read_parquet({people!r})\")\n"
        "query = events.duckdb_query({events!r})\n"
        "con.execute(f\"COPY ({{query}}) TO '{{{out!r}}}' (FORMAT parquet)\")\n"
    ).format(bench=str(Path(__file__).resolve().parent), people=str(project_file.parent / "people.parquet"),
             events=str(events), out=str(out))
    return [sys.executable, "-c", script]


def run_counts(run: str, project_file: Path) -> dict[str, int]:
    """Each segment's member count in what the run of (c) wrote."""
    import pyarrow.parquet as pq

    name = "by_hand.parquet" if run == "duckdb-sql" else "membership.parquet"
    written = pq.read_table(project_file.parent / "out" / name)
    return {n: int(pc.sum(written[n]).as_py() or 0) for n, *_ in event_bench.RULES}


class Timer:
    """Wall and CPU seconds of the `with` block; Spark's session is started before it."""

    def __init__(self, run: str) -> None:
        self.run, self.seconds, self.cpu, self.startup = run, 0.0, 0.0, 0.0
        if run == "spark":
            from segmint.engines.spark.session import spark_session

            started = time.perf_counter()
            spark_session(f"local[{os.cpu_count()}]", settings=SPARK_SETTINGS)
            self.startup = time.perf_counter() - started

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu = cpu_seconds() - self._cpu

    def report(self, counts: dict[str, int]) -> dict[str, Any]:
        return {"seconds": self.seconds, "cpu": self.cpu, "startup": self.startup, "counts": counts}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------
# Measuring, in the parent


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants (from /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/statm") as statm:
                rss[int(entry)] = int(statm.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        parents[int(entry)] = int(fields[1])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(child for child, parent in parents.items() if parent == pid)
    return total


def measure(part: str, run: str, size: int, path: Path | None,
            command: list[str] | None = None) -> dict[str, Any]:
    """One run in a child process: its report, with the peak resident memory of its process
    tree. With `command` (part (c)), the child is that command, timed whole."""
    child = command or [sys.executable, __file__, "--child", part, run, str(size), str(path or "")]
    started, cpu_before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    # `segmint run --engine spark` starts its own local Spark: its driver (where local mode
    # computes) gets the memory the in-process runs get through SPARK_SETTINGS
    env = {**os.environ, "SPARK_DRIVER_MEMORY": SPARK_SETTINGS["spark.driver.memory"]}
    process = subprocess.Popen(child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(process.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{part} on {run} failed:\n{err[-3000:]}")
    if command is not None:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime + after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
        found = {"seconds": time.perf_counter() - started, "cpu": cpu, "startup": 0.0,
                 "counts": {}, "peak_rss": peak}
        return found
    found = json.loads(out.strip().splitlines()[-1])
    found["peak_rss"] = peak
    return found


def compare(results: dict[str, dict[str, Any]]) -> bool:
    """Whether every run found the same counts (none run: nothing disagrees); print the
    differences."""
    if not results:
        return True
    first, *others = results
    agree = True
    for run in others:
        for name, count in results[first]["counts"].items():
            if results[run]["counts"].get(name) != count:
                print(f"MISMATCH {name}: {first} {count:,}, {run} {results[run]['counts'].get(name)}")
                agree = False
    return agree


def table(title: str, results: dict[str, dict[str, Any]]) -> None:
    base = results.get("duckdb-sql") or next(iter(results.values()))
    print(f"\n{title}  (load average {os.getloadavg()[0]:.1f})")
    print(f"{'run':<12}{'seconds':>9}{'CPU s':>9}{'start s':>9}{'peak RSS':>11}{'vs duckdb-sql':>15}")
    for run, r in results.items():
        ratio = r["seconds"] / max(base["seconds"], 1e-9)
        print(f"{run:<12}{r['seconds']:>9.2f}{r['cpu']:>9.2f}{r['startup']:>9.2f}"
              f"{r['peak_rss'] / 2**30:>9.2f} G{ratio:>14.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["profiles", "events", "run", "both", "all"], default="both",
                        help="both: (a) and (b); all: (a), (b) and (c)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="profiles for (a), default 1,000,000")
    parser.add_argument("--events", type=int, default=20_000_000, help="events for (b), default 20,000,000")
    parser.add_argument("--engines", default=",".join(RUNS), help=f"runs, of {','.join(RUNS)}")
    parser.add_argument("--memory-limit", help="(c): the duckdb engine's [engine] memory_limit, "
                        "and the same SET memory_limit for DuckDB by hand (default: DuckDB's)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        part, run, size, path = args.child
        found = profiles_job(run, int(size)) if part == "profiles" else events_job(run, int(size), Path(path))
        print(json.dumps(found))
        return 0
    runs = [r.strip() for r in args.engines.split(",") if r.strip()]
    unknown = set(runs) - set(RUNS)
    if unknown:
        parser.error(f"unknown runs {', '.join(sorted(unknown))}; choose from {', '.join(RUNS)}")
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"pyarrow {pa.__version__}")
    agree, failed = True, False
    if args.part in ("profiles", "both", "all"):
        results = {run: measure("profiles", run, args.rows, None) for run in runs}
        table(f"(a) 50 profile rules over {args.rows:,} profiles", results)
        agree &= compare(results)
    if args.part in ("events", "both", "all"):
        path = event_bench.generate(args.events, 7)
        results = {run: measure("events", run, args.events, path) for run in runs}
        table(f"(b) 21 event rules over {args.events:,} Parquet events of "
              f"{event_bench.customers(args.events):,} customers", results)
        agree &= compare(results)
    if args.part in ("run", "all"):
        path = event_bench.generate(args.events, 7)
        project_file = write_project(path, args.events, args.memory_limit)
        results = {}
        for run in (r for r in runs if r in END_TO_END):
            try:
                results[run] = measure("run", run, args.events, path,
                                       run_command(run, project_file, path, args.memory_limit))
            except SystemExit as failure:  # the others are still reported (out of memory under a limit)
                print(failure)
                failed = True
                continue
            results[run]["counts"] = run_counts(run, project_file)
        if results:
            table(f"(c) segmint run end to end, 21 event rules over {args.events:,} Parquet events of "
                  f"{event_bench.customers(args.events):,} customers", results)
        agree &= compare(results)
    print("every run's member counts agree" if agree else "THE RUNS DISAGREE")
    return 0 if agree and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
