"""Errors a user can cause, each carrying what a caller needs to point at the mistake.

Everything raised for a user's mistake derives from `SegmintError`; the CLI turns it
into a message on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Diagnostic:
    """One problem at one place of a rule file, formatted as the language spec shows."""

    filename: str
    line: int
    column: int
    message: str
    source_line: str = ""
    width: int = 1
    hint: str | None = None

    def format(self) -> str:
        head = f"{self.filename}:{self.line}:{self.column}: {self.message}"
        parts = [head]
        if self.source_line.strip():
            text = self.source_line.expandtabs(4).rstrip()
            indent = len(text) - len(text.lstrip())
            shown = text.lstrip()
            before = self.source_line[: max(self.column - 1, 0)].expandtabs(4)
            offset = max(len(before) - indent, 0)
            if len(shown) > 100:  # show a window around the spot of a very long line
                start = max(offset - 40, 0)
                end = start + 80
                lead = "..." if start else ""
                tail = "..." if end < len(shown) else ""
                shown = lead + shown[start:end] + tail
                offset = offset - start + len(lead)
            width = max(1, min(self.width, max(len(shown) - offset, 1)))
            parts.append("    " + shown)
            parts.append("    " + " " * offset + "^" * width)
        if self.hint:
            parts.append(self.hint)
        return "\n".join(parts)


class SegmintWarning(UserWarning):
    """Something a user should know about a result that is still usable; the CLI prints
    it as ``warning: message``."""


class SegmintError(Exception):
    """Base of every error a user can cause; its text is meant to be shown as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


#: A message lists at most this many problems; the rest are only counted.
MAX_SHOWN = 100


class RuleError(SegmintError):
    """A rule file that does not parse or does not check; lists every problem found.

    `omitted` counts problems found but not kept (a checker stops recording after many),
    so the total stays true without formatting thousands of them.
    """

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic, omitted: int = 0) -> None:
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        if not diagnostics:
            raise ValueError("RuleError needs at least one diagnostic")
        self.diagnostics = tuple(diagnostics)
        self.omitted = omitted
        shown = self.diagnostics[:MAX_SHOWN]
        total = len(self.diagnostics) + omitted
        text = "\n\n".join(d.format() for d in shown)
        if total > len(shown):
            text += f"\n\n{total} errors ({total - len(shown)} more not shown)"
        elif total > 1:
            text += f"\n\n{total} errors"
        super().__init__(text)

    @property
    def filename(self) -> str:
        return self.diagnostics[0].filename

    @property
    def line(self) -> int:
        return self.diagnostics[0].line

    @property
    def column(self) -> int:
        return self.diagnostics[0].column


class ConfigError(SegmintError):
    """A bad project file or plugin option; names the file and the key."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        prefix = ""
        if file and key:
            prefix = f"{file}: {key}: "
        elif file:
            prefix = f"{file}: "
        elif key:
            prefix = f"{key}: "
        super().__init__(prefix + message)


class DataError(SegmintError):
    """Bad or missing input data; names the source, file, line (or row) and column where known.

    ``line`` is a line of a file as an editor numbers it (a CSV header is line 1); ``row``
    is a row of a table handed over in memory (the first row is row 1).
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        line: int | None = None,
    ) -> None:
        self.source = source
        self.file = file
        self.row = row
        self.line = line
        self.column = column
        self.reason = message  # the message without the place
        where = []
        if source:
            where.append(f"source '{source}'")
        if file:
            where.append(str(file))
        if line is not None:
            where.append(f"line {line}")
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column '{column}'")
        super().__init__((", ".join(where) + ": " if where else "") + message)


class EvaluationError(SegmintError):
    """A rule that checked but failed on the data (an integer overflow, say)."""


class PluginError(SegmintError):
    """A plugin that failed to load, registered a clashing name, or raised while working."""
