"""What the serve tests share: stored runs, a project, a real uvicorn server on loopback."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

TOKEN = "test-token-" + "x" * 20
LOOKUP_TOKEN = "lookup-token-" + "y" * 20

_counter = itertools.count()

RULES = """\
segment champions: orders >= 5 and total_spent >= 300
segment big_spenders: total_spent in top 10%
segment rich_champions: champions and big_spenders
segment eu: country in ("DE", "FR")
segment loyal: orders >= 3
    holdout 50%
segmentation tier:
    gold: total_spent >= 500
    silver: total_spent >= 100
    bronze: otherwise
"""

CUSTOMERS = """\
customer_id,country,orders,total_spent
1,DE,6,800
2,SE,1,20
3,FR,3,150
"""


def new_run_id() -> str:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=next(_counter))
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def write_run(state_dir: Path, membership: pa.Table, *, key: str = "customer_id",
              run_id: str | None = None) -> str:
    """Store a run as the snapshot store does: the run's directory, then LATEST, atomically."""
    run_id = run_id or new_run_id()
    runs = state_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    temp = runs / f".{run_id}.tmp"
    temp.mkdir()
    pq.write_table(membership, temp / "membership.parquet")
    (temp / "run.json").write_text(json.dumps({"run_id": run_id, "key": key,
                                               "as_of": "2026-01-01T00:00:00+00:00"}))
    os.rename(temp, runs / run_id)
    latest = runs / f".LATEST.{run_id}.tmp"
    latest.write_text(run_id + "\n")
    os.replace(latest, runs / "LATEST")
    return run_id


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    (tmp_path / "rules.seg").write_text(RULES)
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "segmint.toml").write_text(
        'rules = ["rules.seg"]\nholdout_salt = "s"\n\n'
        '[sources.customers]\nplugin = "csv"\npath = "customers.csv"\n')
    return tmp_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(app: object) -> Iterator[str]:
    """Serve `app` with uvicorn on a free loopback port in a thread; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
