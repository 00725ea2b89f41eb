"""Reading a run's sources side by side (`segmint.project.prefetch`): the same results and
errors as reading one after the other, reads overlapping, one thread at a time on a source."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

from segmint.errors import ConfigError, DataError
from segmint.plugins.sources.file_common import FileSource
from segmint.project.identity import Keys
from segmint.project.pipeline import run_project
from segmint.project.prefetch import MAX_WORKERS, NO_PREFETCH, PlannedRead, Prefetch, read_workers


@pytest.mark.parametrize(("text", "expected"), [
    ("1", 1), ("3", 3), (" 2 ", 2), ("64", 64),
])
def test_the_number_of_read_threads_comes_from_the_environment(monkeypatch, text, expected):
    monkeypatch.setenv("SEGMINT_READ_THREADS", text)
    assert read_workers() == expected


def test_by_default_as_many_threads_as_cores_up_to_the_limit(monkeypatch):
    monkeypatch.delenv("SEGMINT_READ_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert read_workers() == MAX_WORKERS
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert read_workers() == 1


@pytest.mark.parametrize("text", ["0", "-1", "65", "two", "1.5"])
def test_a_bad_number_of_read_threads_is_an_error_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv("SEGMINT_READ_THREADS", text)
    with pytest.raises(ConfigError, match=f"SEGMINT_READ_THREADS must be a whole number from 1 to 64, got '{text}'"):
        read_workers()


def _planned(name, columns, value, *, whole=False, delay=0.0, log=None):
    def read():
        if log is not None:
            log.append(("start", name))
        time.sleep(delay)
        if isinstance(value, Exception):
            raise value
        return value() if callable(value) else value
    return PlannedRead(name, columns, whole, read)


def test_a_planned_read_is_taken_with_its_result_and_another_is_read_where_asked():
    with Prefetch.start([_planned("a", ("x",), "A"), _planned("b", None, "B"),
                         _planned("a", ("y",), "never")], workers=2) as prefetch:
        assert prefetch.take("a", ["x"], lambda: "read now") == "A"
        assert prefetch.take("a", ["x"], lambda: "read now") == "read now"  # taken once
        assert prefetch.take("a", ["y"], lambda: "read now") == "read now"  # one plan a source
        assert prefetch.take("b", None, lambda: "read now") == "B"


def test_a_failed_read_raises_where_it_is_taken_not_before():
    with Prefetch.start([_planned("a", None, DataError("bad row", source="a")),
                         _planned("b", None, "B")], workers=2) as prefetch:
        prefetch.settle(["a"])  # waits, raises nothing
        assert prefetch.take("b", None, lambda: None) == "B"
        with pytest.raises(DataError, match="bad row"):
            prefetch.take("a", None, lambda: None)


def test_a_stream_read_whole_is_read_on_the_worker_and_one_read_as_a_stream_is_not():
    batch = pa.record_batch({"n": [1, 2]})

    def stream():
        return pa.RecordBatchReader.from_batches(batch.schema, [batch])
    with Prefetch.start([_planned("a", None, stream, whole=True),
                         _planned("b", None, stream)], workers=2) as prefetch:
        assert isinstance(prefetch.take("a", None, lambda: None), pa.Table)
        assert isinstance(prefetch.take("b", None, lambda: None), pa.RecordBatchReader)


@pytest.mark.parametrize("workers", [1, 2])
def test_one_thread_or_one_read_starts_nothing(workers):
    reads = [_planned("a", None, "A")] + ([] if workers == 2 else [_planned("b", None, "B")])
    assert Prefetch.start(reads, workers=workers) is NO_PREFETCH
    assert NO_PREFETCH.take("a", None, lambda: "read now") == "read now"


def test_leaving_cancels_what_has_not_started_and_waits_for_what_runs():
    log: list = []
    reads = [_planned(n, None, n, delay=0.2, log=log) for n in "abcd"]
    with Prefetch.start(reads, workers=2):
        time.sleep(0.05)
    assert sorted(log) == [("start", "a"), ("start", "b")]  # c and d never began
    assert threading.active_count() == 1 or all(
        not t.name.startswith("segmint-read") for t in threading.enumerate())


# -- a run -------------------------------------------------------------------------------------

RULES = """\
segment buyers: frequency >= 2
segment active: count(visits, last 30d) >= 1
segment gold: tier == "gold"
"""


def _project(tmp_path: Path, *, broken: tuple[str, ...] = ()) -> Path:
    crm = "email,tier\n" + "".join(f"c{i}@x.com,{'gold' if i % 3 else 'silver'}\n" for i in range(40))
    orders = "email,timestamp,amount\n" + "".join(
        f"c{i % 30}@x.com,2024-05-{1 + i % 28:02d},{i}\n" for i in range(90))
    visits = "email,timestamp\n" + "".join(f"c{i % 25}@x.com,2024-06-{1 + i % 14:02d}\n" for i in range(50)) \
        + "zz@x.com,2024-06-10\nzz@x.com,2024-06-11\nyy@x.com,2024-06-11\n"  # no profile
    survey = "email,score\n" + "".join(f"c{i}@x.com,{i % 11}\n" for i in range(0, 40, 2))
    files = {"crm.csv": crm, "orders.csv": orders, "visits.csv": visits, "survey.csv": survey}
    for name, text in files.items():
        if name.split(".")[0] in broken:
            text += "x,y,z,w\n"  # a row with too many fields: an error as the file is read
        (tmp_path / name).write_text(text)
    (tmp_path / "rules.seg").write_text(RULES + "segment promoters: score >= 9\n")
    (tmp_path / "segmint.toml").write_text("""\
