"""The webhook sink against a real HTTP server on 127.0.0.1, started by the tests.

The receiver checks every signature, applies each Idempotency-Key once (as a careful
webhook consumer does), keeps the members of each segment as the deliveries leave them,
and injects faults: 429 with Retry-After, 500, a connection dropped before or after the
batch was applied, and a process killed mid-sync.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner, Result

from segmint.cli import cli
from segmint.delivery.snapshots import load_snapshot
from segmint.delivery.sync import audiences, changes
from segmint.plugins.sinks import webhook

SECRET_ENV = "SEGMINT_TEST_WEBHOOK_SECRET"
SECRET = "whsec-7Hq2-never-print-me"
SEGMENTS = ("champions", "at_risk", "win_back", "lifecycle")


class Receiver:
    """What the webhook's owner runs: verifies, de-duplicates, applies, misbehaves on demand."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: list[str] = []  # "429", "500", "drop", "drop-after", "400"
        self.seen: set[str] = set()
        self.members: dict[str, set[str]] = {}
        self.applied: Counter[tuple[str, str, str]] = Counter()
        self.requests = 0
        self.bad_signatures = 0
        self.bodies: list[dict[str, Any]] = []
        self.always: str | None = None
        self.hang_after: int | None = None  # apply the Nth new batch, then hang
        self.hanging = threading.Event()
        self.release = threading.Event()

    def handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers["Content-Length"]))
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        with self.lock:
            self.requests += 1
            fault = self.always or (self.faults.pop(0) if self.faults else None)
        if not hmac.compare_digest(handler.headers.get("X-Segmint-Signature", ""), expected):
            with self.lock:
                self.bad_signatures += 1
            return self.answer(handler, 401)
        if fault == "429":
            return self.answer(handler, 429, {"Retry-After": "7"})
        if fault in ("500", "400"):
            return self.answer(handler, int(fault))
        if fault == "drop":
            handler.close_connection = True
            return
        applied = self.apply(handler.headers["Idempotency-Key"], json.loads(body))
        if fault == "drop-after":
            handler.close_connection = True
            return
        if applied is not None and applied == self.hang_after:
            self.hanging.set()
            self.release.wait(30)
            return
        self.answer(handler, 200, body=b'{"ok":true}')

    def apply(self, key: str, payload: dict[str, Any]) -> int | None:
        with self.lock:
            if key in self.seen:
                return None
            self.seen.add(key)
            self.bodies.append(payload)
            members = self.members.setdefault(payload["segment"], set())
            for member in payload["members"]:
                if payload["event"] == "entered":
                    members.add(member["key"])
                else:
                    members.discard(member["key"])
                self.applied[(payload["segment"], payload["event"], member["key"])] += 1
            return len(self.seen)

    @staticmethod
    def answer(handler: http.server.BaseHTTPRequestHandler, status: int,
               headers: dict[str, str] | None = None, body: bytes = b"{}") -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def nonempty(self) -> dict[str, set[str]]:
        return {k: v for k, v in self.members.items() if v}


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            state.handle(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks/segmint?token=abc"
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between retries, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(webhook.WebhookSink, "sleep", staticmethod(waited.append))
    return waited


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: tuple[Receiver, str]) -> Path:
    """The starter project with a webhook sink, as the current directory."""
    invoke("init", tmp_path / "shop")
    project = tmp_path / "shop"
    monkeypatch.chdir(project)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    write_sink(project, receiver[1])
    return project


def write_sink(project: Path, url: str, extra: str = "", top: str = "") -> None:
    """The project's sinks replaced by one webhook sink; `top` adds tables before it."""
    toml = (project / "segmint.toml").read_text().split("[sinks.")[0]
    segments = ", ".join(f'"{s}"' for s in SEGMENTS)
    (project / "segmint.toml").write_text(
        toml + top + "[sinks.hook]\n"
        f'plugin = "webhook"\nurl = "{url}"\nsecret_env = "{SECRET_ENV}"\n'
        f"segments = [{segments}]\nbatch_size = 100\nbackoff = 0.01\n{extra}")


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="segmint")


def ok(*args: str | Path) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result


def expected(project: Path) -> dict[str, set[str]]:
    """The audiences of the latest stored run, as the receiver should hold them."""
    snapshot = load_snapshot(project / ".segmint", "latest")
    found = audiences(snapshot.membership, snapshot.key, list(SEGMENTS))
    return {k: set(v.to_pylist()) for k, v in found.items() if len(v)}


