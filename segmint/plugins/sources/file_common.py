"""What the built-in file sources share: path resolution, column type names, the checks
every source makes on its schema, and turning I/O errors into `DataError`s.

Each format module (csv_source, parquet_source, jsonl_source) implements only how to get
a schema cheaply, how to read a projected table, and how to explain its reader's errors.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError
from segmint.plugin.api import PluginContext, Source

#: Column types a user may name in a source's ``columns`` option.
COLUMN_TYPES: Mapping[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "list[string]": pa.list_(pa.string()),
}


#: How many column names a message lists; the rest are counted.
NAMES_SHOWN = 20


def name_list(names: Sequence[str], limit: int = NAMES_SHOWN) -> str:
    """Column names for a message: the first `limit`, then how many more there are."""
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit:,} more"


def resolve_path(path: Path, context: PluginContext) -> Path:
    """A path from a project file, relative to the project's directory."""
    path = path.expanduser()
    return path if path.is_absolute() else context.project_dir / path


def check_column_types(instance: Any, attribute: attrs.Attribute, value: Mapping[str, str]) -> None:
    """attrs validator: every type in a ``columns`` option is one segmint knows."""
    for column, type_name in value.items():
        if type_name not in COLUMN_TYPES:
            known = ", ".join(COLUMN_TYPES)
            raise ValueError(
                f"column '{column}' has unknown type '{type_name}' (known types: {known})",
                attribute,
            )


