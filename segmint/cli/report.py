"""`segmint report`: the value, people, quality and effect of each segment of a stored run."""

from __future__ import annotations

from pathlib import Path

import click

from segmint.errors import SegmintError
from segmint.plugin.host import PluginRegistry
from segmint.project.config import Project
from segmint.project.pipeline import display_path
from segmint.cli.common import DelayedStatus, stdout_console, with_project


@click.command("report")
@with_project
@click.option("--run", "run", default="latest", show_default=True,
              help="The stored run to report on: an id, a unique prefix, 'latest' or 'previous'.")
@click.option("--compare", help="A run to compare with (growth, migration): id, prefix or 'previous'.")
@click.option("--outcomes", help="An event source whose events after as_of count as conversions.")
@click.option("--window", default="30d", show_default=True,
              help="How long after as_of an outcome counts (a duration: 30d, 2w, 3mo).")
@click.option("--out", "output", type=click.Path(dir_okay=False),
              help="Write the report to a file: .html (self-contained), .json or .md.")
def command(project: Project, registry: PluginRegistry, run: str, compare: str | None,
            outcomes: str | None, window: str, output: str | None) -> None:
    """Report on a stored run: value, growth, overlap, personas, warnings, holdout lift."""
    from segmint.report import FLAVOURS, ReportRequest, build_report, write_report

    if output is not None and Path(output).suffix.lower() not in FLAVOURS:
        raise SegmintError(f"--out: a report is written as {', '.join(FLAVOURS)}; "
                           f"'{output}' ends in neither")
    with DelayedStatus() as status:
        status.update("building the report")
        report = build_report(project, registry, ReportRequest(run, compare, outcomes, window))
    if output is None:
        from segmint.report.presentation.terminal import show

        show(report, stdout_console())
        return
    target = write_report(report, output)
    click.echo(f"wrote the report of run {report.run.id} ({len(report.segments)} segments, "
               f"{len(report.warnings)} warnings) to {display_path(target.absolute())}")
