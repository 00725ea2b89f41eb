"""Built-in plugin adding `segmint serve` through the ``register_commands`` hook."""

from __future__ import annotations

import click

from segmint.engine.hookspecs import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import command

    cli.add_command(command)
