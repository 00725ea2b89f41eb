"""The visitor index: each visitor's segments and labels in the latest run's snapshot.

An index is built once per snapshot, completely, and never changes; `SnapshotWatcher`
polls ``<state_dir>/runs/LATEST`` and, when it names a new run, builds that run's index
and swaps one reference. A request reads the reference once, so it answers from one whole
snapshot: never from a half-loaded one, never from a mix of two.

Visitors with the same segments share one pre-encoded JSON body. The keys are kept as one
sorted Arrow string array, searched by bisection, not as a dict of Python strings: the
index of 1,000,000 visitors is a few tens of megabytes, it is built by Arrow kernels that
let the event loop run meanwhile, and it is freed in one go.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segmint.errors import DataError
from segmint.semantics.holdout import key_text

log = logging.getLogger("segmint.serve")

RUNS = "runs"
LATEST = "LATEST"
MEMBERSHIP = "membership.parquet"
#: Rows indexed per step of a build (a few milliseconds each).


@attrs.frozen
class Snapshot:
    """One run's stored membership (what `segmint.delivery.snapshots` returns)."""

    run_id: str
    metadata: Mapping[str, Any]
    membership: pa.Table


@attrs.frozen
class SegmentIndex:
    """Visitor id (the customer key as text) → the JSON body that answers a lookup."""

    run_id: str
    #: The keys' UTF-8 bytes end to end, in sorted order, and where each one starts.
    data: bytes = attrs.field(repr=False)
    offsets: np.ndarray = attrs.field(repr=False, eq=False)
    #: For each sorted key, its answer's position in `bodies`.
    codes: np.ndarray = attrs.field(repr=False, eq=False)
    bodies: tuple[bytes, ...] = attrs.field(repr=False)
    empty: bytes = attrs.field(repr=False)
    segments: tuple[str, ...] = ()
    segmentations: tuple[str, ...] = ()

    @property
    def visitors(self) -> int:
        return len(self.codes)

    def lookup(self, visitor: str) -> bytes:
        """The visitor's answer; an unknown visitor is in no segment."""
        target = visitor.encode("utf-8", "surrogatepass")
        data, offsets = self.data, self.offsets
        low, high = 0, len(self.codes)
        while low < high:  # the first key not below the target
            middle = (low + high) // 2
            if data[offsets[middle]:offsets[middle + 1]] < target:
                low = middle + 1
            else:
                high = middle
        if low < len(self.codes) and data[offsets[low]:offsets[low + 1]] == target:
            return self.bodies[self.codes[low]]
        return self.empty


def latest_run_id(state_dir: Path) -> str | None:
    """The run id ``runs/LATEST`` names, or None before the first run; a `DataError`
    saying what is wrong when it cannot be read."""
    path = state_dir / RUNS / LATEST
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise DataError(f"cannot read {path}: runs/LATEST is a directory") from None
    except NotADirectoryError:
        raise DataError(f"cannot read {path}: {_file_in_the_way(path)} is a file, not a"
                        f" directory (state_dir must be the directory runs are stored in)"
                        ) from None
    except OSError as error:
        raise DataError(f"cannot read {path}: {error.strerror}") from None
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise DataError(f"cannot read {path}: runs/LATEST is not UTF-8 text") from None
    return text or None


def _file_in_the_way(path: Path) -> Path:
    """The first of `path`'s parents that is a file."""
    for parent in reversed(path.parents):
        if parent.is_file():
            return parent
    return path.parent


def load_snapshot(state_dir: Path, run_id: str) -> Snapshot:
    """One run's snapshot, through the engine's snapshot store when it is there."""
    try:
        from segmint.delivery import snapshots
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
    bodies = tuple(_body(extra, names, labels) for names, labels in combos)
    texts = _key_texts(table.column(key))
    order = pc.sort_indices(texts)  # bytewise, as `lookup` compares
    ordered = texts.take(order)
    offsets = np.frombuffer(ordered.buffers()[1], dtype=np.int64)[
        ordered.offset:ordered.offset + len(ordered) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    data = ordered.buffers()[2].to_pybytes()[start:end] if len(ordered) else b""
    return SegmentIndex(
        run_id=snapshot.run_id,
        data=data,
        offsets=offsets - start,
        codes=codes[order.to_numpy()],
        bodies=bodies,
        empty=_body(extra, [], {}),
        segments=tuple(segments),
        segmentations=tuple(segmentations),
    )


def _body(extra: dict[str, str], names: list[str], labels: dict[str, str]) -> bytes:
    document = {"segments": names, "labels": labels, **extra}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _key_texts(keys: pa.ChunkedArray) -> pa.LargeStringArray:
    """Keys as text, as the holdout hashes them (a whole float key as its integer)."""
    if pa.types.is_dictionary(keys.type):
        keys = keys.cast(keys.type.value_type)
    if pa.types.is_floating(keys.type):
        return pa.array(key_text(keys), pa.large_string())
    return keys.cast(pa.large_string()).combine_chunks()


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
                 loader: Callable[[Path, str], Snapshot] = load_snapshot) -> None:
        self.state_dir = Path(state_dir)
        self.loader = loader
        self.current: SegmentIndex | None = None
        self._failed: str | None = None
        self._problem: str | None = None
        self._lock = threading.Lock()  # one load at a time; readers never take it

    def poll(self) -> bool:
        """Load the latest run if it is new; True when the index was swapped."""
        with self._lock:
            current = self.current
            try:
                run_id = latest_run_id(self.state_dir)
            except DataError as error:  # say so once, not on every poll
                problem = f"{error}; still serving {current.run_id if current else 'nothing'}"
                if problem != self._problem:
                    log.warning("%s", problem)
                self._problem = problem
                return False
            self._problem = None
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
            return True
