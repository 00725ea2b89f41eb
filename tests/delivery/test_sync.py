"""Incremental sync: changes, batches, the delivered state and its journal, crash recovery.

The recovery tests drive a `DiffSink` whose destination is an in-memory audience that
honours idempotency keys, and kill the sync at every step it takes (before a send, after
the destination applied a batch but before it was confirmed, while committing); the next
run must leave the destination equal to the membership, with nothing applied twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmint.errors import SegmintError
from segmint.plugin.api import PluginContext, RunResult, SegmentInfo
from segmint.delivery.sync import (
    ADD, DELIVERED_FILE, JOURNAL_FILE, REMOVE, Batch, DiffSink, SyncState, audiences, batches,
    changes, sink_lock,
)

AS_OF = dt.datetime(2026, 1, 31, tzinfo=dt.timezone.utc)
INFOS = (SegmentInfo("vip", "segment"), SegmentInfo("vip__holdout", "holdout"),
         SegmentInfo("tier", "segmentation"))


def keys(*values: Any) -> pa.Array:
    return pa.array(values, pa.string())


def membership(vip: list[str], tier: dict[str, str] | None = None, everyone: int = 20) -> pa.Table:
    ids = [f"c{i:02d}" for i in range(everyone)]
    tier = tier or {}
    return pa.table({
        "customer_id": ids,
        "vip": [i in vip for i in ids],
        "vip__holdout": [False] * everyone,
        "tier": [tier.get(i) for i in ids],
    })


def result(table: pa.Table, run_id: str | None = None) -> RunResult:
    return RunResult(membership=table, profiles=table.select(["customer_id"]), key="customer_id",
                     as_of=AS_OF, segments=INFOS, run_id=run_id)


# changes() and audiences() ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("previous", "current", "added", "removed", "unchanged"),
    [
        ({}, {"s": ["a", "b"]}, {"s": ["a", "b"]}, {"s": []}, {"s": []}),
        ({"s": ["a", "b"]}, {"s": ["b", "c"]}, {"s": ["c"]}, {"s": ["a"]}, {"s": ["b"]}),
        ({"s": ["a"]}, {}, {"s": []}, {"s": ["a"]}, {"s": []}),
        ({"s": ["a"]}, {"s": ["a"]}, {"s": []}, {"s": []}, {"s": ["a"]}),
        ({"s": ["a"], "t": ["x"]}, {"t": ["x", "y"]},
         {"t": ["y"], "s": []}, {"t": [], "s": ["a"]}, {"t": ["x"], "s": []}),
    ],
)
def test_changes(previous, current, added, removed, unchanged) -> None:
    found = changes({k: keys(*v) for k, v in previous.items()}, {k: keys(*v) for k, v in current.items()})
    assert {k: v.to_pylist() for k, v in found.added.items()} == added
    assert {k: v.to_pylist() for k, v in found.removed.items()} == removed
    assert {k: v.to_pylist() for k, v in found.unchanged.items()} == unchanged
    assert list(found.added) == list(added)  # current's segments first, then the dropped ones


def test_changes_compare_keys_of_different_types() -> None:
    found = changes({"s": pa.array([1, 2], pa.int64())}, {"s": pa.array(["2", "3"])})
    assert found.added["s"].to_pylist() == ["3"]
    assert found.removed["s"].to_pylist() == ["1"]


def test_audiences_leave_out_holdouts_and_split_segmentations() -> None:
    table = membership(["c01", "c02"], {"c01": "gold", "c03": "silver"})
    found = audiences(table, "customer_id", infos=INFOS)
    assert {k: v.to_pylist() for k, v in found.items()} == {
        "vip": ["c01", "c02"], "tier=gold": ["c01"], "tier=silver": ["c03"]}
    assert list(audiences(table, "customer_id", ["vip__holdout", "tier=gold"], INFOS)) == [
        "vip__holdout", "tier=gold"]
    with pytest.raises(SegmintError, match="unknown segment 'nope'"):
        audiences(table, "customer_id", ["nope"], INFOS)


def test_batches_are_cut_per_segment_removals_first_with_stable_keys() -> None:
    found = changes({"s": keys("a", "b", "c")}, {"s": keys("d", "e", "f", "g", "h")})
    cut = list(batches(found, sync_id="run1", sink="hook", size=2))
    assert [(b.action, b.keys) for b in cut] == [
        (REMOVE, ("a", "b")), (REMOVE, ("c",)), (ADD, ("d", "e")), (ADD, ("f", "g")), (ADD, ("h",))]
    again = list(batches(found, sync_id="run1", sink="hook", size=2))
    assert [b.idempotency_key for b in cut] == [b.idempotency_key for b in again]
    assert len({b.idempotency_key for b in cut}) == 5
    other = list(batches(found, sync_id="run2", sink="hook", size=2))
    assert not {b.idempotency_key for b in cut} & {b.idempotency_key for b in other}


# The delivered state ------------------------------------------------------------------------

def test_state_is_committed_only_for_confirmed_batches(tmp_path: Path) -> None:
    state = SyncState.open(tmp_path)
    plan = state.plan({"s": keys("a", "b", "c")}, sync_id="r1", sink="x", batch_size=2)
    first, second = plan.batches
    state.begin(first)
    state.confirm(first)
    state.begin(second)  # sent, never confirmed
    state.close()
    again = SyncState.open(tmp_path)
    assert again.delivered["s"].to_pylist() == ["a", "b"]
    assert again.pending == [second]
    assert again.pending[0].replayed


def test_a_torn_journal_line_is_ignored_and_cut(tmp_path: Path) -> None:
    state = SyncState.open(tmp_path)
    (batch,) = state.plan({"s": keys("a")}, sync_id="r1", sink="x").batches
    state.begin(batch)
    state.close()
    with open(tmp_path / JOURNAL_FILE, "ab") as journal:
        journal.write(b'{"op":"confirm","id":"r1/1","rej')  # the crash came mid-write
    again = SyncState.open(tmp_path)
    assert again.pending == [batch]  # the torn confirmation never happened
    again.confirm(batch)
    again.close()
    lines = (tmp_path / JOURNAL_FILE).read_text().splitlines()
    assert [json.loads(line)["op"] for line in lines] == ["begin", "confirm"]
    assert SyncState.open(tmp_path).delivered["s"].to_pylist() == ["a"]


def test_rejected_keys_are_not_recorded_as_delivered(tmp_path: Path) -> None:
    state = SyncState.open(tmp_path)
    (batch,) = state.plan({"s": keys("a", "b")}, sync_id="r1", sink="x").batches
    state.begin(batch)
    state.confirm(batch, rejected=["b"])
    state.commit()
    assert SyncState.open(tmp_path).delivered["s"].to_pylist() == ["a"]
    assert not (tmp_path / JOURNAL_FILE).exists()
    table = pq.read_table(tmp_path / DELIVERED_FILE)
    assert table.to_pylist() == [{"segment": "s", "key": "a", "fingerprint": None}]


def test_one_sink_is_never_synced_twice_at_once(tmp_path: Path) -> None:
    with sink_lock(tmp_path, "hook"):
        with pytest.raises(SegmintError, match="another run is delivering to sink 'hook'"):
            with sink_lock(tmp_path, "hook"):
                pass
    with sink_lock(tmp_path, "hook"):
        pass


# DiffSink against an idempotent in-memory destination ---------------------------------------

class Crash(BaseException):
    """The process dying: not an error any code path catches."""


class Destination:
    """An audience store that applies each idempotency key once, and counts what it applied."""

    def __init__(self) -> None:
        self.members: dict[str, set[Any]] = {}
        self.seen: set[str] = set()
        self.applied: Counter[tuple[str, str, Any]] = Counter()
        self.requests = 0

    def apply(self, batch: Batch) -> None:
        self.requests += 1
        if batch.idempotency_key in self.seen:
            return
        self.seen.add(batch.idempotency_key)
        members = self.members.setdefault(batch.segment, set())
        for key in batch.keys:
            if batch.action == ADD:
                members.add(key)
            else:
                members.discard(key)
            self.applied[(batch.segment, batch.action, key)] += 1


class MemorySink(DiffSink):
    name = "memory"
    batch_size = 3

    def __init__(self, tmp: Path, destination: Destination, *, crash_at: int | None = None,
                 crash_after_apply: bool = False) -> None:
        super().__init__("mem", None, PluginContext(project_dir=tmp, state_dir=tmp / ".segmint"))
        self.destination = destination
        self.crash_at = crash_at
        self.crash_after_apply = crash_after_apply
        self.sent = 0

    def send(self, batch: Batch, result: RunResult) -> list[Any]:
        self.sent += 1
        if self.sent == self.crash_at and not self.crash_after_apply:
            raise Crash
        self.destination.apply(batch)
        if self.sent == self.crash_at:
            raise Crash
        return []


def final_members(table: pa.Table) -> dict[str, set[Any]]:
    return {name: set(values.to_pylist())
            for name, values in audiences(table, "customer_id", infos=INFOS).items()}


def nonempty(members: dict[str, set[Any]]) -> dict[str, set[Any]]:
    return {k: v for k, v in members.items() if v}


FIRST = membership(["c01", "c02", "c03", "c04", "c05"], {"c01": "gold", "c02": "gold", "c07": "silver"})
SECOND = membership(["c03", "c04", "c05", "c06", "c07", "c08", "c09"], {"c01": "silver", "c09": "gold"})


def test_a_sync_sends_only_the_difference(tmp_path: Path) -> None:
    destination = Destination()
    first = MemorySink(tmp_path, destination).deliver(result(FIRST, "r1"))
    assert (first.added, first.removed) == (8, 0)
    second = MemorySink(tmp_path, destination).deliver(result(SECOND, "r2"))
    assert (second.added, second.removed) == (6, 5)  # vip +4 -2, gold +1 -2, silver +1 -1
    assert nonempty(destination.members) == final_members(SECOND)
    third = MemorySink(tmp_path, destination).deliver(result(SECOND, "r3"))
    assert (third.added, third.removed) == (0, 0)
    assert destination.requests == 4 + 7  # a batch holds one segment's adds or removals, 3 at most


def test_dry_run_reports_and_writes_nothing(tmp_path: Path) -> None:
    destination = Destination()
    MemorySink(tmp_path, destination).deliver(result(FIRST, "r1"))
    before = sorted((p, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file())
    dry = MemorySink(tmp_path, destination).deliver(result(SECOND), dry_run=True)
    assert (dry.added, dry.removed, dry.dry_run) == (6, 5, True)
    assert sorted((p, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()) == before
    assert destination.requests == 4


def _steps() -> list[tuple[int, bool]]:
    # SECOND after FIRST takes 7 batches; crash before or after each is applied.
    return [(n, after) for n in range(1, 8) for after in (False, True)]


@pytest.mark.parametrize(("crash_at", "after_apply"), _steps())
def test_a_sync_killed_at_any_step_finishes_on_the_next_run(
        tmp_path: Path, crash_at: int, after_apply: bool) -> None:
    destination = Destination()
    MemorySink(tmp_path, destination).deliver(result(FIRST, "r1"))
    with pytest.raises(Crash):
        MemorySink(tmp_path, destination, crash_at=crash_at,
                   crash_after_apply=after_apply).deliver(result(SECOND, "r2"))
    rerun = MemorySink(tmp_path, destination).deliver(result(SECOND, "r3"))
    assert nonempty(destination.members) == final_members(SECOND)
    assert max(destination.applied.values()) == 1, "a change was applied twice"
    if after_apply:
        assert any("sent again" in m for m in rerun.messages)
    state = SyncState.for_sink(tmp_path / ".segmint", "mem")
    assert {k: set(v.to_pylist()) for k, v in state.delivered.items()} == final_members(SECOND)
    assert state.pending == []
    assert not (tmp_path / ".segmint" / "sinks" / "mem" / JOURNAL_FILE).exists()


def test_a_crash_while_committing_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    destination = Destination()
    MemorySink(tmp_path, destination).deliver(result(FIRST, "r1"))

    def crash(self: SyncState) -> None:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(SyncState, "commit", crash)
        with pytest.raises(Crash):
            MemorySink(tmp_path, destination).deliver(result(SECOND, "r2"))
    requests = destination.requests
    rerun = MemorySink(tmp_path, destination).deliver(result(SECOND, "r3"))
    assert (rerun.added, rerun.removed) == (0, 0)  # the journal had every batch confirmed
    assert destination.requests == requests
    assert nonempty(destination.members) == final_members(SECOND)


def test_an_interrupted_batch_is_sent_again_unchanged_even_if_the_run_changed(tmp_path: Path) -> None:
    destination = Destination()
    with pytest.raises(Crash):
        MemorySink(tmp_path, destination, crash_at=1, crash_after_apply=True).deliver(result(FIRST, "r1"))
    keys_before = set(destination.seen)
    MemorySink(tmp_path, destination).deliver(result(SECOND, "r2"))
    assert keys_before <= destination.seen
    assert nonempty(destination.members) == final_members(SECOND)
    assert max(destination.applied.values()) == 1


# Updates: members who stayed but whose sent data changed ------------------------------------

class FieldSink(MemorySink):
    """A sink that sends each member's email: a changed email is an update."""

    def profile_columns(self) -> list[str]:
        return ["email"]


