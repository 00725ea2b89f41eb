"""The command line through click's CliRunner: every command, every exit code.

0 success; 1 a user error, its message on stderr after `error: ` and no traceback; 2 a
usage error. Most tests run in a fresh project written by `segmint init` (the CDNOW
starter: 2,357 customers, as_of 1998-06-30).
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from segmint.cli import cli

CUSTOMERS = 2357
#: The starter project's segment sizes as of 1998-06-30 and 1997-12-31 (checked against
#: pandas for the date-relative ones; loyal against DuckDB SQL over data/orders.csv in
#: tests/report/test_report.py).
SIZES = {
    None: {
        "champions": 96, "at_risk": 291, "big_spenders": 236, "one_and_done": 1218,
        "eu_email": 494, "win_back": 205, "win_back__holdout": 30,
        "lifecycle=active": 300, "lifecycle=lapsing": 518, "lifecycle=lost": 1539,
        "loyal": 292, "high_clv": 186, "high_clv__holdout": 50, "fading": 64,
    },
    "1997-12-31": {
        "champions": 13, "at_risk": 106, "big_spenders": 236, "one_and_done": 1218,
        "eu_email": 494, "win_back": 75, "win_back__holdout": 14,
        "lifecycle=active": 167, "lifecycle=lapsing": 1675, "lifecycle=lost": 515,
        "loyal": 296, "high_clv": 189, "high_clv__holdout": 47, "fading": 21,
    },
}
SEGMENTS = ["champions", "at_risk", "big_spenders", "one_and_done", "eu_email", "win_back",
            "win_back__holdout", "lifecycle", "loyal", "high_clv", "high_clv__holdout", "fading"]


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="segmint")


def ok(*args: str | Path) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, result.stderr or result.output
    return result


def user_error(*args: str | Path) -> str:
    """Run a command that must fail with exit code 1; its message, without `error: `.

    Warnings may come before it (a plugin that failed to load, say), nothing else."""
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    warnings, found, message = result.stderr.partition("error: ")
    assert found, result.stderr
    assert all(line.startswith("warning: ") for line in warnings.splitlines()), warnings
    return message.rstrip("\n")


def usage_error(*args: str | Path) -> str:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "Usage: segmint" in result.stderr
    return result.stderr.rstrip("\n").rsplit("\n", 1)[-1]


def sizes(output: str) -> dict[str, int]:
    """The segment sizes of `run`'s table."""
    rows = re.findall(r"│ (\S+) +│ +([\d,]+) │ +[\d.]+% │", output)
    return {name: int(count.replace(",", "")) for name, count in rows}


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project written by `segmint init`, as the current directory."""
    ok("init", tmp_path / "shop")
    monkeypatch.chdir(tmp_path / "shop")
    return tmp_path / "shop"


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current directory (the repository's own segmint.toml is not picked up)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# segmint run -------------------------------------------------------------------------------

@pytest.mark.parametrize("as_of", [None, "1997-12-31"])
def test_run_prints_the_size_of_every_segment(shop: Path, as_of: str | None) -> None:
    args = ["run"] + (["--as-of", as_of] if as_of else [])
    result = ok(*args)
    day = as_of or "1998-06-30"
    assert result.stdout.startswith(f"segments as of {day} 23:59:59 UTC, 2,357 customers\n")
    assert sizes(result.stdout) == SIZES[as_of]
    assert "sink membership: 2,357 added → " in result.stdout
    assert (shop / "out" / "segments.parquet").is_file()


@pytest.mark.parametrize("threads", ["1", "3"])
def test_run_reads_sources_one_at_a_time_or_side_by_side_alike(shop: Path, monkeypatch, threads) -> None:
    monkeypatch.setenv("SEGMINT_READ_THREADS", threads)
    assert sizes(ok("run", "--dry-run").stdout) == SIZES[None]


def test_run_with_a_bad_number_of_read_threads_is_a_user_error(shop: Path, monkeypatch) -> None:
    monkeypatch.setenv("SEGMINT_READ_THREADS", "many")
    assert user_error("run", "--dry-run") == (
        "SEGMINT_READ_THREADS must be a whole number from 1 to 64, got 'many' (1 reads one source"
        " at a time)")
    assert not (shop / "out" / "segments.parquet").exists()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_run_out_writes_the_membership_table(shop: Path, suffix: str) -> None:
    out = shop / f"members{suffix}"
    result = ok("run", "--out", out)
    assert f"sink out: 2,357 added → {out}" in result.stdout
    table = pq.read_table(out) if suffix == ".parquet" else pv.read_csv(out)
    assert table.column_names == ["customer_id"] + SEGMENTS
    assert table.num_rows == CUSTOMERS
    for name, count in SIZES[None].items():
        if "=" in name:
            column, label = name.split("=")
            assert table.column(column).to_pylist().count(label) == count
        else:
            assert table.column(name).to_pylist().count(True) == count


def test_run_dry_run_writes_nothing(shop: Path) -> None:
    result = ok("run", "--dry-run", "--out", "members.parquet")
    assert "(dry run: nothing was sent)" in result.stdout
    assert sizes(result.stdout) == SIZES[None]
    assert not (shop / "members.parquet").exists()
    assert not (shop / "out").exists()


def test_run_sink_delivers_to_the_named_sinks_only(shop: Path) -> None:
    result = ok("run", "--out", "members.parquet", "--sink", "out")
    assert "sink out:" in result.stdout and "sink membership" not in result.stdout
    assert (shop / "members.parquet").is_file()
    assert not (shop / "out").exists()
    ok("run", "--out", "other.parquet", "--sink", "membership")
    assert (shop / "out" / "segments.parquet").is_file()
    assert not (shop / "other.parquet").exists()


def test_run_unknown_sink_is_a_user_error(shop: Path) -> None:
    assert user_error("run", "--sink", "nope") == "unknown sink 'nope'; the project has: membership"
    assert not (shop / "out").exists()


def test_run_source_overrides_the_project_source(shop: Path) -> None:
    """300 customers and their orders (the CLV model needs 20 repeat customers) in place of
    the project's sources."""
    lines = (shop / "data" / "customers.csv").read_text().splitlines()
    (shop / "few.csv").write_text("\n".join(lines[:301]) + "\n")
    orders = (shop / "data" / "orders.csv").read_text().splitlines()
    few = {str(i) for i in range(1, 301)}
    (shop / "few_orders.csv").write_text("\n".join(
        [orders[0]] + [o for o in orders[1:] if o.split(",")[0] in few]) + "\n")
    result = ok("run", "--source", "customers=few.csv", "--events", "orders=few_orders.csv",
                "--out", "few.parquet")
    assert ", 300 customers" in result.stdout.split("\n", 1)[0]
    # keys are read as text, so identifiers such as 00123 keep their zeros
    assert set(pq.read_table(shop / "few.parquet").column("customer_id").to_pylist()) == few


