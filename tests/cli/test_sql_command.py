"""`segmint sql` and `--engine duckdb` on the command line: output, and every bad input as a
clear message with exit code 1 (no traceback)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from segmint.cli import cli
from segmint.plugin.host import get_registry


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="segmint")


def user_error(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    return result.stderr.partition("error: ")[2]


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The starter project of `segmint init`, as the current directory."""
    assert invoke("init", str(tmp_path / "shop")).exit_code == 0
    monkeypatch.chdir(tmp_path / "shop")
    return tmp_path / "shop"


@pytest.fixture
def sql_shop(shop: Path) -> Path:
    """The starter project without its metric rules (value.seg): predictive CLV has no SQL
    builder, and `segmint sql` says so (test_a_metric_without_a_sql_builder_is_refused)."""
    (shop / "rules" / "value.seg").unlink()
    return shop


def test_run_on_duckdb_gives_the_arrow_engines_sizes(shop: Path) -> None:
    arrow, duck = invoke("run", "--dry-run"), invoke("run", "--dry-run", "--engine", "duckdb")
    assert arrow.exit_code == 0 and duck.exit_code == 0, duck.output
    assert duck.stdout == arrow.stdout
    assert "win_back__holdout" in duck.stdout


def test_the_printed_sql_runs_in_duckdb_and_gives_what_run_gives(sql_shop: Path) -> None:
    result = invoke("sql")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("WITH ") and result.stdout.endswith(";\n")
    membership = duckdb.sql(result.stdout.rstrip().rstrip(";")).to_arrow_table()
    assert invoke("run").exit_code == 0
    expected = pq.read_table("out/segments.parquet")
    assert membership.num_rows == expected.num_rows > 0
    assert membership["customer_id"].type == expected["customer_id"].type  # text, as run reads them
    for name in expected.column_names[1:]:
        assert by_key(membership, name) == by_key(expected, name), name


def test_the_printed_sql_reads_csv_columns_with_the_types_the_run_reads(sql_shop: Path) -> None:
    """Keys such as 007 stay text, as segmint run reads them (DuckDB's own inference of the
    CSV would read them as the number 7 and lose the zeros)."""
    for name, column in (("customers.csv", 0), ("orders.csv", 0)):
        path = sql_shop / "data" / name
        lines = path.read_text().splitlines()
        path.write_text("\n".join([lines[0]] + [
            ",".join(f"00{cell}" if i == column else cell for i, cell in enumerate(line.split(",")))
            for line in lines[1:]]) + "\n")
    result = invoke("sql")
    assert result.exit_code == 0, result.output
    assert "types = {'customer_id': 'VARCHAR'" in result.stdout
    membership = duckdb.sql(result.stdout.rstrip().rstrip(";")).to_arrow_table()
    assert invoke("run").exit_code == 0
    expected = pq.read_table("out/segments.parquet")
    assert membership.column_names == expected.column_names
    assert sorted(membership["customer_id"].to_pylist()) == sorted(expected["customer_id"].to_pylist())
    assert "001" in expected["customer_id"].to_pylist()
    for name in expected.column_names[1:]:
        assert by_key(membership, name) == by_key(expected, name), name


def by_key(table, column: str) -> dict[str, object]:
    return dict(zip(map(str, table["customer_id"].to_pylist()), table[column].to_pylist()))


def sql_and_run_agree(names: tuple[str, ...] | None = None) -> pa.Table:
    """The printed DuckDB SQL's membership equals `segmint run`'s (for `names`, or every
    segment); the run's membership table."""
    result = invoke("sql")
    assert result.exit_code == 0, result.output
    membership = duckdb.sql(result.stdout.rstrip().rstrip(";")).to_arrow_table()
    assert invoke("run").exit_code == 0
    expected = pq.read_table("out/segments.parquet")
    assert membership.column_names == expected.column_names
    for name in names or expected.column_names[1:]:
        assert by_key(membership, name) == by_key(expected, name), name
    return expected


RUN_INSTEAD = "so segmint sql cannot compute it; run these rules with segmint run\n"


