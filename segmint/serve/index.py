"""The visitor index: each visitor's segments and labels in the latest run's snapshot.

An index is built once per snapshot, completely, and never changes; `SnapshotWatcher`
polls ``<state_dir>/runs/LATEST`` and, when it names a new run, builds that run's index
and swaps one reference. A request reads the reference once, so it answers from one whole
snapshot: never from a half-loaded one, never from a mix of two.

Visitors with the same segments share one pre-encoded JSON body, so a lookup is a dict
access and the index of 1,000,000 visitors costs little more than their keys.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segmint.engine.errors import DataError
from segmint.engine.holdout import key_text

log = logging.getLogger("segmint.serve")

RUNS = "runs"
LATEST = "LATEST"
MEMBERSHIP = "membership.parquet"
#: Rows indexed per step of a build (a few milliseconds each).
BUILD_SLICE = 5_000


@attrs.frozen
class Snapshot:
    """One run's stored membership (what `segmint.engine.snapshots` returns)."""

    run_id: str
    metadata: Mapping[str, Any]
    membership: pa.Table


@attrs.frozen
class SegmentIndex:
    """Visitor id (the customer key as text) → the JSON body that answers a lookup."""

    run_id: str
    bodies: dict[str, bytes] = attrs.field(repr=False)
    empty: bytes = attrs.field(repr=False)
    segments: tuple[str, ...] = ()
    segmentations: tuple[str, ...] = ()

    @property
    def visitors(self) -> int:
        return len(self.bodies)

    def lookup(self, visitor: str) -> bytes:
        """The visitor's answer; an unknown visitor is in no segment."""
        return self.bodies.get(visitor, self.empty)


def latest_run_id(state_dir: Path) -> str | None:
    """The run id ``runs/LATEST`` names, or None before the first run."""
    try:
        text = (state_dir / RUNS / LATEST).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def load_snapshot(state_dir: Path, run_id: str) -> Snapshot:
    """One run's snapshot, through the engine's snapshot store when it is there."""
    try:
        from segmint.engine import snapshots
    except ImportError:
        snapshots = None  # type: ignore[assignment]
    if snapshots is not None and hasattr(snapshots, "load_snapshot"):
        stored = snapshots.load_snapshot(state_dir, run_id)
        return Snapshot(str(stored.run_id), dict(stored.metadata or {}), stored.membership)
    return _read_snapshot(state_dir, run_id)


def _read_snapshot(state_dir: Path, run_id: str) -> Snapshot:
    """The snapshot store's layout read directly: ``runs/RUN_ID/membership.parquet``."""
    directory = state_dir / RUNS / run_id
    try:
        membership = pq.read_table(directory / MEMBERSHIP)
    except (OSError, pa.ArrowInvalid) as error:
        raise DataError(f"cannot read the snapshot of run {run_id}: {error}") from None
    metadata: dict[str, Any] = {}
    for name in ("metadata.json", "run.json"):
        try:
            metadata = json.loads((directory / name).read_text(encoding="utf-8"))
            break
        except (OSError, ValueError):
            continue
    return Snapshot(run_id, metadata, membership)


def build_index(snapshot: Snapshot) -> SegmentIndex:
    """The lookup index of a snapshot: key column first, bool segments, string labels."""
    table = snapshot.membership
    key = str(snapshot.metadata.get("key") or table.column_names[0])
    if key not in table.column_names:
        key = table.column_names[0]
    segments = [f.name for f in table.schema if f.name != key and pa.types.is_boolean(f.type)]
    segmentations = [
        f.name for f in table.schema
        if f.name != key and (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                              or pa.types.is_dictionary(f.type))
    ]
    codes, combos = _combinations(table, segments, segmentations)
    extra = {"run_id": snapshot.run_id}
    as_of = snapshot.metadata.get("as_of")
    if as_of is not None:
        extra["as_of"] = str(as_of)
    bodies = [_body(extra, names, labels) for names, labels in combos]
    keys = table.column(key)
    index: dict[str, bytes] = {}
    # In slices, so the service's event loop gets the interpreter between them: a rebuild
    # in the background never holds up lookups for more than a few milliseconds.
    for start in range(0, table.num_rows, BUILD_SLICE):
        texts = _key_texts(keys.slice(start, BUILD_SLICE))
        row_codes = codes[start:start + BUILD_SLICE].tolist()
        index.update(zip(texts, [bodies[c] for c in row_codes]))
        time.sleep(0)
    return SegmentIndex(
        run_id=snapshot.run_id,
        bodies=index,
        empty=_body(extra, [], {}),
        segments=tuple(segments),
        segmentations=tuple(segmentations),
    )


