"""Incremental delivery: a sink sends only what changed since it last delivered successfully.

Each sink keeps, under ``<state_dir>/sinks/<sink name>/``:

- ``delivered.parquet`` — the members of each segment as the destination last confirmed
  them (columns ``segment`` and ``key``);
- ``journal.jsonl`` — the sync in progress: each batch is written there (``begin``) before
  it is sent and marked (``confirm``) once the destination confirmed it, one fsynced line
  at a time.

A sync computes the `Changes` between the delivered state and the run's membership, cuts
them into `Batch`es and sends them; at the end ``delivered.parquet`` is replaced atomically
and the journal removed. If the process dies at any moment, the next sync folds the
confirmed batches into the delivered state and first re-sends the batches that were begun
but not confirmed, unchanged and with the same idempotency key (the destination may have
applied them), then sends what is still different. Nothing is missed and, with a
destination that honours idempotency keys or applies changes idempotently, nothing is
applied twice.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segmint.delivery.atomic import atomic_write
from segmint.errors import DataError, SegmintError
from segmint.plugin.api import Delivery, RunResult, SegmentInfo, SegmentKind, Sink
from segmint.semantics.labels import in_rule_order

class Action(enum.StrEnum):
    """What a batch does at a destination: add keys to a segment, remove them, or send
    changed data for keys that stay (a `str`, so journals hold ``"add"``)."""

    ADD = "add"
    REMOVE = "remove"
    UPDATE = "update"


ADD = Action.ADD
REMOVE = Action.REMOVE
UPDATE = Action.UPDATE
SINKS = "sinks"
DELIVERED_FILE = "delivered.parquet"
JOURNAL_FILE = "journal.jsonl"
LOCK_FILE = "lock"


# What changed.


@attrs.frozen
class Changes:
    """Per segment: the keys that entered (``added``), left (``removed``) and stayed
    (``unchanged``); ``updated`` are those that stayed but whose sent data changed."""

    added: dict[str, pa.Array]
    removed: dict[str, pa.Array]
    unchanged: dict[str, pa.Array]
    updated: dict[str, pa.Array] = attrs.field(factory=dict)

    @property
    def segments(self) -> list[str]:
        return list(self.added)

    def count(self, which: str) -> int:
        """Total keys over all segments of ``added``, ``removed`` or ``unchanged``."""
        return sum(len(keys) for keys in getattr(self, which).values())


def audiences(membership: pa.Table, key: str, segments: Sequence[str] | None = None,
              infos: Sequence[SegmentInfo] = ()) -> dict[str, pa.Array]:
    """The keys in each segment of a membership table.

    A segment column gives its true rows; a segmentation gives one audience per label,
    ``NAME=LABEL``. Holdout (control group) columns are left out unless named in
    `segments`; `segments`, when given, picks segments, segmentations (all their labels) or
    single ``NAME=LABEL`` audiences. A segmentation's labels come in the order its rule
    lists them (`infos`), alphabetically without.
    """
    kinds = {info.name: info.kind for info in infos}
    declared = {info.name: info.labels for info in infos}
    keys = membership.column(key)
    found: dict[str, pa.Array] = {}
    for name in membership.column_names:
        if name == key:
            continue
        column = membership.column(name)
        if pa.types.is_boolean(column.type):
            wanted = name in segments if segments is not None else kinds.get(name) != SegmentKind.HOLDOUT
            if wanted:
                found[name] = keys.filter(pc.fill_null(column, False)).combine_chunks()
        else:
            for label in in_rule_order(sorted(pc.unique(column.drop_null()).to_pylist()),
                                       declared.get(name, ())):
                audience = f"{name}={label}"
                if segments is None or name in segments or audience in segments:
                    found[audience] = keys.filter(pc.equal(column, label)).combine_chunks()
    if segments is not None:
        labelled = {a.partition("=")[0] for a in found}
        missing = [s for s in segments if s not in found and s not in labelled
                   and s.partition("=")[0] not in membership.column_names]
        if missing:
            known = ", ".join(c for c in membership.column_names if c != key)
            raise SegmintError(f"unknown segment '{missing[0]}'; the run has: {known}")
    return found


def changes(previous: Mapping[str, pa.Array], current: Mapping[str, pa.Array], *,
            delivered: Mapping[str, Mapping[Any, str | None]] | None = None,
            fingerprints: Mapping[Any, str] | None = None) -> Changes:
    """Who entered, left and stayed in each segment of `previous` or `current`.

    With `fingerprints` (a digest of what a sink sends about each key) and `delivered`
    (per segment, the digest each key had when it was sent), members who stayed but whose
    digest changed are also listed as ``updated``.
    """
    added, removed, unchanged, updated = {}, {}, {}, {}
    for name in list(current) + [n for n in previous if n not in current]:
        now = current.get(name)
        before = previous.get(name)
        if now is None:
            now = pa.array([], before.type if before is not None else pa.string())
        if before is None:
            before = pa.array([], now.type)
        now, before = _same_type(_array(now), _array(before))
        stayed = pc.is_in(now, value_set=before)
        added[name] = now.filter(pc.invert(stayed))
        unchanged[name] = now.filter(stayed)
        removed[name] = before.filter(pc.invert(pc.is_in(before, value_set=now)))
        if fingerprints is not None:
            sent = (delivered or {}).get(name, {})
            stale = [k for k in unchanged[name].to_pylist() if sent.get(k) != fingerprints.get(k)]
            updated[name] = pa.array(stale, unchanged[name].type)
        else:
            updated[name] = unchanged[name].slice(0, 0)
    return Changes(added, removed, unchanged, updated)


def fingerprints(profiles: pa.Table, key: str, columns: Sequence[str]) -> dict[Any, str]:
    """Per key, a short digest of the values of `columns`: what tells an update."""
    present = [c for c in columns if c in profiles.column_names and c != key]
    table = profiles.select([key, *present])
    digests = {}
    for row in table.to_pylist():
        ident = row.pop(key)
        text = json.dumps(row, sort_keys=True, default=str, separators=(",", ":"))
        digests[ident] = hashlib.sha256(text.encode()).hexdigest()[:16]
    return digests


def _array(keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    return keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys


def _same_type(a: pa.Array, b: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Two key arrays of one type: `b` cast to `a`'s, or both as text when that fails."""
    if a.type == b.type:
        return a, b
    if pa.types.is_null(b.type):
        return a, b.cast(a.type)
    try:
        return a, b.cast(a.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return a.cast(pa.string()), b.cast(pa.string())


# Batches and the delivered state.


@attrs.frozen
class Batch:
    """Keys to add to or remove from one segment at the destination, sent as one request."""

    id: str  # "<sync id>/<n>", unique in the journal
    segment: str
    action: Action = attrs.field(converter=Action)  # ADD or REMOVE
    keys: tuple[Any, ...]
    #: Stable across retries and re-sends: a hash of the sync (run) id, the sink and the batch.
    idempotency_key: str
    #: True when re-sent from a sync that was interrupted before it was confirmed.
    replayed: bool = attrs.field(default=False, eq=False)
    #: The digest of each key's sent data (ADD and UPDATE batches of a sink with fields).
    fingerprints: tuple[str | None, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"id": self.id, "segment": self.segment, "action": str(self.action),
                "keys": list(self.keys), "idempotency_key": self.idempotency_key}
        if self.fingerprints is not None:
            data["fingerprints"] = list(self.fingerprints)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], replayed: bool = False) -> Batch:
        prints = data.get("fingerprints")
        return cls(str(data["id"]), str(data["segment"]), str(data["action"]),
                   tuple(data["keys"]), str(data["idempotency_key"]), replayed,
                   None if prints is None else tuple(prints))


