"""Hook specifications: what a segmint plugin can provide.

A plugin is a module or object with functions marked `@segmint.hookimpl`, found through
the ``segmint`` entry-point group (built-ins included). Each ``register_*`` hook returns a
list; segmint collects the lists of all plugins and refuses two objects of one kind that
share a name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # the types the hooks return; imported only for type checkers (no cycle)
    import click

    from segmint.engines.base import Engine
    from segmint.plugin.api import Function, Metric, Sink, Source

hookspec = pluggy.HookspecMarker("segmint")
hookimpl = pluggy.HookimplMarker("segmint")


@hookspec
def register_sources() -> list[type[Source]]:
    """Return source classes (subclasses of `segmint.Source`).

    A source reads customer data as Arrow: profiles (one row per customer) or events
    (customer key, timestamp and attributes). Its class attribute ``name`` is what a project
    file writes as ``plugin = "..."``; its ``Options`` attrs class declares the options,
    which segmint validates when the project loads.
    """


@hookspec
def register_metrics() -> list[Metric]:
    """Return metric definitions (`segmint.Metric` values).

    A metric declares the columns it provides (name, Arrow type, description) and what it
    needs (an event source role such as ``orders``); segmint calls its ``compute`` only when
    a rule or a command uses one of its columns.
    """


@hookspec
def register_sinks() -> list[type[Sink]]:
    """Return sink classes (subclasses of `segmint.Sink`).

    A sink delivers a run's result somewhere (a file, an email tool, a database). Its
    ``deliver(result, dry_run=...)`` returns a `segmint.Delivery` with the counts of what
    was (or, in a dry run, would be) added, updated, removed and skipped.
    """


@hookspec
def register_functions() -> list[Function]:
    """Return functions for the rules language (`segmint.Function` values).

    A function has a name, parameter types and a result type for the type checker, and one
    builder per engine that builds the call's expression on that engine (a
    `pyarrow.compute.Expression` on arrow) from its arguments' expressions.
    """


@hookspec
def register_engines() -> list[type[Engine]]:
    """Return engine classes (subclasses of `segmint.engines.base.Engine`).

    An engine evaluates checked rules over the run's data (in process, in DuckDB, on a
    Spark cluster, in a warehouse) and returns the membership table every engine gives
    alike. Its class attribute ``name`` is what a project writes as ``engine = "..."``
    and the command line as ``--engine NAME``; segmint builds it with no arguments. See
    docs/architecture.md for what `Engine.evaluate` receives and returns.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``segmint`` command line.

    ``cli`` is the top-level `click.Group`; call ``cli.add_command(...)``. Commands load
    projects the way the built-in ones do, with `segmint.with_project`. A plugin
    whose hook raises is reported and skipped; the other commands keep working.
    """