@pytest.mark.parametrize(("rule", "message", "end"), [
    # the starter's value.seg: frequency and recency have SQL, clv_12mo does not
    (None, "the rules use column 'clv_12mo' of metric 'clv', which has no SQL builder",
     RUN_INSTEAD),
    # acquisition_cost has SQL; clv_to_cac of predictive CLV (the default) does not
    ("segment worth: clv_to_cac >= 3\n",
     "the rules use column 'clv_to_cac' of metric 'acquisition', which divides the predictive "
     "CLV column 'clv_12mo' (option clv_to_cac_from of [metrics]), and predictive CLV has no "
     "SQL builder", 'set clv_to_cac_from = "clv_historical" or run these rules with segmint run\n'),
])
def test_a_metric_without_a_sql_builder_is_refused(shop: Path, rule: str | None, message: str,
                                                   end: str) -> None:
    if rule is not None:
        (shop / "rules" / "value.seg").write_text(rule)
        with_spend(shop)
    error = user_error("sql")
    assert error.startswith(message)
    assert error.endswith(end)


def with_spend(shop: Path, metrics: str = "") -> None:
    """The starter's orders with a channel per customer, and a spend source by month (social
    has none: organic), with `metrics` as the project's [metrics] table."""
    orders = shop / "data" / "orders.csv"
    lines = orders.read_text().splitlines()
    channels = ["ads", "email", "social", "Ads"]
    orders.write_text("\n".join([lines[0] + ",channel"] + [
        f"{line},{channels[int(line.split(',')[0]) % 4]}" for line in lines[1:]]) + "\n")
    rows = [f",1997-{month:02d}-{day:02d},{channel},{amount}"
            for month in (1, 2, 3) for day, channel, amount in (
                (1, "ads", 1200.5), (15, "ads", 99.99), (28, "email", 300), (3, "Ads", 45.25))]
    (shop / "data" / "spend.csv").write_text("customer_id,date,channel,spend\n"
                                              + "\n".join(rows) + "\n")
    (shop / "segmint.toml").write_text((shop / "segmint.toml").read_text() + (
        '\n[sources.spend]\nplugin = "csv"\npath = "data/spend.csv"\nrole = "events"\n'
        'timestamp_column = "date"\n') + (f"\n[metrics]\n{metrics}\n" if metrics else ""))


def test_acquisition_in_sql_runs_in_duckdb_and_gives_what_run_gives(shop: Path) -> None:
    """acquisition_cost, and clv_to_cac of historical margin, computed in the printed SQL
    from orders.csv and spend.csv: the membership segmint run computes."""
    (shop / "rules" / "value.seg").write_text(
        "segment cheap: acquisition_cost < 1\n"
        "segment worth: clv_to_cac >= 40\n"
        "segment organic: acquisition_cost == 0\n")
    with_spend(shop, 'clv_to_cac_from = "clv_historical"')
    expected = sql_and_run_agree(("cheap", "worth", "organic", "win_back"))
    for name in ("cheap", "worth", "organic"):
        assert 0 < sum(expected[name].to_pylist()) < expected.num_rows, name


def test_the_metrics_with_a_sql_builder_run_in_duckdb_and_give_what_run_gives(shop: Path) -> None:
    """The starter's purchase metrics, computed in the printed SQL from orders.csv."""
    (shop / "rules" / "value.seg").write_text(
        "segment loyal: frequency >= 4 and recency <= 120d\n"
        "segment fading: monetary >= 150 and recency > 270d and rfm_segment != \"Champions\"\n")
    expected = sql_and_run_agree(("loyal", "fading", "win_back"))
    assert 0 < sum(expected["loyal"].to_pylist()) and 0 < sum(expected["fading"].to_pylist())


@pytest.mark.parametrize("dialect", ["spark", "postgres", "bigquery", "snowflake"])
def test_every_dialect_prints(sql_shop: Path, dialect: str) -> None:
    result = invoke("sql", "--dialect", dialect)
    assert result.exit_code == 0, result.output
    assert "segment:win_back" in result.stdout.replace("`", '"')


def test_an_unknown_dialect(shop: Path) -> None:
    assert user_error("sql", "--dialect", "oracle") == (
        "--dialect: unknown SQL dialect 'oracle' (dialects: duckdb, spark, postgres, bigquery, "
        "snowflake)\n")


