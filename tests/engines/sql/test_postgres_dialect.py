"""PostgreSQL as a dialect, executed for real: a rule set compiled for postgres and run
inside the session's throwaway server (tests/conftest.py) over tables there must give the
membership the arrow engine gives over the same data, including NaN, nulls, a time zone
with daylight saving, holdouts, top/bottom ties and aggregates over events."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import attrs
import numpy as np
import pyarrow as pa
import pytest
import sqlglot.expressions as exp

import segmint
from segmint.api import check_rules
from segmint.engines.sql import Relations, compile_membership
from segmint.errors import RuleError
from segmint.semantics.asof import AsOf

adbc = pytest.importorskip("adbc_driver_postgresql.dbapi")

SCHEMA = "segmint_sql"
AS_OF = "2026-01-31"
ZONE = "Europe/Berlin"

RULES = """
segment big: m > 50.5 and c in ("DE", "FR", null)
segment unknown: m is null or c is null
segment ranked: m in top 20%
segment cheap: i in bottom 30%
segment ratio: i / m > 1 or i / (i - i) is null
segment texts: c starts with "D" or s ends with "z" or s contains "é" or s matches "^[a-c]+[0-9]?$"
segment casey: lower(s) == "abc" or upper(s) < "B" or length(s) == 1
segment unicode: lower(s) == "ä" or upper(s) == "É"
segment lists: l contains "yoga" and not (l contains any ("run", "swim"))
segment recent: d within 30d or t >= now - 36h
segment aged: today - d > 1y and year(t) == 2026 and month(d) != 3 and day_of_week(t) >= 6
segment shifted: d + 12h > t or round(m) == 3 or round(m, 1) > 20 or abs(i) == 7
segment buyers: count(orders where channel == "web", last 30d) >= 1 or sum(orders.amount) > 100
segment loyal: avg(orders.amount) > 10 and exists(orders, between 2025-10-01 and 2025-12-31)
segment firsts: first(orders.channel) == "web" and last(orders.channel) != "web"
segment spread: count_distinct(orders.channel, since 2025-06-01) >= 2 or max(orders.amount) < 5
segment targeted: big or ranked holdout 30%
segmentation tier:
    high: ranked
    mid: m > 10
    rest: otherwise
"""


def _data(n: int = 300) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(7)

    def pick(pool, nulls=0.15):
        return [None if rng.random() < nulls else pool[rng.integers(len(pool))] for _ in range(n)]

    base = dt.datetime(2026, 1, 31, 12, tzinfo=dt.timezone.utc)
    profiles = pa.table({
        "customer_id": pa.array(rng.permutation(n) * 7 - 500, pa.int64()),
        "m": pa.array(pick([0.0, 1.5, 2.5, 20.04, 20.05, 50.5, 51.0, 99.9, -3.0, math.nan]), pa.float64()),
        "i": pa.array(pick([0, 1, -7, 7, 12, 300, 2**40]), pa.int64()),
        "c": pa.array(pick(["DE", "FR", "US", "de", ""])),
        "s": pa.array(pick(["abc", "ABC", "Abc", "é", "zz", "b1", "", "a\nb", "Ä"])),
        "l": pa.array(pick([["yoga"], ["yoga", "run"], [], ["swim", None]]), pa.list_(pa.string())),
        "d": pa.array(pick([dt.date(2026, 1, 31), dt.date(2026, 1, 1), dt.date(2024, 3, 31),
                            dt.date(2025, 10, 26), dt.date(2020, 2, 29)]), pa.date32()),
        "t": pa.array(pick([base, base - dt.timedelta(hours=35), base - dt.timedelta(days=40),
                            dt.datetime(2025, 10, 26, 0, 30, tzinfo=dt.timezone.utc)]),
                      pa.timestamp("us", "UTC")),
    })
    keys = profiles["customer_id"].to_pylist()
    events = 4 * n
    orders = pa.table({
        "customer_id": pa.array([keys[k] for k in rng.integers(n, size=events)], pa.int64()),
        "timestamp": pa.array([base - dt.timedelta(hours=int(h)) for h in rng.integers(0, 24 * 400, events)],
                              pa.timestamp("us", "UTC")),
        "amount": pa.array([None if rng.random() < 0.1 else float(rng.integers(1, 80)) for _ in range(events)]),
        "channel": pa.array([["web", "app", "shop", None][k] for k in rng.integers(4, size=events)]),
    })
    return profiles, orders


@pytest.fixture(scope="module")
def tables(postgres_server):
    profiles, orders = _data()
    with adbc.connect(postgres_server) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
        cursor.adbc_ingest("profiles", profiles, mode="create", db_schema_name=SCHEMA)
        cursor.adbc_ingest("orders", orders, mode="create", db_schema_name=SCHEMA)
        connection.commit()
    return postgres_server, profiles, orders


def _run(uri: str, sql: str) -> pa.Table:
    with adbc.connect(uri) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetch_arrow_table()


def test_rules_evaluated_inside_postgres_give_the_arrow_membership(tables):
    uri, profiles, orders = tables
    checked = check_rules(RULES, profiles.schema, events={"orders": (orders.schema, "timestamp")})
    relations = Relations(profiles=exp.to_table(f"{SCHEMA}.profiles"),
                          events={"orders": exp.to_table(f"{SCHEMA}.orders")})
    sql = compile_membership(checked, dialect="postgres", key="customer_id", holdout_salt="pg",
                             as_of=AsOf.resolve(AS_OF, ZONE), relations=relations)
    got = _run(uri, sql)
    want = segmint.evaluate(RULES, profiles, as_of=AS_OF, timezone=ZONE, holdout_salt="pg",
                            events={"orders": orders})
    want = want.sort_by("customer_id")
    assert got.column_names == want.column_names
    for name in want.column_names:
        assert got[name].to_pylist() == want[name].to_pylist(), name
    assert 0 < sum(got["targeted__holdout"].to_pylist()) < sum(got["ranked"].to_pylist()) + 300


def test_a_pattern_postgres_cannot_match_as_re2_does_is_refused(tables):
    _, profiles, _ = tables
    checked = check_rules('segment a: s matches "\\\\bword"\n', profiles.schema)
    with pytest.raises(RuleError, match="segment 'a': the postgres dialect's regular expressions "
                                        "cannot match this pattern exactly as RE2 does: the escape"):
        compile_membership(checked, dialect="postgres", key="customer_id")


METRICS_PROJECT = Path(__file__).parent / "golden" / "metrics_project"
METRICS_SCHEMA = "segmint_metrics"
#: the metrics project's rules over PostgreSQL tables: as_of an instant in another zone
#: than the golden file's (durations counted in microseconds, not days)
POSTGRES_PROJECT = f"""
rules = ["rules.seg"]
key = "email"
as_of = "2024-06-15T18:30:00"
timezone = "America/New_York"
holdout_salt = "metrics-2024"

