"""The `segmint` command line: thin click commands over the engine.

Exit codes: 0 success, 1 a user error (message on stderr, no traceback), 2 usage.
"""

from __future__ import annotations

import click

from .. import __version__
from .common import SegmintGroup


@click.group(cls=SegmintGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="segmint")
def cli() -> None:
    """Customer segmentation rules over Apache Arrow."""


def _register() -> None:
    from . import explain, init, plugins, profile, run, validate

    for module in (run, validate, explain, profile, plugins, init):
        cli.add_command(module.command)


_register()


def main() -> None:
    cli(prog_name="segmint")
