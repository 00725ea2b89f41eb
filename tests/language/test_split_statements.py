"""A rule file cut into statements: each statement's text, line and offset in the file."""

from __future__ import annotations

import pytest

from segmint.errors import Diagnostic
from segmint.language.statements import Lines, split_statements


@pytest.mark.parametrize("text, chunks, problems", [
    ("segment a: x\n\n# c\nsegment b:\n  y",
     [("segment a: x\n\n# c\n", 1, 0), ("segment b:\n  y", 4, 18)], []),
    ("# head\n\n  segment a:\n    x\n", [("  segment a:\n    x\n", 3, 8)], []),
    ("stray\nsegment a: x\n", [("segment a: x\n", 2, 6)],
     [(1, 1, "expected 'segment' or 'segmentation'")]),
    # an under-indented line is reported and left blank, the last one too (with a line end)
    ("segment a:\n  x\nand y\n  or z", [("segment a:\n  x\n\n  or z", 1, 0)],
     [(3, 1, "a condition that continues on the next line must be indented")]),
    ("\tsegment a:\n\t\tx\n    and y", [("\tsegment a:\n\t\tx\n\n", 1, 0)],
     [(3, 5, "a condition that continues on the next line must be indented")]),
])
def test_split_statements(text: str, chunks: list[tuple[str, int, int]],
                          problems: list[tuple[int, int, str]]) -> None:
    diagnostics: list[Diagnostic] = []
    found = split_statements(text, "r.seg", diagnostics, Lines(text))
    assert [(c.text, c.line, c.pos) for c in found] == chunks
    assert [(d.line, d.column, d.message) for d in diagnostics] == problems
