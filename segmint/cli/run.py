"""`segmint run`: evaluate the project's segments, print their sizes, deliver to sinks."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from segmint.plugin.host import PluginRegistry
from segmint.project.config import Project
from segmint.project.pipeline import display_path, run_project
from segmint.cli.common import DelayedStatus, stdout_console, with_project


@click.command("run")
@with_project
@click.option("--out", type=click.Path(dir_okay=False), help="Write membership to a file (.parquet or .csv).")
@click.option("--sink", "sinks", multiple=True, help="Deliver only to this configured sink (repeatable).")
@click.option("--dry-run", is_flag=True, help="Show what sinks would send; send nothing.")
def command(project: Project, registry: PluginRegistry, out: str | None, sinks: tuple[str, ...],
            dry_run: bool) -> None:
    """Evaluate segments and deliver them to the project's sinks."""
    with DelayedStatus() as status:
        run = run_project(project, registry=registry, sinks=sinks, dry_run=dry_run,
                          progress=status.update)
    console = stdout_console()
    total = run.membership.num_rows
    console.print(f"segments as of {run.as_of:%Y-%m-%d %H:%M:%S} UTC, {total:,} customers")
    table = Table()
    table.add_column("segment")
    table.add_column("members", justify="right")
    table.add_column("share", justify="right")
    for name, count in run.sizes():
        share = f"{100 * count / total:.1f}%" if total else "-"
        table.add_row(name, f"{count:,}", share)
    console.print(table)
    choice = run.prepared.engine_choice
    if choice is not None and choice.notable:
        console.print(choice.line(), markup=False)
    for line in run.report.lines():
        console.print(line)
    for delivery in run.deliveries:
        console.print(_describe(delivery))
        for message in delivery.messages:
            console.print(f"  {message}")
    if run.snapshot is not None:
        console.print(f"run {run.snapshot.run_id} stored in {display_path(run.snapshot.path)}")


def _describe(delivery: Any) -> str:
    target = f" → {delivery.target}" if delivery.target else ""
    parts = [f"{getattr(delivery, label):,} {label}" for label in ("added", "updated", "removed", "skipped")
             if getattr(delivery, label) or label == "added"]
    suffix = " (dry run: nothing was sent)" if delivery.dry_run else ""
    return f"sink {delivery.sink}: {', '.join(parts)}{target}{suffix}"
