"""On a SQL engine, `segmint run` computes the metrics with a SQL builder inside the engine,
over the Parquet orders it reads itself (`MetricInput`), and gives what the arrow engine
gives: the same membership file, byte for byte, the same stored profile columns and the
same printed report. Orders segmint reads itself (CSV), metrics without a SQL builder and
`segmint profile` keep computing in Python.

The oracle is the same project run on the arrow engine, which computes every metric in
Python (`Metric.compute`).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from segmint.cli import cli
from segmint.delivery.snapshots import MEMBERSHIP_FILE, PROFILES_FILE
from segmint.plugin import host
from segmint.plugin.api import Metric, MetricColumn
from segmint.plugin.host import get_registry
from segmint.project import pipeline, reading, sql_sources
from segmint.project.pipeline import run_project

from project_files import write_project

#: Every purchase and rfm column, and an aggregate over the same orders.
RULES = """\
segment recent: recency <= 30d
segment frequent: frequency >= 2
segment big: monetary > 50
segment aov_big: aov > 20
segment early: first_order_at < 2024-05-01
segment lately: last_order_at >= 2024-06-01
segment old: tenure > 40d
segment steady: orders_per_month > 1.5 or days_between_orders < 10
segment churned_: churned
segment valuable: clv_historical >= 40
segment top_r: rfm_r >= 4
segment top_fm: rfm_f + rfm_m >= 6
segment scored: rfm_score starts with "5"
segment champions: rfm_segment == "Champions" or rfm_segment == "Hibernating"
segment counted: count(orders, last 60d) >= 1 and frequency >= 1
segmentation tier:
    gold: monetary >= 100
    silver: frequency >= 1
    none: otherwise