def with_emails(table: pa.Table, changed: dict[str, str], run_id: str | None = None) -> RunResult:
    ids = table.column("customer_id").to_pylist()
    emails = [changed.get(i, f"{i}@example.com") for i in ids]
    profiles = pa.table({"customer_id": ids, "email": emails})
    return RunResult(membership=table, profiles=profiles, key="customer_id", as_of=AS_OF,
                     segments=INFOS, run_id=run_id)


def test_a_changed_field_of_a_member_who_stayed_is_an_update(tmp_path: Path) -> None:
    destination = Destination()
    FieldSink(tmp_path, destination).deliver(with_emails(FIRST, {}, "r1"))
    changed = {"c03": "new@example.com", "c15": "not-a-member@example.com"}
    dry = FieldSink(tmp_path, destination).deliver(with_emails(FIRST, changed), dry_run=True)
    assert (dry.added, dry.updated, dry.removed) == (0, 1, 0)
    requests = destination.requests
    delivery = FieldSink(tmp_path, destination).deliver(with_emails(FIRST, changed, "r2"))
    assert (delivery.added, delivery.updated, delivery.removed) == (0, 1, 0)
    assert destination.requests == requests + 1
    assert FieldSink(tmp_path, destination).deliver(with_emails(FIRST, changed, "r3")).updated == 0


