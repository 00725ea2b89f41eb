"""Run snapshots: layout, metadata, atomic writes, listing and loading."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import segmint
from segmint.delivery import snapshots
from segmint.errors import SegmintError
from segmint.plugin.api import RunResult, SegmentInfo
from segmint.delivery.snapshots import (
    LATEST, RUNS, latest_run_id, list_snapshots, load_snapshot, new_run_id, run_metadata,
    write_snapshot,
)

AS_OF = dt.datetime(2026, 1, 31, 23, 59, 59, tzinfo=dt.timezone.utc)


def result(vip: list[bool], tier: list[str | None] | None = None) -> RunResult:
    ids = [str(i) for i in range(len(vip))]
    membership = pa.table({"customer_id": ids, "vip": vip,
                           "tier": tier or [None] * len(vip)})
    profiles = pa.table({"customer_id": ids, "email": [f"{i}@example.com" for i in ids]})
    return RunResult(membership, profiles, "customer_id", AS_OF,
                     (SegmentInfo("vip", "segment", "Very important"), SegmentInfo("tier", "segmentation")))


def test_run_ids_sort_by_time_and_have_a_random_tail() -> None:
    when = dt.datetime(2026, 1, 31, 18, 0, 5, tzinfo=dt.timezone.utc)
    run_id = new_run_id(when)
    assert re.fullmatch(r"20260131T180005Z-[0-9a-f]{6}", run_id)
    assert new_run_id(when) != run_id
    paris = dt.datetime(2026, 1, 31, 19, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert new_run_id(paris).startswith("20260131T180005Z-")


def test_a_snapshot_holds_membership_profiles_and_metadata(tmp_path: Path) -> None:
    run = result([True, False, True], ["gold", None, "gold"])
    snapshot = write_snapshot(tmp_path, run, {"rules_sha256": "abc"})
    path = tmp_path / RUNS / snapshot.run_id
    assert sorted(p.name for p in path.iterdir()) == ["membership.parquet", "profiles.parquet", "run.json"]
    assert pq.read_table(path / "membership.parquet").equals(run.membership)
    assert pq.read_table(path / "profiles.parquet").equals(run.profiles)
    meta = json.loads((path / "run.json").read_text())
    assert meta["run_id"] == snapshot.run_id
    assert meta["as_of"] == "2026-01-31T23:59:59+00:00"
    assert meta["counts"] == {"vip": 2, "tier=gold": 2, "tier=(none)": 1}
    assert meta["segments"][0] == {"name": "vip", "kind": "segment", "description": "Very important"}
    assert meta["rules_sha256"] == "abc"
    assert meta["customers"] == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", meta["created_at"])
    assert (tmp_path / RUNS / LATEST).read_text().strip() == snapshot.run_id


def test_latest_follows_the_newest_run_and_loads_lazily(tmp_path: Path) -> None:
    first = write_snapshot(tmp_path, result([True, False]))
    second = write_snapshot(tmp_path, result([False, True]))
    assert latest_run_id(tmp_path) == second.run_id
    loaded = load_snapshot(tmp_path, "latest")
    assert loaded.run_id == second.run_id
    assert "membership" not in vars(loaded)  # not read yet
    assert loaded.membership.column("vip").to_pylist() == [False, True]
    assert load_snapshot(tmp_path, first.run_id).membership.column("vip").to_pylist() == [True, False]
    assert [s.run_id for s in list_snapshots(tmp_path)] == [first.run_id, second.run_id]
    assert list_snapshots(tmp_path)[0].counts == {"vip": 1, "tier=(none)": 2}


def test_a_run_can_be_named_by_a_unique_prefix(tmp_path: Path) -> None:
    one = write_snapshot(tmp_path, result([True]))
    assert load_snapshot(tmp_path, one.run_id[:12]).run_id == one.run_id
    with pytest.raises(SegmintError, match="'nope' is not a stored run; 'segmint history' lists the runs"):
        load_snapshot(tmp_path, "nope")


def test_loading_before_any_run_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(SegmintError, match="no runs stored in .* yet: run 'segmint run' first"):
        load_snapshot(tmp_path, "latest")
    assert list_snapshots(tmp_path) == []
    assert latest_run_id(tmp_path) is None


def test_a_failed_write_leaves_the_previous_latest_and_no_half_run(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_snapshot(tmp_path, result([True]))

    def broken(table: pa.Table, where: Path) -> None:
        Path(where).write_bytes(b"half a parquet file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshots.pq, "write_table", broken)
    with pytest.raises(SegmintError, match="cannot store the run's snapshot in .*: No space left on device"):
        write_snapshot(tmp_path, result([False]))
    assert [p.name for p in (tmp_path / RUNS).iterdir() if p.name != LATEST] == [first.run_id]
    assert latest_run_id(tmp_path) == first.run_id


def test_half_written_runs_are_not_listed(tmp_path: Path) -> None:
    run = write_snapshot(tmp_path, result([True]))
    (tmp_path / RUNS / ".20260101T000000Z-abcdef.tmp").mkdir()
    (tmp_path / RUNS / "20260101T000000Z-abcdef").mkdir()  # no run.json: not a run
    assert [s.run_id for s in list_snapshots(tmp_path)] == [run.run_id]


def test_a_killed_runs_half_written_snapshot_is_removed_by_the_next_run(tmp_path: Path) -> None:
    """A run killed while writing leaves `.RUNID.tmp/`; the next run removes it, but not the
    directory of a run still writing (its owner process alive)."""
    runs = tmp_path / RUNS
    runs.mkdir()
    killed = runs / ".20260101T000000Z-abcdef.tmp"
    killed.mkdir()
    (killed / "membership.parquet").write_bytes(b"half")
    (killed / snapshots.OWNER_FILE).write_text("999999999\n")  # no such process
    old_style = runs / ".20260101T000001Z-abcdef.tmp"  # no owner file, a day old
    old_style.mkdir()
    os.utime(old_style, (time.time() - 86_400, time.time() - 86_400))
    writing = runs / ".20260101T000002Z-abcdef.tmp"
    writing.mkdir()
    (writing / snapshots.OWNER_FILE).write_text(f"{os.getpid()}\n")
    run = write_snapshot(tmp_path, result([True]))
    assert sorted(p.name for p in runs.iterdir()) == sorted([LATEST, run.run_id, writing.name])


def test_run_metadata_hashes_the_rules_and_names_versions(tmp_path: Path) -> None:
    a = tmp_path / "a.seg"
    b = tmp_path / "b.seg"
    a.write_text("segment x: y > 1\n")
    b.write_text("segment z: y > 2\n")
    meta = run_metadata([a, b], {"segmint": "0.1.0"}, segmint.__version__)
    expected = hashlib.sha256(a.read_bytes() + b"\0" + b.read_bytes() + b"\0").hexdigest()
    assert meta == {"rules_sha256": expected, "segmint_version": segmint.__version__,
                    "plugins": {"segmint": "0.1.0"}}
    assert run_metadata([b, a], {}, segmint.__version__)["rules_sha256"] != expected
