"""The personalization service: auth, CORS, lookups, snapshot swaps, real-time evaluation."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from serve_helpers import LOOKUP_TOKEN, TOKEN, new_run_id, running, write_run
from starlette.testclient import TestClient

from segmint.plugin.host import get_registry
from segmint.project.config import load_project
from segmint.project.pipeline import prepare
from segmint.serve.app import ServeConfig, create_app, origins
from segmint.serve.index import SnapshotWatcher, build_index, load_snapshot
from segmint.serve.realtime import RealtimeEvaluator

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ORIGIN = "https://shop.example.com"


def membership() -> pa.Table:
    return pa.table({
        "customer_id": pa.array([1, 2, 3], pa.int64()),
        "champions": [True, False, False],
        "eu": [True, False, True],
        "tier": ["gold", None, "silver"],
    })


def make_app(state_dir: Path, evaluator: RealtimeEvaluator | None = None,
             poll_interval: float = 0.05):
    config = ServeConfig(state_dir=state_dir, tokens={TOKEN: "full", LOOKUP_TOKEN: "lookup"},
                         cors_origins=(ORIGIN,), poll_interval=poll_interval, evaluator=evaluator)
    return create_app(config)


@pytest.fixture
def client(tmp_path: Path):
    write_run(tmp_path, membership())
    with TestClient(make_app(tmp_path)) as test_client:
        yield test_client


def test_visitor_segments_and_labels(client: TestClient) -> None:
    answer = client.get("/v1/visitors/1/segments", headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["segments"] == ["champions", "eu"]
    assert body["labels"] == {"tier": "gold"}
    assert body["run_id"]
    assert answer.headers["cache-control"] == "no-store"
    assert client.get("/v1/visitors/2/segments", headers=AUTH).json()["segments"] == []


def test_unknown_visitor_gets_empty_lists(client: TestClient) -> None:
    answer = client.get("/v1/visitors/no-such-visitor/segments", headers=AUTH)
    assert answer.status_code == 200
    assert answer.json()["segments"] == [] and answer.json()["labels"] == {}


@pytest.mark.parametrize(("header", "status"), [
    (None, 401),
    ("Bearer wrong", 401),
    (f"Basic {TOKEN}", 401),
    (f"Bearer {TOKEN}", 200),
    (f"bearer {TOKEN}", 200),
    (f"Bearer {LOOKUP_TOKEN}", 200),
])
def test_lookups_need_a_token(client: TestClient, header: str | None, status: int) -> None:
    headers = {"Authorization": header} if header else {}
    answer = client.get("/v1/visitors/1/segments", headers=headers)
    assert answer.status_code == status
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in answer.text


def test_lookup_token_cannot_evaluate(client: TestClient) -> None:
    answer = client.post("/v1/evaluate", json={"profile": {}},
                         headers={"Authorization": f"Bearer {LOOKUP_TOKEN}"})
    assert answer.status_code == 403
    assert client.post("/v1/evaluate", json={"profile": {}}).status_code == 401


def test_snippet_and_health_are_public(client: TestClient) -> None:
    script = client.get("/v1/segmint.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "data-segmint-show" in script.text
    assert client.get("/v1/health").json()["status"] == "ok"


def test_cors_allows_configured_origins_only(client: TestClient) -> None:
    preflight = client.options("/v1/visitors/1/segments", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    answer = client.get("/v1/visitors/1/segments", headers={**AUTH, "Origin": ORIGIN})
    assert answer.headers["access-control-allow-origin"] == ORIGIN

    other = client.options("/v1/visitors/1/segments", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    answer = client.get("/v1/visitors/1/segments", headers={**AUTH, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in answer.headers


def test_origins_are_checked() -> None:
    assert origins(["https://a.example/", " http://b.example:8000 "]) == (
        "https://a.example", "http://b.example:8000")
    with pytest.raises(Exception, match="must look like"):
        origins(["shop.example.com"])


def test_no_snapshot_yet_is_503(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path)) as test_client:
        answer = test_client.get("/v1/visitors/1/segments", headers=AUTH)
        assert answer.status_code == 503
        assert "segmint run" in answer.json()["error"]


def test_a_token_is_required() -> None:
    with pytest.raises(Exception, match="bearer token"):
        create_app(ServeConfig(state_dir=Path("."), tokens={}))


def test_index_of_string_keys_and_labels(tmp_path: Path) -> None:
    table = pa.table({
        "visitor": ["a", "b", "c", "d", "e"],
        "x": [True, True, False, True, None],
        "y": [False, True, False, False, False],
        "seg": pa.array(["p", "q", None, "p", None]).dictionary_encode(),
    })
    run_id = write_run(tmp_path, table, key="visitor")
    index = build_index(load_snapshot(tmp_path, run_id))
    assert index.visitors == 5
    assert index.lookup("a") is index.lookup("d")  # one shared body per combination
    assert index.lookup("c") is index.lookup("e")  # a null segment is not membership
    assert json.loads(index.lookup("a")) == {"segments": ["x"], "labels": {"seg": "p"},
                                             "run_id": run_id, "as_of": "2026-01-01T00:00:00+00:00"}
    assert json.loads(index.lookup("b"))["segments"] == ["x", "y"]
    assert json.loads(index.lookup("c")) == {"segments": [], "labels": {}, "run_id": run_id,
                                             "as_of": "2026-01-01T00:00:00+00:00"}


def test_broken_run_keeps_the_old_index(tmp_path: Path) -> None:
    first = write_run(tmp_path, membership())
    watcher = SnapshotWatcher(tmp_path)
    assert watcher.poll() and watcher.current.run_id == first
    broken = write_run(tmp_path, membership())
    (tmp_path / "runs" / broken / "membership.parquet").write_bytes(b"not parquet")
    assert not watcher.poll()
    assert watcher.current.run_id == first
    third = write_run(tmp_path, membership())
    assert watcher.poll() and watcher.current.run_id == third


def test_swap_to_a_new_snapshot_with_concurrent_readers(tmp_path: Path) -> None:
    """Readers hammer a real server while runs replace each other; every answer is one
    whole run: the segments the run its run_id names gave that visitor."""
    visitors = 2000

    def run_table(generation: int) -> pa.Table:
        keys = pa.array(range(visitors), pa.int64())
        return pa.table({
            "customer_id": keys,
            f"gen{generation}_a": [True] * visitors,
            f"gen{generation}_b": [k % 2 == 0 for k in range(visitors)],
        })

    expected: dict[str, int] = {}
    expected[write_run(tmp_path, run_table(0))] = 0
    errors: list[str] = []
    seen_runs: set[str] = set()
    stop = threading.Event()

    with running(make_app(tmp_path, poll_interval=0.01)) as url:
        def reader(offset: int) -> None:
            with httpx.Client(base_url=url, headers=AUTH) as http:
                n = offset
                while not stop.is_set():
                    visitor = n % visitors
                    n += 7
                    body = http.get(f"/v1/visitors/{visitor}/segments").json()
                    generation = expected.get(body["run_id"])
                    if generation is None:
                        errors.append(f"unknown run {body['run_id']}")
                        continue
                    seen_runs.add(body["run_id"])
                    want = [f"gen{generation}_a"] + ([f"gen{generation}_b"] if visitor % 2 == 0 else [])
                    if body["segments"] != want:
                        errors.append(f"visitor {visitor}: {body['segments']} in {body['run_id']}")

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for generation in range(1, 8):
            time.sleep(0.15)
            run_id = new_run_id()
            expected[run_id] = generation  # known before the server can see it
            write_run(tmp_path, run_table(generation), run_id=run_id)
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join(10)
        final = httpx.get(f"{url}/v1/health").json()["run_id"]

    assert errors == []
    assert len(seen_runs) >= 4  # the readers really saw the swaps
    assert expected[final] == 7


# Real-time evaluation.


@pytest.fixture
def evaluator(project_dir: Path) -> RealtimeEvaluator:
    project = load_project(project_dir / "segmint.toml")
    return RealtimeEvaluator(prepare(project, get_registry()))


@pytest.fixture
def eval_client(tmp_path: Path, evaluator: RealtimeEvaluator):
    with TestClient(make_app(tmp_path / "state", evaluator)) as test_client:
        yield test_client


def test_evaluate_a_profile(eval_client: TestClient) -> None:
    profile = {"customer_id": 1, "country": "DE", "orders": 6, "total_spent": 800}
    answer = eval_client.post("/v1/evaluate", json={"profile": profile}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert "champions" in body["segments"] and "eu" in body["segments"]
    assert body["labels"] == {"tier": "gold"}
    assert set(body["not_evaluated"]) == {"big_spenders", "rich_champions"}
    assert "ranks the customer among all customers" in body["not_evaluated"]["big_spenders"]
    assert "top 10%" in body["not_evaluated"]["big_spenders"]
    assert "big_spenders" in body["not_evaluated"]["rich_champions"]


def test_evaluate_agrees_with_a_run(evaluator: RealtimeEvaluator, project_dir: Path) -> None:
    """Holdouts and segment references give what a whole run gives the same customer."""
    from segmint.project.pipeline import execute
    project = load_project(project_dir / "segmint.toml")
    run = execute(prepare(project, get_registry())).result.membership.to_pylist()
    for row in [{"customer_id": 1, "country": "DE", "orders": 6, "total_spent": 800},
                {"customer_id": 2, "country": "SE", "orders": 1, "total_spent": 20},
                {"customer_id": 3, "country": "FR", "orders": 3, "total_spent": 150}]:
        decision = evaluator.evaluate(row)
        whole = next(r for r in run if str(r["customer_id"]) == str(row["customer_id"]))
        for name in ("champions", "eu", "loyal", "loyal__holdout"):
            assert (name in decision.segments) == whole[name], (row, name)
        assert decision.labels.get("tier") == whole["tier"]


def test_evaluate_named_segments(eval_client: TestClient) -> None:
    profile = {"customer_id": 3, "country": "FR", "orders": 3, "total_spent": "150"}
    answer = eval_client.post("/v1/evaluate", json={"profile": profile, "segments": ["eu", "tier"]},
                              headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"segments": ["eu"], "labels": {"tier": "silver"}}


@pytest.mark.parametrize(("body", "message"), [
    ({"profile": {"customer_id": 1}, "segments": ["big_spenders"]},
     "segment 'big_spenders' cannot be evaluated on one profile: 'total_spent in top 10%' ranks"),
    ({"profile": {"customer_id": 1}, "segments": ["rich_champions"]},
     "it uses 'big_spenders'"),
    ({"profile": {"customer_id": 1}, "segments": ["nope"]}, "unknown segment 'nope'"),
    ({"profile": {"country": "DE"}}, "the profile needs the customer key 'customer_id'"),
    ({"profile": {"customer_id": 1, "orders": "many"}}, "profile field 'orders': cannot read 'many'"),
    ({"profile": {"customer_id": 1, "orders": {"a": 1}}}, "must be a single value"),
    ({"customer_id": 1}, "'profile' object"),
    ({"profile": {"customer_id": 1}, "segments": "eu"}, "'segments' must be a list"),
])
def test_evaluate_refusals_are_422(eval_client: TestClient, body: dict, message: str) -> None:
    answer = eval_client.post("/v1/evaluate", json=body, headers=AUTH)
    assert answer.status_code == 422
    assert message in answer.json()["error"]


def test_evaluate_bad_json_is_400(eval_client: TestClient) -> None:
    answer = eval_client.post("/v1/evaluate", content=b"{not json", headers=AUTH)
    assert answer.status_code == 400


@pytest.mark.parametrize(("body", "status", "message"), [
    (b'{"profile": {"customer_id": 1, "country": ' + b"[" * 1000 + b"]" * 1000 + b"}}",
     400, "nested more than 32 deep"),
    (b'{"profile": {"customer_id": 1, "country": ' + b"[" * 30_000 + b"]" * 30_000 + b"}}",
     400, "nested more than 32 deep"),
    (b'{"profile": {"customer_id": 1, "country": "\\ud800"}}', 400,
     "profile.country: a lone surrogate (\\ud800) is not text"),
    (b'{"profile": {"customer_id": 1, "\\udfff": 1}}', 400, "is not text"),
    (b'{"profile": {"customer_id": 1}, "segments": ["\\ud800"]}', 400, "is not text"),
    (b"\xff\xfe{}", 400, "the body must be JSON"),
], ids=["nested-1000", "nested-30000", "surrogate-value", "surrogate-name",
        "surrogate-segment", "not-utf8"])
def test_hostile_json_is_the_clients_fault(eval_client: TestClient, body: bytes, status: int,
                                           message: str) -> None:
    answer = eval_client.post("/v1/evaluate", content=body, headers=AUTH)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]


@pytest.mark.parametrize(("method", "path", "status", "allow"), [
    ("GET", "/nowhere", 404, None),
    ("GET", "/v1/evaluate", 405, "POST"),
    ("DELETE", "/v1/visitors/1/segments", 405, "GET, HEAD"),
])
def test_not_found_and_wrong_method_are_json(client: TestClient, method: str, path: str,
                                             status: int, allow: str | None) -> None:
    answer = client.request(method, path, headers=AUTH)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"error": {404: "Not Found", 405: "Method Not Allowed"}[status]}
    assert answer.headers.get("allow") == allow


def test_a_body_over_the_limit_is_refused_by_its_length(eval_client: TestClient) -> None:
    answer = eval_client.post("/v1/evaluate", content=b" " * (64 * 1024 + 1), headers=AUTH)
    assert answer.status_code == 413
    assert answer.json() == {"error": "the request body is larger than 65536 bytes"}


def test_event_data_rules_are_not_evaluable(tmp_path: Path) -> None:
    """A rule on a metric column (computed from orders) cannot be decided from a profile."""
    (tmp_path / "rules.seg").write_text("segment frequent: frequency >= 3\nsegment any_: true\n")
    (tmp_path / "customers.csv").write_text("customer_id,x\n1,2\n")
    (tmp_path / "orders.csv").write_text("customer_id,order_date,amount\n1,2026-01-01,10\n")
    (tmp_path / "segmint.toml").write_text(
        'rules = ["rules.seg"]\nas_of = "2026-02-01"\n'
        '[sources.customers]\nplugin = "csv"\npath = "customers.csv"\n'
        '[sources.orders]\nplugin = "csv"\nrole = "events"\npath = "orders.csv"\n'
        '[metrics]\ntimestamp_column = "order_date"\n')
    evaluator = RealtimeEvaluator(prepare(load_project(tmp_path / "segmint.toml"), get_registry()))
    decision = evaluator.evaluate({"customer_id": 1})
    assert "event data" in decision.not_evaluated["frequent"]
    assert decision.segments == ["any_"]


def test_event_aggregates_are_not_evaluable(tmp_path: Path) -> None:
    """`count(orders, last 30d)` needs the customer's order history, not a profile."""
    (tmp_path / "rules.seg").write_text(
        "segment recent_buyer: count(orders, last 30d) >= 1\nsegment adult: age >= 18\n")
    (tmp_path / "customers.csv").write_text("customer_id,age\n1,20\n")
    (tmp_path / "orders.csv").write_text("customer_id,order_date,amount\n1,2026-01-20,10\n")
    (tmp_path / "segmint.toml").write_text(
        'rules = ["rules.seg"]\nas_of = "2026-02-01"\n'
        '[sources.customers]\nplugin = "csv"\npath = "customers.csv"\n'
        '[sources.orders]\nplugin = "csv"\nrole = "events"\npath = "orders.csv"\n'
        'timestamp_column = "order_date"\n')
    prepared = prepare(load_project(tmp_path / "segmint.toml"), get_registry())
    decision = RealtimeEvaluator(prepared).evaluate({"customer_id": 1, "age": 30})
    assert decision.segments == ["adult"]
    assert "aggregates event data from 'orders'" in decision.not_evaluated["recent_buyer"]
    assert "count(orders, last 30d)" in decision.not_evaluated["recent_buyer"]


