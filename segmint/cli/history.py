"""`segmint history`: the runs stored under the project's state directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from rich.table import Table

from segmint.project.config import Project, find_project_file, load_project
from segmint.delivery.snapshots import latest_run_id, list_snapshots
from segmint.project.pipeline import display_path
from segmint.cli.common import MAX_COLUMN_WIDTH, columns_that_fit, stdout_console
from segmint.errors import SegmintError
from segmint.semantics.names import did_you_mean

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
@click.option("--segment", "segments", multiple=True,
              help="Show only this segment (a segmentation: all its labels, or NAME=LABEL); repeatable.")
def command(project_file: str | None, last: int, segments: tuple[str, ...]) -> None:
    """List stored runs, oldest first: id, as_of and members per segment.

    Segments come in rule order (a segmentation's labels as its rule lists them); those that
    do not fit the terminal's width are named below the table instead of squeezed into it."""
    state = state_path(project_file)
    runs = list_snapshots(state)[-last:]
    console = stdout_console()
    if not runs:
        console.print(f"no runs stored in {display_path(state)} yet")
        return
    latest = latest_run_id(state)
    names = list(dict.fromkeys(name for run in reversed(runs) for name in run.counts))
    if segments:
        names = _chosen(names, segments)
    rows = [(run.run_id + (" (latest)" if run.run_id == latest else ""), show_instant(run.created_at),
             show_instant(run.as_of), *(f"{run.counts[n]:,}" if n in run.counts else "-" for n in names))
            for run in runs]
    headers = ("run", "created", "as of", *names)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    keep = list(range(len(headers)))
    if columns_that_fit(console, widths, fixed=3) < len(headers):
        keep.remove(1)  # when not all fit, segments matter more than when a run was made
    shown = keep[:columns_that_fit(console, [widths[i] for i in keep], fixed=2)]
    table = Table()
    for i in shown:
        table.add_column(headers[i], justify="left" if i < 3 else "right", no_wrap=True,
                         max_width=MAX_COLUMN_WIDTH, overflow="ellipsis")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    console.print(table)
    hidden = [h for i, h in enumerate(headers) if i > 2 and i not in shown]
    if hidden:
        console.print(f"{len(hidden)} more segments do not fit the terminal's width: "
                      f"{', '.join(hidden)} (pick some with --segment NAME)", overflow="fold")


def picks(audience: str, wanted: str) -> bool:
    """Whether `--segment WANTED` picks `audience`: the segment itself, a label of the
    segmentation it names (``NAME=LABEL``), or that one ``NAME=LABEL``."""
    return audience == wanted or audience.partition("=")[0] == wanted


def _chosen(names: list[str], wanted: tuple[str, ...]) -> list[str]:
    """The columns `--segment` picks (see `picks`); one it names that no run has is an error."""
    missing = [w for w in wanted if not any(picks(n, w) for n in names)]
    if missing:
        statements = list(dict.fromkeys(n.partition("=")[0] for n in names))
        raise SegmintError(f"--segment: no segment '{missing[0]}'{did_you_mean(missing[0], statements)}"
                           f" in the runs shown; they have: {', '.join(statements) or 'none'}")
    return [n for n in names if any(picks(n, w) for w in wanted)]