def test_sqlglot_missing_names_the_extra(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sqlglot.expressions", None)
    assert "install it with pip install 'segmint[sql]'" in user_error("sql")


def test_the_duckdb_engine_missing_names_the_extra(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(get_registry().engines, "duckdb")
    message = user_error("run", "--dry-run", "--engine", "duckdb")
    assert "the duckdb engine is not installed; install it with pip install 'segmint[duckdb]'" in message


def test_a_memory_limit_too_small(shop: Path) -> None:
    project = Path("segmint.toml")
    project.write_text(project.read_text() + '\n[engine]\nname = "duckdb"\nmemory_limit = "2MB"\n')
    message = user_error("run", "--dry-run")
    assert message.startswith("segmint.toml: option 'memory_limit' of plugin 'engine duckdb' is "
                              "invalid: '2MB' is too small for DuckDB to run a query: give it at least 16MiB")


def test_duckdb_running_out_of_memory_is_a_clear_error_and_keeps_the_outputs(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import pyarrow as pa

    monkeypatch.chdir(tmp_path)
    rows = 1_000_000  # a ranking over a million rows needs more than DuckDB's smallest limit
    pq.write_table(pa.table({"customer_id": np.arange(rows), "x": np.random.default_rng(1).random(rows)}),
                   "people.parquet")
    Path("top.seg").write_text("segment leaders: x in top 10%\n")
    Path("segmint.toml").write_text('rules = ["top.seg"]\n[sources.people]\nplugin = "parquet"\n'
                                    'path = "people.parquet"\n[sinks.out]\nplugin = "file"\n'
                                    'path = "out/top.parquet"\n')
    assert invoke("run").exit_code == 0
    before = Path("out/top.parquet").read_bytes()
    runs = sorted(p.name for p in Path(".segmint/runs").iterdir())
    Path("segmint.toml").write_text(Path("segmint.toml").read_text()
                                    + '[engine]\nname = "duckdb"\nmemory_limit = "16MiB"\nthreads = 1\n')
    message = user_error("run")
    assert message.startswith("DuckDB ran out of memory (Out of Memory Error")
    assert "raise memory_limit in the project's [engine] table" in message
    assert Path("out/top.parquet").read_bytes() == before
    assert sorted(p.name for p in Path(".segmint/runs").iterdir()) == runs  # no run stored


def test_a_rule_the_dialect_cannot_express(sql_shop: Path) -> None:
    Path("rules/extra.seg").write_text('segment word: country matches "\\\\bDE"\n')
    message = user_error("sql", "--dialect", "spark")
    assert message.startswith("rules/extra.seg:1:31: segment 'word': the spark dialect's regular "
                              "expressions cannot match this pattern exactly as RE2 does")
    assert invoke("sql", "--dialect", "duckdb").exit_code == 0


@pytest.mark.parametrize(("option", "message"), [
    ('key_normalize = "phone"',
     "segmint.toml: sources.orders.key_normalize: phone numbers cannot be normalised in SQL"),
    ('identity = "data/ids.csv"\nidentity_from = "customer_id"',
     "segmint.toml: sources.orders.identity: keys mapped through an identity table cannot be "
     "joined in SQL"),
])
def test_a_key_policy_sql_cannot_apply_to_the_orders_a_metric_reads(shop: Path, option: str,
                                                                    message: str) -> None:
    """The orders a purchase metric reads are keyed as the profiles are: a key policy SQL
    cannot apply exactly as segmint does is refused, naming the option."""
    (shop / "rules" / "value.seg").write_text("segment loyal: frequency >= 4\n")
    (shop / "data" / "ids.csv").write_text("customer_id,to\n1,1\n")
    toml = shop / "segmint.toml"
    toml.write_text(toml.read_text().replace('path = "data/orders.csv"\nrole = "events"\n',
                                             f'path = "data/orders.csv"\nrole = "events"\n{option}\n'))
    assert user_error("sql").startswith(message)


def test_sources_naming_the_key_otherwise_are_read_by_their_own_key_column(shop: Path) -> None:
    """``key = "..."`` of a source: the printed SQL reads that column as the customer key,
    of the profiles and of the orders the metrics and aggregates read, as segmint run does."""
    for name, own in (("customers.csv", "id"), ("orders.csv", "buyer")):
        path = shop / "data" / name
        lines = path.read_text().splitlines()
        path.write_text("\n".join([lines[0].replace("customer_id", own, 1), *lines[1:]]) + "\n")
    toml = shop / "segmint.toml"
    toml.write_text(toml.read_text()
                    .replace('path = "data/customers.csv"\n', 'path = "data/customers.csv"\nkey = "id"\n')
                    .replace('path = "data/orders.csv"\n', 'path = "data/orders.csv"\nkey = "buyer"\n'))
    (shop / "rules" / "value.seg").write_text(
        "segment loyal: frequency >= 4 and recency <= 120d\n"
        "segment lately: count(orders, last 180d) >= 2\n")
    expected = sql_and_run_agree()
    assert sum(expected["loyal"].to_pylist()) > 0 and sum(expected["lately"].to_pylist()) > 0


def test_a_column_made_boolean_from_its_texts_is_refused(sql_shop: Path) -> None:
    """``booleans = {...}`` compares texts trimmed of Unicode spaces and in Unicode lower
    case, which SQL dialects do not all do alike: a rule reading such a column is refused;
    one that does not read it prints."""
    toml = sql_shop / "segmint.toml"
    toml.write_text(toml.read_text().replace(
        'path = "data/customers.csv"\n', 'path = "data/customers.csv"\nbooleans = { country = ["de"] }\n'))
    for path in (sql_shop / "rules").glob("*.seg"):
        path.unlink()
    (sql_shop / "rules" / "one.seg").write_text("segment german: country and orders >= 1\n")
    assert user_error("sql").startswith(
        "segmint.toml: sources.customers.booleans.country: column 'country' made a boolean from "
        "its texts cannot be read in SQL exactly as segmint reads it")
    (sql_shop / "rules" / "one.seg").write_text("segment many: orders >= 3\n")
    assert invoke("sql").exit_code == 0


def test_the_web_metrics_are_computed_in_the_printed_sql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Segment events source named ``events``: the printed query reads its events from
    the table named like it (its file holds Segment calls, not events) and computes
    last_seen, sessions_30d and pageviews_30d there; run in DuckDB over the events as the
    source reads them, it gives `segmint run`'s membership."""
    import shutil

    from segmint.plugin.host import get_registry
    from segmint.project.config import load_project
    from segmint.project.pipeline import prepare

    shutil.copy(Path(__file__).parents[1] / "data" / "web" / "segment_events.jsonl", tmp_path)
    monkeypatch.chdir(tmp_path)
    Path("customers.csv").write_text("customer_id,plan\nu-100,pro\nu-200,free\nu-300,free\n")
    Path("rules.seg").write_text(
        "segment active: sessions_30d >= 2\n"
        "segment readers: pageviews_30d >= 3\n"
        "segment seen: last_seen >= 2025-02-01 or last_seen is null\n"
        "segment carts: exists(events where name == \"cart_abandoned\", last 30d)\n")
    Path("segmint.toml").write_text(
        'rules = ["rules.seg"]\nas_of = "2025-03-01"\ntimezone = "Europe/Berlin"\n'
        '[sources.customers]\nplugin = "csv"\npath = "customers.csv"\n'
        '[sources.events]\nplugin = "segment_events"\npath = "segment_events.jsonl"\n'
        '[sinks.out]\nplugin = "file"\npath = "out/segments.parquet"\n')
    result = invoke("sql")
    assert result.exit_code == 0, result.output
    assert 'FROM "events"' in result.stdout and "READ_JSON" not in result.stdout
    events = prepare(load_project(Path("segmint.toml")), get_registry()).event_sources["events"].read()
    con = duckdb.connect()
    con.register("events", events.read_all() if hasattr(events, "read_all") else events)
    membership = con.sql(result.stdout.rstrip().rstrip(";")).to_arrow_table()
    assert invoke("run").exit_code == 0
    expected = pq.read_table("out/segments.parquet")
    assert membership.column_names == expected.column_names
    for name in expected.column_names[1:]:
        assert by_key(membership, name) == by_key(expected, name), name
    assert by_key(expected, "active") == {"u-100": True, "u-200": False, "u-300": False}
    assert by_key(expected, "seen") == {"u-100": True, "u-200": False, "u-300": True}
