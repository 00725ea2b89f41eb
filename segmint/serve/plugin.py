"""Built-in plugin adding `segmint serve` through the ``register_commands`` hook."""

from __future__ import annotations

import click

from segmint.plugin.hookspecs import hookimpl


@hookimpl
def register_commands(cli: click.Group) -> None:
    from segmint.serve.cli import command

    cli.add_command(command)
