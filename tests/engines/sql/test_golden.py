"""`segmint sql` against golden files, one per dialect: the query a project's rules compile to.

The project (tests/engines/sql/golden/project/) covers the language: every comparison and
test, lists, dates and timestamps in a time zone, top/bottom, segment references, a
segmentation, holdouts, aggregates over events with windows and where conditions, and two
profile sources joined on a normalised email key. The metrics project
(tests/engines/sql/golden/metrics_project/, files metrics-DIALECT.sql) computes the purchase
and RFM metrics in SQL from an orders CSV keyed by emails in mixed case, the web project
(web_project/, files web-DIALECT.sql) the web metrics from events with naive timestamps
across a daylight-saving day, the acquisition project (acquisition_project/, files
acquisition-DIALECT.sql) acquisition_cost and clv_to_cac from those orders with a channel
and a spend CSV (each project's make_data.py wrote its data). After a deliberate change to
the SQL, regenerate the files and review the diff:

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
METRICS_PROJECT = HERE / "metrics_project" / "segmint.toml"
WEB_PROJECT = HERE / "web_project" / "segmint.toml"
ACQUISITION_PROJECT = HERE / "acquisition_project" / "segmint.toml"
DIALECTS = ["duckdb", "spark", "postgres", "bigquery", "snowflake"]
#: project directory -> the prefix of its golden files
PROJECTS = {"project": "", "metrics_project": "metrics-", "web_project": "web-",
            "acquisition_project": "acquisition-"}


@pytest.mark.parametrize("project", list(PROJECTS))
@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_printed_sql_is_the_golden_file(dialect, project, monkeypatch):
    monkeypatch.chdir(HERE / project)
    result = CliRunner().invoke(cli, ["sql", "-p", "segmint.toml", "--dialect", dialect])
    assert result.exit_code == 0, result.output
    golden = HERE / f"{PROJECTS[project]}{dialect}.sql"
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


def test_the_duckdb_sql_computes_the_metrics_as_a_run_does(monkeypatch):
    """The metrics project's printed DuckDB query, run as it is over its files, gives the
    membership of the arrow engine's run byte for byte: the purchase and RFM columns the
    SQL computes from the orders (keys normalised, refunds, shared order ids, orders after
    as_of, customers not in the profiles left out) are the ones `segmint run` computes."""
    got, expected = run_golden_in_duckdb(METRICS_PROJECT, "metrics-duckdb.sql", monkeypatch)
    assert "rfm_segment" in (HERE / "metrics-duckdb.sql").read_text()
    assert got.equals(expected.sort_by("email"))
    counts = {name: sum(1 for v in got[name].to_pylist() if v) for name in got.column_names[1:]}
    assert all(0 < n < got.num_rows for name, n in counts.items() if name != "tier"), counts
    assert set(got["tier"].to_pylist()) == {"best", "good", "rest"}


def test_the_duckdb_sql_computes_the_web_metrics_as_a_run_does(monkeypatch):
    """The web project's printed DuckDB query, run as it is over its files, gives the
    membership of the arrow engine's run byte for byte: last_seen, sessions_30d and
    pageviews_30d computed from the events in SQL are the ones `segmint run` computes."""
    got, expected = run_golden_in_duckdb(WEB_PROJECT, "web-duckdb.sql", monkeypatch)
    assert "LAG(" in (HERE / "web-duckdb.sql").read_text()
    assert got.equals(expected.sort_by("customer_id"))
    counts = {name: sum(1 for v in got[name].to_pylist() if v) for name in got.column_names[1:]}
    assert all(0 < n < got.num_rows for n in counts.values()), counts


def run_golden_in_duckdb(project, golden: str, monkeypatch):
    """The golden file's membership, run in DuckDB over the project's files, and the arrow
    engine's run of the project; of the same schema."""
    duckdb = pytest.importorskip("duckdb")
    from segmint.plugin.host import get_registry
    from segmint.project.config import load_project
    from segmint.project.pipeline import execute, prepare

    monkeypatch.chdir(project.parent)
    expected = execute(prepare(load_project(project), get_registry())).result.membership
    sql = (HERE / golden).read_text()
    assert "LEFT JOIN" in sql
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")  # the query names every zone it needs
    got = con.sql(sql.rstrip().rstrip(";")).to_arrow_table()
    assert got.schema == expected.schema
    return got, expected


def test_the_duckdb_sql_computes_acquisition_as_a_run_does(monkeypatch):
    """The acquisition project's printed DuckDB query, run as it is over its files, gives the
    membership of the arrow engine's run byte for byte: acquisition_cost and clv_to_cac
    computed in SQL from the orders and the spend."""
    got, expected = run_golden_in_duckdb(ACQUISITION_PROJECT, "acquisition-duckdb.sql", monkeypatch)
    assert got.equals(expected.sort_by("email"))
    counts = {name: sum(1 for v in got[name].to_pylist() if v) for name in got.column_names[1:]}
    assert all(0 < n < got.num_rows for n in counts.values()), counts


def test_the_spark_sql_computes_the_metrics_as_a_run_does(request, monkeypatch):
    """The metrics project's printed Spark query, run in local Spark (ANSI mode, the
    session time zone UTC as the spark engine sets it) over the project's tables as views
    named after the sources, gives the arrow run's membership."""
    pytest.importorskip("pyspark")
    import pyarrow.parquet as pq

    from segmint.engines.spark.engine import spark_ready
    from segmint.plugin.host import get_registry
    from segmint.project.config import load_project
    from segmint.project.pipeline import execute, prepare

    monkeypatch.chdir(HERE / "metrics_project")
    prepared = prepare(load_project(METRICS_PROJECT), get_registry())
    expected = execute(prepared).result.membership
    spark = request.getfixturevalue("spark")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    orders = prepared.event_sources["orders"].read()  # as the source reads it: the raw keys
    orders = orders.read_all() if hasattr(orders, "read_all") else orders
    spark.createDataFrame(spark_ready(orders, "orders", "customer_id")).createOrReplaceTempView("orders")
    spark.createDataFrame(spark_ready(pq.read_table("data/profiles.parquet"), "crm", "customer_id")) \
        .createOrReplaceTempView("crm")
    try:
        got = spark.sql((HERE / "metrics-spark.sql").read_text().rstrip().rstrip(";")).toArrow()
    finally:
        spark.catalog.dropTempView("orders")
        spark.catalog.dropTempView("crm")
    assert got.column_names == expected.column_names
    assert got["email"].to_pylist() == expected.sort_by("email")["email"].to_pylist()
    for name in expected.column_names[1:]:
        assert got[name].to_pylist() == expected.sort_by("email")[name].to_pylist(), name