def test_run_without_a_project_file(elsewhere: Path) -> None:
    starter = Path(__file__).resolve().parents[2] / "segmint" / "examples" / "starter"
    result = ok("run", starter / "rules" / "retail.seg",
                "--source", f"customers={starter / 'data' / 'customers.csv'}",
                "--as-of", "1998-06-30", "--out", "members.csv")
    counts = sizes(result.stdout)
    assert counts["champions"] == 96 and counts["lifecycle=lost"] == 1539
    assert counts["win_back"] + counts["win_back__holdout"] == 235  # another salt, same total
    assert (elsewhere / "members.csv").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--source", "customers"],
         "Error: Invalid value for '--source': expected NAME=PATH, got 'customers'"),
        (["run", "--source", "=x.csv"],
         "Error: Invalid value for '--source': expected NAME=PATH, got '=x.csv'"),
        (["run", "--source", "1st=x.csv"],
         "Error: Invalid value for '--source': source name '1st' must be an identifier "
         "(letters, digits, _)"),
        (["run", "--events", "orders"],
         "Error: Invalid value for '--events': expected NAME=PATH, got 'orders'"),
        (["run", "--as-of", "yesterday"],
         "Error: Invalid value for '--as-of': expected a date (2026-01-31) or a timestamp "
         "(2026-01-31T18:00:00+01:00), got 'yesterday'"),
        (["run", "--as-of", "1998-02-30"],
         "Error: Invalid value for '--as-of': expected a date (2026-01-31) or a timestamp "
         "(2026-01-31T18:00:00+01:00), got '1998-02-30'"),
        (["run", "--frobnicate"], "Error: No such option '--frobnicate'."),
        (["explain", "--segment", "champions"], "Error: Missing option '--id'."),
        (["explain", "--id", "3"], "Error: Missing option '--segment'."),
        (["frobnicate"], "Error: No such command 'frobnicate'."),
        (["init"], "Error: Missing argument 'DIRECTORY'."),
    ],
)
def test_usage_errors_exit_2(shop: Path, args: list[str], message: str) -> None:
    assert usage_error(*args) == message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--source", "customers=missing.csv"],
         "source 'customers', {shop}/missing.csv: file not found"),
        (["run", "--source", "customers=data.txt"],
         "--source customers: no source plugin reads files like 'data.txt' (supported "
         "extensions: .csv, "),
        (["run", "--out", "members.txt"],
         "--out: no sink plugin reads files like 'members.txt' (supported extensions: .csv, "),
        (["run", "-p", "nope.toml"], "nope.toml: project file not found"),
        (["run", "missing.seg"], "segmint.toml: rules: rule file '{shop}/missing.seg' not found"),
    ],
)
def test_run_user_errors_exit_1(shop: Path, args: list[str], message: str) -> None:
    assert user_error(*args).startswith(message.format(shop=shop))