"""

AT = dt.datetime(2024, 6, 15, 12, 0, tzinfo=dt.UTC)


def _orders(key_type: pa.DataType) -> pa.Table:
    """Orders of customers 1-7 (8 and 9 have none), 40-42 unknown to the profiles: refunds,
    lines sharing an order id, lines without one, orders after as_of, a null key."""
    rows = []
    for customer in range(1, 8):
        for i in range(customer):
            day = AT - dt.timedelta(days=7 * i + customer, hours=customer)
            order = f"o{customer}-{i // 2}" if customer % 3 else None  # pairs share an id
            rows.append((customer, day, 10.0 * customer + i, order))
    rows += [(2, AT - dt.timedelta(days=3), -15.5, "r2"),   # a refund
             (5, AT - dt.timedelta(days=1), -300.0, None),  # a refund larger than spend
             (3, AT + dt.timedelta(days=2), 99.0, "late"),  # after as_of
             (6, AT + dt.timedelta(hours=1), 5.0, None),     # after as_of instant, same day
             (40, AT - dt.timedelta(days=2), 12.0, "u1"), (41, AT - dt.timedelta(days=9), 1.0, None),
             (41, AT - dt.timedelta(days=8), 2.0, None), (None, AT - dt.timedelta(days=4), 7.0, None)]
    keys = [r[0] if r[0] is None or pa.types.is_integer(key_type) else f"c{r[0]:02d}" for r in rows]
    return pa.table({
        "customer_id": pa.array(keys, key_type),
        "timestamp": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
        "amount": [r[2] for r in rows],
        "order_id": [r[3] for r in rows],
    })


def _project(tmp_path: Path, *, key_type: pa.DataType = pa.int64(), as_of: str = "2024-06-15",
             extra: str = "", csv: bool = False, rules: str = RULES) -> Path:
    keys = list(range(9, 0, -1))  # not in key order: the run sorts as its join does
    people = pa.table({"customer_id": pa.array(keys if pa.types.is_integer(key_type)
                                               else [f"c{k:02d}" for k in keys], key_type),
                       "age": [20 + k for k in keys]})
    pq.write_table(people, tmp_path / "people.parquet")
    orders = _orders(key_type)
    if csv:
        pv.write_csv(orders, tmp_path / "orders.csv")
    else:
        pq.write_table(orders.slice(0, 20), tmp_path / "orders-0.parquet")
        pq.write_table(orders.slice(20), tmp_path / "orders-1.parquet")
        (tmp_path / "orders").mkdir()
        for part in ("orders-0.parquet", "orders-1.parquet"):
            (tmp_path / part).rename(tmp_path / "orders" / part)
    project_file = write_project(tmp_path, rules, as_of=as_of, orders="orders.csv" if csv else "orders",
                                 extra=extra)
    if csv:
        text = project_file.read_text()
        project_file.write_text(text.replace('plugin = "parquet"\npath = "orders.csv"',
                                             'plugin = "csv"\npath = "orders.csv"'))
    return project_file


def _run(project_file: Path, engine: str, registry: host.PluginRegistry | None = None, *,
         metrics: str | None = "engine") -> tuple:
    """The stored membership file's bytes, the stored profiles, the printed report lines
    and the segment sizes of a run of the project on `engine`, with ``[engine] metrics``
    set to `metrics` on a SQL engine (None: the engine's default)."""
    if engine != "arrow" and metrics is not None:
        _engine_table(project_file, engine, metrics)
    run = run_project(project_file, engine=engine, registry=registry or get_registry())
    assert run.snapshot is not None
    membership = (run.snapshot.path / MEMBERSHIP_FILE).read_bytes()
    profiles = pq.read_table(run.snapshot.path / PROFILES_FILE)
    sizes = [f"{name}={count}" for name, count in run.sizes()]
    return membership, profiles, run.report.lines(), sizes


def _engine_table(project_file: Path, engine: str, metrics: str) -> None:
    """Set the project's ``[engine]`` table: `engine`, with ``metrics = `metrics```."""
    text = project_file.read_text().split("\n[engine]\n")[0]
    project_file.write_text(f'{text}\n[engine]\nname = "{engine}"\nmetrics = "{metrics}"\n')


def _never_computed(monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...] = ("purchase", "rfm")) -> list:
    """Make `Metric.compute` of the metrics `names` fail the test; the list of the metric
    names segmint computed in Python."""
    computed: list[str] = []
    compute_metric = pipeline._compute_metric

    def spy(prepared, metric: Metric, *args, **kwargs):
        computed.append(metric.name)
        if metric.name in names:
            raise AssertionError(f"metric {metric.name} computed in Python")
        return compute_metric(prepared, metric, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_compute_metric", spy)
    return computed


CASES = [
    # (id, key type, as_of, extra TOML)
    ("int-keys-day", pa.int64(), "2024-06-15", ""),
    ("string-keys-instant", pa.string(), "2024-06-15T12:00:00Z", ""),
    ("berlin-day", pa.int64(), "2024-06-15", 'timezone = "Europe/Berlin"\n'),
    ("new-york-instant", pa.int64(), "2024-06-15T09:30:00", 'timezone = "America/New_York"\n'),
    ("average-monetary-churn-3d", pa.int64(), "2024-06-15",
     '[metrics]\nmonetary = "average"\nchurn_window = "3d"\nmargin_rate = 0.3\n'),
]


#: Spark runs these cases under `make test-all` (the `full` marker).
SPARK_SAMPLE = {"int-keys-day", "berlin-day", "string-keys-instant"}


def engine_cases():
    for case in CASES:
        yield pytest.param("duckdb", *case[1:], id=f"duckdb-{case[0]}")
        if case[0] in SPARK_SAMPLE:
            yield pytest.param("spark", *case[1:], id=f"spark-{case[0]}", marks=pytest.mark.full)


@pytest.mark.parametrize(("engine", "key_type", "as_of", "extra"), list(engine_cases()))
def test_the_engine_computes_the_metrics_and_gives_the_arrow_engines_run(
        tmp_path, monkeypatch, engine, key_type, as_of, extra):
    if engine == "spark":
        pytest.importorskip("pyspark")
    project_file = _project(tmp_path, key_type=key_type, as_of=as_of)
    _place(project_file, extra)
    expected = _run(project_file, "arrow")
    computed = _never_computed(monkeypatch)
    actual = _run(project_file, engine)
    assert computed == []
    assert actual[0] == expected[0]  # the membership file, byte for byte
    assert actual[1].equals(expected[1])  # the stored profile columns, types and all
    assert actual[2] == expected[2] and actual[3] == expected[3]
    assert any("keys with no profile" in line for line in actual[2])  # customers 40, 41


def _place(project_file: Path, extra: str) -> None:
    """Put `extra`'s top-level keys before the first table of the project file, its
    tables at the end."""
    text = project_file.read_text()
    top, _, tables = extra.partition("[")
    tables = "[" + tables if tables else ""
    project_file.write_text(top + text + tables)


def test_orders_segmint_reads_itself_are_computed_in_python(tmp_path, monkeypatch):
    """CSV orders: DuckDB does not read them itself, so segmint computes the metrics."""
    project_file = _project(tmp_path, key_type=pa.string(), csv=True)  # CSV keys are text
    expected = _run(project_file, "arrow")
    computed = _never_computed(monkeypatch, names=())
    actual = _run(project_file, "duckdb")
    assert computed == ["purchase", "rfm"]
    assert actual == expected


def test_orders_only_the_metrics_read_are_counted_as_on_arrow(tmp_path, monkeypatch):
    """No aggregate over the orders: the orders' rows and keys with no profile are still
    reported, counted by DuckDB (their key column never comes into Python)."""
    rules = "segment frequent: frequency >= 2\nsegment recent: recency <= 10d\n"
    project_file = _project(tmp_path, rules=rules)
    expected = _run(project_file, "arrow")
    _never_computed(monkeypatch)
    monkeypatch.setattr(reading, "_key_column", lambda *a: pytest.fail("key column read"))
    actual = _run(project_file, "duckdb")
    assert actual == expected
    assert expected[2] == ["source orders: 36 rows, 2 keys with no profile (left out)"]


def test_a_key_type_other_than_the_profiles_is_joined_by_segmint(tmp_path, monkeypatch):
    """int32 order keys against int64 profile keys: segmint's join casts them, so the
    metrics are computed in Python, as before."""
    project_file = _project(tmp_path)
    for part in (tmp_path / "orders").iterdir():
        table = pq.read_table(part)
        pq.write_table(table.set_column(0, "customer_id", table["customer_id"].cast(pa.int32())), part)
    expected = _run(project_file, "arrow")
    computed = _never_computed(monkeypatch, names=())
    actual = _run(project_file, "duckdb")
    assert computed == ["purchase", "rfm"] and actual == expected


def _spent(context) -> pa.Table:
    orders = context.events["orders"]
    table = orders.filter(pc.is_valid(orders["customer_id"])).group_by("customer_id").aggregate(
        [("amount", "sum")])
    return table.rename_columns(["customer_id", "spent"])


def test_a_metric_without_a_sql_builder_still_works_on_duckdb(tmp_path, monkeypatch):
    """A plugin's metric without a SQL builder is computed in Python, beside purchase
    computed by DuckDB over the same orders."""
    registry = host.load_registry(environ={"SEGMINT_PLUGINS": "segmint"})
    registry.metrics["spending"] = Metric("spending", (MetricColumn("spent", pa.float64()),),
                                          _spent, requires=("orders",))
    project_file = _project(tmp_path, rules="segment frequent: frequency >= 2\n"
                                            "segment spender: spent > 30 and recency < 20d\n")
    expected = _run(project_file, "arrow", registry)
    computed = _never_computed(monkeypatch, names=("purchase",))
    actual = _run(project_file, "duckdb", registry)
    assert computed == ["spending"] and actual == expected


def test_a_project_without_profile_sources_computes_metrics_in_python(tmp_path, monkeypatch):
    """The metrics' rows are the customers then: segmint computes them."""
    project_file = _project(tmp_path, rules="segment frequent: frequency >= 2\n")
    text = project_file.read_text()
    project_file.write_text(text.replace('[sources.people]\nplugin = "parquet"\npath = "people.parquet"\n', ""))
    expected = _run(project_file, "arrow")
    computed = _never_computed(monkeypatch, names=())
    actual = _run(project_file, "duckdb")
    assert computed == ["purchase"] and actual == expected


def test_a_broken_orders_file_is_an_error_naming_the_source(tmp_path, monkeypatch):
    project_file = _project(tmp_path, rules="segment frequent: frequency >= 2\n")
    monkeypatch.chdir(tmp_path)
    pipeline_scan = sql_sources.take_scan

    def broken(prepared, name, keys, scan, key_type):  # damaged after the footers were read
        found = pipeline_scan(prepared, name, keys, scan, key_type)
        (tmp_path / "orders" / "orders-1.parquet").write_bytes(b"PAR1 not parquet PAR1")
        return found

    monkeypatch.setattr(sql_sources, "take_scan", broken)
    _engine_table(project_file, "duckdb", "engine")
    result = CliRunner().invoke(cli, ["run", "-p", str(project_file), "--engine", "duckdb"])
    assert result.exit_code == 1, result.output
    assert "orders" in result.output and "DuckDB could not read its files" in result.output


def test_duckdb_computes_the_metrics_in_python_by_default(tmp_path, monkeypatch):
    """``[engine] metrics`` defaults to "python" on duckdb (measured faster on one
    machine, docs/performance.md), "engine" on spark (the orders stay off the driver)."""
    from segmint.engines.duckdb.engine import DuckDBEngine
    from segmint.engines.spark.engine import SparkEngine

    assert not DuckDBEngine().computes_metrics and SparkEngine().computes_metrics
    project_file = _project(tmp_path)
    expected = _run(project_file, "arrow")
    computed = _never_computed(monkeypatch, names=())
    actual = _run(project_file, "duckdb", metrics=None)
    assert computed == ["purchase", "rfm"] and actual == expected
    _run(project_file, "duckdb", metrics="python")
    assert computed == ["purchase", "rfm"] * 2


def test_an_unknown_metrics_option_is_an_error_naming_it(tmp_path):
    project_file = _project(tmp_path, rules="segment frequent: frequency >= 2\n")
    _engine_table(project_file, "duckdb", "sql")
    result = CliRunner().invoke(cli, ["run", "-p", str(project_file)])
    assert result.exit_code == 1, result.output
    assert "option 'metrics' of plugin 'engine duckdb' must be one of \"python\", \"engine\", got \"sql\"" \
        in result.output


def _null_at(column: str, row: int, value: object = None):
    """The orders with `column` of `row` set to `value` (null unless given)."""
    def damage(table: pa.Table) -> pa.Table:
        values = table[column].to_pylist()
        values[row] = value
        return table.set_column(table.schema.get_field_index(column), column,
                                pa.array(values, table.schema.field(column).type))
    return damage


REFUSED = [
    # (id, file of the orders, its damage, what the error says: None, no error)
    ("null-timestamp", "orders-0", _null_at("timestamp", 3), "1 row(s) without a timestamp"),
    ("null-amount", "orders-0", _null_at("amount", 3), "1 row(s) without an amount"),
    ("null-timestamp-no-key", "orders-1", _null_at("timestamp", 15), "1 row(s) without a timestamp"),
    ("null-amount-after-as-of", "orders-1", _null_at("amount", 10), None),  # not seen in Python
    ("null-amount-no-key", "orders-1", _null_at("amount", 15), None),
    ("nan-amount", "orders-0", _null_at("amount", 3, math.nan), "amounts must be finite numbers"),
    ("inf-amount", "orders-0", _null_at("amount", 2, math.inf), "amounts must be finite numbers"),
    ("minus-inf-amount", "orders-1", _null_at("amount", 0, -math.inf),
     "amounts must be finite numbers"),
    ("overflowing-amount", "orders-0", _null_at("amount", 1, 1e308), "amounts must be finite numbers"),
    ("nan-amount-after-as-of", "orders-1", _null_at("amount", 10, math.nan), None),
    ("nan-amount-no-key", "orders-1", _null_at("amount", 15, math.nan), None),
]


def refused_cases():
    for name, *case in REFUSED:
        yield pytest.param("duckdb", *case, id=f"duckdb-{name}")
        if name in ("null-timestamp", "null-amount", "nan-amount"):
            yield pytest.param("spark", *case, id=f"spark-{name}", marks=pytest.mark.full)


@pytest.mark.parametrize(("engine", "part", "damage", "said"), list(refused_cases()))
def test_rows_python_refuses_are_the_same_error_in_the_engine(tmp_path, monkeypatch, engine, part,
                                                               damage, said):
    """A null timestamp, or a null amount of a row the metrics see, is the DataError
    segmint's metric gives (naming the source and the column), never a row the metric's
    SQL leaves out; a null amount of a row they do not see is no error, as in Python."""
    if engine == "spark":
        pytest.importorskip("pyspark")
    project_file = _project(tmp_path, rules="segment frequent: frequency >= 2\n")
    path = tmp_path / "orders" / f"{part}.parquet"
    pq.write_table(damage(pq.read_table(path)), path)
    monkeypatch.chdir(tmp_path)
    expected = CliRunner().invoke(cli, ["run", "-p", str(project_file), "--engine", "arrow", "--dry-run"])
    _never_computed(monkeypatch)
    _engine_table(project_file, engine, "engine")
    actual = CliRunner().invoke(cli, ["run", "-p", str(project_file), "--engine", engine, "--dry-run"])
    assert (actual.exit_code, actual.output) == (expected.exit_code, expected.output)
    if said is None:
        assert expected.exit_code == 0, expected.output
    else:
        assert expected.exit_code == 1 and said in expected.output and "'orders'" in expected.output
