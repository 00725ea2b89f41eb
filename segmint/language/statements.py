"""A rule file cut into statements at their header lines (`segment ...`, `segmentation ...`).

Each statement is then parsed on its own, so one bad rule does not hide the errors of the
next and a huge file never builds one huge parse. Stray and under-indented lines are
reported here, before any parsing.
"""

from __future__ import annotations

import re

from segmint.errors import Diagnostic

_HEADER = re.compile(r"^[ \t]*(segmentation|segment)(?=[ \t\"':]|$)", re.IGNORECASE)


class Chunk:
    """One statement's lines: its text, and where it starts in the file."""

    __slots__ = ("text", "line", "pos")

    def __init__(self, text: str, line: int, pos: int) -> None:
        self.text = text
        self.line = line
        self.pos = pos


def split_statements(text: str, filename: str, diagnostics: list[Diagnostic], file_lines: Lines) -> list[Chunk]:
    """Cut a file into statements at header lines; report stray and under-indented lines."""
    chunks: list[Chunk] = []
    # Lines end at "\n" only, as lark counts them (str.splitlines also splits at "\f"...).
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    pos = 0
    current: list[str] = []
    start_line = start_pos = 0
    header_indent = 0

    def flush() -> None:
        if current:
            chunks.append(Chunk("".join(current), start_line, start_pos))

    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        code = stripped.split("#", 1)[0].strip() if stripped.startswith("#") else stripped
        indent = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
        if _HEADER.match(line):
            flush()
            current = [line]
            start_line, start_pos, header_indent = number, pos, indent
        elif not code:
            if current:
                current.append(line)
        elif not current:
            diagnostics.append(
                Diagnostic(
                    filename, number, indent + 1, "expected 'segment' or 'segmentation'",
                    file_lines[number], width=len(stripped.split()[0]) if stripped else 1,
                    hint="a rule starts with: segment NAME: CONDITION",
                )
            )
        elif indent <= header_indent:
            diagnostics.append(
                Diagnostic(
                    filename, number, indent + 1,
                    "a condition that continues on the next line must be indented",
                    file_lines[number], width=len(stripped.split()[0]),
                    hint=f"indent it deeper than the header on line {start_line}",
                )
            )
            current.append("\n")
        else:
            current.append(line)
        pos += len(line)
    flush()
    return chunks



class Lines:
    """A file's lines by number, split once (only when an error needs them)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[str] | None = None

    def __getitem__(self, number: int) -> str:
        if self._lines is None:
            self._lines = [line.rstrip("\r") for line in self.text.split("\n")]
        return self._lines[number - 1] if 0 < number <= len(self._lines) else ""

