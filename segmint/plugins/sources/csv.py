"""The built-in ``csv`` source: delimited text files (``.csv``, ``.tsv``) read with pyarrow.

Types are guessed from the first block (about 1 MB) unless the ``columns`` option names
them; the key column is always read as text, so identifiers such as ``00123`` keep their
leading zeros. Empty cells are null.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from segmint.errors import DataError

from segmint.plugins.sources.file_common import (
    COLUMN_TYPES, FileSource, check_column_types, check_encoding, convert_cells, is_utf8, retype,
    type_name,
)

LIST_TYPE = "list[string]"
_CONVERSION = re.compile(
    r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to (.+?): (.*)", re.DOTALL
)
_INVALID_VALUE = re.compile(r"invalid value '(.*)'$", re.DOTALL)
_ROW = re.compile(r"Row #(\d+): ")


def _one_character(instance: Any, attribute: attrs.Attribute, value: str | None) -> None:
    if value is not None and len(value) != 1:
        raise ValueError(f"must be a single character, got {value!r}", attribute)


def _not_empty(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if not value:
        raise ValueError("must not be empty", attribute)


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


class CsvSource(FileSource):
    """Customer data from a delimited text file."""

    name = "csv"
    description = "delimited text files (.csv, .tsv)"
    Options = CsvOptions
    extensions = (".csv", ".tsv")
    skips_bad_rows = True

    def _read_schema(self) -> pa.Schema:
        if self.on_bad_rows == "skip":  # bad rows in the first block must not stop the schema
            typed = {n: pa.string() for n in self._column_types()}
            options = self._reader_options(column_types=typed, invalid_row_handler=lambda row: "skip")
        else:
            options = self._reader_options()
        with pacsv.open_csv(self.path, **options) as reader:
            schema = reader.schema
        self._check_text(schema)
        self._check_delimiter(schema)
        if self.on_bad_rows == "skip":
            schema = retype(schema, self._column_types())
        return retype(schema, dict.fromkeys(self._list_columns(), COLUMN_TYPES[LIST_TYPE]))

    #: The file's row number of each row the last read returned, when rows were left out.
    row_numbers: list[int] | None = None

    def _read_table(self, names: list[str]) -> pa.Table:
        if self.on_bad_rows == "skip":
            return self._split_lists(self._read_skipping(names))
        table = pacsv.read_csv(self.path, **self._reader_options(include=names))
        self._check_text(table.schema)
        return self._split_lists(table)

    def _read_skipping(self, names: list[str]) -> pa.Table:
        """Read every cell as text, leave out malformed rows and rows with a cell that does
        not fit its column's type (each reported through `bad_row`), then convert."""
        schema = self._read_schema()
        malformed: list[Any] = []

        def keep(row: Any) -> str:
            malformed.append(row)
            return "skip"

        options = self._reader_options(
            include=names, column_types={n: pa.string() for n in names},
            use_threads=False, invalid_row_handler=keep,
        )
        table = pacsv.read_csv(self.path, **options)
        self._check_text(table.schema)
        for row in malformed:
            message = f"expected {row.expected_columns} columns, got {row.actual_columns}"
            self.bad_row(self.error(message, row=row.number), text=row.text)
        skipped = {row.number for row in malformed}
        numbers = [n for n in range(2, table.num_rows + len(skipped) + 2) if n not in skipped]
        self.row_numbers = numbers
        bad: set[int] = set()
        for name in names:
            target = schema.field(name).type
            if target == pa.string() or pa.types.is_list(target):
                continue
            converted, cells = convert_cells(table[name], target)
            for i in cells:
                value = table[name][i].as_py()
                self.bad_row(
                    self.error(f"cannot read '{value}' as {type_name(target)}", row=numbers[i], column=name),
                    text=self._row_text(table, i),
                )
            bad.update(cells)
            table = table.set_column(table.column_names.index(name), name, converted)
        if bad:
            table = table.filter(pa.array([i not in bad for i in range(table.num_rows)]))
            self.row_numbers = [n for i, n in enumerate(numbers) if i not in bad]
        return table

    def _row_text(self, table: pa.Table, index: int) -> str:
        values = table.slice(index, 1).to_pylist()[0].values()
        return self._delimiter().join("" if v is None else str(v) for v in values)

    def _check_delimiter(self, schema: pa.Schema) -> None:
        """A header read as one column that holds another separator: the wrong delimiter."""
        if len(schema) != 1 or self.context.key in schema.names:
            return
        header = schema.names[0]
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

    def _reader_options(
        self, *, include: list[str] | None = None, column_types: dict | None = None, **read: Any
    ) -> dict[str, Any]:
        options = self.options
        encoding = "utf8" if is_utf8(options.encoding) else options.encoding
        handler = read.pop("invalid_row_handler", None)
        return {
            "read_options": pacsv.ReadOptions(encoding=encoding, **read),
            "parse_options": pacsv.ParseOptions(
                delimiter=self._delimiter(), invalid_row_handler=handler
            ),
            "convert_options": pacsv.ConvertOptions(
                column_types=self._column_types() if column_types is None else column_types,
                include_columns=include or [],
                null_values=options.null_values,
                strings_can_be_null=True,
            ),
        }

    def _delimiter(self) -> str:
        if self.options.delimiter is not None:
            return self.options.delimiter
        return "\t" if self.path.suffix.lower() == ".tsv" else ","

    def _column_types(self) -> dict[str, pa.DataType]:
        types = {self.context.key: pa.string()}
        for name, type_name in self.options.columns.items():
            types[name] = pa.string() if type_name == LIST_TYPE else COLUMN_TYPES[type_name]
        return types

    def _list_columns(self) -> list[str]:
        return [name for name, t in self.options.columns.items() if t == LIST_TYPE]

    def _check_text(self, schema: pa.Schema) -> None:
        """pyarrow reads text that is not valid UTF-8 as binary: a wrong encoding."""
        for field in schema:
            if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
                raise self.encoding_error(self.options.encoding, column=field.name)

    def _explain(self, exc: pa.ArrowException) -> DataError:
        text = str(exc)
        if text.startswith("Empty CSV file"):
            return self.error("file is empty")
        if "CSV parse error" in text:
            return self._explain_parse_error(text)
        match = _CONVERSION.search(text)
        if match:
            return self._explain_conversion(match)
        return self.error(text)

    def _explain_parse_error(self, text: str) -> DataError:
        """Find the bad row by parsing again in one thread, where pyarrow knows row numbers."""
        rows: list[Any] = []

        def keep(row: Any) -> str:
            rows.append(row)
            return "error"

        try:
            options = self._reader_options(use_threads=False, invalid_row_handler=keep)
            pacsv.read_csv(self.path, **options)
        except pa.ArrowException as again:
            text = str(again)
        if rows:
            row = rows[0]
            message = f"expected {row.expected_columns} columns, got {row.actual_columns}"
            return self.error(f"{message}: {row.text}", row=row.number)
        detail = text.split("CSV parse error: ", 1)[-1]
        found = _ROW.match(detail)
        if found:
            return self.error(detail[found.end():], row=int(found.group(1)))
        return self.error(detail)

    def _explain_conversion(self, match: re.Match[str]) -> DataError:
        header = self._header()
        index = int(match.group(1))
        column = header[index] if index < len(header) else None
        arrow_type, detail = match.group(3), match.group(4)
        if "invalid UTF8" in detail:
            return self.encoding_error(self.options.encoding, column=column)
        value = _INVALID_VALUE.search(detail)
        if value is None or column is None:
            return self.error(f"cannot read a value as {arrow_type}: {detail}", column=column)
        row = int(match.group(2)) if match.group(2) else self._row_of(column, value.group(1))
        message = f"cannot read '{value.group(1)}' as {_type_name(arrow_type)}"
        if column not in self.options.columns:
            message += (
                "; the type was guessed from the first rows, choose it with the columns option"
                f' (for example columns = {{ {column} = "string" }})'
            )
        return self.error(message, row=row, column=column)

    def _header(self) -> list[str]:
        with self.path.open(encoding=self.options.encoding, errors="replace", newline="") as f:
            return next(csv.reader(f, delimiter=self._delimiter()), [])

    def _row_of(self, column: str, value: str) -> int | None:
        """The row (the header is row 1) where `value` first appears in `column`."""
        options = self._reader_options(include=[column], column_types={column: pa.string()})
        try:
            cells = pacsv.read_csv(self.path, **options)[column]
        except pa.ArrowException:
            return None
        index = pc.index(cells, value).as_py()
        return index + 2 if index >= 0 else None


def _type_name(arrow_type: str) -> str:
    """The ``columns`` option's name for an Arrow type pyarrow printed, where one exists."""
    for name, t in COLUMN_TYPES.items():
        if str(t) == arrow_type:
            return name
    return arrow_type
