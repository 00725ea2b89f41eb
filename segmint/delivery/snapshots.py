"""Run snapshots: what each run found, kept under the project's state directory.

Every ``segmint run`` (but a dry run) stores ``runs/<RUN_ID>/`` with ``membership.parquet``,
``profiles.parquet`` (the key and the profile columns sinks and reports need) and
``run.json`` (when, as of when, a hash of the rules, versions, counts), then points
``runs/LATEST`` at it. The directory is written under a temporary name and renamed, and
``LATEST`` is replaced atomically, so a reader (``segmint history``, the lookup service)
sees a whole snapshot or none; what a killed run left half-written is removed by the next. Run ids sort in time order: ``20260131T180000Z-1a2b3c``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from segmint.delivery.atomic import _fsync_directory, _fsync_file, atomic_write
from segmint.errors import DataError, SegmintError
from segmint.plugin.api import RunResult, SegmentInfo
from segmint.semantics.labels import in_rule_order

RUNS = "runs"
LATEST = "LATEST"
MEMBERSHIP_FILE = "membership.parquet"
PROFILES_FILE = "profiles.parquet"
METADATA_FILE = "run.json"
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}\Z")
#: In a snapshot being written: the writing process's id, so a later run can tell a killed
#: run's leftovers from a run still writing.
OWNER_FILE = ".owner"
#: A half-written snapshot without an owner file is taken as abandoned after this long.
ABANDONED_AFTER_S = 3600


@attrs.frozen
class SnapshotInfo:
    """One stored run, as ``segmint history`` lists it."""

    run_id: str
    created_at: str
    as_of: str
    counts: Mapping[str, int]
    path: Path = attrs.field(eq=False, repr=False)


@attrs.define(slots=False)
class Snapshot:
    """A stored run; its tables are read from disk on first use."""

    run_id: str
    metadata: dict[str, Any]
    path: Path = attrs.field(repr=False)

    @functools.cached_property
    def membership(self) -> pa.Table:
        return _read_table(self.path / MEMBERSHIP_FILE)

    @functools.cached_property
    def profiles(self) -> pa.Table:
        return _read_table(self.path / PROFILES_FILE)

    @property
    def key(self) -> str:
        return str(self.metadata["key"])

    @property
    def segments(self) -> tuple[SegmentInfo, ...]:
        """What run.json says of each output column (kind, description, labels in rule
        order); a field this version does not know is passed over."""
        fields = {f.name for f in attrs.fields(SegmentInfo)}
        found = []
        for entry in self.metadata.get("segments", ()):
            try:
                found.append(SegmentInfo(**{k: v for k, v in entry.items() if k in fields}))
            except (TypeError, ValueError, AttributeError):
                continue  # an entry this version cannot read; the column is still listed
        return tuple(found)


def new_run_id(now: dt.datetime | None = None) -> str:
    """``YYYYmmddTHHMMSSZ-<6 hex>``: the creation time in UTC and a random tail."""
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def segment_counts(membership: pa.Table, key: str,
                   infos: Sequence[SegmentInfo] = ()) -> dict[str, int]:
    """Members per segment column, in column order; a segmentation counts each label as
    ``NAME=LABEL``, its labels in rule order (`infos`; alphabetical without), none last."""
    declared = {info.name: info.labels for info in infos}
    counts: dict[str, int] = {}
    for name in membership.column_names:
        if name == key:
            continue
        column = membership.column(name)
        if pa.types.is_boolean(column.type):
            counts[name] = int(pc.sum(column).as_py() or 0)
        else:
            found = {c["values"]: int(c["counts"]) for c in pc.value_counts(column).to_pylist()}
            present = sorted(found, key=lambda label: (label is None, label or ""))
            for label in in_rule_order(present, declared.get(name, ())):
                counts[f"{name}={'(none)' if label is None else label}"] = found[label]
    return counts


def write_snapshot(state_dir: str | os.PathLike[str], result: RunResult,
                   metadata: Mapping[str, Any] | None = None) -> Snapshot:
    """Store `result` as a new run and make it the latest; `metadata` is added to run.json.

    The run's directory is complete and on disk before it gets its name, and ``LATEST`` is
    replaced only after that, so a crash at any moment leaves the previous latest run.
    """
    now = dt.datetime.now(dt.timezone.utc)
    run_id = new_run_id(now)
    runs = Path(state_dir) / RUNS
    info = {
        "run_id": run_id,
        "created_at": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "as_of": result.as_of.isoformat(),
        "key": result.key,
        "customers": result.membership.num_rows,
        "counts": segment_counts(result.membership, result.key, result.segments),
        # a segmentation's entry lists its labels in rule order (history and diff show them so)
        "segments": [{k: v for k, v in attrs.asdict(s).items() if k != "labels" or v}
                     for s in result.segments],
        **dict(metadata or {}),
    }
    try:
        runs.mkdir(parents=True, exist_ok=True)
        remove_abandoned(runs)
        temp = runs / f".{run_id}.tmp"
        temp.mkdir()
        try:
            (temp / OWNER_FILE).write_text(f"{os.getpid()}\n", encoding="ascii")
            pq.write_table(result.membership, temp / MEMBERSHIP_FILE)
            pq.write_table(_profiles(result), temp / PROFILES_FILE)
            (temp / METADATA_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n",
                                              encoding="utf-8")
            for name in (MEMBERSHIP_FILE, PROFILES_FILE, METADATA_FILE):
                _fsync_file(temp / name)
            (temp / OWNER_FILE).unlink()
            _fsync_directory(temp)
            os.rename(temp, runs / run_id)
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        _fsync_directory(runs)
        with atomic_write(runs / LATEST) as latest:
            latest.write_text(run_id + "\n", encoding="ascii")
    except OSError as error:
        raise SegmintError(f"cannot store the run's snapshot in {runs}: "
                           f"{error.strerror or error}") from None
    return Snapshot(run_id, info, runs / run_id)


def remove_abandoned(runs: Path) -> None:
    """Remove the half-written snapshots of runs that were killed: ``.RUNID.tmp/`` whose
    writer (the process in its ``owner`` file) is gone, or, without that file, older than an
    hour. A run still writing keeps its directory."""
    for path in runs.iterdir():
        if not (path.name.startswith(".") and path.name.endswith(".tmp") and RUN_ID.match(path.name[1:-4])):
            continue
        try:
            if _writer_alive(path):
                continue
            shutil.rmtree(path)
        except OSError:
            continue  # another run removed it first, or it is not ours to remove


def _writer_alive(path: Path) -> bool:
    try:
        pid = int((path / OWNER_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return time.time() - path.stat().st_mtime < ABANDONED_AFTER_S
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def _profiles(result: RunResult) -> pa.Table:
    """The key first, then the profile columns, one row per member of the membership table."""
    profiles = result.profiles
    if result.key not in profiles.column_names:
        return result.membership.select([result.key])
    others = [c for c in profiles.column_names if c != result.key]
    return profiles.select([result.key] + others)


def list_snapshots(state_dir: str | os.PathLike[str]) -> list[SnapshotInfo]:
    """Every stored run, oldest first; half-written ones (temporary names) are skipped."""
    runs = Path(state_dir) / RUNS
    if not runs.is_dir():
        return []
    found = []
    for path in runs.iterdir():
        if not RUN_ID.match(path.name) or not path.is_dir():
            continue
        try:
            meta = _read_metadata(path)
        except SegmintError:
            continue
        found.append(SnapshotInfo(path.name, str(meta.get("created_at", "")),
                                  str(meta.get("as_of", "")), dict(meta.get("counts", {})), path))
    return sorted(found, key=lambda s: (s.created_at, s.run_id))


def latest_run_id(state_dir: str | os.PathLike[str]) -> str | None:
    """The id ``runs/LATEST`` names, or None before the first run."""
    try:
        text = (Path(state_dir) / RUNS / LATEST).read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return text if RUN_ID.match(text) else None


def load_snapshot(state_dir: str | os.PathLike[str], run_id: str) -> Snapshot:
    """The run `run_id`, or the latest one for ``"latest"``; a unique prefix of an id will do."""
    runs = Path(state_dir) / RUNS
    if run_id.lower() == "latest":
        latest = latest_run_id(state_dir)
        if latest is None:
            raise SegmintError(f"no runs stored in {runs} yet: run 'segmint run' first")
        run_id = latest
    path = runs / run_id
    if not RUN_ID.match(run_id) or not path.is_dir():
        matches = [s.run_id for s in list_snapshots(state_dir) if s.run_id.startswith(run_id)]
        if len(matches) != 1:
            reason = "is ambiguous" if matches else "is not a stored run"
            raise SegmintError(f"'{run_id}' {reason}; 'segmint history' lists the runs")
        run_id = matches[0]
        path = runs / run_id
    return Snapshot(run_id, _read_metadata(path), path)


def load_run(state_dir: str | os.PathLike[str], run: str) -> Snapshot:
    """A run by id or unique prefix, ``latest``, or ``previous`` (the one before the latest)."""
    if run.lower() != "previous":
        return load_snapshot(state_dir, run)
    runs = list_snapshots(state_dir)
    if len(runs) < 2:
        raise SegmintError("there is no previous run: fewer than two runs are stored")
    latest = load_snapshot(state_dir, "latest").run_id
    ids = [r.run_id for r in runs]
    index = ids.index(latest) if latest in ids else len(ids) - 1
    if index == 0:
        raise SegmintError("there is no run before the latest one")
    return load_snapshot(state_dir, ids[index - 1])


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(f"unreadable run metadata: {error}", file=str(path / METADATA_FILE)) from None
    if not isinstance(data, dict):
        raise DataError("run metadata is not a JSON object", file=str(path / METADATA_FILE))
    return data


def _read_table(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"cannot read snapshot table: {error}", file=str(path)) from None


def run_metadata(rule_files: Sequence[Path], plugins: Mapping[str, str],
                 segmint_version: str) -> dict[str, Any]:
    """What run.json records besides counts: a hash of the rules' text and the versions.

    The hash covers the rule files' bytes in the order the run read them, so the same
    rules give the same hash wherever the project lives.
    """
    digest = hashlib.sha256()
    for path in rule_files:
        digest.update(Path(path).read_bytes())
        digest.update(b"\0")
    return {"rules_sha256": digest.hexdigest(), "segmint_version": segmint_version,
            "plugins": dict(plugins)}
