"""`segmint history`: the runs stored under the project's state directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from rich.table import Table

from segmint.project.config import Project, find_project_file, load_project
from segmint.delivery.snapshots import latest_run_id, list_snapshots
from segmint.project.pipeline import display_path
from segmint.cli.common import stdout_console

project_option = click.option(
    "-p", "--project", "project_file", type=click.Path(dir_okay=False),
    help="Project file (default: ./segmint.toml when present).")


def show_instant(text: str) -> str:
    """An ISO instant from run.json as the run command prints it: ``1998-06-30 23:59:59 UTC``."""
    try:
        instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return f"{instant.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def state_path(project_file: str | None) -> Path:
    """The state directory of the project `-p` names (or ./segmint.toml, or the default)."""
    if project_file is not None:
        return load_project(project_file).state_path
    found = find_project_file()
    return (load_project(found) if found else Project.without_file()).state_path


@click.command("history")
@project_option
@click.option("-n", "--last", "last", type=click.IntRange(min=1), default=20, show_default=True,
              help="Show only the latest N runs.")
def command(project_file: str | None, last: int) -> None:
    """List stored runs, oldest first: id, as_of and members per segment."""
    state = state_path(project_file)
    runs = list_snapshots(state)[-last:]
    console = stdout_console()
    if not runs:
        console.print(f"no runs stored in {display_path(state)} yet")
        return
    latest = latest_run_id(state)
    names = list(dict.fromkeys(name for run in reversed(runs) for name in run.counts))
    table = Table()
    for column in ("run", "created", "as of", *names):
        table.add_column(column, justify="left" if column in ("run", "created", "as of") else "right")
    for run in runs:
        mark = " (latest)" if run.run_id == latest else ""
        counts = [f"{run.counts[n]:,}" if n in run.counts else "-" for n in names]
        table.add_row(run.run_id + mark, show_instant(run.created_at), show_instant(run.as_of), *counts)
    console.print(table)
