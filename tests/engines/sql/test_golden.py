"""`segmint sql` against golden files, one per dialect: the query a project's rules compile to.

The project (tests/engines/sql/golden/project/) covers the language: every comparison and
test, lists, dates and timestamps in a time zone, top/bottom, segment references, a
segmentation, holdouts, aggregates over events with windows and where conditions, and two
profile sources joined on a normalised email key. After a deliberate change to the SQL,
regenerate the files and review the diff:

    SEGMINT_UPDATE_GOLDEN=1 SEGMINT_PLUGINS=segmint .venv/bin/python -m pytest tests/engines/sql/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from segmint.cli import cli

pytest.importorskip("sqlglot")

HERE = Path(__file__).parent / "golden"
PROJECT = HERE / "project" / "segmint.toml"
DIALECTS = ["duckdb", "spark", "postgres", "bigquery", "snowflake"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_printed_sql_is_the_golden_file(dialect, monkeypatch):
    monkeypatch.chdir(HERE / "project")
    result = CliRunner().invoke(cli, ["sql", "-p", "segmint.toml", "--dialect", dialect])
    assert result.exit_code == 0, result.output
    golden = HERE / f"{dialect}.sql"
    if os.environ.get("SEGMINT_UPDATE_GOLDEN"):
        golden.write_text(result.output)
    assert result.output == golden.read_text()


def test_the_duckdb_sql_computes_what_a_run_computes(monkeypatch):
    """The printed DuckDB query, run as it is over the project's files, gives the membership
    the arrow engine's run gives: the same profile join, keys, aggregates and holdouts."""
    duckdb = pytest.importorskip("duckdb")
    from segmint.plugin.host import get_registry
    from segmint.project.config import load_project
    from segmint.project.pipeline import execute, prepare

    monkeypatch.chdir(HERE / "project")
    expected = execute(prepare(load_project(PROJECT), get_registry())).result.membership
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    got = con.sql((HERE / "duckdb.sql").read_text().rstrip().rstrip(";")).to_arrow_table()
    assert got.schema.names == expected.schema.names
    assert got.sort_by("email").to_pylist() == expected.sort_by("email").to_pylist()
    assert any(got["win_back"].to_pylist() + got["everyone"].to_pylist())
