"""What the web event sources share: reading JSON Lines one object at a time (bad lines go
to `bad_row` with their line number), joining anonymous ids to user ids, and turning event
records into an Arrow table with the key, a UTC ``timestamp``, a ``name`` and flattened
attributes whose types come from the first lines (so `schema` stays cheap)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from segmint.errors import DataError
from segmint.plugin.api import EVENTS, PluginContext, Source

from segmint.plugins.sources.file_common import convert_cells, resolve_path

TIMESTAMP = pa.timestamp("us", tz="UTC")
#: `schema` looks at this many events.
SCHEMA_EVENTS = 1000
_NAME = re.compile(r"[^0-9A-Za-z]+")


def column_name(*parts: str) -> str:
    text = _NAME.sub("_", "_".join(p for p in parts if p)).strip("_").lower()
    return text if text and not text[0].isdigit() else f"c_{text}"


def flatten(value: Any, prefix: str, into: dict[str, Any]) -> None:
    """Nested objects as ``a_b`` columns; lists as JSON text."""
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(v, column_name(prefix, k), into)
    elif isinstance(value, list):
        into[prefix] = json.dumps(value)
    elif prefix:
        into[prefix] = value


def parse_instant(value: Any) -> dt.datetime:
    """An ISO 8601 text (``Z`` or an offset; none means UTC) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError(f"not a date and time: {json.dumps(value)}")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    instant = dt.datetime.fromisoformat(text)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(dt.UTC)


def identifier(value: Any) -> str | None:
    """A user or anonymous id as text; None when missing or empty."""
    return None if value in (None, "") else str(value)


def link(users: dict[str, tuple[Any, str]], anonymous: str | None, user: str | None, at: Any) -> None:
    """Records that `anonymous` is `user` as of `at`, when both are known; the latest wins."""
    if user is not None and anonymous is not None and (
            anonymous not in users or users[anonymous][0] <= at):
        users[anonymous] = (at, user)


class EventFileSource(Source):
    """An event source reading one file of web events; subclasses turn records into events."""

    role = EVENTS
    skips_bad_rows = True
    #: Columns every event has, before the flattened attributes.
    fixed: tuple[tuple[str, pa.DataType], ...] = (("timestamp", TIMESTAMP), ("name", pa.string()))

    def __init__(self, source_name: str, options: Any, context: PluginContext) -> None:
        super().__init__(source_name, options, context)
        self.path = resolve_path(options.path, context)

    def error(self, message: str, *, row: int | None = None, column: str | None = None) -> DataError:
        return DataError(message, source=self.source_name, file=str(self.options.path), row=row,
                         column=column)

    # What a format implements.

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(row number, raw record) of each record of the file."""
        raise NotImplementedError

    def events(self, limit: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        """(row, event) with the key (possibly still anonymous), ``timestamp``, ``name``…"""
        raise NotImplementedError

    # Shared.

    def keyed(self, found: list[tuple[int, dict[str, Any], str | None, str | None]],
              users: dict[str, tuple[Any, str]],
              rekey: Callable[[str], str | None] | None = None) -> list[tuple[int, dict[str, Any]]]:
        """(row, event) of each (row, event, user id, anonymous id) found, keyed by the user
        id, else the user `users` links the anonymous id to (then `rekey`'s key for that
        user, if given), else, with ``anonymous = "keep"``, the anonymous id; the rest are
        left out."""
        key = self.context.key
        out = []
        for number, event, user, anonymous in found:
            if user is None and anonymous in users:
                user = users[anonymous][1]
            if user is not None and rekey is not None:
                user = rekey(user)
            if user is None:
                if self.options.anonymous == "drop" or anonymous is None:
                    continue
                user = anonymous
            event[key] = user
            out.append((number, event))
        return out

    def json_lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        self._check_file()
        with self.path.open(encoding="utf-8") as f:
            try:
                for number, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        value = json.loads(line)
                    except ValueError as exc:
                        self.bad_row(self.error(f"not valid JSON: {exc.args[0]}", row=number),
                                     text=line.rstrip("\r\n"))
                        continue
                    if not isinstance(value, dict):
                        self.bad_row(self.error("the line is not a JSON object", row=number),
                                     text=line.rstrip("\r\n"))
                        continue
                    yield number, value
            except UnicodeDecodeError:
                raise self.error("the file is not valid UTF-8 text", row=number + 1) from None

    def _check_file(self) -> None:
        if not self.path.exists():
            raise self.error("file not found")
        if self.path.is_file() and self.path.stat().st_size == 0:
            raise self.error("file is empty")

    def schema(self) -> pa.Schema:
        """From the first events only; bad rows among them are reported by `read`."""
        mode, skipped = self.on_bad_rows, self.skipped_rows
        self.on_bad_rows, self.skipped_rows = "skip", []
        try:
            table = self._table(self.events(limit=SCHEMA_EVENTS), None, quiet=True)
        finally:
            self.on_bad_rows, self.skipped_rows = mode, skipped
        return table.schema

    def read(self, columns: list[str] | None = None) -> pa.Table:
        schema = self.schema()
        table = self._table(self.events(), schema)
        if columns is not None:
            missing = [c for c in columns if c not in table.column_names]
            if missing:
                raise self.error(f"no column '{missing[0]}'")
            table = table.select(list(dict.fromkeys([self.context.key, *columns])))
        return table

    def _table(self, events: list[tuple[int, dict[str, Any]]], schema: pa.Schema | None,
               quiet: bool = False) -> pa.Table:
        key = self.context.key
        names: dict[str, None] = {key: None, **{n: None for n, _ in self.fixed}}
        for _, event in events:
            names.update(dict.fromkeys(event))
        if schema is not None:
            names = dict.fromkeys(schema.names)  # later new attributes are left out
        rows = [n for n, _ in events]
        columns: dict[str, Any] = {}
        fixed = dict(self.fixed)
        bad: set[int] = set()
        for name in names:
            values = [event.get(name) for _, event in events]
            if name == key:
                columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
                continue
            target = fixed.get(name) or (schema.field(name).type if schema is not None else None)
            columns[name], cells = _array(values, target)
            if not quiet:
                for i in cells:
                    self.bad_row(self.error(
                        f"{json.dumps(values[i], default=str)} does not fit the column's type"
                        f" ({columns[name].type}, from the first events)", row=rows[i], column=name))
            bad.update(cells)
        table = pa.table(columns) if columns else pa.table({key: pa.array([], pa.string())})
        if bad:
            table = table.filter(pa.array([i not in bad for i in range(table.num_rows)]))
        return table


def _array(values: list[Any], target: pa.DataType | None) -> tuple[pa.Array, list[int]]:
    """Values as an Arrow array of `target` (guessed when None: text when mixed), and the
    positions of values that do not fit it."""
    if target is None:
        try:
            array = pa.array(values)
            return (array.cast(pa.string()) if pa.types.is_null(array.type) else array), []
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v)
                             for v in values], pa.string()), []
    try:
        return pa.array(values, target), []
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError):
        pass
    if target == pa.string():
        return pa.array([None if v is None else v if isinstance(v, str) else json.dumps(v)
                         for v in values], pa.string()), []
    loose = pa.array([None if v is None else str(v) for v in values], pa.string())
    return convert_cells(loose, target)


__all__ = ["EventFileSource", "TIMESTAMP", "column_name", "flatten", "identifier", "link", "parse_instant"]
