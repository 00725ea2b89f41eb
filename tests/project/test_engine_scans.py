"""Event sources of Parquet files reach an engine that reads Parquet itself (duckdb) as a
`Scan` of the files, not as Arrow data segmint read first, whenever nothing the project
says of the source changes its rows; membership and the run's counts are the arrow
engine's either way.

The oracle is the same project run on the arrow engine (itself checked against DuckDB SQL
in the conformance suite): member lists, the rows counted for the source and its keys
with no profile.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import attrs
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from segmint.cli import cli
from segmint.engines.base import Scan
from segmint.engines.duckdb.engine import DuckDBEngine
from segmint.plugin.host import get_registry
from segmint.project.config import load_project
from segmint.project.pipeline import execute, prepare

from project_files import write_project

RULES = """\
segment buyers: count(orders, last 30d) >= 2
segment big: sum(orders.amount) > 100
segment web_first: first(orders.channel) == "web"
segment store_last: last(orders.channel) == "store"
"""

AS_OF = dt.datetime(2026, 1, 31, tzinfo=dt.UTC)


def _orders(keys: list) -> list[pa.Table]:
    """Two files of orders: ties at one instant (first/last's tie rule), a key no profile
    has, a null key, an order after as_of."""
    day = dt.timedelta(days=1)
    rows = [  # key, days before as_of, amount, channel
        (keys[0], 3, 60.0, "web"), (keys[0], 3, 70.0, "x-shop"), (keys[0], 1, 5.0, "store"),
        (keys[1], 40, 150.0, "store"), (keys[1], 2, 1.0, None), (keys[2], 5, 20.0, "web"),
        (keys[2], 5, 30.0, "store"), (keys[2], -2, 999.0, "web"), (keys[3], 1, 10.0, "app"),
        (None, 1, 10.0, "web"),
    ]
    table = pa.table({
        "customer_id": pa.array([r[0] for r in rows]),
        "ts": pa.array([AS_OF - r[1] * day for r in rows], pa.timestamp("us", tz="UTC")),
        "amount": [r[2] for r in rows],
        "channel": [r[3] for r in rows],
    })
    return [table.slice(0, 5), table.slice(5)]


def _project(tmp_path: Path, keys: list, source_options: str = "") -> Path:
    events = tmp_path / "orders"
    events.mkdir()
    for index, part in enumerate(_orders(keys)):
        pq.write_table(part, events / f"part-{index}.parquet")
    pq.write_table(pa.table({"customer_id": pa.array(keys[:3]), "age": [30, 40, 50]}),
                   tmp_path / "people.parquet")
    return write_project(tmp_path, RULES, as_of="2026-01-31", timestamp_column="ts",
                         extra=source_options)


def _run(project_file: Path, engine: str, monkeypatch: pytest.MonkeyPatch,
         spied: type = DuckDBEngine) -> tuple:
    """The run's membership, its report of the orders source, and what the engine got."""
    given: list = []
    evaluate = spied.evaluate

    def spy(self, job):
        given.extend(type(e.data) for e in job.events.values())
        return evaluate(self, job)

    monkeypatch.setattr(spied, "evaluate", spy)
    project = attrs.evolve(load_project(project_file), engine=engine)
    outcome = execute(prepare(project, get_registry()))
    report = outcome.report.sources["orders"]
    return outcome.result.membership.sort_by("customer_id"), (report.rows, report.unmatched), given


CASES = [
    # (id, keys, the orders source's options, whether the duckdb engine gets a Scan)
    ("integer-keys", [1, 2, 3, 4], "", True),
    ("text-keys", ["a", "b", "c", "d"], "", True),
    ("normalised-keys", ["a@x.com", "b@x.com", "c@x.com", "d@x.com"], 'key_normalize = "email"\n',
     False),
    ("key-column-option", [1, 2, 3, 4], 'key = "customer_id"\n', False),
]


@pytest.mark.parametrize(("keys", "options", "scanned"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_duckdb_reads_parquet_events_itself_with_the_arrow_engines_answers(
        tmp_path, monkeypatch, keys, options, scanned):
    project_file = _project(tmp_path, keys, options)
    expected, expected_counts, _ = _run(project_file, "arrow", monkeypatch)
    membership, counts, given = _run(project_file, "duckdb", monkeypatch)
    assert membership.equals(expected.select(membership.column_names))
    assert counts == expected_counts == (10, 1)  # every row counted; key 4 has no profile
    assert (given == [Scan]) is scanned
    # ties at one instant: the smallest value first, the largest last; nulls never picked
    assert membership.column("web_first").to_pylist() == [True, False, False]
    assert membership.column("store_last").to_pylist() == [True, True, False]


@pytest.mark.full
def test_spark_reads_parquet_events_itself_with_the_arrow_engines_answers(tmp_path, monkeypatch):
    pytest.importorskip("pyspark")
    from segmint.engines.spark.engine import SparkEngine

    project_file = _project(tmp_path, [1, 2, 3, 4])
    expected, expected_counts, _ = _run(project_file, "arrow", monkeypatch, SparkEngine)
    membership, counts, given = _run(project_file, "spark", monkeypatch, SparkEngine)
    assert membership.equals(expected.select(membership.column_names))
    assert counts == expected_counts and given == [Scan]


def test_a_damaged_parquet_file_is_a_clear_error(tmp_path):
    project_file = _project(tmp_path, [1, 2, 3, 4], "")
    (tmp_path / "orders" / "part-1.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    result = CliRunner().invoke(cli, ["run", "-p", str(project_file), "--engine", "duckdb"])
    assert result.exit_code == 1
    assert "orders" in result.output and "part-1.parquet" in result.output
    assert "Traceback" not in result.output


def test_files_duckdb_fails_to_read_are_a_clear_error_naming_the_source(tmp_path, monkeypatch):
    """A file damaged (or gone) after the run looked at it fails inside DuckDB's query."""
    from segmint.plugins.sources.parquet import ParquetSource

    project_file = _project(tmp_path, [1, 2, 3, 4], "")
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(b"PAR1 not really parquet PAR1")
    scan = ParquetSource.scan
    monkeypatch.setattr(ParquetSource, "scan",
                        lambda self, columns: attrs.evolve(scan(self, columns), paths=(str(damaged),)))
    result = CliRunner().invoke(cli, ["run", "-p", str(project_file), "--engine", "duckdb"])
    assert result.exit_code == 1
    assert "source 'orders'" in result.output and "damaged.parquet" in result.output
    assert "Traceback" not in result.output
