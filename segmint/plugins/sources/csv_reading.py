"""Reading a delimited text file as text cells, with the line each row starts on.

pyarrow parses; this module accounts for what a parser does not say. A stray quote makes
a parser read thousands of lines as one value and carry on: the file's line count is
compared with the rows read, and where they differ (a value over several lines), each
value's line breaks are counted, so the line each row starts on is known and a value
running over more than ``max_value_lines`` is reported where it opened. Rows with the
wrong number of cells are collected rather than stopping the read.
"""

from __future__ import annotations

import codecs
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

#: The block size pyarrow parses in, first; a row longer than it is read again with
#: `MAX_ROW_BYTES` blocks. No row may be longer than that.
BLOCK_BYTES = 1 << 20
MAX_ROW_BYTES = 64 << 20


class RowTooLong(Exception):
    """A row longer than `limit` bytes, starting on `line` (None where not found)."""

    def __init__(self, line: int | None, limit: int) -> None:
        super().__init__(line, limit)
        self.line = line
        self.limit = limit


@attrs.frozen
class Malformed:
    """A row with the wrong number of cells."""

    line: int
    text: str
    expected: int
    actual: int


@attrs.frozen
class LongValue:
    """A value running over more lines than a value may: most likely a stray quote."""

    index: int | None  # the row's position in the table read (None: a malformed row)
    column: str | None
    line: int  # the line the value opens on
    lines: int  # how many lines it runs over
    text: str = ""  # the row's text, for a malformed row


@attrs.frozen
class TextRead:
    """What `read_text` found: the asked columns as text, and where each row is."""

    table: pa.Table
    lines: np.ndarray  # int64, the line each row of `table` starts on
    malformed: tuple[Malformed, ...] = ()
    long_values: tuple[LongValue, ...] = ()


@attrs.frozen
class CsvFormat:
    """How to parse one file: its path, separator, encoding and null cell texts."""

    path: Path
    delimiter: str
    encoding: str  # the name pyarrow takes ("utf8" for UTF-8)
    null_values: Sequence[str]

    def options(self, columns: Sequence[str], *, include: Sequence[str] = (),
                handler: Any = None, block_size: int = BLOCK_BYTES) -> dict[str, Any]:
        """pyarrow's options reading `columns` as text (only `include` when given)."""
        return {
            "read_options": pacsv.ReadOptions(encoding=self.encoding, use_threads=False,
                                              block_size=block_size),
            "parse_options": pacsv.ParseOptions(delimiter=self.delimiter, invalid_row_handler=handler,
                                                newlines_in_values=True),
            "convert_options": pacsv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.string()), include_columns=list(include),
                null_values=list(self.null_values), strings_can_be_null=True),
        }


def header(fmt: CsvFormat) -> list[str]:
    """The column names: the file's first record, read by Python's csv module (pyarrow would
    guess every column's type to name them, slow for a header of 100,000 columns)."""
    encoding = "utf-8-sig" if fmt.encoding == "utf8" else fmt.encoding
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(min(MAX_ROW_BYTES, sys.maxsize))
        with fmt.path.open(encoding=encoding, errors="replace", newline="") as f:  # pyarrow checks the text
            return next(csv.reader(f, delimiter=fmt.delimiter), [])
    except csv.Error:
        raise RowTooLong(1, MAX_ROW_BYTES) from None
    finally:
        csv.field_size_limit(limit)


def sample(fmt: CsvFormat, columns: Sequence[str]) -> tuple[pa.Table, int]:
    """The first block of the file, every column as text; malformed rows left out. And the
    block size it was read with: `BLOCK_BYTES`, or more where the first row is longer."""
    def first(block_size: int) -> tuple[pa.Table, int]:
        options = fmt.options(columns, handler=lambda row: "skip",
                              block_size=block_size)
        with pacsv.open_csv(fmt.path, **options) as reader:
            try:
                return pa.Table.from_batches([reader.read_next_batch()]), block_size
            except StopIteration:
                return reader.schema.empty_table(), block_size

    return _with_longer_blocks(fmt, first)


def read_text(fmt: CsvFormat, columns: Sequence[str], names: Sequence[str], *,
              max_value_lines: int) -> TextRead:
    """`names` of a file whose header is `columns`, as text, with each row's line, the
    malformed rows and the values running over more than `max_value_lines` lines."""
    table, rejected = _read(fmt, columns, names)
    records = table.num_rows + len(rejected)
    header_lines = 1 + sum(c.count("\n") for c in columns)
    counted = _data_lines(fmt, header_lines)
    if counted == records:  # one line per row: no value runs over a line break
        numbers = _record_numbers(table.num_rows, rejected)
        malformed = [Malformed(n + header_lines - 1, text, e, a) for n, text, e, a in rejected]
        return TextRead(table, numbers + header_lines - 1, tuple(malformed))
    whole = table if list(names) == list(columns) else _read(fmt, columns, columns)[0]
    return _with_line_breaks(fmt, table, whole, rejected, header_lines, counted, max_value_lines)


def _read(fmt: CsvFormat, columns: Sequence[str], names: Sequence[str]) -> tuple[pa.Table, list[tuple]]:
    rejected: list[tuple[int, str, int, int]] = []

    def keep(row: Any) -> str:
        rejected.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    def read(block_size: int) -> pa.Table:
        rejected.clear()
        options = fmt.options(columns, include=names, handler=keep,
                              block_size=block_size)
        return pacsv.read_csv(fmt.path, **options)

    return _with_longer_blocks(fmt, read), list(rejected)


