"""What the sources reading a tool's CSV export share (CRM, surveys): every cell read as text
through the ``csv`` source (so its errors name file, line and column), then converted by the
plugin, and bad cells reported through the owning source's `bad_row`. Each row's line in
the file travels with the table as an int64 array."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.plugin.api import Source, SourceSettings

from segmint.plugins.sources.csv import CsvOptions, CsvSource
from segmint.plugins.sources.file_common import COLUMN_TYPES, type_name
from segmint.plugins.sources.text_types import convert_text

#: What may stand around and inside an exported number: "$1,200,000", "1 200", "€ 5".
_NUMBER_DECORATION = re.compile(r"[\s,'_$€£¥]")


class ExportFile:
    """One exported CSV file of a source, read as text."""

    def __init__(self, owner: Source, path: Path, key: str, *, encoding: str = "utf-8",
                 delimiter: str | None = None) -> None:
        self.owner = owner
        self.path = path
        self.key = key
        self.encoding = encoding
        self.delimiter = delimiter
        self._header: list[str] | None = None

    def _reader(self, columns: dict[str, str]) -> CsvSource:
        options = CsvOptions(path=self.path, encoding=self.encoding, delimiter=self.delimiter,
                             columns=columns)
        # the owner's bad-row mode, not its project settings (those apply to the owner's output)
        settings = SourceSettings(on_bad_rows=self.owner.on_bad_rows, origin=self.owner.origin)
        reader = CsvSource(self.owner.source_name, options,
                           attrs.evolve(self.owner.context, key=self.key, source=settings))
        reader.skipped_rows = self.owner.skipped_rows  # bad rows count as the owner's
        return reader

    def header(self) -> list[str]:
        """The column names, from the first block (the file is checked as a csv source is)."""
        if self._header is None:
            self._header = self._reader({}).schema().names
        return self._header

    def read(self) -> tuple[pa.Table, np.ndarray]:
        """Every column as text, and the file's line each row starts on."""
        reader = self._reader({name: "string" for name in self.header()})
        table = reader.read()
        assert reader.line_numbers is not None
        return table, reader.line_numbers

    def guessed_types(self) -> dict[str, pa.DataType]:
        """Each column's type as the ``csv`` source guesses it from the first block."""
        schema = self._reader({}).schema()
        return {name: schema.field(name).type for name in schema.names}

    def error(self, message: str, *, line: int | None = None, column: str | None = None,
              row: int | None = None):
        return self._reader({}).error(message, line=line if line is not None else row, column=column)


def convert(owner: ExportFile, table: pa.Table, column: str, type_name_: str, numbers: np.ndarray,
            *, source_column: str | None = None,
            guessed: tuple[str, str] | None = None) -> tuple[pa.Table, set[int]]:
    """`column` of text cells converted to a ``columns`` type name; bad cells reported (and
    their positions returned, for the caller to drop the rows under ``on_bad_rows = "skip"``).
    Numbers may carry thousands separators and currency signs ("$1,200,000"). A type
    `guessed` from the values is named (option, column) in the error, so the user can
    choose another; an int column whose misfits are all decimals becomes float."""
    target = COLUMN_TYPES[type_name_]
    values = table.column(column)
    if target == pa.string():
        return table, set()
    if pa.types.is_integer(target) or pa.types.is_floating(target):
        values = pc.replace_substring_regex(values, pattern=_NUMBER_DECORATION.pattern, replacement="")
        values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
        if pa.types.is_integer(target):  # "1200.0" from a spreadsheet is still 1200
            values = pc.replace_substring_regex(values, pattern=r"\.0+$", replacement="")
    converted, misfit = convert_text(values, target, widen=guessed is not None)
    bad = [int(i) for i in np.flatnonzero(misfit.to_numpy(zero_copy_only=False))]
    for i in bad:
        raw = table.column(column)[i].as_py()
        message = f"cannot read '{raw}' as {type_name(converted.type)}"
        if guessed is not None:
            option, name = guessed
            message += ("; the type was guessed from the first rows, choose it with the"
                        f' {option} option (for example {option} = {{ {name} = "string" }})')
        owner.owner.bad_row(owner.error(message, line=int(numbers[i]), column=source_column or column))
    return table.set_column(table.column_names.index(column), column, converted), set(bad)


def drop_rows(table: pa.Table, numbers: np.ndarray, bad: set[int]) -> tuple[pa.Table, np.ndarray]:
    """The table and line numbers without the rows at positions `bad`."""
    if not bad:
        return table, numbers
    keep = np.ones(table.num_rows, dtype=bool)
    keep[sorted(bad)] = False
    return table.filter(pa.array(keep)), numbers[keep]


def snake_case(name: str) -> str:
    """``"Number of Employees"`` → ``number_of_employees``: an export's column as a rules name."""
    text = re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_").lower()
    return text if text and not text[0].isdigit() else f"c_{text}"
