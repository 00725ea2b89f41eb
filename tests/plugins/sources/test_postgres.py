"""The postgres source against a real PostgreSQL server: each test session starts its own
throwaway cluster (initdb into a temporary directory, pg_ctl on a free loopback port, as the
``postgres`` user when running as root) and stops it after. Skipped only when the PostgreSQL
server binaries are not installed (``.ci/run`` installs them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from segmint.cli import cli
from segmint.errors import ConfigError, DataError
from segmint.plugin.host import get_registry
from segmint.plugin.options import build_options
from segmint.plugin.api import PluginContext

adbc = pytest.importorskip("adbc_driver_postgresql.dbapi")

ENV = "SEGMINT_TEST_PG_DSN"


@pytest.fixture(scope="module")
def dsn(postgres_server: str) -> Iterator[str]:
    """The session's throwaway server (tests/conftest.py), with this module's tables."""
    with adbc.connect(postgres_server) as connection, connection.cursor() as cursor:
        for statement in SETUP:
            cursor.execute(statement)
        connection.commit()
    yield postgres_server


SETUP = [
    "CREATE SCHEMA crm",
    "CREATE TABLE crm.customers (customer_id text PRIMARY KEY, country text, employees integer,"
    " revenue numeric(14, 2), signed_up date, vip boolean, tags text[], extra jsonb, token uuid)",
    "INSERT INTO crm.customers VALUES ('c1', 'DE', 2500, 1500000.25, '2024-01-31', true, ARRAY['yoga','run'],"
    " '{\"a\": 1}', 'b7a0d2e4-65a3-4e1f-9f0e-1b2c3d4e5f60'),"
    " ('c2', 'US', 12, NULL, '2025-02-01', false, NULL, NULL, NULL), ('c3', 'AT', NULL, 10, NULL, NULL, '{}', NULL, NULL)",
    "CREATE TABLE orders (order_id serial, customer_id text, ordered_at timestamptz, amount double precision)",
    "INSERT INTO orders (customer_id, ordered_at, amount) VALUES"
    " ('c1', '2025-02-20 10:00+00', 30), ('c1', '2025-02-27 10:00+00', 50), ('c2', '2024-06-01 10:00+00', 20)",
]


def make(directory: Path, **options):
    cls = get_registry().sources["postgres"]
    return cls("db", build_options(cls.Options, options, plugin="postgres", where="test"),
               PluginContext(project_dir=directory))


def test_schema_from_a_limit_0_query_and_projected_reads(dsn, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, dsn)
    source = make(tmp_path, dsn_env=ENV, table="crm.customers")
    schema = source.schema()
    assert schema.field("employees").type == pa.int32()
    assert schema.field("signed_up").type == pa.date32()
    assert pa.types.is_list(schema.field("tags").type)
    assert schema.field("revenue").type == pa.float64()  # numeric: read as double precision
    assert schema.field("extra").type == pa.string() and schema.field("token").type == pa.string()
    odd = source.read(["revenue", "extra", "token"]).read_all().sort_by("customer_id").to_pylist()[0]
    assert odd == {"customer_id": "c1", "revenue": 1500000.25, "extra": '{"a": 1}',
                   "token": "b7a0d2e4-65a3-4e1f-9f0e-1b2c3d4e5f60"}
    reader = source.read(["country", "employees"])
    assert isinstance(reader, pa.RecordBatchReader)
    table = reader.read_all().sort_by("customer_id")
    assert table.to_pydict() == {"customer_id": ["c1", "c2", "c3"], "country": ["DE", "US", "AT"],
                                 "employees": [2500, 12, None]}


def test_a_query_as_an_event_source(dsn, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, dsn)
    source = make(tmp_path, dsn_env=ENV, key_column="who",
                  query="SELECT customer_id AS who, ordered_at AS timestamp, amount FROM orders")
    table = source.read(None).read_all().sort_by("timestamp")
    assert table.column("customer_id").to_pylist() == ["c2", "c1", "c1"]
    assert table.schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert table.column("timestamp")[0].as_py() == dt.datetime(2024, 6, 1, 10, tzinfo=dt.UTC)


def test_errors_name_the_source_and_never_the_dsn(dsn, monkeypatch, tmp_path):
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ConfigError, match=f"environment variable {ENV} \\(dsn_env\\) is not set"):
        make(tmp_path, dsn_env=ENV, table="crm.customers").schema()
    monkeypatch.setenv(ENV, dsn)
    with pytest.raises(DataError, match="source 'db', postgres table nope: the query failed"):
        make(tmp_path, dsn_env=ENV, table="nope").schema()
    with pytest.raises(DataError, match="no key column 'customer_id'"):
        make(tmp_path, dsn_env=ENV, query="SELECT 1 AS x").schema()
    monkeypatch.setenv(ENV, "postgresql://postgres:secret@127.0.0.1:1/postgres")
    with pytest.raises(DataError, match="cannot connect") as caught:
        make(tmp_path, dsn_env=ENV, table="crm.customers").schema()
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize("options", [{"dsn_env": "postgresql://u@h/db", "table": "t"},
                                     {"dsn_env": ENV}, {"dsn_env": ENV, "table": "t", "query": "SELECT 1"}])
def test_bad_options(tmp_path, options):
    with pytest.raises(ConfigError):
        make(tmp_path, **options)


def test_a_run_over_postgres_profiles_and_orders(dsn, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, dsn)
    (tmp_path / "rules.seg").write_text(
        'segment big_dach: employees >= 1000 and country in ("DE", "AT", "CH") and revenue > 1000000\n'
        'segment recent: count(orders, last 30d) >= 2\n')
    (tmp_path / "segmint.toml").write_text(f"""
rules = ["rules.seg"]
as_of = "2025-03-01"
[sources.crm]
plugin = "postgres"
dsn_env = "{ENV}"
table = "crm.customers"
[sources.orders]
plugin = "postgres"
role = "events"
dsn_env = "{ENV}"
query = "SELECT customer_id, ordered_at AS timestamp, amount FROM orders"
""")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", "--out", "out.csv"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[1:] == ['"c1",true,true', '"c2",false,false', '"c3",false,false']