rules = ["rules.seg"]
key = "email"
as_of = "2024-06-15"
engine = "arrow"

[sources.crm]
plugin = "csv"
path = "crm.csv"

[sources.survey]
plugin = "csv"
path = "survey.csv"

[sources.orders]
plugin = "csv"
role = "events"
path = "orders.csv"

[sources.visits]
plugin = "csv"
role = "events"
path = "visits.csv"
""")
    return tmp_path / "segmint.toml"


class Watch:
    """Each CSV source's reads and schema calls, with when they ran, and whether a source was
    ever used by two threads at once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, delays: dict[str, float]) -> None:
        self.reads: list[tuple[str, float, float]] = []
        self.clashes: list[str] = []
        self._busy: dict[int, str] = {}
        self._lock = threading.Lock()
        read, schema = FileSource.read, FileSource.schema
        watch = self

        def watched(method, what):
            def call(source, *args, **kwargs):
                me = threading.get_ident()
                with watch._lock:
                    busy = watch._busy.get(id(source))
                    if busy is not None and busy[1] != me:  # a read may ask its own schema
                        watch.clashes.append(f"{what} of {source.source_name} during {busy[0]}")
                    outer = busy is None  # not a call inside one already watched
                    if outer:
                        watch._busy[id(source)] = (what, me)
                start = time.monotonic()
                try:
                    if what == "read":
                        time.sleep(delays.get(source.source_name, 0.0))
                    return method(source, *args, **kwargs)
                finally:
                    with watch._lock:
                        if outer:
                            watch._busy.pop(id(source), None)
                    if what == "read":
                        watch.reads.append((source.source_name, start, time.monotonic()))
            return call
        monkeypatch.setattr(FileSource, "read", watched(read, "read"))
        monkeypatch.setattr(FileSource, "schema", watched(schema, "schema"))

    def overlapped(self) -> bool:
        spans = sorted(self.reads, key=lambda r: r[1])
        return any(later[1] < earlier[2] for earlier, later in zip(spans, spans[1:]))


#: The event sources slower to read than the profiles: the run asks their schemas (the
#: metric's columns, whether the engine scans them) while they may still be read.
SLOW = {"crm": 0.02, "survey": 0.02, "orders": 0.3, "visits": 0.3}


def _run(project_file: Path, monkeypatch, threads: int, delays: dict[str, float] = SLOW):
    monkeypatch.setenv("SEGMINT_READ_THREADS", str(threads))
    watch = Watch(monkeypatch, delays)
    run = run_project(project_file, dry_run=True)
    return run, watch


def test_a_run_reading_side_by_side_gives_the_same_result(tmp_path, monkeypatch):
    project_file = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    one, one_watch = _run(project_file, monkeypatch, 1)
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    many, many_watch = _run(project_file, monkeypatch, 4)
    assert many.membership.equals(one.membership)
    assert many.result.profiles.equals(one.result.profiles)
    assert many.report.lines() == one.report.lines()
    assert dict(many.sizes()) == dict(one.sizes()) and dict(one.sizes())["buyers"] > 0
    assert not one_watch.overlapped()
    assert many_watch.overlapped()  # the reads ran side by side
    assert {r[0] for r in many_watch.reads} == {"crm", "survey", "orders", "visits"}
    assert many_watch.clashes == [] and one_watch.clashes == []


@pytest.mark.parametrize(("broken", "named"), [
    (("crm", "visits"), "crm"),      # the first in the run's order, though it is the slower
    (("orders", "visits"), "orders"),
    (("visits",), "visits"),
])
def test_the_error_is_the_first_failing_read_in_the_runs_order(tmp_path, monkeypatch, broken, named):
    project_file = _project(tmp_path, broken=broken)
    monkeypatch.chdir(tmp_path)
    errors = []
    for threads in (1, 4):
        monkeypatch.setenv("SEGMINT_READ_THREADS", str(threads))
        with pytest.raises(DataError) as raised:
            run_project(project_file, dry_run=True)
        errors.append(str(raised.value))
    assert errors[0] == errors[1] and "columns, got 4: x,y,z,w" in errors[0], errors
    assert f"{named}.csv" in errors[0] or f"'{named}'" in errors[0]


def test_the_keys_to_match_are_found_beside_the_evaluation(tmp_path, monkeypatch):
    """The distinct keys the unmatched count matches are found on another thread while the
    engine evaluates (the tables held whole: profiles, orders, visits), with the counts of
    a run on one thread, which finds them after."""
    project_file = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    calls: list = []
    find = Keys.find_keysets

    def spy(self, names):
        calls.append((threading.current_thread().name.split("_")[0], list(names)))
        return find(self, names)

    monkeypatch.setattr(Keys, "find_keysets", spy)
    found = {}
    for threads in ("1", "4"):
        monkeypatch.setenv("SEGMINT_READ_THREADS", threads)
        report = run_project(project_file, dry_run=True).report
        found[threads] = {n: (r.rows, r.unmatched) for n, r in report.sources.items()}
    assert calls == [("segmint-keys", ["crm", "survey", "orders", "visits"])]
    assert found["1"] == found["4"]
    assert found["4"]["visits"] == (53, 2) and found["4"]["crm"] == (40, 20)
