"""Checking plugin options from a project file against the plugin's Options class."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import attrs
import pytest

from segmint.errors import ConfigError
from segmint.plugin.options import OptionDoc, build_options, describe_options

WHERE = "segmint.toml [sources.crm]"


def _positive(instance, attribute, value):
    if value <= 0:
        raise ValueError("must be positive")


@attrs.frozen
class Options:
    path: Path = attrs.field(metadata={"help": "the file"})
    delimiter: str = ","
    limit: int = 10
    ratio: float = 0.5
    header: bool = True
    tags: list[str] = attrs.field(factory=list)
    columns: dict[str, str] = attrs.field(factory=dict)
    comment: str | None = None
    mode: Literal["append", "replace"] = "append"
    retries: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    batch: int = attrs.field(default=1, validator=_positive)


def build(**mapping):
    return build_options(Options, mapping, plugin="csv", where=WHERE)


def test_defaults_and_conversions():
    options = build(path="data/crm.csv", ratio=2, tags=["a", "b"], columns={"x": "int"})
    assert options == Options(
        path=Path("data/crm.csv"), ratio=2.0, tags=["a", "b"], columns={"x": "int"}
    )
    assert isinstance(options.path, Path) and isinstance(options.ratio, float)


@pytest.mark.parametrize(
    ("mapping", "value"),
    [
        ({"comment": "#"}, "#"),
        ({"mode": "replace"}, "replace"),
        ({"header": False}, False),
        ({"limit": 0}, 0),
    ],
)
def test_accepted_values(mapping, value):
    options = build(path="x", **mapping)
    [(name, _)] = mapping.items()
    assert getattr(options, name) == value


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            {"path": "x", "delimiter": 3},
            "option 'delimiter' of plugin 'csv' must be a string, got 3",
        ),
        (
            {"path": "x", "limit": "10"},
            'option \'limit\' of plugin \'csv\' must be an integer, got "10"',
        ),
        (
            {"path": "x", "limit": True},
            "option 'limit' of plugin 'csv' must be an integer, got true",
        ),
        (
            {"path": "x", "ratio": "high"},
            'option \'ratio\' of plugin \'csv\' must be a number, got "high"',
        ),
        (
            {"path": "x", "header": 1},
            "option 'header' of plugin 'csv' must be true or false, got 1",
        ),
        ({"path": 5}, "option 'path' of plugin 'csv' must be a path, got 5"),
        (
            {"path": "x", "tags": ["a", 1]},
            'option \'tags\' of plugin \'csv\' must be a list of strings, got ["a", 1]',
        ),
        (
            {"path": "x", "tags": "a"},
            'option \'tags\' of plugin \'csv\' must be a list of strings, got "a"',
        ),
        (
            {"path": "x", "columns": {"a": 1}},
            "option 'columns' of plugin 'csv' must be a table of strings, got {a = 1}",
        ),
        (
            {"path": "x", "comment": 1},
            "option 'comment' of plugin 'csv' must be a string, got 1",
        ),
        (
            {"path": "x", "mode": "merge"},
            'option \'mode\' of plugin \'csv\' must be one of "append", "replace", got "merge"',
        ),
        (
            {"path": "x", "delim": ";"},
            "unknown option 'delim' of plugin 'csv' (did you mean 'delimiter'?); known options:"
            " batch, columns, comment, delimiter, header, limit, mode, path, ratio, retries, tags",
        ),
        (
            {"path": "x", "foo": 1, "bar": 2},
            "unknown options 'foo', 'bar' of plugin 'csv'; known options:"
            " batch, columns, comment, delimiter, header, limit, mode, path, ratio, retries, tags",
        ),
        ({}, "option 'path' of plugin 'csv' is required"),
        (
            {"path": "x", "retries": -1},
            "option 'retries' of plugin 'csv' is invalid: 'retries' must be >= 0: -1",
        ),
        ({"path": "x", "batch": 0}, "option 'batch' of plugin 'csv' is invalid: must be positive"),
    ],
)
def test_bad_options(mapping, message):
    with pytest.raises(ConfigError) as excinfo:
        build(**mapping)
    assert str(excinfo.value) == f"{WHERE}: {message}"
    assert excinfo.value.file == WHERE


def test_several_missing_options():
    @attrs.frozen
    class Two:
        url: str
        token: str

    with pytest.raises(ConfigError, match=r"options 'url', 'token' of plugin 'api' are required"):
        build_options(Two, {}, plugin="api", where=WHERE)


def test_validator_needing_other_fields_runs_in_the_constructor():
    @attrs.frozen
    class Range:
        low: int = 0
        high: int = attrs.field(default=10)

        @high.validator
        def _above_low(self, attribute, value):
            if value < self.low:
                raise ValueError("high must not be below low")

    assert build_options(Range, {"high": 5}, plugin="range", where=WHERE) == Range(high=5)
    with pytest.raises(ConfigError) as excinfo:
        build_options(Range, {"low": 5, "high": 1}, plugin="range", where=WHERE)
    assert str(excinfo.value) == (
        f"{WHERE}: invalid options of plugin 'range': high must not be below low"
    )


def test_plugin_without_options():
    @attrs.frozen
    class Nothing:
        pass

    assert build_options(Nothing, {}, plugin="null", where=WHERE) == Nothing()
    with pytest.raises(ConfigError) as excinfo:
        build_options(Nothing, {"x": 1}, plugin="null", where=WHERE)
    assert str(excinfo.value) == (
        f"{WHERE}: unknown option 'x' of plugin 'null'; it takes no options"
    )


def test_describe_options():
    docs = {d.name: d for d in describe_options(Options)}
    assert docs["path"] == OptionDoc("path", "a path", required=True, help="the file")
    assert docs["delimiter"] == OptionDoc("delimiter", "a string", required=False, default='","')
    assert docs["tags"].default == "[]"
    assert docs["comment"].type == "a string" and docs["comment"].default == "none"
    assert docs["mode"].type == 'one of "append", "replace"'