def test_run_without_rules_is_a_user_error(elsewhere: Path) -> None:
    assert user_error("run") == (
        "no rule files: name some on the command line or in segmint.toml 'rules'")


BAD_RULE = "segment broken: total_spnt > 100\n"


def test_a_rule_error_fails_the_run_and_keeps_the_previous_output(shop: Path) -> None:
    ok("run", "--out", "members.parquet")
    before = {p: p.read_bytes() for p in (shop / "members.parquet", shop / "out" / "segments.parquet")}
    (shop / "rules" / "broken.seg").write_text(BAD_RULE)
    assert user_error("run", "--out", "members.parquet") == (
        "rules/broken.seg:1:17: unknown name 'total_spnt'\n"
        "    segment broken: total_spnt > 100\n"
        "                    ^^^^^^^^^^\n"
        "did you mean 'total_spent'? (columns come from: customers, orders via metric purchase, "
        "orders via metric rfm, orders via metric clv)"
    )
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in shop.iterdir() if p.name.startswith(".")) == [".segmint"]
    assert [p.name for p in (shop / ".segmint" / "runs").iterdir() if p.name.startswith(".")] == []


def test_a_data_error_fails_the_run_and_keeps_the_previous_output(shop: Path) -> None:
    ok("run", "--out", "members.csv")
    before = (shop / "members.csv").read_bytes()
    lines = (shop / "data" / "customers.csv").read_text().splitlines()
    (shop / "dup.csv").write_text("\n".join(lines[:3] + lines[1:2]) + "\n")
    assert user_error("run", "--source", "customers=dup.csv", "--out", "members.csv") == (
        "source 'customers', column 'customer_id': duplicate customer key '1' (lines 2 and 4)")
    assert (shop / "members.csv").read_bytes() == before
    assert [p.name for p in shop.iterdir() if "members" in p.name] == ["members.csv"]


# segmint validate --------------------------------------------------------------------------

def test_validate_ok(shop: Path) -> None:
    result = ok("validate")
    assert result.stdout == (
        "ok: 9 segment(s), 1 segmentation(s), 10 column(s) used, 1 profile source(s)\n")


@pytest.mark.parametrize(("options", "message"), [
    ('amount_column = "totl"',
     "segmint.toml: metrics.amount_column: the purchase metric reads column 'totl' of source "
     "'orders', which has no such column (columns: customer_id, timestamp, cds, amount)"),
    ('timestamp_column = "timestmp"',
     "segmint.toml: metrics.timestamp_column: the purchase metric reads column 'timestmp' of "
     "source 'orders', which has no such column (did you mean 'timestamp'?) (columns: "
     "customer_id, timestamp, cds, amount)"),
    ('margin_column = "margin"',
     "segmint.toml: metrics.margin_column: the purchase metric reads column 'margin' of source "
     "'orders', which has no such column (columns: customer_id, timestamp, cds, amount)"),
])
def test_validate_checks_the_metrics_column_options(shop: Path, options: str, message: str) -> None:
    project = shop / "segmint.toml"
    project.write_text(project.read_text() + f"\n[metrics]\n{options}\n")
    assert user_error("validate") == message


