"""What the web event sources share: reading a file of events block by block, joining
anonymous ids to user ids, and turning event records into Arrow batches with the key, a UTC
``timestamp``, a ``name`` and flattened attributes whose types come from the first lines
(so `schema` stays cheap).

`stream` reads the file twice, a block at a time: first the id links (which anonymous id is
which user, a user's key trait), then the events, keyed and typed. A block is read by Arrow
(`fast_calls`, columnar.py) where that reads it exactly as reading it line by line in Python
(`scan`) would; the rest is read line by line, which reports bad rows with their line number.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import DataError
from segmint.plugin.api import EVENTS, PluginContext, Source

from segmint.plugins.sources.file_common import convert_cells, resolve_path
from segmint.plugins.sources.web.columnar import BLOCK_BYTES, SMALL_BYTES, Block, Fallback, NotText, as_json_text, blocks, lookup, to_type

TIMESTAMP = pa.timestamp("us", tz="UTC")
#: `schema` looks at this many events.
SCHEMA_EVENTS = 1000
#: Blocks read by Arrow in worker threads ahead of the one being used (memory holds this
#: many blocks more).
READ_AHEAD = 2
_NAME = re.compile(r"[^0-9A-Za-z]+")
#: What `scan` finds: events (row, event, user id, anonymous id), links (anonymous id,
#: user id, at) and key traits (user id, at, value).
Scan = tuple[list[tuple[int, dict[str, Any], "str | None", "str | None"]],
             list[tuple[str, str, Any]], list[tuple[str, Any, Any]]]


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


@attrs.frozen
class Calls:
    """What one block of a file holds, read by either path: per event its user and
    anonymous ids and its attributes; and the id links and key traits its calls make."""

    user: pa.Array
    anonymous: pa.Array
    #: (anonymous, user, at) of each call tying an anonymous id to a user, in file order.
    links: pa.Table
    #: (user, at, value) of each key trait a call gives, in file order.
    traits: pa.Table
    #: Read by Arrow: attribute arrays by column name, and each event's line number.
    columns: dict[str, pa.Array] | None = None
    lines: Callable[[], np.ndarray] | None = None
    #: Read line by line: (row, event) of each event.
    records: list[tuple[int, dict[str, Any]]] | None = None
    #: Read by Arrow and converted (`EventFileSource._convert`): per schema column, the
    #: values, the values in the column's type, and the cells that do not fit.
    typed: dict[str, tuple[pa.Array, pa.Array, list[int]]] | None = None


class EventFileSource(Source):
    """An event source reading one file of web events; subclasses turn records into events."""

    role = EVENTS
    skips_bad_rows = True
    #: Columns every event has, before the flattened attributes.
    fixed: tuple[tuple[str, pa.DataType], ...] = (("timestamp", TIMESTAMP), ("name", pa.string()))
    #: The type of the instants the subclass links ids at.
    at_type: pa.DataType = TIMESTAMP
    #: Whether events are keyed by a trait of their user (`scan`'s traits) not the user id.
    keys_by_trait = False
    #: Bytes of a file read at once, and the size under which a block Arrow cannot read
    #: exactly is read line by line (see columnar.py).
    block_bytes = BLOCK_BYTES
    small_bytes = SMALL_BYTES
    #: Events of several blocks whose keys are looked up in the id maps together (at least:
    #: a group holds as many events as the larger map has ids, see `stream`).
    lookup_events = 1 << 19
    #: Bytes of read events the first pass keeps for the second, so that a file whose
    #: events fit is parsed once; a larger one is parsed again by the second pass.
    keep_bytes = 256 << 20

    def __init__(self, source_name: str, options: Any, context: PluginContext) -> None:
        super().__init__(source_name, options, context)
        self.path = resolve_path(options.path, context)
        #: ((mtime, size) of the file, its schema): `schema` of a file not changed since.
        self._schema_of: tuple[tuple[int, int] | None, pa.Schema] | None = None

    def error(self, message: str, *, row: int | None = None, column: str | None = None) -> DataError:
        return DataError(message, source=self.source_name, file=str(self.options.path), line=row,
                         column=column)

    # What a format implements.

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(row number, raw record) of each record of the file."""
        raise NotImplementedError

    def scan(self, records: Iterable[tuple[int, dict[str, Any]]], limit: int | None = None) -> Scan:
        """Records read line by line: the events found (row, event, user id, anonymous id)
        with the key still unset, the links (anonymous, user, at) and the key traits (user,
        at, value) the calls make, in file order; bad records go to `bad_row`."""
        raise NotImplementedError

    def fast_calls(self, block: Block | None, table: pa.Table | None, links_only: bool) -> Calls:
        """A block (JSON Lines, or a table such as a Parquet batch) read by Arrow; `Fallback`
        where that would not read it exactly."""
        raise Fallback

    def blocks(self) -> Iterator[tuple[Block | None, pa.Table | None]]:
        """The file in blocks: (JSON Lines block, None), or (None, table) for a format whose
        reader gives tables (Parquet)."""
        for block in blocks(self.path, self.block_bytes):
            yield block, None

    # Shared.

    def events(self, limit: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        """(row, event) with the key, ``timestamp``, ``name``..., read line by line."""
        found, links, traits = self.scan(self.records(), limit)
        users: dict[str, tuple[Any, str]] = {}  # anonymous id -> (at, user id)
        for anonymous, user, at in links:
            link(users, anonymous, user, at)
        keys: dict[str, tuple[Any, Any]] = {}  # user id -> (at, trait)
        for user, at, value in traits:
            if user not in keys or keys[user][0] <= at:
                keys[user] = (at, value)
        if not self.keys_by_trait:
            return self.keyed(found, users)
        return self.keyed(found, users, lambda user: keys[user][1] if user in keys else None)

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

    def json_lines(self, lines: Iterable[tuple[int, str]] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
        """(line number, object) of each line of the file (or of `lines`); lines that are not
        JSON objects go to `bad_row`."""
        if lines is None:
            self._check_file()
            with self.path.open(encoding="utf-8") as f:
                number = 0
                try:
                    for number, line in enumerate(f, 1):
                        yield from self._json_line(number, line)
                except UnicodeDecodeError:
                    raise self.error("the file is not valid UTF-8 text", row=number + 1) from None
            return
        for number, line in lines:
            yield from self._json_line(number, line)

    def _json_line(self, number: int, line: str) -> Iterator[tuple[int, dict[str, Any]]]:
        if not line.strip():
            return
        try:
            value = json.loads(line)
        except ValueError as exc:
            self.bad_row(self.error(f"not valid JSON: {exc.args[0]}", row=number), text=line.rstrip("\r\n"))
            return
        if not isinstance(value, dict):
            self.bad_row(self.error("the line is not a JSON object", row=number), text=line.rstrip("\r\n"))
            return
        yield number, value

    def _block_lines(self, block: Block) -> Iterator[tuple[int, str]]:
        try:
            yield from block.text_lines()
        except NotText as exc:
            raise self.error("the file is not valid UTF-8 text", row=exc.args[0]) from None

    def _check_file(self) -> None:
        if not self.path.exists():
            raise self.error("file not found")
        if self.path.is_file() and self.path.stat().st_size == 0:
            raise self.error("file is empty")

    def schema(self) -> pa.Schema:
        """From the first events only; bad rows among them are reported by `read`. Kept
        while the file is unchanged: a run asks for it at check time and again per read."""
        stat = self.path.stat() if self.path.is_file() else None
        found = (stat.st_mtime_ns, stat.st_size) if stat is not None else None
        if found is not None and self._schema_of is not None and self._schema_of[0] == found:
            return self._schema_of[1]
        with self._quiet():
            table = self._table(self.events(limit=SCHEMA_EVENTS), None, quiet=True)
        self._schema_of = (found, table.schema)
        return self._schema_of[1]

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """Bad rows met inside are neither raised nor recorded (a later pass reports them)."""
        mode, skipped = self.on_bad_rows, self.skipped_rows
        self.on_bad_rows, self.skipped_rows = "skip", []
        try:
            yield
        finally:
            self.on_bad_rows, self.skipped_rows = mode, skipped

    def read(self, columns: list[str] | None = None) -> pa.Table | pa.RecordBatchReader:
        """All events as one table; with `columns`, a stream of record batches (memory holds
        the id maps, a few blocks, up to `keep_bytes` of events kept between the passes and
        a group of events as large as the larger map, whatever the file's size)."""
        reader = self.stream(columns)
        return reader if columns is not None else reader.read_all()

    def stream(self, columns: list[str] | None = None) -> pa.RecordBatchReader:
        """The events, keyed, in the schema's types, as record batches read block by block:
        a first pass reads the id links (and keeps the events, when they fit), a second keys
        the events (reading the file again if they did not)."""
        schema = self.schema()
        key = self.context.key
        names = schema.names if columns is None else list(dict.fromkeys([key, *columns]))
        missing = [c for c in names if c not in schema.names]
        if missing:
            raise self.error(f"no column '{missing[0]}'")
        self._check_file()
        links, traits, kept = self._first_pass(schema, names)

        def finished(group: list[Calls]) -> Iterator[pa.RecordBatch]:
            for calls, pending in self._finish_many(group, links, traits, schema, names):
                for error, text in pending:
                    self.bad_row(error, text=text)
                yield from calls.select(names).cast(wanted).to_batches()
            group.clear()

        def batches() -> Iterator[pa.RecordBatch]:
            # Blocks Arrow read wait in `group` until they hold `enough` events, and are
            # keyed together: one lookup in the id maps (which scans the maps) per group,
            # not per block, and a group is as large as the maps, so the scans cost no more
            # than the events (not events times maps). A block read line by line reports
            # its bad rows as it is read, so the group before it is finished first (bad rows
            # stay in line order).
            group: list[Calls] = []
            waiting = 0
            enough = max(self.lookup_events, len(links[0]), len(traits[0]))
            items = _drain(kept) if kept is not None else self._each(
                lambda b, t: ("fast", self._convert(self._calls(b, t), schema)), lambda b, t: ("slow", (b, t)))
            for kind, item in items:
                if kind == "slow":
                    yield from finished(group)
                    waiting = 0
                    group.append(self._slow(*item))
                    yield from finished(group)
                    continue
                group.append(item)
                waiting += len(item.user)
                if waiting >= enough:
                    yield from finished(group)
                    waiting = 0
            yield from finished(group)

        wanted = pa.schema([schema.field(n) for n in names])
        return pa.RecordBatchReader.from_batches(wanted, batches())

    def _calls(self, block: Block | None, table: pa.Table | None, links_only: bool = False) -> Calls:
        return self.fast_calls(block, table, links_only)

    def _slow(self, block: Block | None, table: pa.Table | None) -> Calls:
        """A block read line by line (records of a table one by one)."""
        if block is not None:
            records = self.json_lines(self._block_lines(block))
        else:
            records = self.table_records(table)
        found, links, traits = self.scan(records)
        return Calls(
            user=pa.array([u for _, _, u, _ in found], pa.string()),
            anonymous=pa.array([a for _, _, _, a in found], pa.string()),
            links=pa.table({"anonymous": pa.array([a for a, _, _ in links], pa.string()),
                            "user": pa.array([u for _, u, _ in links], pa.string()),
                            "at": pa.array([t for _, _, t in links], self.at_type)}),
            traits=pa.table({"user": pa.array([u for u, _, _ in traits], pa.string()),
                             "at": pa.array([t for _, t, _ in traits], self.at_type),
                             "value": pa.array([str(v) for _, _, v in traits], pa.string())}),
            records=[(number, event) for number, event, _, _ in found],
        )

    def table_records(self, table: pa.Table | None) -> Iterator[tuple[int, dict[str, Any]]]:
        raise NotImplementedError

    def _each(self, fast: Callable[[Block | None, pa.Table | None], Any],
              slow: Callable[[Block | None, pa.Table | None], Any]) -> Iterator[Any]:
        """`fast` of each block; a block it gives up on (`Fallback`) is halved down to small
        blocks, which `slow` reads.

        `fast` of the next `READ_AHEAD` blocks runs in worker threads while this one is
        used (Arrow's JSON reader and kernels release the GIL); what it gives is taken in
        file order, and everything that reports bad rows (`slow`, the halving) stays here."""
        def read(block: Block | None, table: pa.Table | None,
                 done: Future[Any] | None = None) -> Iterator[Any]:
            try:
                yield done.result() if done is not None else fast(block, table)
                return
            except Fallback:
                pass
            if block is not None and len(block.data) > self.small_bytes and len(parts := block.halves()) > 1:
                for part in parts:
                    yield from read(part, None)
                return
            yield slow(block, table)

        with ThreadPoolExecutor(READ_AHEAD, thread_name_prefix="segmint-events") as pool:
            waiting: deque[tuple[Block | None, pa.Table | None, Future[Any]]] = deque()
            for block, table in self.blocks():
                waiting.append((block, table, pool.submit(fast, block, table)))
                if len(waiting) > READ_AHEAD:
                    yield from read(*waiting.popleft())
            while waiting:
                yield from read(*waiting.popleft())

    def _first_pass(self, schema: pa.Schema, names: list[str]) -> tuple[
            tuple[pa.Array, pa.Array], tuple[pa.Array, pa.Array], deque[tuple[str, Any]] | None]:
        """Each anonymous id's user and each user's key trait (the latest call's; a later
        line wins a tie), as (from, to) arrays; and, while they fit in `keep_bytes`, the
        blocks as the second pass takes them (("fast", calls) with the columns `names`,
        ("slow", (block, table)) to read line by line again), else None."""
        links, traits = [], []
        kept: deque[tuple[str, Any]] | None = deque()
        size = 0

        def fast(block: Block | None, table: pa.Table | None) -> tuple[str, Any, Calls]:
            if kept is None:  # only what links ids
                return "links", None, self._calls(block, table, links_only=True)
            calls = self._convert(self._calls(block, table), schema)
            return "fast", self._trimmed(calls, names), calls

        with self._quiet():
            for kind, item, calls in self._each(fast, lambda b, t: ("slow", (b, t), self._slow(b, t))):
                links.append(calls.links)
                traits.append(calls.traits)
                if kept is None or kind == "links":
                    continue
                size += _nbytes(item) if kind == "fast" else (
                    len(item[0].data) if item[0] is not None else item[1].nbytes)
                if size > self.keep_bytes:
                    kept = None  # the second pass reads the file again
                else:
                    kept.append((kind, item))
        return (_latest(links, "anonymous", "user", self.at_type),
                _latest(traits, "user", "value", self.at_type), kept)

    def _trimmed(self, calls: Calls, names: list[str]) -> Calls:
        """Converted calls with only what finishing them for columns `names` needs: the
        ids, those columns, and the cells of any column that do not fit (with the lines
        they are on), not the block."""
        assert calls.typed is not None
        typed = {name: entry for name, entry in calls.typed.items() if name in names or entry[2]}
        lines = None
        if any(cells for _, _, cells in typed.values()):
            assert calls.lines is not None
            numbers = calls.lines()
            lines = lambda: numbers  # noqa: E731 - found once, here
        return attrs.evolve(calls, columns={}, typed=typed, lines=lines)

    def _finish_many(self, group: list[Calls], links: tuple[pa.Array, pa.Array],
                     traits: tuple[pa.Array, pa.Array], schema: pa.Schema,
                     names: list[str]) -> Iterator[tuple[pa.Table, list[tuple[DataError, str]]]]:
        """`_finish` of each of some blocks' calls, in order, their keys looked up together."""
        if not group:
            return
        if len(group) == 1:
            yield self._finish(group[0], links, traits, schema, names)
            return
        key = self._keys(pa.concat_arrays([c.user for c in group]),
                         pa.concat_arrays([c.anonymous for c in group]), links, traits)
        start = 0
        for calls in group:
            part = key.slice(start, len(calls.user))
            start += len(calls.user)
            yield self._finish(calls, links, traits, schema, names, key=part)

    def _keys(self, user: pa.Array, anonymous: pa.Array, links: tuple[pa.Array, pa.Array],
              traits: tuple[pa.Array, pa.Array]) -> pa.Array:
        """Each event's key: its user id, else the user its anonymous id is linked to (then
        that user's key trait where events are keyed by one), else, with ``anonymous =
        "keep"``, the anonymous id; null for an event left out."""
        user = pc.coalesce(user, lookup(anonymous, *links))
        if self.keys_by_trait:
            user = lookup(user, *traits)
        return user if self.options.anonymous == "drop" else pc.coalesce(user, anonymous)

    def _finish(self, calls: Calls, links: tuple[pa.Array, pa.Array], traits: tuple[pa.Array, pa.Array],
                schema: pa.Schema, names: list[str],
                key: pa.Array | None = None) -> tuple[pa.Table, list[tuple[DataError, str]]]:
        """A block's events keyed (by `key`, when the caller looked the keys up) and in the
        schema's types, with the columns `names` at least; and the bad rows to report (only once the block is read, so a block
        read again reports them once)."""
        if key is None:
            key = self._keys(calls.user, calls.anonymous, links, traits)
        kept = pc.is_valid(key)
        if calls.records is not None:
            records = [r for r, k in zip(calls.records, kept.to_pylist(), strict=True) if k]
            for (_, event), value in zip(records, key.filter(kept).to_pylist(), strict=True):
                event[self.context.key] = value
            return self._table(records, schema), []
        return self._typed(calls, key, kept, schema, names)

    def _convert(self, calls: Calls, schema: pa.Schema) -> Calls:
        """The calls with the attributes Arrow read in the schema's types, and the cells
        that do not fit (a `Fallback` where a type cannot be converted exactly): done where
        the block is read, before its keys are known. Cells convert one by one, so
        converting before the events left out are dropped gives the same cells."""
        if calls.columns is None or calls.typed is not None:
            return calls
        typed = {}
        for field in schema:
            values = calls.columns.get(field.name)
            if field.name == self.context.key or values is None:
                continue
            if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
                values = as_json_text(values)
            converted, cells = to_type(values, field.type)
            typed[field.name] = (values, converted, cells)
        return attrs.evolve(calls, typed=typed)

    def _typed(self, calls: Calls, key: pa.Array, kept: pa.Array, schema: pa.Schema,
               names: list[str]) -> tuple[pa.Table, list[tuple[DataError, str]]]:
        """The kept events' attributes `names` in the schema's types; cells of any column
        that do not fit are bad rows."""
        calls = self._convert(calls, schema)
        assert calls.typed is not None
        columns: dict[str, pa.Array] = {self.context.key: key.filter(kept)}
        kept_rows = lines = None
        pending: list[tuple[DataError, str]] = []
        bad: set[int] = set()
        for field in schema:
            if field.name == self.context.key:
                continue
            if field.name not in calls.typed:
                if field.name in names:
                    columns[field.name] = pa.nulls(len(columns[self.context.key]), field.type)
                continue
            values, converted, cells = calls.typed[field.name]
            if field.name in names:
                columns[field.name] = converted.filter(kept)
            if cells:
                if kept_rows is None:
                    assert calls.lines is not None
                    kept_rows = np.asarray(kept.to_numpy(zero_copy_only=False))
                    lines = calls.lines()
                    position = np.cumsum(kept_rows) - 1  # each kept event's row in the table
                for i in (c for c in cells if kept_rows[c]):
                    pending.append((self.error(
                        f"{json.dumps(values[i].as_py(), default=str)} does not fit the column's type"
                        f" ({field.type}, from the first events)", row=int(lines[i]), column=field.name), ""))
                    bad.add(int(position[i]))
        table = pa.table(columns)
        if bad:
            table = table.filter(pa.array([i not in bad for i in range(table.num_rows)]))
        return table, pending

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


def _drain(items: deque[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """The items, each let go as it is taken."""
    while items:
        yield items.popleft()


def _nbytes(calls: Calls) -> int:
    """The bytes of a trimmed block's ids and columns."""
    assert calls.typed is not None
    return calls.user.nbytes + calls.anonymous.nbytes + sum(c.nbytes for _, c, _ in calls.typed.values())


def _latest(parts: list[pa.Table], by: str, value: str, at_type: pa.DataType) -> tuple[pa.Array, pa.Array]:
    """Per distinct `by`, the `value` of its latest row by ``at`` (the later row on a tie).

    One hash of `by` (its dictionary) and one stable sort by ``at``: each id's last row in
    that order is its latest, found by numpy, not by grouping texts."""
    table = pa.concat_tables(parts) if parts else pa.table(
        {by: pa.array([], pa.string()), value: pa.array([], pa.string()), "at": pa.array([], at_type)})
    table = table.filter(pc.and_(pc.is_valid(table[by]), pc.is_valid(table[value])))
    encoded = pc.dictionary_encode(table[by].combine_chunks())
    order = pc.sort_indices(table["at"]).to_numpy()  # stable: rows of one instant stay in file order
    codes = encoded.indices.to_numpy()[order][::-1]
    _, first = np.unique(codes, return_index=True)  # per id, in dictionary order: its last row
    rows = order[len(order) - 1 - first]
    return encoded.dictionary, table[value].combine_chunks().take(pa.array(rows, pa.int64()))


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


__all__ = ["Calls", "EventFileSource", "Scan", "TIMESTAMP", "column_name", "flatten", "identifier", "link", "parse_instant"]