def _with_longer_blocks(fmt: CsvFormat, read: Any) -> Any:
    """`read(block_size)`, again with `MAX_ROW_BYTES` blocks where a row is longer than a block."""
    try:
        return read(BLOCK_BYTES)
    except pa.ArrowInvalid as error:
        if "straddling" not in str(error):
            raise
    try:
        return read(MAX_ROW_BYTES)
    except pa.ArrowInvalid as error:
        if "straddling" not in str(error):
            raise
        raise RowTooLong(find_long_row(fmt), MAX_ROW_BYTES) from None


def find_long_row(fmt: CsvFormat) -> int | None:
    """The line where the first row longer than `MAX_ROW_BYTES` starts (Python's csv module,
    only once pyarrow has refused the file)."""
    limit = csv.field_size_limit()
    encoding = "utf-8" if fmt.encoding == "utf8" else fmt.encoding
    try:
        csv.field_size_limit(min(MAX_ROW_BYTES, sys.maxsize))
        with fmt.path.open(encoding=encoding, errors="replace", newline="") as f:
            reader = csv.reader(f, delimiter=fmt.delimiter)
            start = 1
            try:
                for _ in reader:
                    start = reader.line_num + 1
            except csv.Error:
                return start
    finally:
        csv.field_size_limit(limit)
    return None


def _data_lines(fmt: CsvFormat, header_lines: int) -> int | None:
    """How many lines follow the header, blank lines at the end aside; None for an encoding
    whose line break is not the byte ``\\n``."""
    if "\n".encode(codecs.lookup(fmt.encoding).name, errors="replace") != b"\n":
        return None
    breaks, tail = 0, b""
    with fmt.path.open("rb") as f:
        while chunk := f.read(16 << 20):
            breaks += chunk.count(b"\n")
            tail = (tail + chunk)[-4096:]
    trailing = tail[len(tail.rstrip(b"\r\n")):]
    lines = breaks - trailing.count(b"\n") + (1 if tail.rstrip(b"\r\n") else 0)
    return lines - header_lines


def _scan_starts(fmt: CsvFormat) -> np.ndarray:
    """The line each data row starts on, by Python's csv module: only for a file whose line
    count the rows and their values' line breaks do not explain (blank lines between rows)."""
    encoding = "utf-8" if fmt.encoding == "utf8" else fmt.encoding
    starts, previous = [], 0
    with fmt.path.open(encoding=encoding, errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=fmt.delimiter)
        for record in reader:
            if record:
                starts.append(previous + 1)
            previous = reader.line_num
    return np.array(starts[1:], dtype=np.int64)


def _record_numbers(rows: int, rejected: list[tuple]) -> np.ndarray:
    """The record numbers (the header is record 1) of the rows pyarrow kept."""
    numbers = np.arange(2, rows + len(rejected) + 2, dtype=np.int64)
    if rejected:
        numbers = np.delete(numbers, [n - 2 for n, *_ in rejected])
    return numbers


def _line_breaks(table: pa.Table) -> np.ndarray:
    """How many line breaks each row's cells hold, all columns together."""
    total = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        total += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy()
    return total


def _with_line_breaks(fmt: CsvFormat, table: pa.Table, whole: pa.Table, rejected: list[tuple],
                      header_lines: int, counted: int | None, max_value_lines: int) -> TextRead:
    """Line numbers and long values where some values hold line breaks."""
    spans = np.ones(table.num_rows + len(rejected), dtype=np.int64)
    kept = np.ones(len(spans), dtype=bool)
    kept[[n - 2 for n, *_ in rejected]] = False
    spans[kept] += _line_breaks(whole)
    for n, text, *_ in rejected:
        spans[n - 2] += text.count("\n")
    starts = header_lines + 1 + np.concatenate([[0], np.cumsum(spans)[:-1]]).astype(np.int64)
    if counted is None or int(spans.sum()) != counted:
        scanned = _scan_starts(fmt)
        if len(scanned) == len(starts):
            starts = scanned
    lines = starts[kept]
    malformed, long_values = [], []
    for n, text, expected, actual in rejected:
        line = int(starts[n - 2])
        if text.count("\n") + 1 > max_value_lines:
            long_values.append(LongValue(None, None, line, text.count("\n") + 1, text))
        else:
            malformed.append(Malformed(line, text, expected, actual))
    long_values += _long_values(whole, lines, max_value_lines)
    return TextRead(table, lines, tuple(malformed), tuple(sorted(long_values, key=lambda v: v.line)))


def _long_values(table: pa.Table, lines: np.ndarray, max_value_lines: int) -> list[LongValue]:
    """The cells holding `max_value_lines` line breaks or more, each with the line it opens on."""
    counts = [pc.fill_null(pc.count_substring(c, "\n"), 0).to_numpy() for c in table.columns]
    found = []
    for position, column in enumerate(table.column_names):
        for index in np.flatnonzero(counts[position] + 1 > max_value_lines):
            before = sum(int(counts[p][index]) for p in range(position))
            found.append(LongValue(int(index), column, int(lines[index]) + before,
                                   int(counts[position][index]) + 1))
    return found