@pytest.mark.parametrize(("options", "message"), [
    ("prot = 8080",
     "segmint.toml [serve]: unknown option 'prot' of plugin 'serve' (did you mean 'port'?); known "
     "options: cors_origins, header_timeout, host, lookup_token_env, poll_interval, port, token_env"),
    ('port = "eighty"', "segmint.toml [serve]: option 'port' of plugin 'serve' must be an integer, got \"eighty\""),
    ("port = 70000", "segmint.toml: serve.port: port must be a port number from 1 to 65535, got 70000"),
    ("poll_interval = 0", "segmint.toml: serve.poll_interval: poll_interval must be more than 0 seconds"),
    ("header_timeout = -1.5", "segmint.toml: serve.header_timeout: header_timeout must be more than 0 seconds"),
    ('token_env = " "', "segmint.toml: serve.token_env: token_env must name an environment variable (the "
                        "token itself is never written in the project file)"),
    ('lookup_token_env = "SEGMINT_SERVE_TOKEN"',
     "segmint.toml: serve.lookup_token_env: lookup_token_env names the same variable as token_env "
     "(SEGMINT_SERVE_TOKEN): a lookup-only token needs its own"),
    ('cors_origins = "https://shop.example"',
     "segmint.toml [serve]: option 'cors_origins' of plugin 'serve' must be a list of strings, got "
     "\"https://shop.example\""),
])
def test_validate_checks_the_serve_options(shop: Path, options: str, message: str) -> None:
    project = shop / "segmint.toml"
    project.write_text(project.read_text() + f"\n[serve]\n{options}\n")
    assert user_error("validate") == message


def test_validate_accepts_good_serve_options(shop: Path) -> None:
    project = shop / "segmint.toml"
    project.write_text(project.read_text() + '\n[serve]\nport = 9000\ncors_origins = ["https://shop.example"]\n'
                       'lookup_token_env = "PAGE_TOKEN"\n')
    assert ok("validate").stdout.startswith("ok: ")


def test_validate_reports_every_error_of_every_file(shop: Path) -> None:
    (shop / "rules" / "broken.seg").write_text(
        BAD_RULE + "segment typed: country > 5\n")
    (shop / "rules" / "winter.seg").write_text("segment champions: orders > 1\n")
    assert user_error("validate") == (
        "rules/broken.seg:1:17: unknown name 'total_spnt'\n"
        "    segment broken: total_spnt > 100\n"
        "                    ^^^^^^^^^^\n"
        "did you mean 'total_spent'? (columns come from: customers, orders via metric purchase, "
        "orders via metric rfm, orders via metric clv)\n"
        "\n"
        "rules/broken.seg:2:16: cannot compare string with number\n"
        "    segment typed: country > 5\n"
        "                   ^^^^^^^^^^^\n"
        "country is text, which compares letter by letter: give it a number type with the"
        " columns option of source 'customers' (columns = { country = \"int\" })\n"
        "\n"
        "rules/winter.seg:1:9: duplicate name 'champions'\n"
        "    segment champions: orders > 1\n"
        "            ^^^^^^^^^\n"
        "first defined at rules/retail.seg:4\n"
        "\n"
        "3 errors"
    )


def test_validate_reports_syntax_errors_of_every_file(shop: Path) -> None:
    (shop / "rules" / "a.seg").write_text("segment a: (orders > 1\n")
    (shop / "rules" / "b.seg").write_text("segment b: orders = 1\n")
    assert user_error("validate") == (
        "rules/a.seg:1:23: missing closing parenthesis\n"
        "    segment a: (orders > 1\n"
        "                          ^\n"
        "add ')' to close the '(' at line 1, column 12\n"
        "\n"
        "rules/b.seg:1:19: unexpected '='\n"
        "    segment b: orders = 1\n"
        "                      ^\n"
        "compare with '=='\n"
        "\n"
        "2 errors"
    )


def test_validate_reads_no_data(shop: Path) -> None:
    """A problem only reading the data shows (a duplicate key) passes validate, fails run."""
    lines = (shop / "data" / "customers.csv").read_text().splitlines()
    (shop / "dup.csv").write_text("\n".join(lines[:3] + lines[1:2]) + "\n")
    ok("validate", "--source", "customers=dup.csv")
    assert user_error("run", "--source", "customers=dup.csv").startswith("source 'customers'")


