"""`segmint sql`: print the SQL query that computes the membership table from the sources."""

from __future__ import annotations

import click

from segmint.cli.common import with_project
from segmint.plugin.host import PluginRegistry
from segmint.project.config import Project
from segmint.project.sql import membership_sql

DIALECTS = ("duckdb", "spark", "postgres", "bigquery", "snowflake")


@click.command("sql")
@click.option("--dialect", default="duckdb", show_default=True, metavar="NAME",
              help=f"The SQL dialect: {', '.join(DIALECTS)}.")
@with_project
def command(project: Project, registry: PluginRegistry, dialect: str) -> None:
    """Print the SQL computing every segment, to run in a warehouse (a dbt model, a
    scheduled query): one row per customer, a true/false column per segment, a label
    column per segmentation."""
    click.echo(membership_sql(project, registry, dialect=dialect), nl=False)
