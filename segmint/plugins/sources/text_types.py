"""Types of text cells: what a column of text holds (guessed by inspection) and the text
converted to it, with the cells that do not fit found by Arrow kernels, not row by row.

A column is typed when at least `SHARE` of its non-empty cells read as one type; the few
that do not are bad values (an error naming their line, or quarantined rows), wherever in
the file they fall. A column where more do not fit stays text, and so does one holding a
code that a number would mangle (`IDENTIFIER`: ``02134``, ``+14155550100``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: The share of a column's non-empty cells that must read as a type for the column to get it.
SHARE = 0.99
TIMESTAMP = pa.timestamp("us")
TIMESTAMPTZ = pa.timestamp("us", tz="UTC")

_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
_ZONE = r"(Z|[+-]\d{2}(:?\d{2})?)"
#: What a cell of each type looks like (RE2, anchored); Arrow's cast has the last word.
PATTERNS: dict[pa.DataType, str] = {
    pa.int64(): r"^-?\d{1,18}$",
    pa.float64(): r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$",
    pa.bool_(): r"^(?i:true|false|1|0)$",
    pa.date32(): rf"^{_DATE}$",
    TIMESTAMP: rf"^{_DATE}({_TIME})?$",
    TIMESTAMPTZ: rf"^{_DATE}{_TIME}{_ZONE}$",
}
#: The types a column may be guessed to have, in the order they are tried.
GUESSES: Sequence[pa.DataType] = (pa.int64(), pa.float64(), pa.bool_(), pa.date32(), TIMESTAMP, TIMESTAMPTZ)
#: A cell written as a code, not a quantity: digits with a leading zero (zip codes such as
#: ``02134``, ``007``) or an international phone number (``+14155550100``). Read as a number
#: it would lose its zero or its plus, so a column holding one such cell is never a number.
IDENTIFIER = r"^-?0\d+$|^\+\d{6,}$"
NUMBERS = (pa.int64(), pa.float64())


def guess_type(values: pa.ChunkedArray | pa.Array) -> pa.DataType:
    """The type of a column of text cells (nulls are empty cells): the first of `GUESSES`
    that at least `SHARE` of its non-empty cells read as, else text."""
    return guess_types(pa.table({"values": values}))[0]


def guess_types(table: pa.Table) -> list[pa.DataType]:
    """`guess_type` of every column of a table of text, with one kernel call per candidate
    type for all columns together (a header may name 100,000 columns)."""
    width, height = table.num_columns, table.num_rows
    if not width or not height:
        return [pa.string()] * width
    cells = pa.concat_arrays([c for column in table.columns for c in column.chunks])
    present = (height - np.array([c.null_count for c in table.columns])).astype(float)
    guessed: list[pa.DataType | None] = [pa.string() if p == 0 else None for p in present]
    # the match as such (null as false in _flags): fill_null would make a Python scalar,
    # which imports pandas, and `segmint validate` guesses types without it
    codes = _flags(pc.match_substring_regex(cells, IDENTIFIER)).reshape(width, height).any(axis=1)
    for candidate in GUESSES:
        fits = _flags(pc.match_substring_regex(cells, PATTERNS[candidate]))
        counts = fits.reshape(width, height).sum(axis=1)
        for i in np.flatnonzero(counts >= SHARE * present):
            if guessed[i] is None and not (codes[i] and candidate in NUMBERS):
                guessed[i] = candidate
    return [pa.string() if t is None else t for t in guessed]


def _flags(matched: pa.BooleanArray) -> np.ndarray:
    """A boolean array (null as false) as numpy bytes, through its buffer: a Python scalar
    or ``to_numpy`` would import pandas, and `segmint validate` reads CSV schemas without it
    (tests/cli/test_startup.py)."""
    flat = pc.cast(pc.and_kleene(matched, pc.is_valid(matched)), pa.uint8())
    return np.frombuffer(flat.buffers()[1], dtype=np.uint8, count=len(flat), offset=flat.offset)


def _codes(values: pa.Array) -> pa.Array:
    """True where a cell is written as a code (`IDENTIFIER`), not a quantity."""
    return pc.fill_null(pc.match_substring_regex(values, IDENTIFIER), False)


def is_code(text: str) -> bool:
    """Whether one cell's text is a code a number would mangle (``02134``)."""
    return bool(_codes(pa.array([text], pa.string()))[0].as_py())


def misfits(values: pa.ChunkedArray | pa.Array, target: pa.DataType) -> pa.ChunkedArray | pa.Array:
    """True where a non-empty cell does not look like a `target` value."""
    return pc.invert(pc.fill_null(pc.match_substring_regex(values, PATTERNS[target]), True))


def convert_text(values: pa.ChunkedArray | pa.Array, target: pa.DataType, *,
                 widen: bool = False) -> tuple[pa.Array, pa.Array]:
    """`values` (text) as `target`, and a mask of the cells that do not fit it (null in the
    result). With `widen`, an int column whose misfits are all numbers becomes float64 (a
    guessed int column with later decimals is still a number column)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if target == pa.string() or pa.types.is_null(target):
        return values, no_cells(len(values))
    if target not in PATTERNS:
        raise ValueError(f"no text conversion to {target}")
    bad = misfits(values, target)
    # a guessed number column: a code met past the rows it was guessed from is a bad value
    code = _codes(values) if widen and target in NUMBERS else None
    if code is not None:
        bad = pc.or_kleene(bad, code)
    if widen and target == pa.int64() and pc.any(bad).as_py():
        as_float = misfits(values, pa.float64())
        if code is not None:
            as_float = pc.or_kleene(as_float, code)
        if not pc.any(as_float).as_py():
            target, bad = pa.float64(), as_float
    # a column with no misfit (the usual one) is cast as it is, not copied first
    good = pc.if_else(bad, pa.scalar(None, values.type), values) if pc.any(bad).as_py() else values
    try:
        return pc.cast(good, target), bad
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _cast_by_block(good, target, bad)


def no_cells(length: int) -> pa.Array:
    """A mask marking none of `length` cells."""
    return pc.fill_null(pa.nulls(length, pa.bool_()), False)


def _cast_by_block(values: pa.Array, target: pa.DataType, bad: pa.Array, block: int = 4096
                   ) -> tuple[pa.Array, pa.Array]:
    """The rare cells that look right but do not cast (``2024-02-30``, an int past int64):
    cast block by block, and cell by cell only in a block that fails."""
    parts, flags = [], []
    for start in range(0, len(values), block):
        part = values.slice(start, block)
        try:
            parts.append(pc.cast(part, target))
            flags.append(bad.slice(start, block))
            continue
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        cells, marks = [], bad.slice(start, block).to_pylist()
        for offset, cell in enumerate(part.to_pylist()):
            try:
                cells.append(pc.cast(pa.array([cell], part.type), target)[0].as_py())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                cells.append(None)
                marks[offset] = True
        parts.append(pa.array(cells, target))
        flags.append(pa.array(marks, pa.bool_()))
    if not parts:
        return pa.array([], target), pa.array([], pa.bool_())
    return pa.concat_arrays(parts), pa.concat_arrays(flags)
