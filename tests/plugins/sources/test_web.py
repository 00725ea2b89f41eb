"""The web event sources (segment_events, ga4) and the web metrics, on tests/data/web."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from segmint.cli import cli
from segmint.errors import DataError
from segmint.plugin.host import get_registry
from segmint.plugin.options import build_options
from segmint.plugin.api import MetricContext, PluginContext
from segmint.plugins.sources.web.metrics import compute_web

DATA = Path(__file__).parents[2] / "data" / "web"
UTC = dt.UTC


def make(kind: str, directory: Path, **options):
    cls = get_registry().sources[kind]
    return cls("events", build_options(cls.Options, options, plugin=kind, where="test"),
               PluginContext(project_dir=directory))


def test_segment_identify_gives_anonymous_events_the_users_key():
    table = make("segment_events", DATA, path="segment_events.jsonl").read()
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    by_user = {}
    for row in table.to_pylist():
        by_user.setdefault(row["customer_id"], []).append(row["name"])
    assert by_user == {
        "u-100": ["page_view", "page_view", "Product Added", "cart_abandoned", "page_view"],
        "u-200": ["Order Completed"],  # identified before the event
    }  # anon-2 was never identified: left out
    cart = table.filter(pa.compute.equal(table["name"], "cart_abandoned")).to_pylist()[0]
    assert cart["timestamp"] == dt.datetime(2025, 2, 24, 17, tzinfo=UTC)  # +01:00 read as UTC
    assert cart["cart_value"] == 39.9


def test_segment_key_trait_and_kept_anonymous_visitors():
    table = make("segment_events", DATA, path="segment_events.jsonl", key_trait="email", anonymous="keep").read()
    assert set(table.column("customer_id").to_pylist()) == {"Anna.Schmidt@Acme.de", "bob@globex.com", "anon-2"}


def test_segment_bad_lines_name_the_row(tmp_path):
    (tmp_path / "e.jsonl").write_text(
        '{"type":"track","event":"x","userId":"u","timestamp":"2025-01-01T00:00:00Z"}\n'
        '{"type":"track","event":"x","userId":"u","timestamp":"yesterday"}\n')
    source = make("segment_events", tmp_path, path="e.jsonl")
    with pytest.raises(DataError, match=r"source 'events', e.jsonl, line 2, column 'timestamp': no valid timestamp"):
        source.read()
    source.on_bad_rows = "skip"
    assert source.read().num_rows == 1 and [b.line for b in source.skipped_rows] == [2]


@pytest.mark.parametrize("form", ["jsonl", "parquet"])
def test_ga4_flattens_params_and_joins_pseudo_ids(tmp_path, form):
    path = "ga4_events.jsonl"
    if form == "parquet":
        rows = [json.loads(line) for line in (DATA / path).read_text().splitlines()]
        for row in rows:
            row["event_timestamp"] = int(row["event_timestamp"])
            for param in row["event_params"]:
                param["value"] = {"string_value": param["value"].get("string_value"),
                                  "int_value": int(param["value"]["int_value"]) if "int_value" in param["value"] else None,
                                  "double_value": param["value"].get("double_value")}
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / "events.parquet")
        directory, path = tmp_path, "events.parquet"
    else:
        directory = DATA
    table = make("ga4", directory, path=path).read()
    rows = table.to_pylist()
    assert {r["customer_id"] for r in rows} == {"u-100"}  # p.2 never logged in
    assert [r["name"] for r in rows][:3] == ["session_start", "page_view", "page_view"]
    assert rows[0]["timestamp"] == dt.datetime(2025, 2, 20, 9, tzinfo=UTC)
    assert rows[1]["page_location"] == "https://shop.example/" and rows[1]["ga_session_id"] == 1740042000
    assert rows[-1]["value"] == 39.9 and rows[-1]["geo_country"] == "Germany"


def _events(*rows):
    return pa.table({"customer_id": [r[0] for r in rows],
                     "timestamp": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
                     "name": [r[2] for r in rows]})


def test_web_metrics_sessions_pageviews_last_seen_and_as_of():
    t = dt.datetime(2025, 3, 1, 12, tzinfo=UTC)
    events = _events(
        ("a", t - dt.timedelta(days=40), "page_view"),  # outside the 30 days
        ("a", t - dt.timedelta(days=2), "page_view"),
        ("a", t - dt.timedelta(days=2) + dt.timedelta(minutes=29), "page_view"),  # same visit
        ("a", t - dt.timedelta(days=2) + dt.timedelta(minutes=70), "click"),  # a new visit
        ("a", t + dt.timedelta(hours=1), "page_view"),  # after as_of: never seen
        ("b", t - dt.timedelta(days=45), "page_view"),
    )
    ctx = MetricContext(events={"events": events}, key="customer_id", as_of=t)
    out = {r["customer_id"]: r for r in compute_web(ctx).to_pylist()}
    assert out["a"]["sessions_30d"] == 2 and out["a"]["pageviews_30d"] == 2
    assert out["a"]["last_seen"] == t - dt.timedelta(days=2) + dt.timedelta(minutes=70)
    assert out["b"]["sessions_30d"] == 0 and out["b"]["pageviews_30d"] == 0
    assert out["b"]["last_seen"] == t - dt.timedelta(days=45)


def _segment_project(directory: Path, customers: str, rules: str, events_options: str = "") -> None:
    """A project of `customers` (CSV) and tests/data/web's Segment events, as of 2025-03-01."""
    shutil.copy(DATA / "segment_events.jsonl", directory)
    (directory / "customers.csv").write_text(customers)
    (directory / "rules.seg").write_text(rules)
    (directory / "segmint.toml").write_text("""
rules = ["rules.seg"]
as_of = "2025-03-01"
[sources.customers]
plugin = "csv"
path = "customers.csv"
[sources.events]
plugin = "segment_events"
path = "segment_events.jsonl"
""" + events_options)


