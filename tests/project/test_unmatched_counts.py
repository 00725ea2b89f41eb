"""The data report's keys with no profile are the same on every engine: counted from Arrow
data by segmint (`Keys.count_unmatched`, the arrow engine) or, for Parquet events the
engine reads itself, by the engine (`KeyCounts`, one query over the same files), whose
key column then never comes into Python.

The oracle is the distinct non-null event keys no profile source has, computed here in
plain Python from the rows written.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmint.engines.duckdb.engine import DuckDBEngine
from segmint.plugin.host import get_registry
from segmint.project import reading
from segmint.project.config import load_project
from segmint.project.pipeline import execute, prepare

from project_files import write_project

AS_OF = dt.datetime(2026, 1, 31, tzinfo=dt.UTC)
RULES = "segment buyers: count(orders) >= 1\nsegment big: sum(orders.amount) > 10\n"


def _write(tmp_path: Path, profiles: list[list], events: list[list], *, key_type: pa.DataType,
           event_key_type: pa.DataType | None = None, options: str = "") -> Path:
    """A project: a Parquet profile source per list of `profiles` (``people``, ``more``),
    the orders as two Parquet files holding `events` keys."""
    names = ("people", "more")[:len(profiles)]
    for name, keys in zip(names, profiles):
        pq.write_table(pa.table({"customer_id": pa.array(keys, key_type), "age": list(range(len(keys)))}),
                       tmp_path / f"{name}.parquet")
    (tmp_path / "orders").mkdir()
    table = pa.table({
        "customer_id": pa.array(events, event_key_type or key_type),
        "ts": pa.array([AS_OF - dt.timedelta(days=i + 1) for i in range(len(events))],
                       pa.timestamp("us", tz="UTC")),
        "amount": [float(i) for i in range(len(events))],
    })
    half = len(events) // 2
    pq.write_table(table.slice(0, half), tmp_path / "orders" / "part-0.parquet")
    pq.write_table(table.slice(half), tmp_path / "orders" / "part-1.parquet")
    return write_project(tmp_path, RULES, as_of="2026-01-31", profiles=names,
                         timestamp_column="ts", extra=options)


def _run(project_file: Path, engine: str, monkeypatch: pytest.MonkeyPatch) -> tuple:
    """The run's report (counts and printed lines), membership, and what the engine counted."""
    counted: dict = {}
    evaluate = DuckDBEngine.evaluate

    def spy(self, job):
        result = evaluate(self, job)
        counted.update(result.key_counts)
        return result

    monkeypatch.setattr(DuckDBEngine, "evaluate", spy)
    outcome = execute(prepare(attrs.evolve(load_project(project_file), engine=engine), get_registry()))
    report = outcome.report
    counts = {name: (r.rows, r.unmatched) for name, r in report.sources.items()}
    return counts, report.lines(), outcome.result.membership.sort_by("customer_id"), counted


def _expected(profiles: list[list], events: list) -> int:
    known = {k for keys in profiles for k in keys}
    return len({k for k in events if k is not None and k not in known})


CASES = [
    # (id, profile sources' keys, event keys, key type)
    ("unmatched-keys", [[1, 2, 3]], [1, 2, 4, 5, 1], pa.int64()),
    ("null-keys", [[1, 2, 3]], [None, 1, None, 7, 3], pa.int64()),
    ("duplicate-unmatched-keys", [[1, 2, 3]], [9, 9, 9, 8, 8, 1, 1], pa.int64()),
    ("every-key-matched", [[1, 2, 3]], [1, 2, 3, 3], pa.int64()),
    ("no-key-matched", [[1, 2, 3]], [4, 5, 6, 4, None], pa.int64()),
    ("text-keys", [["a", "b"]], ["a", "z", "z", None, "y", "b"], pa.string()),
    ("two-profile-sources", [[1, 2], [2, 3]], [1, 3, 4, 4, None, 5], pa.int64()),
]


@pytest.mark.parametrize(("profiles", "events", "key_type"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_keys_with_no_profile_are_counted_alike_on_arrow_and_duckdb(
        tmp_path, monkeypatch, profiles, events, key_type):
    project_file = _write(tmp_path, profiles, events, key_type=key_type)
    expected = _run(project_file, "arrow", monkeypatch)

    def unread(*args, **kwargs):
        raise AssertionError("the scanned events' key column was read into Arrow")

    monkeypatch.setattr(reading, "_key_column", unread)
    counts, lines, membership, counted = _run(project_file, "duckdb", monkeypatch)
    assert counts["orders"] == expected[0]["orders"] == (len(events), _expected(profiles, events))
    assert counts == expected[0] and lines == expected[1]  # the printed report too
    assert membership.equals(expected[2].select(membership.column_names))
    assert counted["orders"].unmatched == _expected(profiles, events)  # DuckDB counted them


def test_event_keys_of_another_type_are_not_matched_on_either_engine(tmp_path, monkeypatch):
    """int32 event keys against int64 profile keys: the report says nothing of them on the
    arrow engine, and nothing on duckdb either (what DuckDB counted is not used)."""
    project_file = _write(tmp_path, [[1, 2, 3]], [1, 4, 4], key_type=pa.int64(),
                          event_key_type=pa.int32())
    expected = _run(project_file, "arrow", monkeypatch)
    counts, lines, _, _ = _run(project_file, "duckdb", monkeypatch)
    assert counts == expected[0] and counts["orders"] == (3, None) and lines == expected[1]


def test_events_segmint_reads_itself_are_counted_by_segmint(tmp_path, monkeypatch):
    """Normalised keys: the events come to DuckDB as Arrow, and segmint counts them."""
    project_file = _write(tmp_path, [["a@x.com", "b@x.com"]], ["A@x.com ", "c@x.com", None],
                          key_type=pa.string(), options='key_normalize = "email"\n')
    expected = _run(project_file, "arrow", monkeypatch)
    counts, lines, _, counted = _run(project_file, "duckdb", monkeypatch)
    assert counts == expected[0] and counts["orders"] == (3, 1) and lines == expected[1]
    assert counted == {}


@pytest.mark.full
def test_keys_with_no_profile_are_counted_alike_on_spark(tmp_path, monkeypatch):
    pytest.importorskip("pyspark")
    project_file = _write(tmp_path, [[1, 2, 3]], [None, 1, 9, 9, 8], key_type=pa.int64())
    expected = _run(project_file, "arrow", monkeypatch)
    monkeypatch.setattr(reading, "_key_column", lambda *a: pytest.fail("key column read"))
    counts, lines, _, _ = _run(project_file, "spark", monkeypatch)
    assert counts == expected[0] and counts["orders"] == (5, 2) and lines == expected[1]


def test_profile_keys_checked_as_read_are_not_checked_again_by_the_engine(tmp_path, monkeypatch):
    """One check of the profile keys per run: the pipeline's, as each source is read."""
    from segmint.engines.duckdb import runner

    project_file = _write(tmp_path, [[3, 1, 2]], [1, 4], key_type=pa.int64())
    monkeypatch.setattr(runner, "check_keys", lambda *a, **k: pytest.fail("keys checked again"))
    counts, _, membership, _ = _run(project_file, "duckdb", monkeypatch)
    assert counts["orders"] == (2, 1) and membership.num_rows == 3
