"""`segmint serve` as users start it: the [serve] table, flags, the token from the
environment (never printed), and a new run picked up while it serves."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from serve_helpers import free_port

SEGMINT = [sys.executable, "-c", "from segmint.cli import main; main()"]
SECRET = "tok-" + "z" * 30


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    env.update(SEGMINT_PLUGINS="segmint", **extra)
    return env


def _run(project_dir: Path) -> None:
    subprocess.run([*SEGMINT, "run"], cwd=project_dir, env=_env(), check=True,
                   capture_output=True, timeout=120)


def _wait_until_healthy(server: subprocess.Popen[str], url: str) -> None:
    """Wait (up to a minute) until the started `segmint serve` answers its health check."""
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/v1/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
        time.sleep(0.1)


def test_serve_needs_the_token_variable(project_dir: Path) -> None:
    done = subprocess.run([*SEGMINT, "serve", "--token-env", "SHOP_TOKEN"], cwd=project_dir,
                          env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "set the environment variable SHOP_TOKEN" in done.stderr


def test_bad_serve_option_is_named(project_dir: Path) -> None:
    toml = project_dir / "segmint.toml"
    toml.write_text(toml.read_text() + '\n[serve]\nprot = 8000\n')
    done = subprocess.run([*SEGMINT, "serve"], cwd=project_dir, env=_env(SHOP_TOKEN=SECRET),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "prot" in done.stderr and "[serve]" in done.stderr


def test_serve_answers_and_follows_new_runs(project_dir: Path) -> None:
    port = free_port()
    toml = project_dir / "segmint.toml"
    toml.write_text(toml.read_text() + (
        f'\n[serve]\nport = {port}\ntoken_env = "SHOP_TOKEN"\n'
        'cors_origins = ["https://shop.example"]\npoll_interval = 0.1\n'))
    _run(project_dir)
    server = subprocess.Popen([*SEGMINT, "serve"], cwd=project_dir, env=_env(SHOP_TOKEN=SECRET),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(server, url)
        auth = {"Authorization": f"Bearer {SECRET}"}
        first = httpx.get(f"{url}/v1/visitors/1/segments", headers=auth).json()
        assert "champions" in first["segments"] and first["labels"] == {"tier": "gold"}
        assert httpx.get(f"{url}/v1/visitors/1/segments").status_code == 401
        decision = httpx.post(f"{url}/v1/evaluate", headers=auth, json={
            "profile": {"customer_id": 9, "orders": 9, "total_spent": 900}}).json()
        assert "champions" in decision["segments"]

        (project_dir / "customers.csv").write_text("customer_id,country,orders,total_spent\n"
                                                   "1,DE,1,10\n")
        _run(project_dir)
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/v1/visitors/1/segments", headers=auth).json()["run_id"] == first["run_id"]:
            assert time.monotonic() < deadline, "the new run was not picked up"
            time.sleep(0.1)
        second = httpx.get(f"{url}/v1/visitors/1/segments", headers=auth).json()
        assert "champions" not in second["segments"] and second["labels"] == {"tier": "bronze"}
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "serving run" in output
    assert SECRET not in output


def test_lookups_work_when_the_rules_do_not(project_dir: Path) -> None:
    """A host with the snapshots but broken rules still answers lookups; evaluation says why
    it is off."""
    port = free_port()
    _run(project_dir)
    (project_dir / "rules.seg").write_text("segment broken: no_such_column > 1\n")
    server = subprocess.Popen([*SEGMINT, "serve", "--port", str(port), "--token-env", "SHOP_TOKEN"],
                              cwd=project_dir, env=_env(SHOP_TOKEN=SECRET),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(server, url)
        auth = {"Authorization": f"Bearer {SECRET}"}
        assert "champions" in httpx.get(f"{url}/v1/visitors/1/segments", headers=auth).json()["segments"]
        answer = httpx.post(f"{url}/v1/evaluate", headers=auth, json={"profile": {"customer_id": 1}})
        assert answer.status_code == 422
        assert "real-time evaluation is off" in answer.json()["error"]
        assert "no_such_column" in answer.json()["error"]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "POST /v1/evaluate is off" in output


def test_state_dir_that_is_a_file_is_a_clear_error(project_dir: Path) -> None:
    (project_dir / "state.txt").write_text("not a directory\n")
    toml = project_dir / "segmint.toml"
    toml.write_text('state_dir = "state.txt"\n' + toml.read_text())
    done = subprocess.run([*SEGMINT, "serve", "--port", str(free_port())], cwd=project_dir,
                          env=_env(SEGMINT_SERVE_TOKEN=SECRET), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: segmint.toml: state_dir: state_dir '{project_dir / 'state.txt'}' is a file,"
        " not a directory: point state_dir at the directory 'segmint run' stores its runs in")
    assert "Traceback" not in done.stderr


def test_header_timeout_must_be_positive(project_dir: Path) -> None:
    toml = project_dir / "segmint.toml"
    toml.write_text(toml.read_text() + "\n[serve]\nheader_timeout = 0\n")
    done = subprocess.run([*SEGMINT, "serve"], cwd=project_dir,
                          env=_env(SEGMINT_SERVE_TOKEN=SECRET), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert "serve.header_timeout: header_timeout must be more than 0 seconds" in done.stderr
