"""`segmint plugins`: installed plugins and what each provides."""

from __future__ import annotations

import click
from rich.table import Table

from segmint.plugin.host import get_registry
from segmint.cli.common import stdout_console


@click.command("plugins")
def command() -> None:
    """List installed plugins, their sources, metrics, sinks, functions and engines."""
    registry = get_registry()
    table = Table(title="segmint plugins")
    for column in ("plugin", "version", "entry point", "sources", "metrics", "sinks", "functions",
                   "engines"):
        table.add_column(column)
    for info in registry.plugins:
        table.add_row(info.distribution, info.version, info.entry_point,
                      ", ".join(info.sources), ", ".join(info.metrics),
                      ", ".join(info.sinks), ", ".join(info.functions), ", ".join(info.engines))
    console = stdout_console()
    console.print(table)
    for failure in registry.failures:
        console.print(f"[red]failed:[/] {failure.format()}")
