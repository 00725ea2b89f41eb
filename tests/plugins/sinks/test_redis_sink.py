"""The redis sink against a real redis-server on a free loopback port (``.ci/run`` installs
it; skipped only where it is not installed): key layout, the generation switch, a reader
that never sees two runs mixed, dry runs, passwords from the environment, failed runs, and
the per-prefix lock that lets one delivery run at a time."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from segmint.errors import ConfigError, SegmintError
from segmint.plugin.host import get_registry
from segmint.plugin.options import build_options
from segmint.plugin.api import PluginContext, RunResult, SegmentInfo
from segmint.plugins.sinks.redis import RedisSink, visitor_members

redis = pytest.importorskip("redis")
REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")

PASSWORD = "s3cret-from-env"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(tmp: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    process, port = _start(tmp_path_factory.mktemp("redis"))
    yield port
    process.terminate()
    process.wait(10)


@pytest.fixture
def client(server: int) -> Iterator[object]:
    connection = redis.Redis(port=server, decode_responses=True)
    connection.flushdb()
    yield connection
    connection.close()


def make_sink(port: int, tmp_path: Path, **options: object) -> RedisSink:
    values = {"url": f"redis://127.0.0.1:{port}/0", **options}
    built = build_options(RedisSink.Options, values, plugin="redis", where="[sinks.live]")
    return RedisSink("live", built, PluginContext(project_dir=tmp_path))


def result(table: pa.Table, key: str = "customer_id") -> RunResult:
    infos = tuple(SegmentInfo(c, "segment" if pa.types.is_boolean(table.schema.field(c).type)
                              else "segmentation") for c in table.column_names if c != key)
    return RunResult(membership=table, profiles=table.select([key]), key=key,
                     as_of=dt.datetime(2026, 1, 31, tzinfo=dt.timezone.utc), segments=infos)


def membership() -> pa.Table:
    return pa.table({
        "customer_id": pa.array([1, 2, 3], pa.int64()),
        "champions": [True, False, None],
        "eu": [True, True, False],
        "tier": ["gold", None, None],
    })


def read(client: object, visitor: str, prefix: str = "segmint") -> set[str]:
    """How a site reads: the current generation, then the visitor's set in it."""
    generation = client.get(f"{prefix}:current")
    return client.smembers(f"{prefix}:{generation}:visitor:{visitor}") if generation else set()


def test_the_sink_is_registered() -> None:
    assert get_registry().sinks["redis"] is RedisSink


def test_visitor_members() -> None:
    assert list(visitor_members(membership(), "customer_id", ["champions", "eu", "tier"])) == [
        ("1", ["champions", "eu", "tier=gold"]), ("2", ["eu"]), ("3", [])]


def test_key_layout_and_switch(server: int, client: object, tmp_path: Path) -> None:
    sink = make_sink(server, tmp_path)
    delivery = sink.deliver(result(membership()))
    assert (delivery.added, delivery.skipped, delivery.dry_run) == (2, 1, False)
    assert client.get("segmint:current") == "1"
    assert read(client, "1") == {"champions", "eu", "tier=gold"}
    assert read(client, "2") == {"eu"}
    assert read(client, "3") == set()  # in no segment: no key
    assert client.type("segmint:1:visitor:1") == "set"
    meta = client.hgetall("segmint:1:meta")
    assert meta["visitors"] == "2" and meta["as_of"].startswith("2026-01-31")
    assert client.smembers("segmint:pending") == set()
    assert client.exists("segmint:lock") == 0  # released after success

    second = pa.table({"customer_id": pa.array([1, 4], pa.int64()), "champions": [False, True],
                       "eu": [False, False], "tier": ["silver", None]})
    delivery = sink.deliver(result(second))
    assert "generation 2, replacing 1" in delivery.target
    assert client.get("segmint:current") == "2"
    assert read(client, "1") == {"tier=silver"}
    assert read(client, "2") == set()
    assert read(client, "4") == {"champions"}
    old_ttl = client.ttl("segmint:1:visitor:1")
    assert 0 < old_ttl <= 300  # the old generation expires after the grace period
    assert client.ttl("segmint:1:meta") > 0
    assert client.ttl("segmint:2:visitor:1") == -1  # the current one does not


