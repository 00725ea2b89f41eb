"""``engine = "auto"``, a project's default: the run goes to the duckdb engine when the event
sources it would scan itself hold many Parquet rows, to arrow otherwise, and back to arrow
when the duckdb engine refuses a rule; the answers are the arrow engine's either way.

The threshold is lowered for the tests (`AUTO_DUCKDB_ROWS`), so a few rows stand for the
500,000 a real project needs; the oracle is the same project run with ``--engine arrow``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import attrs
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import segmint
from segmint.cli import cli
from segmint.engines.arrow.engine import ArrowEngine
from segmint.engines.duckdb.engine import DuckDBEngine
from segmint.language.types import STRING
from segmint.plugin import engines, host
from segmint.plugin.api import Function
from segmint.plugin.engines import AutoChoice, auto_engine
from segmint.plugin.hookspecs import hookimpl
from segmint.project.config import load_project
from segmint.project.pipeline import execute, prepare

from project_files import write_project

RULES = """\
segment buyers: count(orders) >= 2
segment big: sum(orders.amount) > 100
segment named: name starts with "a"
"""


@pytest.fixture
def few_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """auto picks duckdb from 5 Parquet event rows (the tests' projects have 6)."""
    monkeypatch.setattr(engines, "AUTO_DUCKDB_ROWS", 5)


def _project(tmp_path: Path, orders_options: str = "", rules: str = RULES, engine: str = "") -> Path:
    pq.write_table(pa.table({"customer_id": [1, 2, 3], "name": ["ann", "bob", "al"]}),
                   tmp_path / "people.parquet")
    pq.write_table(pa.table({
        "customer_id": [1, 1, 2, 3, 3, 9],
        "timestamp": pa.array([1_700_000_000_000_000 + i for i in range(6)], pa.timestamp("us", tz="UTC")),
        "amount": [60.0, 70.0, 5.0, 1.0, 2.0, 500.0],
    }), tmp_path / "orders.parquet")
    return write_project(tmp_path, rules, as_of="2024-01-01", orders="orders.parquet",
                         extra=orders_options + engine)


def _membership(project_file: Path, registry: host.PluginRegistry, engine: str | None = None):
    project = load_project(project_file)
    if engine is not None:
        project = attrs.evolve(project, engine=engine)
    prepared = prepare(project, registry)
    return prepared, execute(prepared).result.membership.sort_by("customer_id")


@pytest.mark.parametrize("rows, installed, expected", [
    (0, True, AutoChoice("arrow", "no Parquet event rows the duckdb engine would read itself")),
    (4, True, AutoChoice("arrow", "4 Parquet event rows, fewer than 5")),
    (5, True, AutoChoice("duckdb", "5 Parquet event rows, at least 5", notable=True)),
    (5_000_000, True, AutoChoice("duckdb", "5,000,000 Parquet event rows, at least 5", notable=True)),
    (6, False, AutoChoice("arrow", "6 Parquet event rows, but the duckdb engine is not installed "
                                   "(pip install 'segmint[duckdb]' runs them faster)", notable=True)),
])
def test_auto_picks_duckdb_from_enough_parquet_event_rows_when_it_is_installed(
        few_rows, rows, installed, expected):
    registry = host.load_registry(environ={"SEGMINT_PLUGINS": "segmint"})
    if not installed:
        registry.engines.pop("duckdb")
    assert auto_engine(registry, rows) == expected


CASES = [
    # (id, the orders source's options, the engine auto picks)
    ("parquet-scanned", "", DuckDBEngine),
    ("normalised-keys-read-by-segmint", 'key_normalize = "email"\n', ArrowEngine),
]


@pytest.mark.parametrize(("options", "picked"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_auto_run_counts_only_the_rows_duckdb_would_scan_and_answers_as_arrow(
        tmp_path, few_rows, options, picked):
    registry = host.load_registry(environ={"SEGMINT_PLUGINS": "segmint"})
    project_file = _project(tmp_path, options)
    prepared, membership = _membership(project_file, registry)
    assert type(prepared.engine) is picked
    _, expected = _membership(project_file, registry, engine="arrow")
    assert membership.equals(expected)
    assert membership.column("buyers").to_pylist() == [True, False, True]
    assert membership.column("big").to_pylist() == [True, False, False]


def test_auto_is_the_default_and_the_run_says_which_engine_it_picked(tmp_path, few_rows):
    project_file = _project(tmp_path)
    assert load_project(project_file).engine == "auto"
    result = CliRunner().invoke(cli, ["run", "-p", str(project_file)])
    assert result.exit_code == 0, result.output
    assert 'engine duckdb (engine = "auto": 6 Parquet event rows, at least 5)\n' in result.stdout
    named = CliRunner().invoke(cli, ["run", "-p", str(project_file), "--engine", "duckdb"])
    assert "engine = \"auto\"" not in named.stdout


def test_a_small_auto_run_says_nothing_of_its_engine(tmp_path):
    result = CliRunner().invoke(cli, ["run", "-p", str(_project(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "engine" not in result.stdout


class ShoutPlugin:
    """A third party's function with an Arrow builder only (the duckdb engine refuses it)."""

    @hookimpl
    def register_functions(self):
        return [Function("shout", (STRING,), STRING, build=lambda call: pc.utf8_upper(call.args[0]))]


def test_a_rule_duckdb_cannot_run_sends_an_auto_run_back_to_arrow(tmp_path, few_rows, monkeypatch):
    registry = host.load_registry(extra_plugins=[ShoutPlugin()], environ={"SEGMINT_PLUGINS": "segmint"})
    monkeypatch.setattr("segmint.plugin.commands.get_registry", lambda: registry)
    monkeypatch.chdir(tmp_path)  # messages name the rule file relative to here
    project_file = _project(tmp_path, rules=RULES + 'segment loud: shout(name) == "ANN"\n')
    prepared, membership = _membership(project_file, registry)
    assert isinstance(prepared.engine, ArrowEngine)
    assert prepared.engine_choice == AutoChoice(
        "arrow", "the duckdb engine cannot run rules.seg:4: shout() has no builder for the duckdb "
                 "engine", notable=True)
    assert membership.column("loud").to_pylist() == [True, False, False]
    result = CliRunner().invoke(cli, ["run", "-p", str(project_file)])
    assert result.exit_code == 0, result.output
    assert "engine arrow (engine = \"auto\": the duckdb engine cannot run rules.seg:4:" in result.stdout
    named = CliRunner().invoke(cli, ["run", "-p", str(project_file), "--engine", "duckdb"])
    assert named.exit_code == 1 and "shout() has no builder for the duckdb engine" in named.stderr


def test_auto_takes_no_engine_options(tmp_path):
    project_file = _project(tmp_path, engine='[engine]\nname = "auto"\nmemory_limit = "4GB"\n')
    result = CliRunner().invoke(cli, ["run", "-p", str(project_file)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr == (
        f"error: {project_file}: engine.memory_limit: 'memory_limit' is an option of a named "
        "engine; with engine 'auto' segmint chooses the engine, so name one to set its options "
        "(name = \"duckdb\")\n")


def test_segmint_evaluate_takes_auto_as_arrow():
    data = pa.table({"customer_id": [1, 2], "name": ["ann", "bob"]})
    assert segmint.evaluate('segment a: name == "ann"', data, engine="auto").equals(
        segmint.evaluate('segment a: name == "ann"', data))


@pytest.mark.parametrize("missing", ["duckdb", "sqlglot"])
def test_without_the_duckdb_extra_auto_stays_on_arrow_and_naming_duckdb_says_what_to_install(
        tmp_path, few_rows, monkeypatch, missing):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == missing else find_spec(name, *args))
    registry = host.load_registry(environ={"SEGMINT_PLUGINS": "segmint"})
    assert "duckdb" not in registry.engines
    monkeypatch.setattr("segmint.plugin.commands.get_registry", lambda: registry)
    project_file = _project(tmp_path)
    result = CliRunner().invoke(cli, ["run", "-p", str(project_file)])
    assert result.exit_code == 0, result.output
    assert ('engine arrow (engine = "auto": 6 Parquet event rows, but the duckdb engine is not '
            "installed (pip install 'segmint[duckdb]' runs them faster))") in result.stdout
    named = CliRunner().invoke(cli, ["run", "-p", str(project_file), "--engine", "duckdb"])
    assert named.exit_code == 1 and "Traceback" not in named.output
    assert "the duckdb engine is not installed; install it with pip install 'segmint[duckdb]'" in named.stderr


def test_auto_counts_a_source_the_rules_make_segmint_read_itself_as_no_scan(tmp_path, few_rows):
    """A rule reading a column of the folder names (hive partitions): the duckdb engine would
    get that source as Arrow data segmint read, so its rows do not count for duckdb."""
    registry = host.load_registry(environ={"SEGMINT_PLUGINS": "segmint"})
    project_file = _project(tmp_path)
    orders = pq.read_table(tmp_path / "orders.parquet")
    (tmp_path / "orders.parquet").unlink()
    for channel in ("web", "store"):
        (tmp_path / "orders.parquet" / f"channel={channel}").mkdir(parents=True)
        pq.write_table(orders, tmp_path / "orders.parquet" / f"channel={channel}" / "part-0.parquet")
    prepared, _ = _membership(project_file, registry)
    assert isinstance(prepared.engine, DuckDBEngine)  # 12 rows, the key and timestamp only
    (tmp_path / "rules.seg").write_text(RULES + 'segment web: count(orders where channel == "web") >= 1\n')
    prepared, membership = _membership(project_file, registry)
    assert isinstance(prepared.engine, ArrowEngine)
    assert prepared.engine_choice == AutoChoice("arrow", "no Parquet event rows the duckdb engine would read itself")
    _, expected = _membership(project_file, registry, engine="arrow")
    assert membership.equals(expected) and membership.column("web").to_pylist() == [True, True, True]
