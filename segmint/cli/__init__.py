"""The `segmint` command line: thin click commands over the engine.

Exit codes: 0 success, 1 a user error (message on stderr, no traceback), 2 usage.
"""

from __future__ import annotations

import click

from segmint.version import __version__
from segmint.cli.group import LazyGroup

_plugins_added = False


def _plugin_commands() -> None:
    """Commands that plugins add through the ``register_commands`` hook (added once)."""
    global _plugins_added
    if _plugins_added:
        return
    _plugins_added = True
    from segmint.plugin.host import get_registry
    from segmint.cli.common import stderr

    manager = get_registry().plugin_manager
    if manager is None:
        return
    for impl in manager.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as error:  # a broken plugin must not take the CLI down
            stderr.print(f"warning: plugin {impl.plugin_name} failed to add its commands: "
                         f"{type(error).__name__}: {error}")


@click.group(cls=LazyGroup, plugin_commands=_plugin_commands,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="segmint")
def cli() -> None:
    """Customer segmentation rules over Apache Arrow."""


def main() -> None:
    cli(prog_name="segmint")
