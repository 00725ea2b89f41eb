"""The built-in ``jsonl`` source: JSON Lines files, one JSON object per line.

pyarrow guesses column types from the JSON values (ISO date strings become timestamps);
the ``columns`` option casts columns to other types after reading. pyarrow's row numbers
count from the start of a block, so on an error the file is scanned to find the real line.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from segmint.errors import DataError

from segmint.plugins.sources.file_common import (
    COLUMN_TYPES, FileSource, check_column_types, check_encoding, convert_cells, is_utf8, retype,
)

_TYPE_CHANGE = re.compile(r"Column\((/[^)]*)\) changed from (\w+) to (\w+)")
_IN_ROW = re.compile(r"\s*in row \d+\s*$")
#: Under on_bad_rows = "skip", the schema comes from this many good lines.
SCHEMA_LINES = 10_000


@attrs.frozen
class JsonlOptions:
    """Options of the ``jsonl`` source."""

    path: Path = attrs.field(metadata={"help": "the file, relative to the project directory"})
    encoding: str = attrs.field(
        default="utf-8", validator=check_encoding, metadata={"help": "the file's text encoding"}
    )
    columns: dict[str, str] = attrs.field(
        factory=dict,
        validator=check_column_types,
        metadata={"help": "column types to cast to after reading, by column name"},
    )


class JsonlSource(FileSource):
    """Customer data from a JSON Lines file."""

    name = "jsonl"
    description = "JSON Lines files (.jsonl, .ndjson)"
    Options = JsonlOptions
    extensions = (".jsonl", ".ndjson")
    skips_bad_rows = True
    types_option = "columns"

    def _stream(self) -> pa.NativeFile:
        stream = pa.input_stream(str(self.path))
        if is_utf8(self.options.encoding):
            return stream
        return pa.transcoding_input_stream(stream, self.options.encoding, "utf-8")

    def _read_schema(self) -> pa.Schema:
        if self.on_bad_rows == "skip":  # from the first good lines, bad ones passed over
            lines = [line for _, line in self._good_lines(limit=SCHEMA_LINES, report=False)]
            schema = pajson.read_json(io.BytesIO("".join(lines).encode("utf-8"))).schema
        else:
            with self._stream() as stream, pajson.open_json(stream) as reader:
                schema = reader.schema
        return retype(schema, {name: COLUMN_TYPES[t] for name, t in self.options.columns.items()})

    def _read_table(self, names: list[str]) -> pa.Table:
        if self.on_bad_rows == "skip":
            return self._read_skipping(names)
        with self._stream() as stream:
            table = pajson.read_json(stream).select(names)
        self._check_text(table)
        for name, type_name in self.options.columns.items():
            if name in table.column_names:
                table = self._cast(table, name, COLUMN_TYPES[type_name])
        return table

    def _read_skipping(self, names: list[str]) -> pa.Table:
        """Leave out lines that are not JSON objects, whose values change JSON type from the
        earlier lines', or that do not fit the ``columns`` types (each through `bad_row`)."""
        good = list(self._good_lines())
        kept = [line for _, line in good]
        numbers = [number for number, _ in good]
        if not kept:
            raise self.error("no row could be read")
        table = pajson.read_json(io.BytesIO("".join(kept).encode("utf-8")))
        missing = [n for n in names if n not in table.column_names]
        if missing:
            raise self.error(f"no row has column '{missing[0]}'")
        table = table.select(names)
        self._check_text(table)
        bad: set[int] = set()
        for name, type_name in self.options.columns.items():
            if name not in table.column_names:
                continue
            converted, cells = convert_cells(table[name], COLUMN_TYPES[type_name])
            for i in cells:
                message = f"cannot read {json.dumps(table[name][i].as_py())} as {type_name}"
                self.bad_row(self.error(message, row=numbers[i], column=name), text=kept[i].rstrip("\n"))
            bad.update(cells)
            table = table.set_column(table.column_names.index(name), name, converted)
        if bad:
            table = table.filter(pa.array([i not in bad for i in range(table.num_rows)]))
        return table

    def _good_lines(self, limit: int | None = None, report: bool = True) -> Iterator[tuple[int, str]]:
        """(line number, line) of the lines that are JSON objects whose values keep the JSON
        type of earlier lines; the others go to `bad_row` when `report`."""
        kinds: dict[str, str] = {}
        found = 0
        with self.path.open(encoding=self.options.encoding) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                text = line.rstrip("\r\n")
                reason, column = None, None
                try:
                    value = json.loads(line)
                except ValueError as exc:
                    reason = f"not valid JSON: {exc.args[0]}"
                else:
                    if not isinstance(value, dict):
                        reason = "the line is not a JSON object"
                    else:
                        column = next((c for c, v in value.items() if c in kinds
                                       and _json_kind(v) not in (None, kinds[c])), None)
                        if column is not None:
                            reason = (f"values change type from {kinds[column]}"
                                      f" to {_json_kind(value[column])}")
                if reason is not None:
                    if report:
                        self.bad_row(self.error(reason, row=number, column=column), text=text)
                    continue
                for name, v in value.items():
                    kind = _json_kind(v)
                    if kind is not None:
                        kinds.setdefault(name, kind)
                yield number, text + "\n"
                found += 1
                if limit is not None and found >= limit:
                    return

    def _cast(self, table: pa.Table, name: str, to: pa.DataType) -> pa.Table:
        try:
            column = pc.cast(table[name], to)
        except pa.ArrowException as exc:
            wanted = self.options.columns[name]
            raise self.error(f"cannot read the values as {wanted}: {exc}", column=name) from None
        return table.set_column(table.column_names.index(name), name, column)

    def _check_text(self, table: pa.Table) -> None:
        """pyarrow keeps bytes that are not UTF-8 in string columns; refuse such files."""
        for name in table.column_names:
            if pa.types.is_string(table[name].type):
                try:
                    table[name].validate(full=True)
                except pa.ArrowInvalid:
                    raise self.encoding_error(self.options.encoding, column=name) from None

    def _explain(self, exc: pa.ArrowException) -> DataError:
        text = str(exc)
        if text.startswith("Empty JSON"):
            return self.error("file is empty")
        detail = _IN_ROW.sub("", text.split("JSON parse error: ", 1)[-1])
        change = _TYPE_CHANGE.search(text)
        if change:
            column = change.group(1).split("/")[1]
            row = self._scan(column)[0]
            message = f"values change type from {change.group(2)} to {change.group(3)}"
            return self.error(message, row=row, column=column)
        row, reason = self._scan()
        return self.error(reason or detail, row=row)

    def _scan(self, column: str | None = None) -> tuple[int | None, str | None]:
        """The first line that is not a JSON object, or whose `column` changes JSON type."""
        first_kind = None
        with self.path.open(encoding=self.options.encoding, errors="replace") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except ValueError:
                    return number, None
                if not isinstance(value, dict):
                    return number, "the line is not a JSON object"
                kind = _json_kind(value.get(column)) if column else None
                if kind is None:
                    continue
                if first_kind is None:
                    first_kind = kind
                elif kind != first_kind:
                    return number, None
        return None, None


def _json_kind(value: Any) -> str | None:
    """The JSON type of a value as pyarrow's messages name it (None for null or absent)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "value")