def test_index_of_many_segments(tmp_path: Path) -> None:
    """Past 62 segments the combinations no longer pack into one integer; same answers."""
    names = [f"s{n}" for n in range(70)]
    table = pa.table({"customer_id": ["a", "b", "c"],
                      **{name: [n % 2 == 0, n == 69, n % 2 == 0] for n, name in enumerate(names)}})
    index = build_index(load_snapshot(tmp_path, write_run(tmp_path, table)))
    assert json.loads(index.lookup("a"))["segments"] == names[::2]
    assert json.loads(index.lookup("b"))["segments"] == ["s69"]
    assert index.lookup("a") is index.lookup("c")


@pytest.mark.parametrize("keys", [
    ["a", "ab", "b", "", "B", "é", "e\u0301", "z" * 300, "日本", "a b", "a/b%2F", "10", "9", "-1"],
    [f"v{n}" for n in range(1000)],
])
def test_lookup_finds_every_key_and_nothing_else(tmp_path: Path, keys: list[str]) -> None:
    """Bisection over the sorted keys' bytes against a dict as the oracle."""
    flags = [n % 3 == 0 for n in range(len(keys))]
    table = pa.table({"visitor": pa.array(keys), "x": flags})
    index = build_index(load_snapshot(tmp_path, write_run(tmp_path, table, key="visitor")))
    for key, flag in zip(keys, flags, strict=True):
        assert json.loads(index.lookup(key))["segments"] == (["x"] if flag else []), key
    for missing in ["c", "aa", "a ", "zz", "\uffff", "v1000", "v", "A", "0"]:
        if missing not in keys:
            assert index.lookup(missing) is index.empty, missing