[sources.crm]
plugin = "postgres"
dsn_env = "SEGMINT_TEST_PG"
table = "{METRICS_SCHEMA}.crm"
key_normalize = "email"

[sources.orders]
plugin = "postgres"
dsn_env = "SEGMINT_TEST_PG"
table = "{METRICS_SCHEMA}.orders"
role = "events"
timestamp_column = "ordered_at"
key_normalize = "email"

[metrics]
timestamp_column = "ordered_at"
churn_window = "120d"
"""


def test_the_metrics_computed_inside_postgres_give_the_run_membership(postgres_server, tmp_path,
                                                                       monkeypatch):
    """The metrics golden project's data as PostgreSQL tables: `segmint sql --dialect
    postgres` computes the purchase and RFM columns inside PostgreSQL (keys normalised,
    refunds, shared order ids, orders after as_of) and gives the membership `segmint run`
    computes from the same tables, which is also the run's over the files."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from segmint.cli import cli

    orders = pcsv.read_csv(METRICS_PROJECT / "data" / "orders.csv", convert_options=pcsv.ConvertOptions(
        column_types={"email": pa.string(), "ordered_at": pa.timestamp("us"), "amount": pa.float64(),
                      "order_id": pa.string(), "margin": pa.float64()}, strings_can_be_null=True))
    with adbc.connect(postgres_server) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {METRICS_SCHEMA}")
        cursor.adbc_ingest("crm", pq.read_table(METRICS_PROJECT / "data" / "profiles.parquet"),
                           mode="create", db_schema_name=METRICS_SCHEMA)
        cursor.adbc_ingest("orders", orders, mode="create", db_schema_name=METRICS_SCHEMA)
        connection.commit()
    monkeypatch.setenv("SEGMINT_TEST_PG", postgres_server)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "segmint.toml").write_text(POSTGRES_PROJECT)
    (tmp_path / "rules.seg").write_text((METRICS_PROJECT / "rules.seg").read_text())
    printed = CliRunner().invoke(cli, ["sql", "--dialect", "postgres"])
    assert printed.exit_code == 0, printed.output
    assert "LEFT JOIN" in printed.stdout and "rfm_segment" in printed.stdout
    got = _run(postgres_server, printed.stdout.rstrip().rstrip(";"))

    from segmint.plugin.host import get_registry
    from segmint.project.config import load_project
    from segmint.project.pipeline import execute, prepare

    want = execute(prepare(load_project(tmp_path / "segmint.toml"), get_registry())).result.membership
    assert got.column_names == want.column_names
    for name in want.column_names:
        assert got[name].to_pylist() == want[name].to_pylist(), name
    files = load_project(METRICS_PROJECT / "segmint.toml").with_overrides(as_of="2024-06-15T18:30:00")
    files = attrs.evolve(files, timezone="America/New_York")
    monkeypatch.chdir(METRICS_PROJECT)
    assert execute(prepare(files, get_registry())).result.membership.sort_by("email").equals(want)
    counts = {name: sum(1 for v in got[name].to_pylist() if v) for name in got.column_names[1:]}
    assert all(0 < n < got.num_rows for name, n in counts.items() if name != "tier"), counts
