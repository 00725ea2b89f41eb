"""What the commands share: error handling, output, the delayed spinner. The project
options and loading are `segmint.plugin.commands` (public: plugin commands use them too)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console

from segmint.plugin.commands import (  # noqa: F401 - the commands' shared names, in one place
    AsOfParam, NameEqualsPath, load, project_options, stderr, with_project,
)


def stdout_console() -> Console:
    """Where commands print; piped or captured output is as wide as it needs (no line is
    wrapped or cut off), a terminal gets its own width."""
    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=10_000)


#: The widest a column of values is shown; longer values are cut with an ellipsis.
MAX_COLUMN_WIDTH = 40


def columns_that_fit(console: Console, widths: Sequence[int], fixed: int = 1) -> int:
    """How many of a table's columns (of content `widths`, in order) fit `console`'s width
    in a rich table with borders: the first `fixed` always, then as many as fit. The rest
    are left out, and the caller says which, rather than squeezing every column to a
    sliver that shows nothing."""
    used = 1  # the left border
    count = 0
    for i, width in enumerate(widths):
        need = min(width, MAX_COLUMN_WIDTH) + 3  # padding and the border after it
        if i >= fixed and used + need > console.width:
            break
        used += need
        count += 1
    return count


class DelayedStatus:
    """A spinner on stderr that appears only when the work takes more than a second."""

    def __init__(self, delay: float = 1.0) -> None:
        self.delay = delay
        self.message = "working"
        self._status: Any = None
        self._timer = threading.Timer(delay, self._show)
        self._timer.daemon = True
        self._lock = threading.Lock()
        self.started = time.monotonic()

    def _show(self) -> None:
        with self._lock:
            if self._status is None and stderr.is_terminal:
                self._status = stderr.status(self.message)
                self._status.start()

    def update(self, message: str) -> None:
        with self._lock:
            self.message = message
            if self._status is not None:
                self._status.update(message)

    def __enter__(self) -> DelayedStatus:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            if self._status is not None:
                self._status.stop()
