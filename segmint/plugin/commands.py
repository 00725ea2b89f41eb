"""What a command needs to work on a project: the options every project command takes
(-p, RULES..., --source, --events, --key, --as-of, --engine) and loading the project they
name with the plugins. Public (`segmint.with_project`): built-in and third-party plugin
commands use it as segmint's own commands do."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from segmint.errors import ConfigError
from segmint.plugin.api import Source
from segmint.plugin.host import PluginRegistry, get_registry, load_registry  # noqa: F401 - public here
from segmint.project.config import Project, find_project_file, instantiate_sources, load_project
from segmint.semantics.asof import parse_as_of

#: Where commands print warnings and progress.
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class NameEqualsPath(click.ParamType):
    """``NAME=PATH`` for --source and --events."""

    name = "NAME=PATH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        name, sep, path = str(value).partition("=")
        if not sep or not name or not path:
            self.fail(f"expected NAME=PATH, got '{value}'", param, ctx)
        if not name.isidentifier():
            self.fail(f"source name '{name}' must be an identifier (letters, digits, _)", param, ctx)
        return (name, path)


class AsOfParam(click.ParamType):
    """``--as-of``: a date or a timestamp; anything else is a usage error (exit code 2)."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dt.date):
            return value
        try:
            return parse_as_of(str(value))
        except ConfigError:
            self.fail(f"expected a date (2026-01-31) or a timestamp (2026-01-31T18:00:00+01:00), "
                      f"got '{value}'", param, ctx)


def project_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """-p, RULES..., --source, --events, --key, --as-of, --engine: how every command finds
    its project."""
    decorators = [
        click.option("-p", "--project", "project_file", type=click.Path(dir_okay=False),
                     help="Project file (default: ./segmint.toml when present)."),
        click.argument("rules", nargs=-1, type=click.Path(dir_okay=False)),
        click.option("--source", "sources", multiple=True, type=NameEqualsPath(),
                     help="A profile source: NAME=PATH (CSV, Parquet or JSON Lines)."),
        click.option("--events", "events", multiple=True, type=NameEqualsPath(),
                     help="An event source: NAME=PATH (orders are read from 'orders')."),
        click.option("--key", help="The customer key column (default: customer_id)."),
        click.option("--as-of", "as_of", type=AsOfParam(),
                     help="Reference date or timestamp (default: now)."),
        click.option("--engine", metavar="NAME",
                     help="The engine that evaluates: arrow (default), duckdb, spark, or a plugin's."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def load(project_file: str | None, rules: tuple[str, ...], sources: tuple[Any, ...],
         events: tuple[Any, ...], key: str | None, as_of: dt.date | str | None,
         out: str | None = None, engine: str | None = None) -> tuple[Project, PluginRegistry]:
    """The project the flags describe, and the plugins, with load failures warned about."""
    registry = get_registry()
    for failure in registry.failures:
        stderr.print(f"[yellow]warning:[/] {failure.format()}", markup=True)
    if project_file is not None:
        project = load_project(project_file)
    else:
        found = find_project_file()
        project = load_project(found) if found else Project.without_file()
    project = project.with_overrides(rules=rules, sources=sources, events=events, out=out,
                                     key=key, as_of=as_of, engine=engine, registry=registry)
    return project, registry


def with_project(function: Callable[..., Any]) -> Callable[..., Any]:
    """Load the project from the shared options and pass it (and the plugins) on."""

    @project_options
    @functools.wraps(function)
    def wrapper(project_file: str | None, rules: tuple[str, ...], sources: tuple[Any, ...],
                events: tuple[Any, ...], key: str | None, as_of: dt.date | str | None,
                engine: str | None, **kwargs: Any) -> Any:
        out = kwargs.get("out")
        project, registry = load(project_file, rules, sources, events, key, as_of, out, engine)
        return function(project, registry, **kwargs)

    return wrapper



def open_sources(project: Project, registry: PluginRegistry) -> dict[str, Source]:
    """The project's sources by name, built with their options and the run's context (a
    command reads them itself, as `segmint clv` reads the orders)."""
    return instantiate_sources(project, registry, project.context())
