"""The `segmint` command group: errors as messages, commands imported when first used.

Built-in commands are named here with the module that defines each; a module (and what it
imports: pyarrow, the engine, the plugins) is imported only when its command runs or help
lists it, so `segmint --version` starts in a fraction of a second. Commands that plugins
add (the ``register_commands`` hook) are looked up only for a name that is not built in.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

import click

#: Built-in commands and the modules defining them (each has a ``command``).
BUILTIN = {name: f"segmint.cli.{name}" for name in
           ("run", "validate", "explain", "profile", "history", "diff", "report", "plugins",
            "init", "sql")}


class SegmintGroup(click.Group):
    """A group that turns every segmint error into a message and exit code 1, and every
    `SegmintWarning` into one ``warning:`` line."""

    def invoke(self, ctx: click.Context) -> Any:
        from segmint.errors import SegmintError, SegmintWarning  # here: `--version` never needs it

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", SegmintWarning)
                warnings.showwarning = _show_warning
                return super().invoke(ctx)
        except SegmintError as error:
            click.echo(f"error: {error}", err=True)
            ctx.exit(1)


_python_showwarning = warnings.showwarning


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """A `SegmintWarning` as one line, ``warning: message``; others as Python shows them."""
    from segmint.errors import SegmintWarning

    if issubclass(category, SegmintWarning):
        click.echo(f"warning: {message}", err=True)
    else:
        _python_showwarning(message, category, *args, **kwargs)


class LazyGroup(SegmintGroup):
    """A `SegmintGroup` importing each command's module when the command is first needed;
    `plugin_commands` adds the plugins' commands (once) when a name is not built in."""

    def __init__(self, *args: Any, plugin_commands: Callable[[], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plugin_commands = plugin_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        if self.plugin_commands is not None:
            self.plugin_commands()
        return sorted(set(super().list_commands(ctx)) | set(BUILTIN))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in BUILTIN and cmd_name not in self.commands:
            self.add_command(importlib.import_module(BUILTIN[cmd_name]).command)
        command = super().get_command(ctx, cmd_name)
        if command is None and self.plugin_commands is not None:
            self.plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command
