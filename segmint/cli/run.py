"""`segmint run`: evaluate the project's segments, print their sizes, deliver to sinks."""

from __future__ import annotations

from typing import Any

import attrs
import click
from rich.table import Table

from segmint.errors import SegmintError
from segmint.plugin.host import PluginRegistry
from segmint.project.config import Project
from segmint.project.pipeline import deliver, display_path, execute, prepare, sizes
from segmint.delivery.snapshots import store_snapshot
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
        status.update("checking rules")
        prepared = prepare(project, registry)
        unknown = [name for name in sinks if name not in prepared.sinks]
        if unknown:
            raise SegmintError(f"unknown sink '{unknown[0]}'; the project has: "
                               f"{', '.join(prepared.sinks) or 'none'}")
        outcome = execute(prepared, progress=status.update)
        snapshot = None
        if not dry_run:
            status.update("storing the run")
            snapshot = store_snapshot(prepared, outcome.result)
            outcome = attrs.evolve(outcome, result=attrs.evolve(outcome.result, run_id=snapshot.run_id))
        status.update("delivering")
        deliveries = deliver(prepared, outcome, only=sinks, dry_run=dry_run)
    console = stdout_console()
    membership = outcome.result.membership
    total = membership.num_rows
    console.print(f"segments as of {prepared.as_of.instant:%Y-%m-%d %H:%M:%S} UTC, {total:,} customers")
    table = Table()
    table.add_column("segment")
    table.add_column("members", justify="right")
    table.add_column("share", justify="right")
    for name, count in sizes(membership, project.key, prepared.rules):
        share = f"{100 * count / total:.1f}%" if total else "-"
        table.add_row(name, f"{count:,}", share)
    console.print(table)
    for line in outcome.report.lines():
        console.print(line)
    for delivery in deliveries:
        console.print(_describe(delivery))
        for message in delivery.messages:
            console.print(f"  {message}")
    if snapshot is not None:
        console.print(f"run {snapshot.run_id} stored in {display_path(snapshot.path)}")


def _describe(delivery: Any) -> str:
    target = f" → {delivery.target}" if delivery.target else ""
    parts = [f"{getattr(delivery, label):,} {label}" for label in ("added", "updated", "removed", "skipped")
             if getattr(delivery, label) or label == "added"]
    suffix = " (dry run: nothing was sent)" if delivery.dry_run else ""
    return f"sink {delivery.sink}: {', '.join(parts)}{target}{suffix}"
