"""The plugin host: loading entry points, isolating broken plugins, refusing clashes."""

from __future__ import annotations

import importlib.metadata
import types

import attrs
import pyarrow as pa
import pytest

from segmint.plugin import host
from segmint.errors import ConfigError, PluginError
from segmint.plugin.hookspecs import hookimpl
from segmint.plugin.api import Function, Metric, MetricColumn, Sink, Source
from segmint.language.types import NUMBER

VERSION = importlib.metadata.version("segmint")


class AcmeSource(Source):
    name = "acme"
    extensions = (".acme",)


class AcmeSink(Sink):
    name = "acme_out"


ACME_METRIC = Metric(
    name="acme_score",
    columns=(MetricColumn("acme_score", pa.float64()),),
    compute=lambda context: pa.table({}),
)
ACME_FUNCTION = Function(name="acme", params=(NUMBER,), returns=NUMBER, build=lambda *a: None)


class AcmePlugin:
    @hookimpl
    def register_sources(self):
        return [AcmeSource]

    @hookimpl
    def register_sinks(self):
        return [AcmeSink]

    @hookimpl
    def register_metrics(self):
        return [ACME_METRIC]

    @hookimpl
    def register_functions(self):
        return [ACME_FUNCTION]


@attrs.frozen
class FakeEntryPoint:
    """Stands in for an installed distribution's entry point."""

    name: str
    plugin: object
    dist: object

    def load(self):
        if isinstance(self.plugin, Exception):
            raise self.plugin
        return self.plugin


def fake_dist(name: str, version: str) -> object:
    return types.SimpleNamespace(name=name, version=version, metadata={"Name": name})


@pytest.fixture
def installed(monkeypatch):
    """Install fake distributions' entry points beside the real ones."""
    real = importlib.metadata.entry_points

    def install(*fakes: FakeEntryPoint) -> None:
        def entry_points(**kwargs):
            return [*real(**kwargs), *fakes]

        monkeypatch.setattr(host.metadata, "entry_points", entry_points)

    return install


def test_builtins_load_through_their_entry_point():
    registry = host.load_registry(environ={"SEGMINT_PLUGINS": "segmint"})
    assert {"csv", "parquet", "jsonl"} <= set(registry.sources)
    assert "file" in registry.sinks
    assert registry.failures == []
    [files] = [p for p in registry.plugins if p.entry_point == "files"]
    assert (files.distribution, files.version) == ("segmint", VERSION)
    assert files.sinks == ("file",)
    assert host.provenance(registry, "source", "csv") == f"segmint {VERSION}"


def test_extra_plugins_register_every_kind():
    registry = host.load_registry(extra_plugins=[AcmePlugin()])
    assert registry.sources["acme"] is AcmeSource
    assert registry.sinks["acme_out"] is AcmeSink
    assert registry.metrics["acme_score"] is ACME_METRIC
    assert registry.functions["acme"] is ACME_FUNCTION
    info = registry.plugin_for("metric", "acme_score")
    assert (info.sources, info.sinks, info.metrics, info.functions) == (
        ("acme",),
        ("acme_out",),
        ("acme_score",),
        ("acme",),
    )
    assert host.provenance(registry, "sinks", "acme_out") == "AcmePlugin"
    with pytest.raises(KeyError):
        host.provenance(registry, "source", "nope")


def test_plugin_raising_on_import_is_reported_and_others_work(installed):
    installed(
        FakeEntryPoint(
            "broken",
            ImportError("No module named 'acme_broken'"),
            fake_dist("acme-broken", "1.2.3"),
        ),
        FakeEntryPoint("acme", AcmePlugin(), fake_dist("acme-segmint", "0.4.0")),
    )
    registry = host.load_registry(environ={})
    assert registry.failures == [
        host.PluginFailure(
            "acme-broken", "1.2.3", "broken", "ImportError: No module named 'acme_broken'"
        )
    ]
    assert registry.failures[0].format() == (
        "plugin acme-broken 1.2.3 (entry point 'broken') failed to load:"
        " ImportError: No module named 'acme_broken'"
    )
    assert "csv" in registry.sources and "acme" in registry.sources
    assert host.provenance(registry, "source", "acme") == "acme-segmint 0.4.0"


def test_segmint_plugins_selects_distributions(installed):
    installed(FakeEntryPoint("acme", AcmePlugin(), fake_dist("Acme_Segmint", "0.4.0")))
    only_acme = host.load_registry(environ={"SEGMINT_PLUGINS": "acme-segmint"})
    assert set(only_acme.sources) == {"acme"}
    builtins = host.load_registry(environ={"SEGMINT_PLUGINS": "segmint"})
    assert "acme" not in builtins.sources and "csv" in builtins.sources
    everything = host.load_registry(environ={})
    assert {"acme", "csv"} <= set(everything.sources)


def test_two_plugins_with_one_name_is_an_error_naming_both(installed):
    class CsvAgain(Source):
        name = "csv"

    class OtherCsv:
        @hookimpl
        def register_sources(self):
            return [CsvAgain]

    installed(FakeEntryPoint("csv", OtherCsv(), fake_dist("acme-csv", "2.0.0")))
    with pytest.raises(PluginError) as excinfo:
        host.load_registry(environ={})
    assert str(excinfo.value) == (
        f"source 'csv' is registered by two plugins: segmint {VERSION} and acme-csv 2.0.0;"
        " uninstall one of them"
    )


