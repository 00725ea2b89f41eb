"""`segmint serve` under hostile clients, on loopback: huge and slow headers, huge bodies.

Each test starts the real command (`segmint serve`, as users start it) and talks to it over
raw sockets, so that what the server reads, and when it answers, is what is measured. A
bounded load test shows lookups keep their latency while other clients attack.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serve_helpers import CUSTOMERS, RULES, free_port, uvicorn
from test_serve_command import SECRET, SEGMINT, _env, _run, _wait_until_healthy

LIMIT = 64 * 1024
AUTH = f"Authorization: Bearer {SECRET}\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """One `segmint serve` for the module, on a free loopback port, 1-second header deadline."""
    project_dir = tmp_path_factory.mktemp("hostile")
    (project_dir / "rules.seg").write_text(RULES)
    (project_dir / "customers.csv").write_text(CUSTOMERS)
    port = free_port()
    (project_dir / "segmint.toml").write_text(
        'rules = ["rules.seg"]\nholdout_salt = "s"\n\n'
        '[sources.customers]\nplugin = "csv"\npath = "customers.csv"\n\n'
        f'[serve]\nport = {port}\ntoken_env = "SHOP_TOKEN"\nheader_timeout = 1.0\n')
    _run(project_dir)
    process = subprocess.Popen([*SEGMINT, "serve"], cwd=project_dir, env=_env(SHOP_TOKEN=SECRET),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_until_healthy(process, f"http://127.0.0.1:{port}")
        yield f"127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.communicate(timeout=30)


def connect(address: str) -> socket.socket:
    host, port = address.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    return sock


def flood(sock: socket.socket, head: bytes, piece: bytes, most: int) -> tuple[int, bytes]:
    """Send `head`, then `piece` over and over until the server answers (or closes) or
    `most` bytes went; how many bytes went, and the answer's first bytes."""
    sock.sendall(head)
    sent = 0
    sock.setblocking(False)
    deadline = time.monotonic() + 60
    while sent < most and time.monotonic() < deadline:
        try:
            answer = sock.recv(65536)
            return sent, answer
        except BlockingIOError:
            pass
        except (ConnectionResetError, BrokenPipeError):
            return sent, b""
        try:
            sent += sock.send(piece)
        except BlockingIOError:
            time.sleep(0.001)
        except (ConnectionResetError, BrokenPipeError):
            # The server answered and closed between our read and this send: its answer
            # may be waiting, unread (a reset does not discard what has arrived).
            break
    sock.setblocking(True)
    sock.settimeout(30)
    try:
        return sent, sock.recv(65536)
    except (ConnectionResetError, TimeoutError):
        return sent, b""


def peak_rss_mib(process: subprocess.Popen[str]) -> float:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def huge_body(address: str, most: int = 256 * 1024 * 1024) -> tuple[int, bytes]:
    head = (f"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\n{AUTH}"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    piece = b"%x\r\n" % 65536 + b" " * 65536 + b"\r\n"
    with connect(address) as sock:
        return flood(sock, head, piece, most)


def huge_header(address: str, most: int = 256 * 1024 * 1024) -> tuple[int, bytes]:
    with connect(address) as sock:
        return flood(sock, b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ", b"a" * 65536, most)


def test_a_chunked_body_over_the_limit_is_refused_while_it_arrives(server) -> None:
    address, process = server
    sent, answer = huge_body(address)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'{"error":"the request body is larger than 65536 bytes"}' in answer
    # Refused long before the 256 MiB went: what is in flight is the sockets' buffers.
    assert sent < 32 * 1024 * 1024


def test_a_declared_length_over_the_limit_is_refused_before_the_body(server) -> None:
    address, _ = server
    with connect(address) as sock:
        sock.sendall((f"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\n{AUTH}"
                      "Content-Length: 500000000\r\n\r\n").encode())
        assert sock.recv(65536).startswith(b"HTTP/1.1 413 ")


def test_a_huge_header_is_refused_after_a_bounded_read(server) -> None:
    address, _ = server
    sent, answer = huge_header(address)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'{"error": "the request head is larger than 32768 bytes"}' in answer
    assert sent < 32 * 1024 * 1024


def slow_header_lasts(address: str) -> float:
    """Seconds until the server closes a connection sent a header byte every 0.1 s."""
    with connect(address) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\n")
        started = time.monotonic()
        for _ in range(100):  # this would hold the connection for ever
            try:
                sock.sendall(b"X")
                sock.settimeout(0.1)
                if sock.recv(65536) == b"":
                    break
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                break
        return time.monotonic() - started


def test_a_slow_header_is_cut_off_at_its_deadline(server) -> None:
    address, _ = server
    assert slow_header_lasts(address) < 3.5


def test_without_httptools_h11_bounds_heads_the_same_way(tmp_path: Path) -> None:
    """The fallback protocol (h11) when httptools is not installed."""
    from serve_helpers import TOKEN, write_run
    import pyarrow as pa

    from segmint.serve.app import ServeConfig, create_app
    from segmint.serve.server import HEAD_LIMIT, BoundedH11Protocol

    write_run(tmp_path, pa.table({"customer_id": [1], "champions": [True]}))
    app = create_app(ServeConfig(state_dir=tmp_path, tokens={TOKEN: "full"}))
    protocol = type("Fast", (BoundedH11Protocol,), {"header_timeout": 1.0})
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=protocol, log_level="warning",
                            h11_max_incomplete_event_size=HEAD_LIMIT)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            assert thread.is_alive()
            time.sleep(0.02)
        sent, answer = huge_header(f"127.0.0.1:{port}")
        assert answer.startswith(b"HTTP/1.1 400 ") and sent < 32 * 1024 * 1024
        assert slow_header_lasts(f"127.0.0.1:{port}") < 3.5
    finally:
        server.should_exit = True
        thread.join(20)


@pytest.mark.parametrize("attack", [huge_header, huge_body], ids=["header", "body"])
def test_lookups_keep_their_latency_under_attack(server, attack) -> None:
    """200 lookups alone, then 200 while two clients send huge headers or bodies in a loop
    (bounded: each sends at most 64 MiB, the whole test a few seconds)."""
    address, process = server
    url = f"http://{address}/v1/visitors/1/segments"
    headers = {"Authorization": f"Bearer {SECRET}"}

    def latencies(client: httpx.Client, count: int = 200) -> list[float]:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            assert client.get(url, headers=headers).status_code == 200
            times.append(time.perf_counter() - started)
        return times

    with httpx.Client() as client:
        quiet = latencies(client)
        before = peak_rss_mib(process)
        stop = threading.Event()
        answers: list[bytes] = []

        def attacker() -> None:
            while not stop.is_set():
                answers.append(attack(address, 64 * 1024 * 1024)[1][:12])

        threads = [threading.Thread(target=attacker, daemon=True) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        loud = latencies(client)
        stop.set()
        for thread in threads:
            thread.join(60)
    quiet_p99, loud_p99 = (statistics.quantiles(t, n=100)[98] for t in (quiet, loud))
    print(f"lookup p50/p99 alone {statistics.median(quiet) * 1000:.1f}/{quiet_p99 * 1000:.1f} ms,"
          f" under attack {statistics.median(loud) * 1000:.1f}/{loud_p99 * 1000:.1f} ms,"
          f" {len(answers)} attacks, peak RSS {before:.0f} -> {peak_rss_mib(process):.0f} MiB")
    assert answers and all(a.startswith(b"HTTP/1.1 4") or a == b"" for a in answers)
    assert statistics.median(loud) < 0.05 and loud_p99 < 0.5
    assert peak_rss_mib(process) - before < 64
