"""segmint.js in a real browser: headless Chromium loads a demo page from one origin, the
snippet from the service on another (CORS preflight and bearer token included), and the
page reports which blocks are rendered. Skipped only where Chromium is not installed;
``.ci/run`` installs it."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from serve_helpers import LOOKUP_TOKEN, TOKEN, free_port, running, write_run

from segmint.serve.app import ServeConfig, create_app

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>demo shop</title></head><body>
<div id="hero">
  <div id="champions" data-segmint-show="champions">Welcome back, champion</div>
  <div id="gold" data-segmint-show="tier=gold">A gold offer</div>
  <div id="hero-default" data-segmint-default>Welcome to the shop</div>
</div>
<div id="news">
  <div id="eu" data-segmint-show="eu">EU newsletter</div>
  <div id="news-default" data-segmint-default>World newsletter</div>
</div>
<pre id="report">pending</pre>
<script>
  %(setup)s
  document.addEventListener("segmint:ready", function (event) {
    var blocks = document.querySelectorAll("[data-segmint-show],[data-segmint-default]");
    var shown = [];
    for (var i = 0; i < blocks.length; i++) {
      if (blocks[i].offsetParent !== null) shown.push(blocks[i].id);
    }
    document.getElementById("report").textContent =
      "shown=" + shown.join(",") + " error=" + (event.detail.error || "none");
  });
</script>
<script src="%(api)s/v1/segmint.js" data-segmint-token="%(token)s" %(attrs)s async></script>
</body></html>
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """The service on one port, a static demo site on another (a different origin)."""
    state = tmp_path_factory.mktemp("state")
    site = tmp_path_factory.mktemp("site")
    write_run(state, pa.table({
        "customer_id": pa.array([1, 2], pa.int64()),
        "champions": [True, False],
        "eu": [True, False],
        "tier": ["gold", "bronze"],
    }))
    site_port = free_port()
    site_origin = f"http://127.0.0.1:{site_port}"
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", site_port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    config = ServeConfig(state_dir=state, tokens={TOKEN: "full", LOOKUP_TOKEN: "lookup"},
                         cors_origins=(site_origin,))
    try:
        with running(create_app(config)) as api:
            yield api, site_origin, site
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _visit(service: tuple[str, str, Path], tmp_path: Path, name: str, *, attrs: str = "",
           setup: str = "", token: str = LOOKUP_TOKEN, origin: str | None = None) -> str:
    api, allowed, site = service
    origin = origin or allowed
    (site / f"{name}.html").write_text(PAGE % {"api": api, "token": token, "attrs": attrs,
                                               "setup": setup})
    profile = tmp_path / f"chromium-{name}"
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        "--virtual-time-budget=10000", "--dump-dom", f"{origin}/{name}.html",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    start = dom.index('<pre id="report">') + len('<pre id="report">')
    return dom[start:dom.index("</pre>", start)]


def test_a_visitor_in_a_segment_sees_its_blocks(service, tmp_path: Path) -> None:
    report = _visit(service, tmp_path, "champion", attrs='data-segmint-visitor="1"')
    assert report == "shown=champions,gold,eu error=none"


def test_a_visitor_outside_sees_the_defaults(service, tmp_path: Path) -> None:
    report = _visit(service, tmp_path, "outsider", attrs='data-segmint-visitor="2"')
    assert report == "shown=hero-default,news-default error=none"


def test_an_unknown_visitor_sees_the_defaults(service, tmp_path: Path) -> None:
    report = _visit(service, tmp_path, "stranger", attrs='data-segmint-visitor="no-such-id"')
    assert report == "shown=hero-default,news-default error=none"


def test_the_visitor_id_from_a_cookie(service, tmp_path: Path) -> None:
    report = _visit(service, tmp_path, "cookie", setup='document.cookie = "shop_uid=1; path=/";',
                    attrs='data-segmint-cookie="shop_uid"')
    assert report == "shown=champions,gold,eu error=none"


def test_a_refused_token_shows_the_defaults(service, tmp_path: Path) -> None:
    report = _visit(service, tmp_path, "badtoken", attrs='data-segmint-visitor="1"', token="wrong")
    assert report == "shown=hero-default,news-default error=Error: segmint: HTTP 401"


def test_no_visitor_id_shows_the_defaults(service, tmp_path: Path) -> None:
    report = _visit(service, tmp_path, "anonymous")
    assert report == "shown=hero-default,news-default error=no visitor id"


def test_an_origin_not_allowed_is_blocked_by_cors(service, tmp_path: Path) -> None:
    """The same page from http://localhost (not a configured origin): the browser refuses
    the answer, and the page keeps its defaults."""
    other = service[1].replace("127.0.0.1", "localhost")
    report = _visit(service, tmp_path, "elsewhere", attrs='data-segmint-visitor="1"', origin=other)
    assert report.startswith("shown=hero-default,news-default error=TypeError")
