"""`segmint validate`: parse and check the rules against the sources' schemas; read no data
(with ``--data``, evaluate them too and warn of holdouts too small to measure a lift)."""

from __future__ import annotations

import click

from segmint.language import ast
from segmint.plugin.host import PluginRegistry
from segmint.project.config import Project
from segmint.project.pipeline import prepare
from segmint.project.serve_options import serve_options
from segmint.cli.common import with_project


@click.command("validate")
@with_project
@click.option("--data", "data", is_flag=True,
              help="Also read the data and warn of holdouts too small to detect a lift.")
def command(project: Project, registry: PluginRegistry, data: bool) -> None:
    """Check rules, names, types, plugin and service options without reading data."""
    prepared = prepare(project, registry)
    serve_options(project)  # the service's options too, before anyone starts it
    statements = prepared.rules.statements
    segments = sum(isinstance(s, ast.Segment) for s in statements)
    segmentations = len(statements) - segments
    columns = len(prepared.checked.columns_used)
    click.echo(f"ok: {segments} segment(s), {segmentations} segmentation(s), "
               f"{columns} column(s) used, {len(prepared.profile_sources)} profile source(s)")
    if data:
        from segmint.report.build import holdout_check

        for warning in holdout_check(prepared):
            click.echo(f"warning [{warning.code}]: {warning.message}")