def test_duplicate_function_between_extra_plugins():
    with pytest.raises(PluginError, match="function 'acme' is registered by two plugins"):
        host.load_registry(
            extra_plugins=[AcmePlugin(), _plugin(register_functions=[ACME_FUNCTION])]
        )


def _plugin(**hooks: object) -> object:
    """A plugin object whose hooks return the given values (or raise given exceptions)."""

    def make(value):
        def hook():
            if isinstance(value, Exception):
                raise value
            return value

        return hookimpl(hook)

    return type("BadPlugin", (), {name: staticmethod(make(v)) for name, v in hooks.items()})


class Nameless(Source):
    pass


class NotAttrsOptions(Source):
    name = "bad_options"
    Options = dict


class BadExtensions(Source):
    name = "bad_ext"
    extensions = ("csv",)


class NoRole(Source):
    name = "no_role"
    role = ""


class Typo:
    @hookimpl
    def register_source(self):
        return []


class ExtraArgument:
    @hookimpl
    def register_sources(self, config):
        return []


@pytest.mark.parametrize(
    ("plugin", "error"),
    [
        (_plugin(register_sources=RuntimeError("boom")), "RuntimeError: boom"),
        (
            _plugin(register_sources=[dict]),
            "source <class 'dict'> is not a subclass of segmint.Source",
        ),
        (
            _plugin(register_sinks=[AcmeSource]),
            f"sink {AcmeSource!r} is not a subclass of segmint.Sink",
        ),
        (
            _plugin(register_sources=[Nameless]),
            "source Nameless has no name (set its 'name' to a non-empty string)",
        ),
        (
            _plugin(register_sources=[NotAttrsOptions]),
            "source 'bad_options': Options must be an attrs class",
        ),
        (
            _plugin(register_sources=[BadExtensions]),
            "source 'bad_ext': extensions must be a tuple like ('.csv',)",
        ),
        (_plugin(register_sources=[NoRole]), "source 'no_role': role must be a non-empty string"),
        (_plugin(register_sources=AcmeSource), "register_sources() must return a list, got type"),
        (
            _plugin(register_sources=[AcmeSource, AcmeSource]),
            "register_sources() returned two sources named 'acme'",
        ),
        (_plugin(register_metrics=["rfm"]), "metric 'rfm' is not a segmint.Metric"),
        (
            _plugin(register_functions=[attrs.evolve(ACME_FUNCTION, name="two words")]),
            "function name 'two words' must be an identifier",
        ),
        (Typo(), "unknown hook 'register_source'"),
    ],
)
def test_invalid_plugin_is_a_failure_not_a_crash(plugin, error):
    registry = host.load_registry(extra_plugins=[plugin, AcmePlugin()])
    [failure] = registry.failures
    assert failure.error_text == error
    assert "acme" in registry.sources and "csv" in registry.sources
    loaded = [p.distribution for p in registry.plugins]
    assert "AcmePlugin" in loaded and failure.distribution not in loaded
    assert not registry.plugin_manager.is_registered(plugin)


def test_hook_with_unknown_argument_is_a_failure():
    registry = host.load_registry(extra_plugins=[ExtraArgument()])
    [failure] = registry.failures
    assert failure.distribution == "ExtraArgument"
    assert "config" in failure.error_text


def test_a_failed_plugin_contributes_nothing():
    plugin = _plugin(register_sources=[AcmeSource], register_sinks=RuntimeError("boom"))
    registry = host.load_registry(extra_plugins=[plugin])
    assert "acme" not in registry.sources
    assert [f.error_text for f in registry.failures] == ["RuntimeError: boom"]


def test_registry_is_loaded_once_until_reset():
    host.reset_registry()
    first = host.get_registry()
    assert host.get_registry() is first
    host.reset_registry()
    assert host.get_registry() is not first


@pytest.mark.parametrize(
    ("name", "plugin"),
    [
        ("customers.csv", "csv"),
        ("CUSTOMERS.TSV", "csv"),
        ("events.jsonl", "jsonl"),
        ("events.ndjson", "jsonl"),
        ("orders.parquet", "parquet"),
        ("data.acme", "acme"),
    ],
)
def test_source_for_path(name, plugin):
    registry = host.load_registry(extra_plugins=[AcmePlugin()])
    assert host.source_for_path(registry, name).name == plugin


def test_source_for_a_directory_dataset(tmp_path):
    (tmp_path / "year=2026").mkdir()
    (tmp_path / "year=2026" / "part-0.parquet").touch()
    (tmp_path / "_SUCCESS").touch()
    assert host.source_for_path(host.get_registry(), tmp_path).name == "parquet"


def test_source_for_an_unknown_extension():
    with pytest.raises(ConfigError) as excinfo:
        host.source_for_path(host.get_registry(), "data/customers.xlsx")
    assert str(excinfo.value) == (
        "no source plugin reads files like 'customers.xlsx'"
        " (supported extensions: .csv, .jsonl, .ndjson, .parquet, .tsv)"
    )


@pytest.mark.parametrize(("name", "plugin"), [("out.parquet", "file"), ("out.csv", "file")])
def test_sink_for_path(name, plugin):
    assert host.sink_for_path(host.get_registry(), name).name == plugin

