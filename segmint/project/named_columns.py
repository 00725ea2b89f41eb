"""Columns of a checked project named by the user (`--columns`, a sink's contact or
consent column): ``name`` or ``source.name``, found in the rules' catalog, with the
"did you mean" of the known names when one is not there or is ambiguous."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from segmint.errors import SegmintError
from segmint.language.catalog import Column
from segmint.semantics.names import name_hint

if TYPE_CHECKING:
    from segmint.project.pipeline import Prepared


def find_columns(prepared: Prepared, names: Sequence[str]) -> list[Column]:
    """Catalog columns by name (`name` or `source.name`), for commands that ask for some."""
    catalog = prepared.checked.catalog
    found = []
    for text in names:
        source, _, name = text.rpartition(".")
        matches = catalog.find(name, source or None)
        if len(matches) != 1:
            known = sorted(set(catalog.names()))
            close = name_hint(text, known)
            reason = "is ambiguous" if matches else "is not a known column or metric"
            hint = f"; {close}" if close else ""
            raise SegmintError(f"'{text}' {reason}{hint} (columns come from: {catalog.describe_sources()})")
        found.append(matches[0])
    return found