def idempotency_key(sync_id: str, sink: str, batch_id: str) -> str:
    return hashlib.sha256(f"{sync_id}\0{sink}\0{batch_id}".encode()).hexdigest()[:32]


def batches(changes: Changes, *, sync_id: str, sink: str, size: int = 500,
            start: int = 0, fingerprints: Mapping[Any, str] | None = None) -> Iterator[Batch]:
    """The changes cut into batches of at most `size` keys: per segment, removals first,
    then additions, then updates."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    n = start
    for segment in changes.segments:
        for action, keys in ((REMOVE, changes.removed[segment]), (ADD, changes.added[segment]),
                             (UPDATE, changes.updated.get(segment, pa.array([])))):
            values = keys.to_pylist()
            for offset in range(0, len(values), size):
                n += 1
                batch_id = f"{sync_id}/{n}"
                chunk = tuple(values[offset:offset + size])
                prints = None
                if fingerprints is not None and action != REMOVE:
                    prints = tuple(fingerprints.get(k) for k in chunk)
                yield Batch(batch_id, segment, action, chunk,
                            idempotency_key(sync_id, sink, batch_id), fingerprints=prints)


@attrs.frozen
class Plan:
    """What a sync will send: re-sent batches of an interrupted sync first, then the changes."""

    changes: Changes
    pending: tuple[Batch, ...]
    batches: tuple[Batch, ...]

    def __iter__(self) -> Iterator[Batch]:
        yield from self.pending
        yield from self.batches


class SyncState:
    """What one sink delivered, as the destination confirmed it, and the sync in progress."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        """An empty state for `directory`; nothing is read until `open` (or `load`)."""
        self.directory = Path(directory)
        self._delivered: dict[str, dict[Any, str | None]] = {}
        self._key_type: pa.DataType | None = None
        self._pending: dict[str, Batch] = {}
        self._journal_fd: int | None = None

    @classmethod
    def open(cls, directory: str | os.PathLike[str]) -> SyncState:
        """The state `directory` holds: the last commit and the journal of a sync in progress."""
        state = cls(directory)
        state._load()
        return state

    @classmethod
    def for_sink(cls, state_dir: str | os.PathLike[str], sink_name: str) -> SyncState:
        return cls.open(Path(state_dir) / SINKS / sink_name)

    @property
    def delivered(self) -> dict[str, pa.Array]:
        """Members per segment as delivered: the last commit plus confirmed journal batches."""
        return {name: self._keys(values) for name, values in self._delivered.items() if values}

    @property
    def pending(self) -> list[Batch]:
        """Batches an interrupted sync began but the destination never confirmed."""
        return list(self._pending.values())

    def _keys(self, values: Iterable[Any]) -> pa.Array:
        array = pa.array(sorted(values, key=lambda v: (str(type(v)), v)))
        if self._key_type is not None and array.type != self._key_type:
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError):
                array = array.cast(self._key_type)
        return array

    def _load(self) -> None:
        path = self.directory / DELIVERED_FILE
        if path.is_file():
            try:
                table = pq.read_table(path)
            except (OSError, pa.ArrowException) as error:
                raise DataError(f"cannot read the delivered state: {error}", file=str(path)) from None
            self._key_type = table.schema.field("key").type
            prints = (table.column("fingerprint").to_pylist() if "fingerprint" in table.column_names
                      else [None] * table.num_rows)
            for segment, key, fp in zip(table.column("segment").to_pylist(),
                                        table.column("key").to_pylist(), prints):
                self._delivered.setdefault(segment, {})[key] = fp
        for entry in self._journal_entries():
            if entry.get("op") == "begin":
                batch = Batch.from_json(entry["batch"], replayed=True)
                self._pending[batch.id] = batch
            elif entry.get("op") == "confirm":
                batch = self._pending.pop(str(entry["id"]), None)
                if batch is not None:
                    self._apply(batch, entry.get("rejected", ()))

    def _journal_entries(self) -> Iterator[dict[str, Any]]:
        path = self.directory / JOURNAL_FILE
        try:
            lines = path.read_bytes().split(b"\n")
        except FileNotFoundError:
            return
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:  # a line torn by a crash: that step never happened
                continue
            if isinstance(entry, dict):
                yield entry

    def _apply(self, batch: Batch, rejected: Sequence[Any] = (),
               into: dict[str, dict[Any, str | None]] | None = None) -> None:
        members = (self._delivered if into is None else into).setdefault(batch.segment, {})
        refused = set(rejected)
        prints = batch.fingerprints or (None,) * len(batch.keys)
        for key, fp in zip(batch.keys, prints):
            if key in refused:
                continue
            if batch.action == REMOVE:
                members.pop(key, None)
            elif batch.action == ADD or key in members:
                members[key] = fp

    def plan(self, current: Mapping[str, pa.Array], *, sync_id: str, sink: str,
             batch_size: int = 500, fingerprints: Mapping[Any, str] | None = None) -> Plan:
        """The batches that bring the destination from the delivered state to `current`.

        Changes are computed as if the interrupted batches had been applied (they are sent
        again first), so each key goes out once.
        """
        if current and self._key_type is None:
            self._key_type = next(iter(current.values())).type
        after_pending = {name: dict(keys) for name, keys in self._delivered.items()}
        for batch in self._pending.values():
            self._apply(batch, into=after_pending)
        previous = {name: self._keys(keys) for name, keys in after_pending.items() if keys}
        found = changes(previous, current, delivered=after_pending, fingerprints=fingerprints)
        start = sum(1 for b in self._pending.values() if b.id.startswith(f"{sync_id}/"))
        planned = tuple(batches(found, sync_id=sync_id, sink=sink, size=batch_size, start=start,
                                fingerprints=fingerprints))
        return Plan(found, tuple(self._pending.values()), planned)

    def begin(self, batch: Batch) -> None:
        """Journal `batch` before it is sent, so an interrupted sync can send it again."""
        if batch.id not in self._pending:
            self._pending[batch.id] = batch
            self._journal({"op": "begin", "batch": batch.to_json()})

    def confirm(self, batch: Batch, rejected: Sequence[Any] = ()) -> None:
        """The destination confirmed `batch` (all but the `rejected` keys): journal it."""
        self._journal({"op": "confirm", "id": batch.id, "rejected": list(rejected)})
        self._pending.pop(batch.id, None)
        self._apply(batch, rejected)

    def commit(self) -> None:
        """Fold the journal into ``delivered.parquet`` (replaced atomically), drop the journal."""
        segments, keys, prints = [], [], []
        for name in sorted(self._delivered):
            members = self._delivered[name]
            ordered = sorted(members, key=lambda v: (str(type(v)), v))
            segments += [name] * len(members)
            keys += ordered
            prints += [members[k] for k in ordered]
        key_array = pa.array(keys, self._key_type) if self._key_type is not None else pa.array(keys)
        table = pa.table({"segment": pa.array(segments, pa.string()), "key": key_array,
                          "fingerprint": pa.array(prints, pa.string())})
        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.directory / DELIVERED_FILE) as temp:
            pq.write_table(table, temp)
        self.close()
        if not self._pending:
            (self.directory / JOURNAL_FILE).unlink(missing_ok=True)

    def _journal(self, entry: Mapping[str, Any]) -> None:
        if self._journal_fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / JOURNAL_FILE
            _drop_torn_tail(path)
            self._journal_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        line = json.dumps(entry, separators=(",", ":"), default=str).encode() + b"\n"
        os.write(self._journal_fd, line)
        os.fsync(self._journal_fd)

    def close(self) -> None:
        """Close the journal (the state stays as journalled)."""
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None


@contextlib.contextmanager
def sink_lock(directory: str | os.PathLike[str], sink: str) -> Iterator[None]:
    """Hold one sink's lock: two runs never deliver to one sink at once."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SegmintError(f"another run is delivering to sink '{sink}' right now; "
                               "try again when it has finished") from None
        yield
    finally:
        os.close(fd)


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line a crash left unfinished, so the next line starts on its own."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)
            handle.flush()
            os.fsync(handle.fileno())