def _body(extra: dict[str, str], names: list[str], labels: dict[str, str]) -> bytes:
    document = {"segments": names, "labels": labels, **extra}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _key_texts(keys: pa.ChunkedArray) -> list[str]:
    """Keys as text, as the holdout hashes them (a whole float key as its integer)."""
    if pa.types.is_dictionary(keys.type):
        keys = keys.cast(keys.type.value_type)
    return key_text(keys)


def _combinations(
    table: pa.Table, segments: list[str], segmentations: list[str]
) -> tuple[np.ndarray, list[tuple[list[str], dict[str, str]]]]:
    """A code per row for its combination of segments and labels, and each combination."""
    rows = table.num_rows
    digits: list[np.ndarray] = []
    radices: list[int] = []
    for name in segments:
        values = pc.fill_null(table.column(name), False).to_numpy(zero_copy_only=False)
        digits.append(values.astype(np.int64))
        radices.append(2)
    dictionaries: list[list[str | None]] = []
    for name in segmentations:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        encoded = pc.dictionary_encode(column).combine_chunks()
        labels = encoded.dictionary.to_pylist()
        indices = pc.fill_null(encoded.indices.cast(pa.int64()), len(labels)).to_numpy(
            zero_copy_only=False)
        digits.append(indices)
        radices.append(len(labels) + 1)
        dictionaries.append(labels + [None])
    if not digits:
        return np.zeros(rows, dtype=np.int64), [([], {})]
    unique, codes = _unique_rows(digits, radices, rows)
    combos = []
    for row in unique:
        names = [name for name, bit in zip(segments, row[: len(segments)]) if bit]
        labels = {}
        for name, index, labels_of in zip(segmentations, row[len(segments):], dictionaries):
            if labels_of[index] is not None:
                labels[name] = labels_of[index]
        combos.append((names, labels))
    return codes, combos


def _unique_rows(digits: list[np.ndarray], radices: list[int],
                 rows: int) -> tuple[list[list[int]], np.ndarray]:
    """The distinct rows of the digit columns, and each row's index among them.

    Digits are packed into one int64 per row (mixed radix) when they fit, which sorts far
    faster than comparing rows; otherwise rows are compared whole.
    """
    if math.prod(radices) < 2**62:
        packed = np.zeros(rows, dtype=np.int64)
        for column, radix in zip(digits, radices):
            packed = packed * radix + column
        unique, inverse = np.unique(packed, return_inverse=True)
        decoded = []
        for code in unique.tolist():
            row = []
            for radix in reversed(radices):
                code, digit = divmod(code, radix)
                row.append(digit)
            decoded.append(row[::-1])
        return decoded, np.asarray(inverse).reshape(-1)
    matrix = np.stack(digits, axis=1) if rows else np.zeros((0, len(digits)), dtype=np.int64)
    unique, inverse = np.unique(matrix, axis=0, return_inverse=True)
    return unique.tolist(), np.asarray(inverse).reshape(-1)


class SnapshotWatcher:
    """Holds the current index; `poll` loads a new run's index when ``runs/LATEST`` changes."""

    def __init__(self, state_dir: Path,
                 loader: Callable[[Path, str], Snapshot] = load_snapshot,
                 retire_delay: float = 5.0) -> None:
        self.state_dir = Path(state_dir)
        self.loader = loader
        self.retire_delay = retire_delay
        self.current: SegmentIndex | None = None
        self._failed: str | None = None
        self._lock = threading.Lock()  # one load at a time; readers never take it

    def poll(self) -> bool:
        """Load the latest run if it is new; True when the index was swapped."""
        with self._lock:
            run_id = latest_run_id(self.state_dir)
            current = self.current
            if run_id is None or (current is not None and current.run_id == run_id):
                return False
            if run_id == self._failed:
                return False
            try:
                index = build_index(self.loader(self.state_dir, run_id))
            except Exception as error:  # keep serving the old index; say so once per run
                self._failed = run_id
                log.warning("cannot load the snapshot of run %s, still serving %s: %s: %s",
                            run_id, current.run_id if current else "nothing",
                            type(error).__name__, error)
                return False
            self.current = index  # the swap: one reference, after the index is whole
            self._failed = None
            log.info("serving run %s: %d visitors", index.run_id, index.visitors)
            if current is not None:
                threading.Thread(target=self._retire, args=(current,), daemon=True).start()
            return True

    def _retire(self, old: SegmentIndex) -> None:
        """Free a replaced index a slice at a time, not in one go that would hold up
        lookups; after a delay, by when no request still holds it (a request reads the
        reference and looks up without yielding in between)."""
        time.sleep(self.retire_delay)
        bodies = old.bodies
        while bodies:
            for _ in range(min(BUILD_SLICE, len(bodies))):
                bodies.popitem()
            time.sleep(0)