def batch_count(project: Path) -> int:
    """Requests a first delivery takes: 100 members a batch, one segment per batch."""
    return sum(-(-len(keys) // 100) for keys in expected(project).values())


def test_a_run_delivers_every_member_signed_and_once(shop: Path, receiver, sleeps) -> None:
    state, _ = receiver
    result = ok("run")
    members = sum(len(keys) for keys in expected(shop).values())
    assert f"sink hook: {members:,} added → http://127.0.0.1:" in result.output
    assert "token=abc" not in result.output  # the URL's query may hold credentials
    assert state.nonempty() == expected(shop)
    assert state.bad_signatures == 0
    assert max(state.applied.values()) == 1
    assert state.requests == len(state.seen) == batch_count(shop)
    first = state.bodies[0]
    assert first["sink"] == "hook" and first["event"] == "entered" and first["segment"] == "champions"
    assert first["run_id"] == load_snapshot(shop / ".segmint", "latest").run_id
    assert sleeps == []


def test_later_runs_send_only_what_changed(shop: Path, receiver, sleeps) -> None:
    state, _ = receiver
    ok("run", "--as-of", "1997-12-31")
    before = expected(shop)
    requests = state.requests
    result = ok("run")
    after = expected(shop)
    assert state.nonempty() == after
    assert max(state.applied.values()) == 1
    found = changes({k: pa.array(sorted(v)) for k, v in before.items()},
                    {k: pa.array(sorted(v)) for k, v in after.items()})
    batches = sum(-(-len(keys) // 100) for side in (found.added, found.removed) for keys in side.values())
    assert state.requests - requests == batches
    added, removed = found.count("added"), found.count("removed")
    assert f"sink hook: {added:,} added, {removed:,} removed" in result.output
    again = ok("run")
    assert "sink hook: 0 added →" in again.output
    assert state.requests == requests + batches  # nothing sent the third time


def test_429_500_and_dropped_connections_are_retried_without_duplicates(shop: Path, receiver,
                                                                         sleeps) -> None:
    state, _ = receiver
    state.faults = ["429", "500", "drop", "drop-after", "500", "429"]
    ok("run")
    assert state.nonempty() == expected(shop)
    assert max(state.applied.values()) == 1
    assert state.requests == batch_count(shop) + 6
    assert sleeps[0] == 7.0 and sleeps[-1] == 7.0  # Retry-After honoured
    backoffs = sleeps[1:-1]  # retries 2 to 5 of one batch: 0.01 s doubled each time, jittered
    assert len(backoffs) == 4
    assert all(0.5 * 0.01 * 2 ** n <= wait <= 0.01 * 2 ** n for n, wait in enumerate(backoffs, 1))


def test_giving_up_keeps_what_was_confirmed_and_the_next_run_resumes(shop: Path, receiver,
                                                                    sleeps) -> None:
    state, _ = receiver
    original = state.handle

    def failing_after_five(handler: Any) -> None:
        if len(state.seen) >= 5:
            state.always = "500"
        original(handler)

    state.handle = failing_after_five  # type: ignore[method-assign]
    result = invoke("run")
    assert result.exit_code == 1
    assert "sink 'hook': http://127.0.0.1:" in result.stderr
    assert "failed 7 times (last: HTTP 500)" in result.stderr
    assert len(sleeps) == 6
    state.handle = original  # type: ignore[method-assign]
    state.always = None
    before = state.requests
    ok("run")
    assert state.nonempty() == expected(shop)
    assert max(state.applied.values()) == 1
    assert state.requests - before == batch_count(shop) - 5


def test_a_refused_batch_is_a_user_error(shop: Path, receiver, sleeps) -> None:
    state, _ = receiver
    state.faults = ["400"]
    result = invoke("run")
    assert result.exit_code == 1
    assert "refused a batch: HTTP 400" in result.stderr
    assert state.requests == 1 and sleeps == []


def test_dry_run_sends_nothing_and_writes_no_state(shop: Path, receiver) -> None:
    state, _ = receiver
    result = ok("run", "--dry-run")
    assert "sink hook: 2,949 added" in result.output and "dry run: nothing was sent" in result.output
    assert state.requests == 0
    assert not (shop / ".segmint").exists()


def test_a_missing_secret_is_a_user_error(shop: Path, receiver, monkeypatch) -> None:
    monkeypatch.delenv(SECRET_ENV)
    result = invoke("run")
    assert result.exit_code == 1
    assert f"the environment variable '{SECRET_ENV}' (secret_env) is not set" in result.stderr
    assert receiver[0].requests == 0


def test_the_secret_never_appears_in_output_snapshots_or_state(shop: Path, receiver, sleeps) -> None:
    receiver[0].faults = ["500", "400"]
    outputs = [invoke("run").output, ok("run").output, ok("history").output,
               ok("run", "--dry-run").output]
    assert all(SECRET not in text for text in outputs)
    for path in (shop / ".segmint").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_only_members_with_consent_are_sent(shop: Path, receiver, sleeps) -> None:
    state, url = receiver
    write_sink(shop, url, 'purpose = "email"\n', top='[consent]\nemail = "email_consent"\n\n')
    result = ok("run")
    snapshot = load_snapshot(shop / ".segmint", "latest")
    consent = snapshot.profiles.filter(pc.field("email_consent"))["customer_id"].to_pylist()
    wanted = {k: v & set(consent) for k, v in expected(shop).items()}
    assert state.nonempty() == {k: v for k, v in wanted.items() if v}
    members = {key for keys in expected(shop).values() for key in keys}
    dropped = len(members - set(consent))
    assert f"{dropped:,} skipped" in result.output
    assert f"{dropped:,} members without email consent left out" in result.output


def test_hashed_identifiers_are_sent_instead_of_emails(shop: Path, receiver, sleeps) -> None:
    state, url = receiver
    write_sink(shop, url, 'hash_identifiers = "sha256"\nfields = ["email", "country"]\n',
               top='[identifiers]\nemail = "email"\n\n')
    ok("run")
    member = state.bodies[0]["members"][0]
    plain = f"customer{member['key']}@example.com"
    assert member["email"] == hashlib.sha256(plain.encode()).hexdigest()
    assert len(member["country"]) == 2
    snapshot = load_snapshot(shop / ".segmint", "latest")
    assert "@" in snapshot.profiles["email"][0].as_py()  # the snapshot keeps the real data


def test_a_process_killed_mid_sync_finishes_on_the_next_run(shop: Path, receiver) -> None:
    state, _ = receiver
    state.hang_after = 9  # the 9th batch is applied, then the process dies before its answer
    env = {**os.environ, "SEGMINT_PLUGINS": "segmint", SECRET_ENV: SECRET}
    process = subprocess.Popen([sys.executable, "-c", "from segmint.cli import main; main()", "run"],
                               cwd=shop, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert state.hanging.wait(60), process.stderr.read() if process.poll() is not None else ""
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    state.release.set()
    state.hang_after = None
    assert len(state.seen) == 9
    result = ok("run")
    assert "1 unconfirmed batches of an interrupted delivery sent again" in result.output
    assert state.nonempty() == expected(shop)
    assert max(state.applied.values()) == 1, "a member was delivered twice"
    assert state.bad_signatures == 0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("7", 7.0), ("0", 0.0), ("soon", None), (None, None),
     ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0)],
)
def test_retry_after(value: str | None, seconds: float | None) -> None:
    import datetime as dt

    now = dt.datetime(2015, 10, 21, 7, 27, tzinfo=dt.timezone.utc)
    assert webhook.retry_after(value, now) == seconds


def test_signature_and_redaction() -> None:
    body = b'{"a":1}'
    assert webhook.sign("key", body) == "sha256=" + hmac.new(b"key", body, hashlib.sha256).hexdigest()
    assert webhook.redact("https://user:pw@hooks.example.com:8443/x?token=1#f") == (
        "https://hooks.example.com:8443/x")


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ('url = "ftp://x"', "option 'url' of plugin 'webhook' is invalid: must be an http:// or https:// URL"),
        ("batch_size = 0", "option 'batch_size' of plugin 'webhook' is invalid: must be greater than 0"),
    ],
)
def test_bad_options(tmp_path: Path, monkeypatch, option: str, message: str) -> None:
    invoke("init", tmp_path / "p")
    monkeypatch.chdir(tmp_path / "p")
    toml = (tmp_path / "p" / "segmint.toml").read_text().split("[sinks.membership]")[0]
    lines = {"url": 'url = "http://127.0.0.1:9/"', "batch_size": ""}
    name = option.split(" ")[0]
    lines[name] = option
    (tmp_path / "p" / "segmint.toml").write_text(
        toml + '[sinks.hook]\nplugin = "webhook"\nsecret_env = "X"\n' + "\n".join(lines.values()) + "\n")
    result = invoke("validate")
    assert result.exit_code == 1
    assert message in result.stderr


def test_a_changed_field_is_sent_as_an_update(shop: Path, receiver, sleeps) -> None:
    state, url = receiver
    write_sink(shop, url, 'fields = ["country"]\n')
    ok("run")
    champion = sorted(expected(shop)["champions"])[0]
    csv = shop / "data" / "customers.csv"
    lines = csv.read_text().splitlines()
    for n, line in enumerate(lines):
        cells = line.split(",")
        if cells[0] == champion:
            cells[2] = "ZZ"
            lines[n] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    sent = len(state.bodies)
    dry = ok("run", "--dry-run")
    updates = sum(1 for keys in expected(shop).values() if champion in keys)
    assert f"0 added, {updates} updated" in dry.output
    result = ok("run")
    assert f"sink hook: 0 added, {updates} updated →" in result.output
    new = state.bodies[sent:]
    assert {body["event"] for body in new} == {"updated"}
    assert [m for body in new for m in body["members"]] == [{"key": champion, "country": "ZZ"}] * updates