def test_non_utf8_rule_file(shop: Path) -> None:
    (shop / "rules" / "latin1.seg").write_bytes("segment s: country == 'F\u00c9'\n".encode("latin-1"))
    message = user_error("validate")
    assert re.match(r"(.*/)?rules/latin1\.seg:1:25: ", message), message
    assert message.split(":1:25: ", 1)[1] == (
        "rule files must be UTF-8; byte 0xc9 is not\n"
        "    segment s: country == 'F\n"
        "                            ^\n"
        "save the file as UTF-8"
    )


# segmint explain ---------------------------------------------------------------------------

@pytest.fixture
def members(shop: Path) -> pa.Table:
    ok("run", "--dry-run", "--out", "unused.parquet")
    ok("run", "--out", "members.parquet", "--sink", "out")
    return pq.read_table(shop / "members.parquet")


def _first(table: pa.Table, column: str, value: object) -> int:
    return table.filter(pa.compute.equal(table.column(column), value)).column(
        "customer_id")[0].as_py()


def test_explain_a_member(members: pa.Table) -> None:
    customer = _first(members, "champions", True)
    output = ok("explain", "--segment", "champions", "--id", customer).stdout
    assert output.startswith(f"customer {customer} is IN segment champions\n")
    assert "all of:  → true" in output
    assert "orders >= 5  → true   (orders = " in output


def test_explain_a_non_member(members: pa.Table) -> None:
    output = ok("explain", "--segment", "champions", "--id", "3").stdout
    assert output.startswith("customer 3 is NOT IN segment champions\n")
    assert "orders >= 5  → false   (orders = 1)" in output


def test_explain_a_held_out_customer(members: pa.Table) -> None:
    customer = _first(members, "win_back__holdout", True)
    output = ok("explain", "--segment", "win_back", "--id", customer).stdout
    assert output.startswith(
        f"customer {customer} is IN segment win_back (held out: a member of the control "
        "group, not targeted)\n")


def test_explain_a_segmentation(members: pa.Table) -> None:
    output = ok("explain", "--segment", "lifecycle", "--id", "3").stdout
    assert output.startswith("customer 3 in segmentation lifecycle: lost\n")
    assert "active:  → false" in output and "lost: otherwise  → true" in output
    active = _first(members, "lifecycle", "active")
    assert ok("explain", "--segment", "lifecycle", "--id", active).stdout.startswith(
        f"customer {active} in segmentation lifecycle: active\n")


