"""Reading web-event JSON Lines with Arrow's JSON reader, block by block.

A file is cut into blocks of whole lines; each block is parsed by pyarrow.json into columns
and its nested records are flattened with Arrow kernels. What the fast path cannot read
*exactly* as the line-by-line reader would (a line that is not a JSON object, a value whose
JSON type changes, a bad timestamp, an id that is neither text nor an integer...) makes it
give up on the block: the block is halved until it is small, and small blocks are read line
by line by the source's own Python code, which reports the bad rows. So results never depend
on which path read a line, and clean data never meets Python per event.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from segmint.plugins.sources.file_common import convert_cells

#: Bytes per block read at once (memory stays a few times this, whatever the file's size).
BLOCK_BYTES = 4 << 20
#: A block that the fast path gives up on is halved down to about this many bytes.
SMALL_BYTES = 64 << 10
TIMESTAMP = pa.timestamp("us", tz="UTC")
#: ISO 8601 texts Arrow and Python's `datetime.fromisoformat` both read, and read alike.
_ISO = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?$"
_ZONED = r"(Z|[+-]\d{2}:?\d{2})$"
_WHITESPACE = np.frombuffer(b" \t\n\r\x0b\x0c", np.uint8)


class Fallback(Exception):
    """The fast path cannot read this block exactly; read it line by line."""


@attrs.frozen
class Block:
    """Whole lines of a file: their bytes and the number of the first line."""

    data: bytes
    first_line: int

    def text_lines(self) -> Iterator[tuple[int, str]]:
        """(line number, text) of each line, split as Python's text files split them; a line
        that is not UTF-8 raises `NotText` with its number."""
        for offset, line in enumerate(self.data.splitlines(keepends=True)):
            try:
                yield self.first_line + offset, line.decode("utf-8")
            except UnicodeDecodeError:
                raise NotText(self.first_line + offset) from None

    def row_lines(self) -> np.ndarray:
        """The line number of each row Arrow reads (each line that is not blank)."""
        data = np.frombuffer(self.data, np.uint8)
        ends = np.flatnonzero(data == 10)
        if not len(data) or data[-1] != 10:
            ends = np.append(ends, len(data) - 1)
        content = ~np.isin(data, _WHITESPACE)
        filled = np.add.reduceat(content.astype(np.int64), np.concatenate([[0], ends[:-1] + 1]))
        return self.first_line + np.flatnonzero(filled > 0)

    def halves(self) -> list[Block]:
        middle = self.data.rfind(b"\n", 0, len(self.data) // 2) + 1
        if middle <= 0:
            return [self]
        head = self.data[:middle]
        return [Block(head, self.first_line), Block(self.data[middle:], self.first_line + line_count(head))]


class NotText(Exception):
    """A line (its number is the argument) that is not UTF-8 text."""


def line_count(data: bytes) -> int:
    """Lines in whole lines of bytes, as Python counts them (a lone ``\\r`` ends one too)."""
    newlines = data.count(b"\n")
    returns = data.count(b"\r")
    return newlines + returns - data.count(b"\r\n") if returns else newlines


def blocks(path: Path, size: int = BLOCK_BYTES) -> Iterator[Block]:
    """The file as blocks of whole lines, about `size` bytes each."""
    line = 1
    rest = b""
    with path.open("rb") as f:
        while True:
            data = f.read(size)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            yield Block(block, line)
            line += line_count(block)
    if rest:
        yield Block(rest, line)


def parse(block: Block, strings: tuple[str, ...] = (), only: pa.Schema | None = None) -> pa.Table:
    """A block as an Arrow table; `strings` are top-level fields read as text. Texts Arrow
    would guess to be timestamps are read as text too (the block is read again to do so).
    With `only`, just those fields (and `strings`) are read, in those types."""
    if b"\r" in block.data and block.data.count(b"\r") != block.data.count(b"\r\n"):
        raise Fallback  # a lone carriage return ends a line for Python, not for Arrow
    try:
        block.data.decode("utf-8")
    except UnicodeDecodeError:
        raise Fallback from None
    if not block.data.strip():
        return pa.table({})
    read = pajson.ReadOptions(block_size=len(block.data) + 1)
    explicit = pa.schema([(name, pa.string()) for name in strings])
    if only is not None:
        explicit = pa.schema([*explicit, *only])
    try:
        table = pajson.read_json(io.BytesIO(block.data), read_options=read, parse_options=pajson.ParseOptions(
            explicit_schema=explicit, unexpected_field_behavior="ignore" if only is not None else "infer"))
        if only is None and any(_has_timestamp(field.type) for field in table.schema):
            schema = pa.schema([pa.field(f.name, _as_text(f.type)) for f in table.schema])
            table = pajson.read_json(io.BytesIO(block.data), read_options=read,
                                     parse_options=pajson.ParseOptions(explicit_schema=schema))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise Fallback from None
    return table.combine_chunks()


def _has_timestamp(arrow_type: pa.DataType) -> bool:
    if pa.types.is_timestamp(arrow_type):
        return True
    if pa.types.is_struct(arrow_type):
        return any(_has_timestamp(f.type) for f in arrow_type)
    if pa.types.is_list(arrow_type):
        return _has_timestamp(arrow_type.value_type)
    return False


def _as_text(arrow_type: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(arrow_type):
        return pa.string()
    if pa.types.is_struct(arrow_type):
        return pa.struct([pa.field(f.name, _as_text(f.type)) for f in arrow_type])
    if pa.types.is_list(arrow_type):
        return pa.list_(_as_text(arrow_type.value_type))
    return arrow_type


def column(table: pa.Table, *path: str) -> pa.Array | None:
    """The array at a path of nested fields (nulls where a parent record is null); None
    when the block has no such field. A path through a value that is not a record is a
    `Fallback`."""
    if path[0] not in table.column_names:
        return None
    array = _one(table.column(path[0]))
    for name in path[1:]:
        if pa.types.is_null(array.type):
            return None
        if not pa.types.is_struct(array.type):
            raise Fallback
        index = array.type.get_field_index(name)
        if index < 0:
            return None
        array = array.flatten()[index]
    return array


def _one(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def leaves(array: pa.Array, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], pa.Array, bool]]:
    """(path, values, is a record) of every field under a record array, records included
    (Python's flattening turns a null record into a null value of its own name)."""
    for field, child in zip(array.type, array.flatten(), strict=True):
        here = (*path, field.name)
        if pa.types.is_struct(child.type):
            yield here, child, True
            yield from leaves(child, here)
        else:
            yield here, child, False


def lookup(keys: pa.Array, map_from: pa.Array, map_to: pa.Array) -> pa.Array:
    """`map_to`'s value where `map_from` (distinct values) holds the key, else null. Where
    the keys are fewer than the map, only the map's entries for these keys are hashed."""
    if not len(map_from):
        return pa.nulls(len(keys), map_to.type)
    if len(keys) >= len(map_from):  # the map's hash is the smaller one
        return map_to.take(pc.index_in(keys, value_set=map_from))
    wanted = pc.is_in(map_from, value_set=pc.unique(keys))
    return map_to.filter(wanted).take(pc.index_in(keys, value_set=map_from.filter(wanted)))


def text(values: pa.Array | None, length: int) -> pa.Array:
    """Values as text: text as it is, integers in decimal, null as null (as ``str``)."""
    if values is None or pa.types.is_null(values.type):
        return pa.nulls(length, pa.string())
    if pa.types.is_integer(values.type):
        return values.cast(pa.string())
    if not pa.types.is_string(values.type):
        raise Fallback
    return values


def text_or_null(values: pa.Array | None, length: int) -> pa.Array:
    """Ids as text: text as it is, integers in decimal; empty text is null (as `identifier`)."""
    values = text(values, length)
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def instants(texts: pa.Array) -> pa.Array:
    """ISO 8601 texts (``Z`` or an offset; none means UTC) as UTC timestamps, exactly as
    `parse_instant` reads them; any other text is a `Fallback`."""
    if pa.types.is_null(texts.type) or texts.null_count:
        raise Fallback
    if not pa.types.is_string(texts.type) or not pc.all(pc.match_substring_regex(texts, _ISO)).as_py():
        raise Fallback
    zoned = pc.match_substring_regex(texts, _ZONED)
    texts = pc.if_else(zoned, texts, pc.binary_join_element_wise(texts, "+00:00", ""))
    try:
        return pc.cast(texts, TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise Fallback from None


def as_json_text(values: pa.Array) -> pa.Array:
    """Lists as the JSON text Python's `json.dumps` writes for them; lists of records or
    of floating-point numbers (whose JSON spelling Arrow does not keep) are a `Fallback`."""
    import json

    if _has_record_or_float(values.type):
        raise Fallback
    return pa.array([None if v is None else json.dumps(v) for v in values.to_pylist()], pa.string())


def _has_record_or_float(arrow_type: pa.DataType) -> bool:
    if pa.types.is_struct(arrow_type) or pa.types.is_floating(arrow_type):
        return True
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _has_record_or_float(arrow_type.value_type)
    return False


def to_type(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, list[int]]:
    """Values read by Arrow in the type of a schema column, and the cells that do not fit
    it, as the line-by-line reader converts Python values; conversions whose result could
    differ from it are a `Fallback`."""
    source = values.type
    if pa.types.is_list(source) or pa.types.is_large_list(source):
        values, source = as_json_text(values), pa.string()
    if source == target:
        return values, []
    if pa.types.is_null(source):
        return pa.nulls(len(values), target), []
    if pa.types.is_string(target) and (pa.types.is_integer(source) or pa.types.is_boolean(source)):
        return values.cast(pa.string()), []
    if pa.types.is_floating(target) and pa.types.is_integer(source):
        return values.cast(target), []
    if pa.types.is_string(source) and not pa.types.is_string(target):
        return convert_cells(values, target)
    raise Fallback


__all__ = ["Block", "Fallback", "NotText", "blocks", "column", "instants", "leaves", "lookup",
           "parse", "text", "text_or_null", "to_type"]