def test_chosen_segments_and_prefix(server: int, client: object, tmp_path: Path) -> None:
    sink = make_sink(server, tmp_path, segments=["tier"], prefix="shop:seg")
    sink.deliver(result(membership()))
    assert read(client, "1", prefix="shop:seg") == {"tier=gold"}
    assert client.keys("segmint:*") == []
    with pytest.raises(SegmintError, match="no segment or segmentation 'nope'"):
        make_sink(server, tmp_path, segments=["nope"]).deliver(result(membership()))


def test_dry_run_sends_nothing(server: int, client: object, tmp_path: Path) -> None:
    delivery = make_sink(server, tmp_path).deliver(result(membership()), dry_run=True)
    assert (delivery.added, delivery.skipped, delivery.dry_run) == (2, 1, True)
    assert client.dbsize() == 0
    # Not even a connection: a dry run against a closed port succeeds.
    closed = make_sink(_free_port(), tmp_path).deliver(result(membership()), dry_run=True)
    assert closed.added == 2


def test_a_reader_never_sees_two_runs_mixed(server: int, client: object, tmp_path: Path) -> None:
    """Runs alternate between 'alpha' for everyone and 'beta' for everyone while a reader
    reads 250 visitors at a time, as a site page would: each read is one whole run."""
    visitors = 5_000
    keys = pa.array(range(visitors), pa.int64())
    runs = [pa.table({"customer_id": keys, "alpha": [True] * visitors, "beta": [False] * visitors}),
            pa.table({"customer_id": keys, "alpha": [False] * visitors, "beta": [True] * visitors})]
    sink = make_sink(server, tmp_path, batch_size=1000, grace_seconds=60)
    sink.deliver(result(runs[0]))
    stop = threading.Event()
    problems: list[str] = []
    reads: list[str] = []

    def reader() -> None:
        connection = redis.Redis(port=server, decode_responses=True)
        sample = range(0, visitors, visitors // 250)
        while not stop.is_set():
            generation = connection.get("segmint:current")
            pipe = connection.pipeline(transaction=False)
            for visitor in sample:
                pipe.smembers(f"segmint:{generation}:visitor:{visitor}")
            seen = {frozenset(s) for s in pipe.execute()}
            reads.append(generation)
            if len(seen) != 1 or seen not in ({frozenset({"alpha"})}, {frozenset({"beta"})}):
                problems.append(f"generation {generation}: {sorted(map(sorted, seen))}")
        connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(1, 7):
            sink.deliver(result(runs[n % 2]))
    finally:
        stop.set()
        thread.join(30)
    assert problems == []
    assert len(set(reads)) >= 4, "the reader should have read across several switches"
    assert client.get("segmint:current") == "7"


def test_a_failed_run_leaves_current_and_is_cleaned_up(server: int, client: object,
                                                        tmp_path: Path, monkeypatch) -> None:
    sink = make_sink(server, tmp_path, batch_size=1)
    sink.deliver(result(membership()))
    calls = {"n": 0}
    original = redis.client.Pipeline.execute

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise redis.exceptions.ConnectionError("connection dropped")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", failing)
    with pytest.raises(SegmintError, match="Redis at redis://127.0.0.1:.* failed: ConnectionError"):
        sink.deliver(result(membership()))
    monkeypatch.undo()
    assert client.get("segmint:current") == "1"  # readers still see the first run, whole
    assert read(client, "1") == {"champions", "eu", "tier=gold"}
    assert client.smembers("segmint:pending") == {"2"}
    assert client.exists("segmint:2:visitor:1")
    assert client.exists("segmint:lock") == 0  # released after a failure too

    sink.deliver(result(membership()))
    assert client.get("segmint:current") == "3"
    assert client.keys("segmint:2:*") == []  # the failed run's keys are gone
    assert client.smembers("segmint:pending") == set()


LOCKED = "another delivery to Redis prefix 'segmint' is running"


def test_a_second_delivery_is_refused_while_the_first_holds_the_lock(
        server: int, client: object, tmp_path: Path) -> None:
    """The first delivery writes for longer than lock_seconds (its lock is extended while it
    writes); a second one to the same prefix meanwhile fails and changes nothing."""
    first = make_sink(server, tmp_path, lock_seconds=1)
    writing, finish = threading.Event(), threading.Event()
    publish = first._publish

    def slow_publish(*args, **kwargs):
        writing.set()
        assert finish.wait(30)
        return publish(*args, **kwargs)

    first._publish = slow_publish
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(first.deliver(result(membership()))))
    thread.start()
    try:
        assert writing.wait(10)
        time.sleep(2.5)  # past the lock's 1 s time to live: only the refreshing keeps it
        token = client.get("segmint:lock")
        assert token and 0 < client.pttl("segmint:lock") <= 1000
        with pytest.raises(SegmintError, match=f"sink 'live': {LOCKED}"):
            make_sink(server, tmp_path).deliver(result(membership()))
        assert client.get("segmint:lock") == token  # the refused one left the lock alone
        assert client.get("segmint:generation") is None  # and wrote nothing
        # Another prefix is another lock; a dry run takes none.
        make_sink(server, tmp_path, prefix="other").deliver(result(membership()))
        assert make_sink(server, tmp_path).deliver(result(membership()), dry_run=True).dry_run
    finally:
        finish.set()
        thread.join(30)
    assert len(outcome) == 1 and "generation 1" in outcome[0].target
    assert client.get("segmint:current") == "1"
    assert client.exists("segmint:lock") == 0
    make_sink(server, tmp_path).deliver(result(membership()))  # free again
    assert client.get("segmint:current") == "2"


