"""What the checker asks of the engine the rules will run on, so that everything an engine
refuses is a check-time `RuleError` with its position, before any data is read.

`segmint.engines.base.Engine` is such a target; the language layer knows only this shape.
"""

from __future__ import annotations

from typing import Protocol

from segmint.plugin.api import Function


class Target(Protocol):
    """An engine as the checker sees it."""

    name: str

    def pattern_error(self, pattern: str) -> str | None:
        """Why the engine refuses a `matches` pattern, or None."""

    def supports(self, function: Function) -> bool:
        """Whether the engine can build a call of `function`."""