def test_lookup_of_number_keys(tmp_path: Path) -> None:
    table = pa.table({"customer_id": pa.array([3.0, 1e17, 2.5]), "x": [True, True, True]})
    index = build_index(load_snapshot(tmp_path, write_run(tmp_path, table)))
    assert {k for k in ["3", "100000000000000000", "2.5", "3.0"]
            if index.lookup(k) is not index.empty} == {"3", "100000000000000000", "2.5"}
    ints = pa.table({"customer_id": pa.array(range(-5, 2000), pa.int64()),
                     "x": [True] * 2005})
    index = build_index(load_snapshot(tmp_path, write_run(tmp_path, ints)))
    assert all(index.lookup(str(n)) is not index.empty for n in range(-5, 2000))
    assert index.lookup("2000") is index.empty and index.lookup("007") is index.empty


def test_empty_snapshot(tmp_path: Path) -> None:
    table = pa.table({"customer_id": pa.array([], pa.string()), "x": pa.array([], pa.bool_())})
    index = build_index(load_snapshot(tmp_path, write_run(tmp_path, table)))
    assert index.visitors == 0 and index.lookup("1") is index.empty


@pytest.mark.parametrize(("damage", "message"), [
    (lambda state: (state / "runs" / "LATEST").write_bytes(b"\xff\xfe2026\n"),
     "runs/LATEST is not UTF-8 text"),
    (lambda state: (state / "runs" / "LATEST").unlink() or (state / "runs" / "LATEST").mkdir(),
     "runs/LATEST is a directory"),
    (lambda state: (state / "runs" / "LATEST").unlink() or (state / "runs" / "LATEST").write_text(
        "") or None, None),
], ids=["not-utf8", "a-directory", "empty"])
def test_a_damaged_latest_is_one_log_line_not_a_traceback_per_poll(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, damage, message: str) -> None:
    run_id = write_run(tmp_path, membership())
    watcher = SnapshotWatcher(tmp_path)
    assert watcher.poll()
    damage(tmp_path)
    with caplog.at_level("INFO", logger="segmint.serve"):
        for _ in range(5):
            assert not watcher.poll()
    expected = [] if message is None else [
        f"cannot read {tmp_path / 'runs' / 'LATEST'}: {message}; still serving {run_id}"]
    assert [r.getMessage() for r in caplog.records] == expected
    assert all(r.exc_info is None for r in caplog.records)
    assert watcher.current is not None and watcher.current.run_id == run_id