def test_a_crashed_deliverys_lock_expires(server: int, client: object, tmp_path: Path,
                                          monkeypatch) -> None:
    """A delivery that dies without releasing its lock (here: its release never runs) blocks
    the prefix for lock_seconds at most; the next delivery then cleans up after it."""
    sink = make_sink(server, tmp_path, lock_seconds=1, batch_size=1)
    sink.deliver(result(membership()))
    monkeypatch.setattr(sink, "_unlock", lambda client, token: None)
    monkeypatch.setattr(redis.client.Pipeline, "execute", _fails(redis.client.Pipeline.execute))
    with pytest.raises(SegmintError, match="ConnectionError"):
        sink.deliver(result(membership()))
    monkeypatch.undo()
    assert 0 < client.pttl("segmint:lock") <= 1000  # left behind, with its time to live
    with pytest.raises(SegmintError, match=LOCKED + r" \(it holds segmint:lock\); its lock "
                                           r"expires in \d+ s"):
        sink.deliver(result(membership()))
    deadline = time.monotonic() + 10
    while client.exists("segmint:lock") and time.monotonic() < deadline:
        time.sleep(0.05)
    delivery = sink.deliver(result(membership()))
    assert "generation 3, replacing 1" in delivery.target
    assert client.keys("segmint:2:*") == []  # the crashed run's keys are gone
    assert client.exists("segmint:lock") == 0


def test_a_lost_lock_is_neither_switched_nor_released(server: int, client: object,
                                                       tmp_path: Path) -> None:
    """If another delivery took the lock over (say, this one stalled past lock_seconds),
    this one does not switch, and does not delete the other's lock."""
    sink = make_sink(server, tmp_path)
    sink.deliver(result(membership()))
    publish = sink._publish

    def taken_over(*args, **kwargs):
        client.set("segmint:lock", "someone-else")
        return publish(*args, **kwargs)

    sink._publish = taken_over
    with pytest.raises(SegmintError, match="lost the lock on Redis prefix 'segmint'"):
        sink.deliver(result(membership()))
    assert client.get("segmint:current") == "1"
    assert client.get("segmint:lock") == "someone-else"