# The sink base class.


@attrs.frozen
class SyncReport:
    """What one sync sent."""

    added: int = 0
    removed: int = 0
    updated: int = 0
    rejected: int = 0
    replayed: int = 0  # batches re-sent from an interrupted sync


class DiffSink(Sink):
    """A sink that sends only the difference against what it last delivered successfully.

    Subclasses implement `send` (one batch to the destination; return the keys the
    destination rejected for good, raise to stop the sync) and may override `segments`
    (by default the option ``segments`` when the options have one, else every segment and
    segmentation label but holdouts). `deliver` does the rest: the delivered state, the
    journal, re-sending interrupted batches, dry runs and the counts.
    """

    #: Keys per batch; subclasses set it to what their destination takes in one request.
    batch_size: ClassVar[int] = 500

    def send(self, batch: Batch, result: RunResult) -> Sequence[Any] | None:
        """Deliver one batch; return the keys the destination refused (or None)."""
        raise NotImplementedError

    def segments(self) -> Sequence[str] | None:
        chosen = getattr(self.options, "segments", None)
        return list(chosen) if chosen else None

    def target(self) -> str:
        """Where the sink delivers, for the summary line."""
        return ""

    def fingerprint_columns(self) -> Sequence[str]:
        """Profile columns whose change makes a member who stayed an update (by default
        those the sink sends, `profile_columns`); none: members are never updated."""
        return self.profile_columns()

    def sync_directory(self) -> Path:
        """``<state_dir>/sinks/<sink name>``: where this sink's delivered state lives."""
        state_dir = self.context.state_dir or self.context.project_dir / ".segmint"
        return Path(state_dir) / SINKS / self.sink_name

    def deliver(self, result: RunResult, *, dry_run: bool = False) -> Delivery:
        current = audiences(result.membership, result.key, self.segments(), result.segments)
        directory = self.sync_directory()
        sync_id = result.run_id or secrets.token_hex(8)
        size = getattr(self.options, "batch_size", None) or self.batch_size
        columns = list(self.fingerprint_columns())
        prints = fingerprints(result.profiles, result.key, columns) if columns else None
        if dry_run:  # reads the state, writes nothing, sends nothing
            plan = SyncState.open(directory).plan(current, sync_id=sync_id, sink=self.sink_name,
                                             batch_size=size, fingerprints=prints)
            return Delivery(sink=self.sink_name, added=plan.changes.count("added"),
                            updated=plan.changes.count("updated"),
                            removed=plan.changes.count("removed"), target=self.target(),
                            dry_run=True, messages=_pending_note(plan, dry_run=True))
        with sink_lock(directory, self.sink_name):
            state = SyncState.open(directory)
            try:
                plan = state.plan(current, sync_id=sync_id, sink=self.sink_name, batch_size=size,
                                  fingerprints=prints)
                report = self.run_plan(state, plan, result)
            finally:
                state.close()
        messages = _pending_note(plan, dry_run=False)
        if report.rejected:
            messages += (f"{report.rejected:,} members refused by the destination "
                         "(they are tried again next run)",)
        return Delivery(sink=self.sink_name, added=report.added, updated=report.updated,
                        removed=report.removed, skipped=report.rejected, target=self.target(),
                        messages=messages)

    def run_plan(self, state: SyncState, plan: Plan, result: RunResult) -> SyncReport:
        """Send every batch of `plan`, journalling each, then commit the delivered state."""
        counts = dict.fromkeys((ADD, REMOVE, UPDATE), 0)
        rejected = 0
        for batch in plan:
            state.begin(batch)
            refused = list(self.send(batch, result) or ())
            state.confirm(batch, refused)
            done = len(batch.keys) - len(set(refused) & set(batch.keys))
            counts[batch.action] = counts.get(batch.action, 0) + done
            rejected += len(batch.keys) - done
        state.commit()
        return SyncReport(counts[ADD], counts[REMOVE], counts[UPDATE], rejected, len(plan.pending))


def _pending_note(plan: Plan, *, dry_run: bool) -> tuple[str, ...]:
    if not plan.pending:
        return ()
    verb = "would be sent again" if dry_run else "sent again"
    return (f"{len(plan.pending)} unconfirmed batches of an interrupted delivery {verb}",)
