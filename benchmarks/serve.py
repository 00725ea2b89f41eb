"""Benchmark: visitor lookups of `segmint serve` under a steady load on loopback.

    python benchmarks/serve.py                              # 1,000,000 visitors, 500 req/s, 10 s
    python benchmarks/serve.py --visitors 100000 --rate 1000 --seconds 5
    python benchmarks/serve.py --wrk                        # also the most it answers (wrk)
    python benchmarks/serve.py --realtime                   # on a busy machine (root)
    python benchmarks/serve.py --swap                       # a new run indexed mid-way

Stores a run of `--visitors` visitors (six segments and a three-label segmentation, drawn at
random) as a snapshot in a temporary state directory, starts the service (the app
`segmint serve` runs, on uvicorn) in its own process pinned to one CPU core, and waits until
it has indexed the snapshot. Then a client pinned to another core sends
``GET /v1/visitors/{id}/segments`` with a bearer token at a fixed rate (open loop: request i
is due at i/rate seconds, whatever the answers before it did) over keep-alive connections,
for random visitors, one in ten unknown. A request's latency runs from when it was due to
when its whole answer was read, so a slow server cannot hide its backlog (no coordinated
omission). Prints the percentiles, the achieved rate, errors, the index's build time and the
server's resident memory. Goal: p99 under 10 ms at 500 req/s on one core.

The client is plain asyncio streams (HTTP/1.1, Content-Length), cheaper than any HTTP
library, so its own cost stays small beside the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TOKEN = "benchmark-token-0123456789abcdef"


def write_snapshot(state_dir: Path, visitors: int, seed: int = 7,
                   run_id: str = "20260101T000000Z-0be7c4") -> float:
    """A run of `visitors` visitors stored as the snapshot store lays it out; seconds taken."""
    import json

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    columns = {"customer_id": pa.array(np.arange(1, visitors + 1, dtype=np.int64))}
    for name, share in [("champions", 0.05), ("at_risk", 0.15), ("big_spenders", 0.10),
                        ("one_and_done", 0.30), ("eu_email", 0.25), ("win_back", 0.08)]:
        columns[name] = pa.array(rng.random(visitors) < share)
    labels = np.array(["active", "lapsing", "lost"])
    columns["lifecycle"] = pa.array(labels[rng.integers(0, 3, visitors)])
    run = state_dir / "runs" / run_id
    run.mkdir(parents=True)
    pq.write_table(pa.table(columns), run / "membership.parquet")
    (run / "run.json").write_text(json.dumps({"run_id": run_id, "key": "customer_id",
                                              "as_of": "2026-01-01T00:00:00+00:00"}))
    latest = state_dir / "runs" / ".LATEST.tmp"
    latest.write_text(run_id + "\n")
    os.replace(latest, state_dir / "runs" / "LATEST")
    return time.perf_counter() - started


def realtime() -> None:
    """Run the calling thread under SCHED_FIFO (root): it gets its core whenever it is
    ready to run, whatever else the machine is doing. Threads it starts inherit it."""
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))


def ordinary() -> None:
    """Ordinary scheduling for the calling thread."""
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def ordinary_process() -> None:
    """For the writer of --swap: any core, ordinary scheduling (not this client's)."""
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
    ordinary()


def serve(state_dir: str, port: int, core: int | None, fifo: bool) -> None:
    """The server process: the service's app on uvicorn, on one core."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    if fifo:
        realtime()
    import uvicorn

    from segmint.serve.app import ServeConfig, create_app
    from segmint.serve.index import SnapshotWatcher
    from segmint.serve.server import server_config

    class Watcher(SnapshotWatcher):
        """Builds indexes at ordinary priority: under --realtime only the event loop's
        thread is SCHED_FIFO (a FIFO builder would keep it off the core until done)."""

        def poll(self) -> bool:
            if fifo:
                ordinary()
            return super().poll()

    config = ServeConfig(state_dir=Path(state_dir), tokens={TOKEN: "lookup"}, poll_interval=5.0)
    app = create_app(config, watcher=Watcher(config.state_dir))
    # As `segmint serve` runs it: bounded request heads, a deadline for them.
    uvicorn.Server(server_config(app, host="127.0.0.1", port=port, log_level="warning",
                                 access_log=False)).run()


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def get(self, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n"
                          f"Authorization: Bearer {TOKEN}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status


async def load(port: int, rate: float, seconds: float, visitors: int, connections: int,
               seed: int = 11) -> tuple[list[float], int, float]:
    """Open-loop GETs at `rate` per second; latencies in ms from each request's due time."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(*await asyncio.open_connection("127.0.0.1", port)))
    rng = random.Random(seed)
    total = int(rate * seconds)
    paths = [f"/v1/visitors/{rng.randint(1, visitors) if rng.random() < 0.9 else 'unknown-' + str(n)}"
             f"/segments" for n in range(total)]
    latencies: list[float] = []
    errors = 0

    async def one(path: str, due: float) -> None:
        nonlocal errors
        connection = await pool.get()
        try:
            status = await connection.get(path)
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
            connection = Connection(*await asyncio.open_connection("127.0.0.1", port))
        else:
            if status != 200:
                errors += 1
        latencies.append((time.perf_counter() - due) * 1000)
        pool.put_nowait(connection)

    loop_start = time.perf_counter() + 0.05
    tasks = []
    for n, path in enumerate(paths):
        due = loop_start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(path, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - loop_start
    while not pool.empty():
        pool.get_nowait().writer.close()
    return latencies, errors, elapsed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_ready(port: int, process: subprocess.Popen, timeout: float = 300) -> float:
    started = time.perf_counter()
    request = "GET /v1/health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise SystemExit("the server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(request)
                if b" 200 " in sock.recv(100):
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("the server did not index the snapshot in time")


def run_wrk(port: int, visitors: int, seconds: int) -> str:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f'wrk.headers["Authorization"] = "Bearer {TOKEN}"\n'
                 f'request = function() return wrk.format("GET", "/v1/visitors/" .. '
                 f'math.random(1, {visitors}) .. "/segments") end\n')
    script.close()
    done = subprocess.run(["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", "-s", script.name,
                           f"http://127.0.0.1:{port}"], capture_output=True, text=True)
    os.unlink(script.name)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=500, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk", action="store_true", help="then find the most it answers with wrk")
    parser.add_argument("--swap", action="store_true",
                        help="store a new run half-way through: the server indexes it and swaps "
                             "while answering")
    parser.add_argument("--realtime", action="store_true",
                        help="run the client and the server's event loop under SCHED_FIFO (root): "
                             "a core of their own on a machine busy with other work")
    parser.add_argument("--serve", nargs=3, metavar=("STATE_DIR", "PORT", "CORE"), help=argparse.SUPPRESS)
    parser.add_argument("--write", nargs=2, metavar=("STATE_DIR", "VISITORS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:  # the new run of --swap, written by a process of its own, like segmint run
        write_snapshot(Path(args.write[0]), int(args.write[1]), 8, "20260101T000100Z-0be7c5")
        return
    if args.serve:
        state, port, core = args.serve
        serve(state, int(port), None if core == "-" else int(core), args.realtime)
        return

    cores = sorted(os.sched_getaffinity(0))
    server_core = cores[0]
    client_cores = set(cores[1:]) or {cores[0]}
    with tempfile.TemporaryDirectory() as state:
        written = write_snapshot(Path(state), args.visitors)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = subprocess.Popen([sys.executable, __file__, "--serve", state, str(port),
                                   str(server_core)] + (["--realtime"] if args.realtime else []))
        try:
            ready = wait_ready(port, server)
            os.sched_setaffinity(0, client_cores)
            if args.realtime:
                realtime()
            print(f"snapshot: {args.visitors:,} visitors written in {written:.1f} s; server up and "
                  f"indexed in {ready:.1f} s; server RSS {rss_mib(server.pid):,.0f} MiB; "
                  f"server on core {server_core}, client on {sorted(client_cores)}"
                  + (", both SCHED_FIFO" if args.realtime else ""))
            # A short warm-up, then the measured run.
            asyncio.run(load(port, args.rate, 1.0, args.visitors, args.connections, seed=1))
            swap = None
            if args.swap:
                writer = [sys.executable, __file__, "--write", state, str(args.visitors)]
                swap = threading.Timer(args.seconds / 2, subprocess.run, (writer,),
                                       {"preexec_fn": ordinary_process})
                swap.start()
            latencies, errors, elapsed = asyncio.run(
                load(port, args.rate, args.seconds, args.visitors, args.connections))
            if swap is not None:
                swap.join()
                time.sleep(3)
                print(f"swapped to a new run of {args.visitors:,} visitors half-way through; "
                      f"server RSS now {rss_mib(server.pid):,.0f} MiB")
            print(f"{len(latencies):,} requests in {elapsed:.2f} s ({len(latencies) / elapsed:,.0f}/s "
                  f"asked {args.rate:,.0f}/s), {errors} errors, {args.connections} connections")
            print("latency ms: " + "  ".join(
                f"p{p}={percentile(latencies, p):.2f}" for p in (50, 90, 99, 99.9))
                  + f"  max={max(latencies):.2f}  mean={statistics.fmean(latencies):.2f}")
            p99 = percentile(latencies, 99)
            verdict = "meets" if p99 < 10 and errors == 0 else "MISSES"
            print(f"goal p99 < 10 ms at {args.rate:,.0f} req/s on one core: {verdict} (p99 {p99:.2f} ms)")
            if args.wrk:
                if shutil.which("wrk"):
                    print("wrk, 16 connections, as fast as it answers:")
                    print(run_wrk(port, args.visitors, 5))
                else:
                    print("wrk is not installed; skipped the throughput run")
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
