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
    """Cut a file into statements at header lines; report stray and under-indented lines.

    A statement's text is the file's, from its header to the next one (blank lines and
    comments included), with each under-indented line (reported) left blank."""
    chunks: list[Chunk] = []
    start_line = start_pos = header_indent = 0  # the statement under way (line 0: none yet)
    blanked: list[tuple[int, int]] = []  # the offsets of its under-indented lines
    pos = 0
    # Lines end at "\n" only, as lark counts them (str.splitlines also splits at "\f"...).
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if stripped and stripped[0] != "#":  # a line of code, not blank or a comment
            indent = _indent(line)
            if stripped[0] in "sS" and _HEADER.match(line):
                if start_line:
                    chunks.append(_chunk(text, start_line, start_pos, pos, blanked))
                start_line, start_pos, header_indent, blanked = number, pos, indent, []
            elif not start_line:
                diagnostics.append(
                    Diagnostic(
                        filename, number, indent + 1, "expected 'segment' or 'segmentation'",
                        file_lines[number], width=len(stripped.split()[0]),
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
                blanked.append((pos, pos + len(line) + 1))
        pos += len(line) + 1
    if start_line:
        chunks.append(_chunk(text, start_line, start_pos, len(text), blanked))
    return chunks


def _indent(line: str) -> int:
    """The width of the line's leading whitespace, a tab counting to the next 4 columns."""
    if "\t" in line:
        line = line.expandtabs(4)
    return len(line) - len(line.lstrip())


def _chunk(text: str, line: int, start: int, end: int, blanked: list[tuple[int, int]]) -> Chunk:
    """The statement at `text[start:end]`, each `blanked` range (a line and its end) made
    one line end."""
    if not blanked:
        return Chunk(text[start:end], line, start)
    pieces, at = [], start
    for blank_start, blank_end in blanked:
        pieces.append(text[at:blank_start])
        pieces.append("\n")
        at = blank_end
    pieces.append(text[at:end])
    return Chunk("".join(pieces), line, start)


class Lines:
    """A file's lines by number, split once (only when an error needs them)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[str] | None = None

    def __getitem__(self, number: int) -> str:
        if self._lines is None:
            self._lines = [line.rstrip("\r") for line in self.text.split("\n")]
        return self._lines[number - 1] if 0 < number <= len(self._lines) else ""

