"""`segmint.run_project`: a whole run in one call, the same run `segmint run` does.

Membership is checked against DuckDB SQL over the project's CSV file; the stored run and
the file sink's output against that membership.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import segmint
from segmint.cli import cli
from segmint.delivery.snapshots import list_snapshots, load_snapshot
from segmint.project.config import load_project

CUSTOMERS = """\
customer_id,spent,country,orders
1,820.0,DE,7
2,95.5,FR,2
3,12.0,DE,1
4,,IT,0
5,640.0,DE,4
6,150.0,,3
"""

RULES = """\
segment big_de: spent >= 100 and country == "DE"
segment regulars: orders >= 3 or spent > 600
"""

#: The segments as SQL over the CSV (NULL is not a member: coalesce to false).
ORACLE = """
SELECT CAST(customer_id AS VARCHAR) AS customer_id,
       coalesce(spent >= 100 AND country = 'DE', false) AS big_de,
       coalesce(orders >= 3 OR spent > 600, false) AS regulars
FROM read_csv('{path}', header = true, all_varchar = false)
ORDER BY customer_id
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with one CSV source, one rule file and a Parquet file sink."""
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "rules.seg").write_text(RULES)
    (tmp_path / "segmint.toml").write_text(textwrap.dedent("""\
        rules = ["rules.seg"]
        as_of = "2026-01-31"
        [sources.customers]
        plugin = "csv"
        path = "customers.csv"
        [sinks.members]
        plugin = "file"
        path = "out/members.parquet"
    """))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "segmint.toml"


def oracle(directory: Path) -> pa.Table:
    return duckdb.connect().sql(ORACLE.format(path=directory / "customers.csv")).arrow().read_all()


def sorted_rows(table: pa.Table) -> list[dict[str, object]]:
    return table.sort_by("customer_id").to_pylist()


def test_run_project_evaluates_stores_and_delivers(project: Path) -> None:
    run = segmint.run_project(project)
    expected = oracle(project.parent)
    assert run.membership.column_names == ["customer_id", "big_de", "regulars"]
    assert sorted_rows(run.membership) == sorted_rows(expected)
    assert run.sizes() == [(name, expected.column(name).to_pylist().count(True))
                           for name in ("big_de", "regulars")]
    assert run.as_of.isoformat() == "2026-01-31T23:59:59.999999+00:00"
    # the run is stored, under its id, and the result delivered carries that id
    assert run.snapshot is not None and run.run_id == run.result.run_id == run.snapshot.run_id
    stored = load_snapshot(project.parent / ".segmint", "latest")
    assert stored.run_id == run.run_id
    assert sorted_rows(stored.membership) == sorted_rows(expected)
    # the file sink wrote the same membership
    [delivery] = run.deliveries
    assert (delivery.sink, delivery.added, delivery.dry_run) == ("members", 6, False)
    written = pq.read_table(project.parent / "out" / "members.parquet")
    assert sorted_rows(written) == sorted_rows(expected)


def test_run_project_overrides_as_of_and_takes_a_loaded_project(project: Path) -> None:
    run = segmint.run_project(load_project(project), as_of="2025-06-30")
    assert run.as_of.isoformat() == "2025-06-30T23:59:59.999999+00:00"
    assert sorted_rows(run.membership) == sorted_rows(oracle(project.parent))


def test_a_dry_run_stores_and_sends_nothing(project: Path) -> None:
    run = segmint.run_project(project, dry_run=True)
    assert sorted_rows(run.membership) == sorted_rows(oracle(project.parent))
    assert run.snapshot is None and run.run_id is None
    [delivery] = run.deliveries
    assert delivery.dry_run and delivery.added == 6
    assert not (project.parent / "out").exists()
    assert list_snapshots(project.parent / ".segmint") == []


def test_sinks_chooses_where_it_delivers(project: Path) -> None:
    run = segmint.run_project(project, sinks=["members"])
    assert [d.sink for d in run.deliveries] == ["members"]
    with pytest.raises(segmint.SegmintError, match="unknown sink 'nope'; the project has: members"):
        segmint.run_project(project, sinks=["nope"])


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"engine": "nope"}, segmint.ConfigError, "unknown engine 'nope'"),
    ({"as_of": "yesterday"}, segmint.ConfigError, "--as-of"),
])
def test_run_project_user_errors(project: Path, kwargs: dict[str, str],
                                 error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        segmint.run_project(project, **kwargs)
    assert not (project.parent / "out").exists()


def test_a_missing_project_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(segmint.ConfigError, match="project file not found"):
        segmint.run_project(tmp_path / "segmint.toml")


def test_segmint_run_is_run_project(project: Path) -> None:
    """The command stores the same membership the function returns, and prints its sizes."""
    result = CliRunner().invoke(cli, ["run"], prog_name="segmint")
    assert result.exit_code == 0, result.output
    assert "big_de " in result.stdout and "sink members: 6 added" in result.stdout
    [stored] = list_snapshots(project.parent / ".segmint")
    assert f"run {stored.run_id} stored in .segmint" in result.stdout
    run = segmint.run_project(project, dry_run=True)
    assert sorted_rows(load_snapshot(project.parent / ".segmint", stored.run_id).membership) \
        == sorted_rows(run.membership)


def test_the_file_sink_copies_the_stored_membership_file(project: Path, monkeypatch) -> None:
    """The sink's Parquet file is the snapshot's membership.parquet, byte for byte, and the
    bytes writing the membership again gives: the table is encoded once per run."""
    writes: list[Path] = []
    write_table = pq.write_table
    monkeypatch.setattr(pq, "write_table", lambda table, path, **kw: (
        writes.append(Path(path)), write_table(table, path, **kw))[1])
    run = segmint.run_project(project)
    assert run.snapshot is not None
    written = (project.parent / "out" / "members.parquet").read_bytes()
    assert written == (run.snapshot.path / "membership.parquet").read_bytes()
    again = project.parent / "again.parquet"
    write_table(run.membership, again)
    assert written == again.read_bytes()
    assert sorted(p.name for p in writes) == ["membership.parquet", "profiles.parquet"]


def test_a_membership_filtered_since_it_was_stored_is_written_afresh(project: Path, monkeypatch) -> None:
    """Consent leaves members out of what the sink gets: not the stored table, so not its file."""
    from segmint.plugins.sinks import file

    monkeypatch.setattr(file, "_copied", lambda *a: pytest.fail("the stored file was copied"))
    toml = project.read_text().replace('[sinks.members]', '[consent]\nemail = "regulars"\n'
                                       '[sinks.members]\npurpose = "email"')
    project.write_text(toml)
    run = segmint.run_project(project)
    written = pq.read_table(project.parent / "out" / "members.parquet")
    assert run.snapshot is not None and run.snapshot.membership.num_rows == 6
    assert written.column("regulars").to_pylist() == [True] * written.num_rows
    assert run.result.stored_parquet(run.membership) == run.snapshot.path / "membership.parquet"
    assert run.result.stored_parquet(written) is None
    assert written.num_rows == run.membership.filter(run.membership.column("regulars")).num_rows


def test_a_stored_file_the_sink_cannot_read_is_written_afresh(project: Path, monkeypatch) -> None:
    """The copy is an optimisation: a snapshot file that cannot be read (here a folder in its
    place) makes the sink encode the table, not fail naming its own target."""
    from segmint.plugin.api import RunResult

    unreadable = project.parent / "not-a-file"
    unreadable.mkdir()
    monkeypatch.setattr(RunResult, "stored_parquet", lambda self, table: unreadable)
    run = segmint.run_project(project)
    assert pq.read_table(project.parent / "out" / "members.parquet").equals(run.membership)
