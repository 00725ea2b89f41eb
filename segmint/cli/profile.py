"""`segmint profile`: the profile table (key + metric columns) a run would evaluate."""

from __future__ import annotations

import click
import pyarrow as pa
from rich.table import Table

from segmint.engines.arrow.explain import format_value
from segmint.plugin.host import PluginRegistry, sink_for_path
from segmint.plugin.options import build_options
from segmint.plugin.api import RunResult
from segmint.project.config import Project
from segmint.project.named_columns import find_columns
from segmint.project.pipeline import prepare, read_profile, segment_infos
from segmint.cli import lazy_pandas
from segmint.cli.common import (
    MAX_COLUMN_WIDTH, DelayedStatus, columns_that_fit, stdout_console, with_project,
)

PREVIEW_ROWS = 20
PREVIEW_COLUMNS = 7


@click.command("profile")
@with_project
@click.option("--metrics", "metrics", help="Comma-separated columns to compute (default: those the rules use, "
              "or every metric column that needs no model fit).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the table to a file (.parquet or .csv).")
def command(project: Project, registry: PluginRegistry, metrics: str | None, out: str | None) -> None:
    """Compute the profile table: one row per customer with its metric columns."""
    if out:  # nothing is shown, so nothing needs pandas (`lazy_pandas`)
        lazy_pandas.defer()
    with DelayedStatus() as status:
        prepared = prepare(project, registry, require_rules=False)
        if metrics:
            columns = find_columns(prepared, [m.strip() for m in metrics.split(",") if m.strip()])
        elif prepared.checked.columns_used:
            columns = prepared.checked.columns_used
        else:
            columns = [c for c in prepared.checked.catalog.columns
                       if c.via is not None and c.via != "metric clv"]
        table = read_profile(prepared, columns, status.update)
    if out:
        _write(project, registry, table, out, prepared)
        click.echo(f"wrote {table.num_rows:,} customers x {table.num_columns - 1} columns to {out}")
        return
    _show(table)


def _write(project: Project, registry: PluginRegistry, table: pa.Table, out: str, prepared: object) -> None:
    sink_class = sink_for_path(registry, out)
    options = build_options(sink_class.Options, {"path": str(out)}, plugin=sink_class.name, where="--out")
    sink = sink_class("profile", options, project.context())
    sink.deliver(RunResult(table, table, project.key, prepared.as_of.instant,  # type: ignore[attr-defined]
                           segment_infos(prepared.rules)))  # type: ignore[attr-defined]


def _show(table: pa.Table) -> None:
    """The first rows, and as many columns as fit the terminal (at most PREVIEW_COLUMNS);
    the others are named below."""
    console = stdout_console()
    console.print(f"profile: {table.num_rows:,} customers, {table.num_columns - 1} columns"
                  + (f"; the first {PREVIEW_ROWS} rows" if table.num_rows > PREVIEW_ROWS else ""))
    rows = [[format_value(v) for v in row.values()]
            for row in table.slice(0, PREVIEW_ROWS).to_pylist()]
    widths = [max([len(name), *(len(r[i]) for r in rows)]) for i, name in enumerate(table.column_names)]
    shown = min(PREVIEW_COLUMNS, columns_that_fit(console, widths, fixed=1))
    view = Table()
    for name in table.column_names[:shown]:
        view.add_column(name, no_wrap=True, max_width=MAX_COLUMN_WIDTH, overflow="ellipsis")
    for row in rows:
        view.add_row(*row[:shown])
    console.print(view)
    hidden = table.column_names[shown:]
    if hidden:
        console.print(f"{len(hidden)} more columns: {', '.join(hidden)} "
                      "(choose with --metrics, or write all with --out)", overflow="fold")
