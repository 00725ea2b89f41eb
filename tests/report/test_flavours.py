"""The flavours against golden files (JSON and Markdown), and the HTML page in headless
Chromium: no console error, no request beyond the page itself, a screenshot kept as a test
artefact (out/test-artifacts/report.png). Set SEGMINT_UPDATE_GOLDEN=1 to rewrite the goldens
after a deliberate change, and read the diff."""

from __future__ import annotations

import http.server
import json
import math
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from segmint.report import render

GOLDEN = Path(__file__).parent / "golden"
ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts"
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


def normalised(text: str, report) -> str:
    """Run ids and creation times change with every run: name them by their part."""
    for name, ref in (("RUN", report.run), ("COMPARED", report.compare)):
        text = text.replace(ref.id, f"<{name}>").replace(ref.created_at, f"<{name} CREATED>")
    return text


def approximately(value, expected) -> bool:
    """JSON values equal, numbers to 7 significant digits: predicted CLV comes from a fit,
    whose last digits move between scipy releases (280.528125 -> 280.528126 in 1.17)."""
    if isinstance(expected, dict):
        return (isinstance(value, dict) and value.keys() == expected.keys()
                and all(approximately(value[k], expected[k]) for k in expected))
    if isinstance(expected, list):
        return (isinstance(value, list) and len(value) == len(expected)
                and all(approximately(v, e) for v, e in zip(value, expected)))
    if isinstance(expected, float) and isinstance(value, (int, float)):
        return math.isclose(value, expected, rel_tol=1e-7, abs_tol=1e-6)
    return type(value) is type(expected) and value == expected


@pytest.mark.parametrize("suffix", [".json", ".md"])
def test_golden(report, suffix: str) -> None:
    text = normalised(render(report, suffix), report)
    golden = GOLDEN / f"starter{suffix}"
    if os.environ.get("SEGMINT_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    expected = golden.read_text(encoding="utf-8")
    if suffix == ".json" and text != expected:
        assert approximately(json.loads(text), json.loads(expected)), text
    else:
        assert text == expected


@pytest.mark.parametrize(("value", "expected", "same"), [
    ({"a": [1, 280.528126]}, {"a": [1, 280.528125]}, True),
    ({"a": [1, 280.5282]}, {"a": [1, 280.528125]}, False),
    ({"a": [2, 280.528125]}, {"a": [1, 280.528125]}, False),
    ({"a": "x", "b": 1.0}, {"a": "x"}, False),
    ({"a": True}, {"a": 1}, False),
])
def test_golden_numbers_are_compared_to_seven_digits(value, expected, same) -> None:
    assert approximately(value, expected) is same


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Serves the page and records every request, including those sent to it as a proxy."""

    page = b""
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append((self.path, self.headers.get("Referer")))  # proxied: the whole URL
        local = self.path.removeprefix(f"http://127.0.0.1:{self.server.server_port}")
        body = self.page if local == "/report.html" else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET
    do_CONNECT = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


def _host(request: str) -> str:
    return request.split("/")[2] if "://" in request else request.split("/")[0].split(":")[0]


def _load(page: str, tmp_path: Path, screenshot: Path | None = None) -> tuple[str, str, list]:
    """The page through headless Chromium: its DOM, Chromium's log, and every request."""
    _Recorder.page = page.encode()
    _Recorder.seen = []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
            # every request for another host goes to the recorder, and is counted
            f"--proxy-server=http://127.0.0.1:{port}", "--proxy-bypass-list=<-loopback>",
            "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
    url = f"http://127.0.0.1:{port}/report.html"
    try:
        dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=90)
        assert dom.returncode == 0, dom.stderr[-2000:]
        log = dom.stderr
        if screenshot is not None:
            shot = subprocess.run([*base, "--hide-scrollbars", "--window-size=1200,2400",
                                   f"--screenshot={screenshot}", url],
                                  capture_output=True, text=True, timeout=90)
            assert shot.returncode == 0, shot.stderr[-2000:]
            log += shot.stderr
    finally:
        server.shutdown()
        server.server_close()
    local = f"http://127.0.0.1:{port}"
    # what the page asks for carries it as referrer; Chromium's own update and clock checks
    # (to Google's hosts) carry none and are left out
    requests = [(p.removeprefix(local), referrer) for p, referrer in _Recorder.seen
                if referrer or p.removeprefix(local) == "/report.html"]
    assert all(r[0] == "/report.html" or r[1] or "google" in _host(r[0]) for r in
               [(p.removeprefix(local), ref) for p, ref in _Recorder.seen])
    return dom.stdout, log, requests


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_the_page_in_headless_chromium(report, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dom, log, requests = _load(render(report, ".html"), tmp_path, ARTIFACTS / "report.png")
    assert 'data-ready="yes"' in dom  # the page's script ran to its end
    assert dom.count("<svg") >= 5
    assert [line for line in log.splitlines() if "CONSOLE" in line] == []
    assert {path for path, _ in requests} == {"/report.html"}
    assert all(referrer is None for _, referrer in requests)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_the_browser_check_sees_a_request_and_a_console_error(tmp_path: Path) -> None:
    """The control: a page that loads an image from elsewhere and logs an error is caught."""
    page = ('<!doctype html><html><head><link rel="icon" href="data:,"></head><body>'
            '<img src="http://example.invalid/x.png"><script>console.error("boom")</script></body></html>')
    _, log, requests = _load(page, tmp_path)
    assert "http://example.invalid/x.png" in {path for path, _ in requests}
    assert any("CONSOLE" in line and "boom" in line for line in log.splitlines())