def _fails(original):
    calls = {"n": 0}

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise redis.exceptions.ConnectionError("connection dropped")
        return original(self, *args, **kwargs)

    return failing


def test_password_comes_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    process, port = _start(tmp_path, "--requirepass", PASSWORD)
    try:
        sink = make_sink(port, tmp_path, password_env="SEGMINT_TEST_REDIS_PASSWORD")
        monkeypatch.delenv("SEGMINT_TEST_REDIS_PASSWORD", raising=False)
        with pytest.raises(SegmintError, match="SEGMINT_TEST_REDIS_PASSWORD .* is not set"):
            sink.deliver(result(membership()))
        monkeypatch.setenv("SEGMINT_TEST_REDIS_PASSWORD", PASSWORD)
        delivery = sink.deliver(result(membership()))
        assert PASSWORD not in delivery.target
        connection = redis.Redis(port=port, password=PASSWORD, decode_responses=True)
        assert connection.get("segmint:current") == "1"
        connection.close()
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize(("options", "message"), [
    ({"url": "redis://:pw@127.0.0.1:6379/0"}, "must not hold a password"),
    ({"url": "http://127.0.0.1"}, "url must start with redis://"),
    ({"prefix": "a b"}, "prefix must be a non-empty word"),
])
def test_bad_options(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_sink(6379, tmp_path, **options)


def test_bad_batch_size(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        make_sink(6379, tmp_path, batch_size=0)


@pytest.mark.parametrize("value", [0, -5, "ten"])
def test_bad_lock_seconds(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError, match="lock_seconds"):
        make_sink(6379, tmp_path, lock_seconds=value)


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SegmintError, match="sink 'live': Redis at redis://127.0.0.1:.* failed"):
        make_sink(_free_port(), tmp_path).deliver(result(membership()))


def test_segmint_run_delivers_and_dry_run_sends_nothing(server: int, client: object,
                                                         tmp_path: Path) -> None:
    """Through `segmint run`: the project's [sinks.site] table, consent for its purpose."""
    from click.testing import CliRunner

    from segmint.cli import cli

    (tmp_path / "rules.seg").write_text("segment big: spent >= 100\n")
    (tmp_path / "customers.csv").write_text(
        "customer_id,spent,email_ok\n1,150,true\n2,500,false\n3,10,true\n")
    (tmp_path / "segmint.toml").write_text(
        'rules = ["rules.seg"]\n[consent]\nemail = "email_ok"\n'
        '[sources.customers]\nplugin = "csv"\npath = "customers.csv"\n'
        f'[sinks.site]\nplugin = "redis"\nurl = "redis://127.0.0.1:{server}/0"\npurpose = "email"\n')
    runner = CliRunner()
    dry = runner.invoke(cli, ["run", "-p", str(tmp_path / "segmint.toml"), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "sink site:" in dry.output and "dry run" in dry.output
    assert client.dbsize() == 0
    done = runner.invoke(cli, ["run", "-p", str(tmp_path / "segmint.toml")])
    assert done.exit_code == 0, done.output
    assert "segmint:current = generation 1" in done.output
    assert read(client, "1") == {"big"}
    assert read(client, "2") == set()  # no consent for email: not published

    client.set("segmint:lock", "another-run", px=60_000)
    locked = runner.invoke(cli, ["run", "-p", str(tmp_path / "segmint.toml")])
    assert locked.exit_code == 1, locked.output
    assert LOCKED in locked.output
    assert client.get("segmint:current") == "1"
    dry = runner.invoke(cli, ["run", "-p", str(tmp_path / "segmint.toml"), "--dry-run"])
    assert dry.exit_code == 0, dry.output  # a dry run takes no lock