def test_explain_normalises_the_id_as_the_source_normalises_keys(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("contacts.csv").write_text("email,orders\n User7@Example.COM ,9\nother@example.com,1\n")
    Path("loyal.seg").write_text("segment loyal: orders >= 5\n")
    Path("segmint.toml").write_text('rules = ["loyal.seg"]\nkey = "email"\n[sources.contacts]\n'
                                    'plugin = "csv"\npath = "contacts.csv"\nkey_normalize = "email"\n')
    output = ok("explain", "--segment", "loyal", "--id", "  User7@Example.com").stdout
    assert output.startswith("customer user7@example.com is IN segment loyal\n")
    assert user_error("explain", "--segment", "loyal", "--id", "nobody@example.com") == (
        "no customer with key 'nobody@example.com'")


EXPLAIN_EVENTS = """\
segment big_recent: exists(orders where amount > 50, last 30d)
segment regular: count(orders) >= 3 and sum(orders.amount where amount > 50) > 100
segment via_reference: big_recent or not exists(orders where amount > 1000)
"""


@pytest.mark.parametrize(
    ("segment", "customer", "lines"),
    [
        ("big_recent", 1, ["exists(orders where amount > 50, last 30d)  → true   {big_30d} matching events in orders"]),
        ("big_recent", 2, ["exists(orders where amount > 50, last 30d)  → false   0 matching events in orders"]),
        ("regular", 1, ["count(orders) >= 3  → true   (count(orders) = {all})",
                        "sum(orders.amount where amount > 50) > 100  → true   (sum(orders.amount where amount > 50)"
                        " = {big_sum})   sum(orders.amount where amount > 50) saw {big} matching events in orders"]),
        ("via_reference", 2, ["segment big_recent  → false",
                              "exists(orders where amount > 50, last 30d)  → false   0 matching events in orders",
                              "exists(orders where amount > 1000)  → false   0 matching events in orders"]),
    ],
)
def test_explain_shows_how_many_events_each_aggregate_saw(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         segment: str, customer: int, lines: list[str]) -> None:
    import duckdb

    monkeypatch.chdir(tmp_path)
    Path("people.csv").write_text("customer_id,name\n1,a\n2,b\n")
    Path("orders.csv").write_text("customer_id,timestamp,amount\n1,2024-01-02,10\n1,2024-05-20,60\n"
                                  "1,2024-05-25,70\n1,2024-03-01,55\n2,2024-05-28,20\n")
    Path("rules.seg").write_text(EXPLAIN_EVENTS)
    Path("segmint.toml").write_text('rules = ["rules.seg"]\nas_of = "2024-05-31"\n[sources.people]\n'
                                    'plugin = "csv"\npath = "people.csv"\n[sources.orders]\nplugin = "csv"\n'
                                    'path = "orders.csv"\nrole = "events"\n')
    # the oracle: the same counts over the same file in DuckDB
    big_30d, big, big_sum, every = duckdb.connect().execute(
        "select count(*) filter (where amount > 50 and timestamp > date '2024-05-31' - interval 30 day),"
        " count(*) filter (where amount > 50), sum(amount) filter (where amount > 50), count(*)"
        f" from read_csv('orders.csv') where customer_id = {customer}").fetchone()
    output = ok("explain", "--segment", segment, "--id", str(customer)).stdout
    shown = [" ".join(line.lstrip("│├└─ ").split()) for line in output.splitlines()]
    for line in lines:
        expected = " ".join(line.format(big_30d=big_30d, big=big, big_sum="null" if big_sum is None else f"{big_sum:g}", all=every).split())
        assert expected in shown, output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--segment", "champs", "--id", "3"],
         "no segment or segmentation named 'champs'; did you mean 'champions'?"),
        (["--segment", "zzz", "--id", "3"],
         "no segment or segmentation named 'zzz'; segments: champions, at_risk, big_spenders, "
         "one_and_done, eu_email, win_back, lifecycle, loyal, high_clv, fading"),
        (["--segment", "champions", "--id", "999999"], "no customer with key '999999'"),
    ],
)
def test_explain_user_errors(shop: Path, args: list[str], message: str) -> None:
    assert user_error("explain", *args) == message


# segmint plugins ---------------------------------------------------------------------------

def test_plugins_lists_the_built_ins(elsewhere: Path) -> None:
    output = ok("plugins").stdout
    rows = {line.split("│")[3].strip(): line for line in output.splitlines()
            if line.startswith("│ segmint")}
    assert "csv, parquet, jsonl" in rows["files"] and "│ file " in rows["files"]
    assert "rfm" in rows["metrics"] and "purchase" in rows["metrics"]
    assert "(entry point 'files') failed" not in output
    assert "(entry point 'metrics') failed" not in output


# segmint init ------------------------------------------------------------------------------

def test_init_writes_a_runnable_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = ok("init", tmp_path / "new" / "shop")
    assert result.stdout == (
        f"created a segmint project in {tmp_path / 'new' / 'shop'}\n"
        f"next: cd {tmp_path / 'new' / 'shop'} && segmint run\n"
    )
    project = tmp_path / "new" / "shop"
    assert {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()} >= {
        "segmint.toml", "rules/retail.seg", "data/customers.csv"}
    monkeypatch.chdir(project)
    assert sizes(ok("run").stdout) == SIZES[None]
    assert (project / "out" / "segments.parquet").is_file()


def test_init_refuses_an_existing_project(shop: Path) -> None:
    (shop / "rules" / "retail.seg").write_text("# mine\n")
    assert user_error("init", shop) == (
        f"{shop} already holds a segmint project (segmint.toml); "
        "choose an empty or new directory")
    assert (shop / "rules" / "retail.seg").read_text() == "# mine\n"


def test_init_never_overwrites_a_file(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "retail.seg").write_text("# mine\n")
    assert user_error("init", tmp_path) == (
        f"{tmp_path / 'rules' / 'retail.seg'} already exists; not overwriting it")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules"]  # nothing half written


def test_version(elsewhere: Path) -> None:
    assert ok("--version").stdout.startswith("segmint, version ")