def check_encoding(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    """attrs validator: an encoding Python knows, such as "utf-8" or "latin-1"."""
    try:
        codecs.lookup(value)
    except LookupError:
        raise ValueError(f"unknown encoding '{value}'", attribute) from None


def is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def find_undecodable_line(path: Path, encoding: str) -> int | None:
    """The first line (1-based) that is not valid text in `encoding`, if any."""
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                return number
    return None


class FileSource(Source):
    """A source reading one file (or a directory of files), given by its ``path`` option."""

    #: Whether ``path`` may name a directory of files read as one data set.
    reads_directories = False

    def __init__(self, source_name: str, options: Any, context: PluginContext) -> None:
        super().__init__(source_name, options, context)
        self.path = resolve_path(options.path, context)

    def schema(self) -> pa.Schema:
        """The file's columns and types, from its first block or metadata only."""
        with self._data_errors():
            self._check_file()
            schema = self._read_schema()
            self._check_schema(schema)
            return schema

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The key column and `columns` (all columns when None), as one table."""
        schema = self.schema()
        names = self._projection(schema, columns)
        with self._data_errors():
            table = self._read_table(names).select(names)
        self._check_types(schema, table)
        return table

    # What a format implements.

    def _read_schema(self) -> pa.Schema:
        raise NotImplementedError

    def _read_table(self, names: list[str]) -> pa.Table:
        raise NotImplementedError

    def _explain(self, exc: pa.ArrowException) -> DataError:
        """A `DataError` for an error of the format's reader."""
        return self.error(str(exc))

    # Shared behaviour.

    def error(
        self, message: str, *, line: int | None = None, column: str | None = None,
        row: int | None = None,
    ) -> DataError:
        """A `DataError` naming this source, its file and the line (a file source's rows are
        counted in lines, so ``row`` is taken for the line)."""
        return DataError(
            message, source=self.source_name, file=str(self.options.path),
            line=line if line is not None else row, column=column,
        )

    def encoding_error(self, encoding: str, *, column: str | None = None) -> DataError:
        line = find_undecodable_line(self.path, encoding) if self.path.is_file() else None
        return self.error(
            f"the file is not valid {encoding} text; set its encoding option"
            ' (for example encoding = "latin-1")',
            line=line,
            column=column,
        )

    def _check_file(self) -> None:
        if not self.path.exists():
            raise self.error("file not found")
        if self.path.is_dir() and not self.reads_directories:
            raise self.error("is a directory, not a file")
        if self.path.is_file() and self.path.stat().st_size == 0:
            raise self.error("file is empty")

    def _check_names(self, names: Sequence[str]) -> None:
        """Refuse a header naming a column twice (in time linear in the number of columns)."""
        counts = collections.Counter(names)
        duplicates = sorted(n for n, c in counts.items() if c > 1)
        if duplicates:
            raise self.error("the column appears more than once", column=duplicates[0])

    def _check_schema(self, schema: pa.Schema) -> None:
        names = schema.names
        self._check_names(names)
        if self.context.key not in names:
            raise self.error(f"no key column '{self.context.key}' (columns: {name_list(names)})")
        for column in getattr(self.options, "columns", {}):
            if column not in names:
                raise self.error(f"the columns option names '{column}', which is not in the file")

    def _projection(self, schema: pa.Schema, columns: Sequence[str] | None) -> list[str]:
        wanted = schema.names if columns is None else [self.context.key, *columns]
        missing = [c for c in wanted if c not in schema.names]
        if missing:
            raise self.error(f"no column '{missing[0]}' (columns: {name_list(schema.names)})")
        return list(dict.fromkeys(wanted))

    def _check_types(self, schema: pa.Schema, table: pa.Table) -> None:
        """Refuse data whose later rows changed a column's type from what `schema` promised."""
        for field in table.schema:
            promised = schema.field(field.name).type
            if not _compatible(promised, field.type):
                raise self.error(
                    f"the first rows hold {promised} values but later rows hold {field.type};"
                    " choose the type with the columns option"
                    f' (for example columns = {{ {field.name} = "string" }})',
                    column=field.name,
                )

    @contextlib.contextmanager
    def _data_errors(self) -> Iterator[None]:
        """Turn the errors of reading a file into `DataError`s naming source and file."""
        try:
            yield
        except DataError:
            raise
        except FileNotFoundError:
            raise self.error("file not found") from None
        except IsADirectoryError:
            raise self.error("is a directory, not a file") from None
        except PermissionError:
            raise self.error("permission denied") from None
        except OSError as exc:
            raise self.error(exc.strerror or str(exc)) from None
        except UnicodeDecodeError:
            raise self.encoding_error(getattr(self.options, "encoding", "utf-8")) from None
        except pa.ArrowException as exc:
            raise self._explain(exc) from None


def convert_cells(
    values: pa.ChunkedArray | pa.Array, target: pa.DataType, *, block: int = 4096
) -> tuple[pa.Array, list[int]]:
    """`values` cast to `target`, and the positions of the cells that do not fit it (null in
    the result). Blocks that cast whole are cast at once; only a failing block goes cell by
    cell, so a file with a few bad cells costs little more than one without."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    parts, bad = [], []
    for start in range(0, len(values), block):
        part = values.slice(start, block)
        try:
            parts.append(pc.cast(part, target))
            continue
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        cells = []
        for offset, cell in enumerate(part):
            try:
                cells.append(pc.cast(pa.array([cell.as_py()], part.type), target)[0].as_py())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                cells.append(None)
                bad.append(start + offset)
        parts.append(pa.array(cells, target))
    if not parts:
        return pa.array([], target), bad
    return pa.concat_arrays(parts), bad


def retype(schema: pa.Schema, types: Mapping[str, pa.DataType]) -> pa.Schema:
    """`schema` with the columns `types` names (those it has) given those types."""
    for name, arrow_type in types.items():
        if name in schema.names:
            schema = schema.set(schema.get_field_index(name), pa.field(name, arrow_type))
    return schema


def type_name(arrow_type: pa.DataType) -> str:
    """The ``columns`` option's name for an Arrow type, where there is one."""
    for name, known in COLUMN_TYPES.items():
        if known == arrow_type:
            return name
    return str(arrow_type)


def _compatible(promised: pa.DataType, actual: pa.DataType) -> bool:
    """Whether data read as `actual` keeps the meaning of the schema's `promised` type."""
    if promised == actual or pa.types.is_null(promised):
        return True
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)
    return any(f(promised) for f in numeric) and any(f(actual) for f in numeric)
