"""Engines are chosen by name from a registry that plugins fill (`register_engines`):
the built-in arrow engine through the entry-point group, a third party's beside it, and
clear errors for an engine that is not installed or not known."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

import segmint
from segmint.cli import cli
from segmint.engines.arrow import plugin as arrow_plugin
from segmint.engines.arrow.engine import ArrowEngine
from segmint.engines.base import Engine, Job
from segmint.errors import ConfigError, PluginError
from segmint.language.types import STRING
from segmint.plugin import engines, host
from segmint.plugin.api import Function
from segmint.plugin.hookspecs import hookimpl

PROFILES = pa.table({"customer_id": [1, 2, 3], "spend": [10.0, 250.0, None]})
ORDERS = pa.table({"customer_id": [1, 1, 3], "ordered_at": pa.array([0, 1, 2], pa.timestamp("s")),
                   "amount": [5.0, 6.0, 7.0]})
RULES = "segment big: spend > 100\nsegment buyer: count(orders) >= 2\n"


class Recording(ArrowEngine):
    """A third party's engine: evaluates as the arrow engine does, and keeps the jobs it got."""

    name = "recording"
    jobs: list[Job] = []

    def evaluate(self, job: Job):
        type(self).jobs.append(job)
        return super().evaluate(job)


class RecordingPlugin:
    @hookimpl
    def register_engines(self):
        return [Recording]


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> host.PluginRegistry:
    """segmint's built-ins plus the recording engine, as every lookup sees them."""
    found = host.load_registry(extra_plugins=[RecordingPlugin()])
    monkeypatch.setattr(host, "get_registry", lambda: found)
    monkeypatch.setattr("segmint.plugin.commands.get_registry", lambda: found)
    Recording.jobs.clear()
    return found


def test_the_arrow_engine_comes_through_the_entry_point_group():
    registry = host.load_registry(environ={"SEGMINT_PLUGINS": "segmint"})
    assert registry.engines["arrow"] is ArrowEngine
    assert registry.plugin_for("engine", "arrow").entry_point == "arrow"


def test_a_third_party_engine_evaluates_what_segmint_evaluate_hands_it(registry):
    result = segmint.evaluate(RULES, PROFILES, events={"orders": ORDERS},
                              timestamps={"orders": "ordered_at"}, engine="recording")
    assert result.equals(segmint.evaluate(RULES, PROFILES, events={"orders": ORDERS},
                                          timestamps={"orders": "ordered_at"}))
    [job] = Recording.jobs
    assert job.profiles.equals(PROFILES) and job.key == "customer_id"
    assert list(job.events) == ["orders"]
    assert (job.events["orders"].timestamp, job.events["orders"].data) == ("ordered_at", ORDERS)
    assert job.checked.order == ("big", "buyer")


def test_the_default_engine_loads_no_plugins(monkeypatch):
    def refuse():
        raise AssertionError("plugins were loaded")

    monkeypatch.setattr(host, "get_registry", refuse)
    assert segmint.evaluate("segment big: spend > 100", PROFILES, functions={}).column("big").to_pylist() == [
        False, True, False]


@pytest.mark.parametrize("name, message", [
    ("duckdb", "the duckdb engine is not installed; install it with pip install 'segmint[duckdb]' "
               "(installed engines: arrow)"),
    ("spark", "the spark engine is not installed; install it with pip install 'segmint[spark]' "
              "(installed engines: arrow)"),
    ("arow", "unknown engine 'arow' (did you mean 'arrow'?); known engines: arrow, auto, duckdb, spark"),
    ("warehouse", "unknown engine 'warehouse'; known engines: arrow, auto, duckdb, spark"),
])
def test_an_engine_not_registered_is_a_clear_error(name, message):
    only_arrow = host.load_registry(extra_plugins=[arrow_plugin], environ={"SEGMINT_PLUGINS": "none"})
    with pytest.raises(ConfigError) as caught:
        engines.engine_named(name, only_arrow, file="segmint.toml", key="engine")
    assert str(caught.value) == f"segmint.toml: engine: {message}"


def test_a_known_engine_whose_plugin_failed_says_why():
    registry = host.load_registry(extra_plugins=[arrow_plugin], environ={"SEGMINT_PLUGINS": "none"})
    registry.failures.append(host.PluginFailure("segmint", "0.1.0", "duckdb", "ModuleNotFoundError: "
                                                "No module named 'duckdb'"))
    with pytest.raises(ConfigError, match=r"^the duckdb engine is not installed \(its plugin failed "
                       r"to load: ModuleNotFoundError: No module named 'duckdb'\); install it with "
                       r"pip install 'segmint\[duckdb\]'"):
        engines.engine_named("duckdb", registry)


@pytest.mark.parametrize("engine", [object, type("Nameless", (Engine,), {}), "arrow"])
def test_a_plugin_returning_something_else_than_an_engine_class_fails_to_load(engine):
    class Bad:
        @hookimpl
        def register_engines(self):
            return [engine]

    registry = host.load_registry(extra_plugins=[Bad()], environ={"SEGMINT_PLUGINS": "none"})
    assert registry.engines == {}
    [failure] = registry.failures
    assert "engine" in failure.error_text


