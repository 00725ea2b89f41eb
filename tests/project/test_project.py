"""The project file: its shape, its errors, rule globs, CLI overrides, plugin instances."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from segmint.project import config as project_module
from segmint.errors import ConfigError, PluginError
from segmint.plugin.hookspecs import hookimpl
from segmint.plugin.host import get_registry, load_registry
from segmint.plugin.api import Sink
from segmint.project.config import (
    Project,
    SinkConfig,
    SourceConfig,
    expand_rule_files,
    find_project_file,
    instantiate_sinks,
    instantiate_sources,
    load_project,
)

EXAMPLE = """\
rules = ["rules/*.seg"]
key = "customer_id"
as_of = "1997-09-30"
timezone = "UTC"
holdout_salt = "spring-2026"
[sources.customers]
plugin = "csv"
path = "data/customers.csv"
[sources.orders]
plugin = "jsonl"
role = "events"
path = "data/orders.jsonl"
[sinks.membership]
plugin = "file"
path = "out/segments.parquet"
"""


def write_project(directory: Path, text: str) -> Path:
    path = directory / "segmint.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_load_the_example(tmp_path):
    project = load_project(write_project(tmp_path, EXAMPLE))
    assert project == Project(
        path=tmp_path / "segmint.toml",
        root=tmp_path,
        rules=("rules/*.seg",),
        key="customer_id",
        as_of=dt.date(1997, 9, 30),
        timezone="UTC",
        holdout_salt="spring-2026",
        state_dir=".segmint",
        sources=(
            SourceConfig("customers", "csv", None, {"path": "data/customers.csv"}),
            SourceConfig("orders", "jsonl", "events", {"path": "data/orders.jsonl"}),
        ),
        sinks=(SinkConfig("membership", "file", {"path": "out/segments.parquet"}),),
    )
    assert project.sources[0].origin == f"{tmp_path / 'segmint.toml'} [sources.customers]"
    assert project.state_path == tmp_path / ".segmint"


def test_defaults(tmp_path):
    project = load_project(write_project(tmp_path, ""))
    assert project == Project(path=tmp_path / "segmint.toml", root=tmp_path)
    assert (project.rules, project.key, project.as_of, project.timezone) == (
        (),
        "customer_id",
        None,
        "UTC",
    )
    assert (project.holdout_salt, project.state_dir) == ("", ".segmint")
    assert (project.sources, project.sinks) == ((), ())


@pytest.mark.parametrize(
    ("text", "as_of"),
    [
        ('as_of = "2026-01-31"', dt.date(2026, 1, 31)),
        ("as_of = 2026-01-31", dt.date(2026, 1, 31)),
        ('as_of = "2026-01-31T18:00:00"', dt.datetime(2026, 1, 31, 18)),
        ('as_of = "2026-01-31T18:00:00Z"', dt.datetime(2026, 1, 31, 18, tzinfo=dt.timezone.utc)),
        ("as_of = 2026-01-31T18:00:00Z", dt.datetime(2026, 1, 31, 18, tzinfo=dt.timezone.utc)),
    ],
)
def test_as_of_forms(tmp_path, text, as_of):
    assert load_project(write_project(tmp_path, text)).as_of == as_of


#: Every top-level key the project file knows, as the message lists them.
KNOWN_KEYS = ", ".join(sorted(project_module._TOP_LEVEL))
assert {"rules", "key", "as_of", "sources", "sinks"} <= set(project_module._TOP_LEVEL)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo = 1", f"foo: unknown key; known keys: {KNOWN_KEYS}"),
        ("rule = []", f"rule: unknown key (did you mean 'rules'?); known keys: {KNOWN_KEYS}"),
        ('rules = "rules/*.seg"', "rules: must be a list of strings"),
        ("rules = [1]", "rules: must be a list of strings"),
        ("key = 3", "key: must be a non-empty string"),
        ('key = ""', "key: must be a non-empty string"),
        (
            'as_of = "yesterday"',
            "as_of: must be a date (2026-01-31) or a timestamp (2026-01-31T18:00:00+01:00)",
        ),
        ("as_of = 10:00:00", "as_of: must be a date (2026-01-31) or a timestamp"
         " (2026-01-31T18:00:00+01:00)"),
        (
            'timezone = "Mars/Olympus"',
            "timezone: unknown time zone 'Mars/Olympus' (use a name such as 'UTC' or"
            " 'Europe/Paris')",
        ),
        ("timezone = 1", "timezone: must be a string"),
        ("holdout_salt = 1", "holdout_salt: must be a string"),
        ("state_dir = false", "state_dir: must be a non-empty string"),
        ('sources = "x"', "sources: must be a table of [sources.NAME] tables"),
        ("[sources]\ncrm = 1", "sources.crm: must be a table"),
        ('[sources.crm]\npath = "x.csv"', "sources.crm.plugin: is required"),
        ("[sources.crm]\nplugin = 3", "sources.crm.plugin: must be a string"),
        (
            '[sources.crm]\nplugin = "csv"\nrole = "orders"',
            "sources.crm.role: must be one of 'profiles', 'events'",
        ),
        (
            '[sources."my crm"]\nplugin = "csv"',
            "sources.my crm: a name must be letters, digits and _ (not starting with a digit)",
        ),
        ("[sinks.out]\nplugin = []", "sinks.out.plugin: must be a string"),
        ("rules = [", "not valid TOML: Invalid value (at end of document)"),
        ("rules = " + "[" * 5000 + "]" * 5000,
         "not valid TOML: arrays or tables nested too deeply (segmint reads at most 100 levels)"),
        ("x = " + "{ a = " * 5000 + "1" + " }" * 5000,
         "not valid TOML: arrays or tables nested too deeply (segmint reads at most 100 levels)"),
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else v,
)
def test_bad_project_files(tmp_path, text, message):
    path = write_project(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_project(path)
    assert str(excinfo.value) == f"{path}: {message}"


def test_missing_project_file(tmp_path):
    with pytest.raises(ConfigError) as excinfo:
        load_project(tmp_path / "segmint.toml")
    assert str(excinfo.value) == f"{tmp_path / 'segmint.toml'}: project file not found"


def test_find_project_file(tmp_path):
    assert find_project_file(tmp_path) is None
    path = write_project(tmp_path, "")
    assert find_project_file(tmp_path) == path


def test_expand_rule_files(tmp_path):
    (tmp_path / "rules" / "more").mkdir(parents=True)
    for name in ["b.seg", "a.seg", "more/c.seg", "notes.txt"]:
        (tmp_path / "rules" / name).write_text("")
    (tmp_path / "extra.seg").write_text("")
    project = load_project(
        write_project(tmp_path, 'rules = ["rules/*.seg", "extra.seg", "rules/**/*.seg"]')
    )
    assert expand_rule_files(project) == [
        tmp_path / "rules" / "a.seg",
        tmp_path / "rules" / "b.seg",
        tmp_path / "extra.seg",
        tmp_path / "rules" / "more" / "c.seg",
    ]


def test_rule_globs_do_not_follow_symlink_loops(tmp_path):
    (tmp_path / "rules" / "team").mkdir(parents=True)
    (tmp_path / "rules" / "a.seg").write_text("")
    (tmp_path / "rules" / "team" / "b.seg").write_text("")
    (tmp_path / "rules" / "team" / "up").symlink_to(tmp_path / "rules")  # a loop
    (tmp_path / "rules" / "again").symlink_to(tmp_path / "rules")  # and another
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "c.seg").write_text("")
    (tmp_path / "rules" / "shared").symlink_to(tmp_path / "shared")  # a link to follow
    project = load_project(write_project(tmp_path, 'rules = ["rules/**/*.seg"]'))
    files = expand_rule_files(project)
    assert sorted(p.name for p in files) == ["a.seg", "b.seg", "c.seg"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('["rules/*.seg"]', "rules: 'rules/*.seg' matches no files"),
        ('["vip.seg"]', "rules: rule file 'vip.seg' not found"),
    ],
)
def test_rule_files_that_are_not_there(tmp_path, rules, message):
    path = write_project(tmp_path, f"rules = {rules}")
    with pytest.raises(ConfigError) as excinfo:
        expand_rule_files(load_project(path))
    assert str(excinfo.value) == f"{path}: {message}"


def test_instantiate_sources_and_sinks(tmp_path):
    project = load_project(write_project(tmp_path, EXAMPLE))
    registry = get_registry()
    sources = instantiate_sources(project, registry, project.context())
    assert list(sources) == ["customers", "orders"]
    assert (sources["customers"].name, sources["customers"].role) == ("csv", "profiles")
    assert (sources["orders"].name, sources["orders"].role) == ("jsonl", "events")
    assert sources["customers"].options.path == Path("data/customers.csv")
    assert sources["customers"].context.project_dir == tmp_path
    sinks = instantiate_sinks(project, registry, project.context())
    assert sinks["membership"].sink_name == "membership"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[sources.crm]\nplugin = "cvs"',
            "{path}: sources.crm.plugin: unknown source plugin 'cvs' (did you mean 'csv'?);"
            " available: {sources}",
        ),
        (
            '[sinks.out]\nplugin = "mailer"',
            "{path}: sinks.out.plugin: unknown sink plugin 'mailer'; available: {sinks}",
        ),
        (
            '[sources.crm]\nplugin = "csv"\npath = "crm.csv"\ndelim = ";"',
            "{path} [sources.crm]: unknown option 'delim' of plugin 'csv' (did you mean"
            " 'delimiter'?); known options: columns, delimiter, encoding, list_separator,"
            " max_value_lines, null_values, path",
        ),
        (
            '[sources.crm]\nplugin = "csv"',
            "{path} [sources.crm]: option 'path' of plugin 'csv' is required",
        ),
        (
            '[sources.crm]\nplugin = "csv"\npath = "crm.csv"\ndelimiter = 3',
            "{path} [sources.crm]: option 'delimiter' of plugin 'csv' must be a string, got 3",
        ),
        (
            '[sinks.out]\nplugin = "file"\npath = "out.txt"',
            "sink 'out': cannot tell the format of 'out.txt' from its extension"
            ' (.parquet, .csv); set format = "parquet" or format = "csv"',
        ),
    ],
)
def test_bad_plugin_configuration(tmp_path, table, message):
    path = write_project(tmp_path, table)
    project = load_project(path)
    registry = get_registry()
    with pytest.raises(ConfigError) as excinfo:
        instantiate_sources(project, registry, project.context())
        instantiate_sinks(project, registry, project.context())
    available = {"sources": ", ".join(sorted(registry.sources)),
                 "sinks": ", ".join(sorted(registry.sinks))}
    assert str(excinfo.value) == message.format(path=path, **available)


def test_a_plugin_crashing_on_start_is_a_plugin_error(tmp_path):
    class Crashing(Sink):
        name = "crashing"

        def __init__(self, *args):
            raise RuntimeError("no network")

    class Plugin:
        @hookimpl
        def register_sinks(self):
            return [Crashing]

    registry = load_registry(extra_plugins=[Plugin()])
    path = write_project(tmp_path, '[sinks.out]\nplugin = "crashing"')
    project = load_project(path)
    with pytest.raises(PluginError) as excinfo:
        instantiate_sinks(project, registry, project.context())
    assert str(excinfo.value) == (
        f"sink plugin 'crashing' (Plugin) failed to start for {path} [sinks.out]:"
        " RuntimeError: no network"
    )


def test_with_overrides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = load_project(write_project(tmp_path, EXAMPLE))
    changed = project.with_overrides(
        rules=["extra.seg"],
        sources=["customers=crm.parquet", ("web", "web.ndjson")],
        events=["orders=orders.csv"],
        out="out.csv",
        key="id",
        as_of="2026-01-31",
    )
    assert changed.rules == ("rules/*.seg", str(tmp_path / "extra.seg"))
    assert changed.sources == (
        SourceConfig("customers", "parquet", "profiles", {"path": str(tmp_path / "crm.parquet")}),
        SourceConfig("orders", "csv", "events", {"path": str(tmp_path / "orders.csv")}),
        SourceConfig("web", "jsonl", "profiles", {"path": str(tmp_path / "web.ndjson")}),
    )
    assert changed.sources[0].origin == "--source customers"
    assert changed.sinks[-1] == SinkConfig("out", "file", {"path": str(tmp_path / "out.csv")})
    assert (changed.key, changed.as_of) == ("id", dt.date(2026, 1, 31))
    assert project.key == "customer_id", "the original is unchanged"


def test_cli_only_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vip.seg").write_text("")
    project = Project.without_file().with_overrides(rules=["vip.seg"], sources=["crm=crm.csv"])
    assert project.path is None and project.root == tmp_path
    assert expand_rule_files(project) == [tmp_path / "vip.seg"]
    with pytest.raises(ConfigError) as excinfo:
        expand_rule_files(project.with_overrides(rules=["nope.seg"]))
    assert str(excinfo.value) == f"rule file '{tmp_path / 'nope.seg'}' not found"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sources": ["crm.csv"]}, "--source: takes NAME=PATH, got 'crm.csv'"),
        (
            {"sources": ["crm=crm.xlsx"]},
            "--source crm: no source plugin reads files like 'crm.xlsx' (supported extensions:"
            " .csv, .jsonl, .ndjson, .parquet, .tsv)",
        ),
        (
            {"events": ["1st=orders.csv"]},
            "--events 1st: a source name must be letters, digits and _ (not starting with a"
            " digit)",
        ),
        (
            {"out": "out.xlsx"},
            "--out: no sink plugin reads files like 'out.xlsx' (supported extensions: .csv,"
            " .parquet)",
        ),
        ({"key": ""}, "--key: must be a non-empty string"),
        (
            {"as_of": "soon"},
            "--as-of: must be a date (2026-01-31) or a timestamp (2026-01-31T18:00:00+01:00)",
        ),
    ],
)
def test_bad_overrides(overrides, message):
    with pytest.raises(ConfigError) as excinfo:
        Project.without_file().with_overrides(**overrides)
    assert str(excinfo.value) == message


class _Sealed:
    """A source that refuses, once built, any new value of what the project says of it:
    segmint must hand all of that to it through its context."""

    _sealed = False
    _SETTINGS = frozenset({"role", "timestamp_column", "policy", "on_bad_rows", "origin",
                           "project_columns", "context", "options", "source_name"})

    def __setattr__(self, name, value):
        if self._sealed and name in self._SETTINGS:
            raise AssertionError(f"segmint set {name!r} on a built source")
        super().__setattr__(name, value)


def _sealed_registry():
    from segmint.plugins.sources.csv import CsvSource

    class SealedCsv(_Sealed, CsvSource):
        name = "sealed_csv"

        def __init__(self, *args):
            super().__init__(*args)
            self._sealed = True

    class Plugin:
        @hookimpl
        def register_sources(self):
            return [SealedCsv]

    return load_registry(extra_plugins=[Plugin()])


def test_the_project_settings_of_a_source_arrive_through_its_context(tmp_path):
    (tmp_path / "orders.csv").write_text("email,when,amount\n A@x.com ,2024-01-02,3\n")
    path = write_project(tmp_path, """\
        key = "customer_id"
        [sources.orders]
        plugin = "sealed_csv"
        path = "orders.csv"
        role = "events"
        timestamp_column = "when"
        key = "email"
        key_normalize = "email"
        on_bad_rows = "skip"
        """)
    project = load_project(path)
    source = instantiate_sources(project, _sealed_registry(), project.context())["orders"]
    assert (source.role, source.timestamp_column, source.on_bad_rows) == ("events", "when", "skip")
    assert source.policy.key_normalize == "email"
    assert source.project_columns.key == "email"
    assert source.context.key == "email"
    assert source.origin == f"{path} [sources.orders]"


def test_a_run_sets_nothing_on_its_sources(tmp_path):
    import pyarrow.parquet as pq

    from segmint.project.pipeline import run_project

    (tmp_path / "people.csv").write_text("customer_id,age\n1,40\n2,20\n")
    (tmp_path / "orders.csv").write_text("customer_id,when,amount\n1,2024-01-02,3\n")
    (tmp_path / "rules.seg").write_text(
        "segment older: age > 30\nsegment bought: exists(orders)\n")
    path = write_project(tmp_path, """\
        rules = ["rules.seg"]
        as_of = "2024-02-01"
        [sources.people]
        plugin = "sealed_csv"
        path = "people.csv"
        [sources.orders]
        plugin = "sealed_csv"
        path = "orders.csv"
        role = "events"
        timestamp_column = "when"
        [sinks.out]
        plugin = "file"
        path = "out.parquet"
        """)
    run_project(path, registry=_sealed_registry())
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("older").to_pylist() == [True, False]
    assert table.column("bought").to_pylist() == [True, False]


def test_a_source_that_skips_source_init_is_a_clear_error(tmp_path):
    from segmint.plugin.api import Source

    class Careless(Source):
        name = "careless"

        def __init__(self, source_name, options, context):
            self.options = options

    class Plugin:
        @hookimpl
        def register_sources(self):
            return [Careless]

    path = write_project(tmp_path, '[sources.crm]\nplugin = "careless"')
    project = load_project(path)
    with pytest.raises(ConfigError) as excinfo:
        instantiate_sources(project, load_registry(extra_plugins=[Plugin()]), project.context())
    assert str(excinfo.value) == (
        f"{path} [sources.crm]: source plugin 'careless' (Plugin) does not call Source.__init__"
        " from its __init__, so the project's settings of the source cannot reach it; call"
        " super().__init__(source_name, options, context)")
