"""The ``[engine]`` table: the engine's name and its options, checked by the engine's
``Options`` class, with errors that name the option."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from segmint.engines.arrow.engine import ArrowEngine
from segmint.errors import ConfigError
from segmint.plugin import host
from segmint.plugin.engines import engine_named
from segmint.plugin.hookspecs import hookimpl
from segmint.project.config import load_project


@attrs.frozen
class TunedOptions:
    threads: int = attrs.field(default=1, metadata={"help": "how many"})


class Tuned(ArrowEngine):
    name = "tuned"
    Options = TunedOptions


class TunedPlugin:
    @hookimpl
    def register_engines(self):
        return [Tuned]


@pytest.fixture
def registry() -> host.PluginRegistry:
    return host.load_registry(extra_plugins=[TunedPlugin()])


def project(tmp_path: Path, text: str):
    path = tmp_path / "segmint.toml"
    path.write_text(text)
    return load_project(path)


def test_an_engine_table_names_the_engine_and_sets_its_options(tmp_path, registry):
    loaded = project(tmp_path, '[engine]\nname = "tuned"\nthreads = 4\n')
    assert (loaded.engine, dict(loaded.engine_options)) == ("tuned", {"threads": 4})
    engine = engine_named(loaded.engine, registry, options=loaded.engine_options)
    assert isinstance(engine, Tuned) and engine.options == TunedOptions(threads=4)


def test_the_command_line_engine_drops_another_engines_options(tmp_path):
    loaded = project(tmp_path, '[engine]\nname = "tuned"\nthreads = 4\n')
    assert dict(loaded.with_overrides(engine="arrow").engine_options) == {}
    assert dict(loaded.with_overrides(engine="tuned").engine_options) == {"threads": 4}


@pytest.mark.parametrize(("text", "message"), [
    ('[engine]\nthreads = 4\n', r"engine: the \[engine\] table needs the engine's name"),
    ('[engine]\nname = 3\n', r"engine\.name: must be an engine's name"),
])
def test_a_bad_engine_table_is_a_config_error(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        project(tmp_path, text)


@pytest.mark.parametrize(("options", "message"), [
    ({"thread": 4}, "thread"),
    ({"threads": "four"}, "threads"),
])
def test_a_bad_engine_option_is_a_config_error_naming_it(registry, options, message):
    with pytest.raises(ConfigError, match=message):
        engine_named("tuned", registry, file="segmint.toml", options=options)