def test_web_metrics_and_events_in_a_run(tmp_path, monkeypatch):
    _segment_project(
        tmp_path, "customer_id,plan\nu-100,pro\nu-200,free\nu-300,free\n",
        "segment active: sessions_30d >= 2\n"
        "segment readers: pageviews_30d >= 3\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", "--out", "out.csv"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert '"u-100",true,true' in lines and '"u-200",false,false' in lines


def test_an_event_source_read_by_metrics_and_aggregates_is_counted_once(tmp_path, monkeypatch):
    _segment_project(
        tmp_path, "customer_id,plan\nu-100,pro\n",
        "segment active: sessions_30d >= 1 and exists(events where name == \"cart_abandoned\", last 30d)\n",
        'on_bad_rows = "skip"\n')
    with (tmp_path / "segment_events.jsonl").open("a") as f:
        f.write('{"type":"track","event":"x","userId":"u-100","timestamp":"soon"}\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run"])
    assert result.exit_code == 0, result.output
    assert "source events: 6 rows, 1 keys with no profile (left out), 1 bad rows quarantined" in result.output
    quarantine = (tmp_path / ".segmint" / "quarantine" / "events.csv").read_text().splitlines()
    assert len(quarantine) == 2 and ",10," in quarantine[1]


def test_a_web_event_schema_is_read_once_while_the_file_is_unchanged(tmp_path, monkeypatch):
    path = tmp_path / "e.jsonl"
    path.write_text('{"type":"track","event":"x","userId":"u","timestamp":"2025-01-01T00:00:00Z"}\n')
    source = make("segment_events", tmp_path, path="e.jsonl")
    reads = []
    events = type(source).events
    monkeypatch.setattr(type(source), "events", lambda self, limit=None: reads.append(limit) or events(self, limit))
    first = source.schema()
    assert source.schema() is first and len(reads) == 1
    path.write_text('{"type":"track","event":"x","userId":"u","timestamp":"2025-01-01T00:00:00Z",'
                    '"properties":{"plan":"pro"}}\n')
    assert "plan" in source.schema().names and len(reads) == 2