def test_two_plugins_registering_one_engine_name_is_refused():
    class Another:
        @hookimpl
        def register_engines(self):
            return [type("Other", (ArrowEngine,), {})]

    with pytest.raises(PluginError, match="engine 'arrow' is registered by two plugins"):
        host.load_registry(extra_plugins=[arrow_plugin, Another()], environ={"SEGMINT_PLUGINS": "none"})


# The project file and the command line ----------------------------------------------------

def invoke(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="segmint")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    pa.csv.write_csv(PROFILES, tmp_path / "customers.csv")
    (tmp_path / "big.seg").write_text("segment big: spend > 100\n")
    return tmp_path


def write_project(directory: Path, engine_line: str) -> Path:
    path = directory / "segmint.toml"
    path.write_text(f'{engine_line}\nrules = ["big.seg"]\n[sources.customers]\nplugin = "csv"\n'
                    'path = "customers.csv"\n')
    return path


def test_the_project_file_and_the_flag_choose_the_engine(project, registry):
    write_project(project, 'engine = "recording"')
    result = invoke("run", "--dry-run")
    assert result.exit_code == 0, result.output
    assert len(Recording.jobs) == 1
    assert invoke("validate", "--engine", "arrow").exit_code == 0
    result = invoke("run", "--dry-run", "--engine", "arrow")
    assert result.exit_code == 0, result.output
    assert len(Recording.jobs) == 1, "--engine wins over the project file"
    result = invoke("run", "--dry-run", "--engine", "recording", "-p", write_project(project, ""))
    assert result.exit_code == 0 and len(Recording.jobs) == 2


@pytest.mark.parametrize("command", ["run", "validate", "explain", "profile"])
@pytest.mark.parametrize("where, message", [
    ('engine = "arrwo"', "segmint.toml: engine: unknown engine 'arrwo' (did you mean 'arrow'?); "
                         "known engines: arrow, auto, duckdb, recording, spark"),
    ("--engine=duckdb", "--engine: the duckdb engine is not installed; install it with "
                        "pip install 'segmint[duckdb]' (installed engines: arrow, recording, spark)"),
    ('engine = 3', "segmint.toml: engine: must be an engine's name, like \"arrow\" or \"duckdb\""),
])
def test_an_engine_that_cannot_be_had_is_a_user_error(project, registry, monkeypatch, command,
                                                      where, message):
    registry.engines.pop("duckdb", None)  # as if segmint[duckdb] were not installed
    write_project(project, where if where.startswith("engine") else "")
    args = [command] + (["--segment", "big", "--id", "1"] if command == "explain" else [])
    result = invoke(*args, *([where] if where.startswith("--") else []))
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr == f"error: {message}\n"


def test_engines_are_listed_by_segmint_plugins(registry):
    output = invoke("plugins").stdout
    [row] = [line for line in output.splitlines() if "│ arrow " in line]
    assert row.rstrip("│ ").endswith("arrow")


# Functions: one builder per engine -------------------------------------------------------

def upper(call):
    return pc.utf8_upper(call.args[0])


def lower(call):
    return pc.utf8_lower(call.args[0])


@pytest.mark.parametrize("function, engine, family, expected", [
    (Function("f", (STRING,), STRING, build=upper), "arrow", None, upper),
    (Function("f", (STRING,), STRING, build=upper, builders={"arrow": lower}), "arrow", None, lower),
    (Function("f", (STRING,), STRING, build=upper), "duckdb", "sql", None),
    (Function("f", (STRING,), STRING, builders={"sql": lower}), "duckdb", "sql", lower),
    (Function("f", (STRING,), STRING, builders={"sql": lower, "duckdb": upper}), "duckdb", "sql", upper),
    (Function("f", (STRING,), STRING, builders={"duckdb": upper}), "spark", "sql", None),
])
def test_a_function_has_one_builder_per_engine_or_family(function, engine, family, expected):
    assert function.builder(engine, family) is expected


def test_a_plugin_function_runs_only_on_the_engines_it_has_builders_for(registry):
    shout = Function("shout", (STRING,), STRING, build=upper)
    rules = segmint.parse_rules("segment s: shout(name) == 'ANN'", "r.seg")
    data = pa.table({"customer_id": [1, 2], "name": ["ann", "bob"]})
    assert segmint.evaluate(rules, data, functions={"shout": shout})["s"].to_pylist() == [True, False]
    with pytest.raises(segmint.RuleError, match=r"^r.seg:1:12: shout\(\) has no builder for the "
                       r"recording engine\n(.*\n)*it has builders for: arrow$"):
        segmint.evaluate(rules, data, functions={"shout": shout}, engine="recording")
    both = Function("shout", (STRING,), STRING, build=upper, builders={"recording": upper})
    assert both.engines == ("arrow", "recording")
    assert segmint.evaluate(rules, data, functions={"shout": both}, engine="recording")["s"].to_pylist() == [
        True, False]
