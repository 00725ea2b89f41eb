"""The built-in ``csv`` source: delimited text files (``.csv``, ``.tsv``) read with pyarrow.

Every cell is read as text, then each column converted: to the type the ``columns`` option
names, or to the type at least 99% of the first block's (about 1 MB) non-empty cells have
(`text_types`), so a bad value is reported where it is, early or late in the file. The key
column is always text, so identifiers such as ``00123`` keep their leading zeros. Empty
cells are null. Errors name the file's line (the header is line 1); a quoted value running
over more than ``max_value_lines`` lines is taken for a stray quote (`csv_reading`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError

from segmint.plugins.sources.csv_reading import (
    BLOCK_BYTES, CsvFormat, RowTooLong, TextRead, header, read_text, sample,
)
from segmint.plugins.sources.file_common import (
    COLUMN_TYPES, FileSource, check_column_types, check_encoding, is_utf8, type_name,
)
from segmint.plugins.sources.text_types import convert_text, guess_types, is_code

LIST_TYPE = "list[string]"
_CONVERSION = re.compile(r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to (.+?): (.*)", re.DOTALL)
#: How much of a bad row's text a message shows.
EXCERPT = 200


def _one_character(instance: Any, attribute: attrs.Attribute, value: str | None) -> None:
    if value is not None and len(value) != 1:
        raise ValueError(f"must be a single character, got {value!r}", attribute)


def _not_empty(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not value:
        raise ValueError("must not be empty", attribute)


def _positive(instance: Any, attribute: attrs.Attribute, value: int) -> None:
    if value < 1:
        raise ValueError(f"must be 1 or more, got {value}", attribute)


@attrs.frozen
class CsvOptions:
    """Options of the ``csv`` source."""

    path: Path = attrs.field(metadata={"help": "the file, relative to the project directory"})
    delimiter: str | None = attrs.field(
        default=None,
        validator=_one_character,
        metadata={"help": 'the field separator; "," or, for .tsv files, a tab'},
    )
    encoding: str = attrs.field(
        default="utf-8", validator=check_encoding, metadata={"help": "the file's text encoding"}
    )
    columns: dict[str, str] = attrs.field(
        factory=dict,
        validator=check_column_types,
        metadata={"help": "column types to use instead of guessed ones, by column name"},
    )
    list_separator: str = attrs.field(
        default=";",
        validator=_not_empty,
        metadata={"help": "what separates the items of a list[string] column's cells"},
    )
    null_values: list[str] = attrs.field(
        factory=lambda: [""], metadata={"help": "cell texts that mean 'no value'"}
    )
    max_value_lines: int = attrs.field(
        default=5, validator=_positive,
        metadata={"help": "the most lines one quoted value may run over; a longer one is taken"
                          " for a stray quote (raise it for files with long notes)"},
    )


class CsvSource(FileSource):
    """Customer data from a delimited text file."""

    name = "csv"
    description = "delimited text files (.csv, .tsv)"
    Options = CsvOptions
    extensions = (".csv", ".tsv")
    skips_bad_rows = True
    types_option = "columns"

    #: The line each row of the last read starts on (the header is line 1).
    line_numbers: np.ndarray | None = None

    def _format(self) -> CsvFormat:
        encoding = "utf8" if is_utf8(self.options.encoding) else self.options.encoding
        return CsvFormat(self.path, self._delimiter(), encoding, tuple(self.options.null_values))

    def _read_schema(self) -> pa.Schema:
        try:
            names = header(self._format())
            self._check_delimiter(names)
            self._check_schema(pa.schema([(name, pa.string()) for name in names]))
            guessed = dict(zip(names, _guessed_types(self._format(), names), strict=True))
        except RowTooLong as error:
            raise self._too_long(error) from None
        return pa.schema([(name, self._column_type(name, guessed[name])) for name in names])

    def _column_type(self, name: str, guessed: pa.DataType) -> pa.DataType:
        if name == self.context.key:
            return pa.string()
        if name in self.options.columns:
            return COLUMN_TYPES[self.options.columns[name]]
        return guessed

    def _read_table(self, names: list[str]) -> pa.Table:
        schema = self._read_schema()
        try:
            text = read_text(self._format(), schema.names, names,
                             max_value_lines=self.options.max_value_lines)
        except RowTooLong as error:
            raise self._too_long(error) from None
        bad = self._structural(text)
        table, bad = self._convert(text, schema, bad)
        keep = np.ones(table.num_rows, dtype=bool)
        keep[sorted(bad)] = False
        self.line_numbers = text.lines[keep]
        if bad:
            table = table.filter(pa.array(keep))
        return self._split_lists(table)

    def _structural(self, text: TextRead) -> set[int]:
        """Report malformed rows and values over too many lines; the table rows to drop."""
        problems: list[tuple[int, DataError, str, int | None]] = []
        for row in text.malformed:
            message = f"expected {row.expected} columns, got {row.actual}: {_excerpt(row.text)}"
            problems.append((row.line, self.error(message, line=row.line), row.text, None))
        for value in text.long_values:
            message = (
                f"a quoted value runs over {value.lines:,} lines from here (to line"
                f" {value.line + value.lines - 1:,}), most likely a stray quote; a value may run"
                f" over at most {self.options.max_value_lines} lines: fix the quote, or raise"
                " max_value_lines for a file with long multi-line values"
            )
            where = self.error(message, line=value.line, column=value.column)
            row_text = value.text if value.index is None else self._row_text(text.table, value.index)
            problems.append((value.line, where, row_text, value.index))
        problems.sort(key=lambda p: p[0])
        if problems and self.on_bad_rows != "skip":
            raise problems[0][1]
        for _, error, row_text, _ in problems:
            self.bad_row(error, text=row_text)
        return {index for *_, index in problems if index is not None}

    def _convert(self, text: TextRead, schema: pa.Schema, bad: set[int]) -> tuple[pa.Table, set[int]]:
        """Each column converted from text to its type; bad cells reported in line order
        (the first raises, unless bad rows are skipped)."""
        table = text.table
        found: list[tuple[int, int, str, pa.DataType]] = []
        for name in table.column_names:
            target = schema.field(name).type
            if target == pa.string() or pa.types.is_list(target):
                continue
            converted, misfit = convert_text(table[name], target, widen=name not in self.options.columns)
            for index in np.flatnonzero(misfit.to_numpy(zero_copy_only=False)):
                if int(index) not in bad:
                    found.append((int(text.lines[index]), int(index), name, target))
                    if self.on_bad_rows != "skip":
                        break
            table = table.set_column(table.column_names.index(name), name, converted)
        found.sort(key=lambda f: (f[0], f[2]))
        for line, index, name, target in found:
            value = text.table[name][index].as_py()
            message = f"cannot read '{_excerpt(value)}' as {type_name(target)}"
            if name not in self.options.columns and isinstance(value, str) and is_code(value):
                message += " (it is a code: as a number it would lose its leading zero or plus)"
            if name not in self.options.columns:
                message += (
                    "; the type was guessed from the first rows, choose it with the columns option"
                    f' (for example columns = {{ {name} = "string" }})'
                )
            self.bad_row(self.error(message, line=line, column=name), text=self._row_text(text.table, index))
            bad.add(index)
        return table, bad

    def _too_long(self, error: RowTooLong) -> DataError:
        return self.error(
            f"a row is longer than {error.limit >> 20} MiB, the most one row may hold; most"
            " likely a quote that is never closed", line=error.line)

    def _row_text(self, table: pa.Table, index: int) -> str:
        values = table.slice(index, 1).to_pylist()[0].values()
        return self._delimiter().join("" if v is None else str(v) for v in values)

    def _check_delimiter(self, names: list[str]) -> None:
        """A header read as one column that holds another separator: the wrong delimiter."""
        if len(names) != 1 or self.context.key in names:
            return
        header = names[0]
        for candidate in (";", "\t", "|", ","):
            if candidate != self._delimiter() and candidate in header:
                shown = "\\t" if candidate == "\t" else candidate
                raise self.error(
                    f"the header reads as one column '{header}'; the file looks separated by"
                    f" '{shown}', not '{self._delimiter()}': set delimiter = \"{shown}\""
                )

    def _split_lists(self, table: pa.Table) -> pa.Table:
        separator = r"\s*" + re.escape(self.options.list_separator) + r"\s*"
        for name in self._list_columns():
            if name in table.column_names:
                cells = pc.utf8_trim_whitespace(table[name])
                index = table.column_names.index(name)
                table = table.set_column(index, name, pc.split_pattern_regex(cells, separator))
        return table

    def _delimiter(self) -> str:
        if self.options.delimiter is not None:
            return self.options.delimiter
        return "\t" if self.path.suffix.lower() == ".tsv" else ","

    def _list_columns(self) -> list[str]:
        return [name for name, t in self.options.columns.items() if t == LIST_TYPE]

    def _explain(self, exc: pa.ArrowException) -> DataError:
        text = str(exc)
        if text.startswith("Empty CSV file"):
            return self.error("file is empty")
        match = _CONVERSION.search(text)
        if match and "invalid UTF8" in match.group(4):
            try:
                names = header(self._format())
            except (pa.ArrowException, RowTooLong):
                names = []
            index = int(match.group(1))
            return self.encoding_error(self.options.encoding, column=names[index] if index < len(names) else None)
        if "CSV parse error: " in text:
            return self.error(_excerpt(text.split("CSV parse error: ", 1)[1]))
        return self.error(_excerpt(text))


#: Types guessed from files' first blocks, by what decides them: the format, the header and
#: the bytes the first block is read from. A run asks each file's schema several times
#: (the check, the metrics' columns, the read, an export's header); a file changed in
#: between has other bytes, so it is guessed again.
_GUESSED: dict[tuple[CsvFormat, tuple[str, ...], bytes], list[pa.DataType]] = {}
_GUESSED_KEPT = 64
#: Bytes of a file that decide its first block: the block's worth of text, four times over
#: for an encoding such as UTF-32 that pyarrow transcodes to a shorter UTF-8 block.
_FIRST_BYTES = 4 * BLOCK_BYTES


def _guessed_types(fmt: CsvFormat, names: list[str]) -> list[pa.DataType]:
    """`guess_types` of the file's first block (`sample`), remembered for the process by
    the block's bytes (a first row longer than a block is not remembered)."""
    with fmt.path.open("rb") as f:
        digest = hashlib.blake2b(f.read(_FIRST_BYTES), digest_size=20).digest()
    key = (fmt, tuple(names), digest)
    if key in _GUESSED:
        return _GUESSED[key]
    first, block_size = sample(fmt, names)
    guessed = guess_types(first)
    if block_size == BLOCK_BYTES:
        if len(_GUESSED) >= _GUESSED_KEPT:
            _GUESSED.clear()
        _GUESSED[key] = guessed
    return guessed


def _excerpt(text: str) -> str:
    """The start of a long text, for a message: its first line, at most `EXCERPT` characters."""
    first = text.split("\n", 1)[0]
    if len(first) > EXCERPT or len(first) < len(text):
        return first[:EXCERPT] + "…"
    return first