def test_a_sink_that_starts_sending_a_field_updates_everyone_once(tmp_path: Path) -> None:
    destination = Destination()
    MemorySink(tmp_path, destination).deliver(with_emails(FIRST, {}, "r1"))
    first = FieldSink(tmp_path, destination).deliver(with_emails(FIRST, {}, "r2"))
    assert (first.added, first.updated) == (0, 8)
    assert FieldSink(tmp_path, destination).deliver(with_emails(FIRST, {}, "r3")).updated == 0


def test_an_interrupted_update_is_replayed(tmp_path: Path) -> None:
    destination = Destination()
    FieldSink(tmp_path, destination).deliver(with_emails(FIRST, {}, "r1"))
    changed = {"c03": "new@example.com"}
    with pytest.raises(Crash):
        FieldSink(tmp_path, destination, crash_at=1, crash_after_apply=True).deliver(
            with_emails(FIRST, changed, "r2"))
    rerun = FieldSink(tmp_path, destination).deliver(with_emails(FIRST, changed, "r3"))
    assert rerun.updated == 1  # the replayed batch, sent again with its key; nothing new
    state = SyncState.for_sink(tmp_path / ".segmint", "mem")
    assert state.pending == [] and FieldSink(tmp_path, destination).deliver(
        with_emails(FIRST, changed, "r4")).updated == 0
