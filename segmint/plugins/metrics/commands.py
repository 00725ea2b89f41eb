"""`segmint clv fit` and `segmint clv validate`: the CLV models on a project's orders.

Registered through the ``register_commands`` hook, so the command line gains them exactly
as it would gain a third-party plugin's commands.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from segmint.errors import ConfigError, SegmintError
from segmint.plugin.api import PROFILES
from segmint.plugin.commands import PluginRegistry, Project, open_sources, parse_as_of, with_project
from segmint.plugin.hookspecs import hookimpl

ORDERS = "orders"


@hookimpl
def register_commands(cli: click.Group) -> None:
    cli.add_command(clv)


@click.group("clv")
def clv() -> None:
    """Fit and check the predictive CLV models (BG/NBD and Gamma-Gamma)."""


def _orders(project: Project, registry: PluginRegistry) -> Any:
    sources = open_sources(project, registry)
    source = sources.get(ORDERS)
    if source is None or source.role == PROFILES:
        raise SegmintError("no 'orders' event source: add one with --events orders=PATH "
                           "or a [sources.orders] table with role = \"events\"")
    data = source.read(None)
    return data.read_all() if hasattr(data, "read_all") else data


def _date(value: Any, option: str) -> dt.date | dt.datetime:
    if value is None:
        raise ConfigError(f"{option} is required: the date the observation period ends")
    return value


@clv.command("fit")
@with_project
@click.option("--time-unit", type=click.Choice(["day", "week"]), default="week", show_default=True)
@click.option("--penalizer", type=float, help="L2 penalty on the model parameters (default 0).")
@click.option("--json", "as_json", is_flag=True, help="Print the fit as JSON.")
def fit(project: Project, registry: PluginRegistry, time_unit: str, penalizer: float | None,
        as_json: bool) -> None:
    """Fit BG/NBD and Gamma-Gamma on the orders up to --as-of; print the parameters."""
    from segmint.plugins.metrics import fit_clv

    as_of = _date(project.as_of, "--as-of")
    result = fit_clv(_orders(project, registry), as_of, time_unit=time_unit, penalizer=penalizer,
                     key=project.key, timezone=project.timezone, options=project.metrics)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.format())


@clv.command("validate")
@with_project
@click.option("--calibration-end", required=True, help="Fit on orders up to this date.")
@click.option("--time-unit", type=click.Choice(["day", "week"]), default="week", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def validate(project: Project, registry: PluginRegistry, calibration_end: str, time_unit: str,
             as_json: bool) -> None:
    """Fit up to --calibration-end, compare predicted with actual orders up to --as-of."""
    from segmint.plugins.metrics import validate_clv

    end = parse_as_of(calibration_end)
    holdout_end = _date(project.as_of, "--as-of")
    if isinstance(end, dt.datetime) or isinstance(holdout_end, dt.datetime):
        raise ConfigError("--calibration-end and --as-of must be dates for clv validate")
    report = validate_clv(_orders(project, registry), end, holdout_end, time_unit=time_unit,
                          key=project.key, timezone=project.timezone, options=project.metrics)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.format())
