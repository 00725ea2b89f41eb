"""Identity: key normalisation, identity tables, duplicate keys, unmatched keys, the report."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from segmint.cli import cli as main
from segmint.errors import ConfigError, DataError
from segmint.plugin.host import get_registry
from segmint.project.identity import normalize
from segmint.project.config import load_project
from segmint.project.pipeline import execute, prepare


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ann@Example.COM ", "ann@example.com"),
        ("bo@x.io", "bo@x.io"),
        ("   ", None),
        (None, None),
    ],
)
def test_email_keys_are_trimmed_and_lowercased(raw, expected):
    assert normalize(pa.array([raw], pa.string()), "email").to_pylist() == [expected]


def _project(tmp_path: Path, toml: str, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "rules.seg").write_text('segment vip: tier == "gold"\nsegment seen: age > 0\n')
    (tmp_path / "segmint.toml").write_text('rules = ["rules.seg"]\nkey = "email"\n' + toml)
    return tmp_path / "segmint.toml"


def _run(path: Path):
    registry = get_registry()
    return execute(prepare(load_project(path), registry))


def test_normalised_keys_join_and_unmatched_keys_are_counted(tmp_path):
    path = _project(tmp_path, """
[sources.crm]
plugin = "csv"
path = "crm.csv"
key_normalize = "email"
[sources.app]
plugin = "csv"
path = "app.csv"
key_normalize = "email"
""", {
        "crm.csv": "email,tier\n Ann@X.com ,gold\nbo@x.com,silver\ncy@x.com,gold\n",
        "app.csv": "email,age\nann@x.com,30\nBO@X.COM,40\ndee@x.com,50\n",
    })
    outcome = _run(path)
    table = outcome.result.membership.sort_by("email")
    assert table.column("email").to_pylist() == ["ann@x.com", "bo@x.com", "cy@x.com", "dee@x.com"]
    assert table.column("vip").to_pylist() == [True, False, True, False]
    assert outcome.report.sources["crm"].unmatched == 1
    assert outcome.report.sources["app"].unmatched == 1


def test_identity_table_maps_crm_ids_to_emails(tmp_path):
    path = _project(tmp_path, """
[sources.crm]
plugin = "csv"
path = "crm.csv"
identity = "ids.csv"
identity_from = "crm_id"
identity_normalize = "email"
[sources.app]
plugin = "csv"
path = "app.csv"
""", {
        "crm.csv": "email,tier\n101,gold\n102,silver\n103,gold\n",
        "ids.csv": "crm_id,email\n101,Ann@X.com\n102,bo@x.com\n",
        "app.csv": "email,age\nann@x.com,30\nbo@x.com,40\n",
    })
    outcome = _run(path)
    table = outcome.result.membership.sort_by("email")
    assert table.to_pydict() == {"email": ["ann@x.com", "bo@x.com"], "vip": [True, False],
                                 "seen": [True, True]}
    assert outcome.report.sources["crm"].unmapped == 1
    assert outcome.report.sources["crm"].unmatched == 0


def test_duplicate_keys_are_an_error_by_default(tmp_path):
    path = _project(tmp_path, '[sources.crm]\nplugin = "csv"\npath = "crm.csv"\nkey_normalize = "email"\n',
                    {"crm.csv": "email,tier,age\nann@x.com,gold,1\nANN@x.com,silver,2\n"})
    with pytest.raises(DataError, match="source 'crm'.*duplicate customer key 'ann@x.com'"):
        _run(path)


def test_duplicate_keys_latest_wins_and_is_counted(tmp_path):
    path = _project(tmp_path, """
[sources.crm]
plugin = "csv"
path = "crm.csv"
on_duplicate_keys = "latest"
latest_by = "updated_at"
""", {"crm.csv": "email,tier,age,updated_at\n"
                 "a,silver,1,2026-01-02 00:00:00\na,gold,2,2026-03-01 00:00:00\n"
                 "a,bronze,3,2026-02-01 00:00:00\nb,gold,4,\nb,silver,5,2026-01-01 00:00:00\n"
                 "c,gold,6,2026-01-01 00:00:00\nc,silver,7,2026-01-01 00:00:00\n"})
    outcome = _run(path)
    table = outcome.result.membership.sort_by("email")
    assert table.column("vip").to_pylist() == [True, False, False]  # c: the later row on a tie
    assert outcome.report.sources["crm"].duplicates == 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ('on_duplicate_keys = "latest"', "latest_by"),
        ('key_normalize = "fax"', "option 'key_normalize' of plugin 'csv' must be one of"),
        ('phone_country_code = "DE"', "country calling code"),
        ('identity = "ids.csv"', "identity_from"),
        ('on_bad_rows = "skip"', "cannot skip bad rows"),
        ('role = "events"\non_duplicate_keys = "latest"\nlatest_by = "t"', "applies to profile sources"),
    ],
)
def test_bad_key_options_are_config_errors(tmp_path, options, message):
    plugin = "parquet" if "on_bad_rows" in options else "csv"
    path = _project(tmp_path, f'[sources.crm]\nplugin = "{plugin}"\npath = "crm.csv"\n{options}\n', {})
    with pytest.raises(ConfigError, match=message):
        prepare(load_project(path), get_registry())


def test_run_prints_the_data_report(tmp_path, monkeypatch):
    path = _project(tmp_path, """
[sources.crm]
plugin = "csv"
path = "crm.csv"
on_duplicate_keys = "latest"
latest_by = "age"
[sources.app]
plugin = "csv"
path = "app.csv"
""", {"crm.csv": "email,tier,age\na,gold,1\na,silver,2\nb,gold,3\n", "app.csv": "email,x\na,1\nz,2\n"})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "-p", str(path)])
    assert result.exit_code == 0, result.output
    assert "source crm: 3 rows, 1 duplicate keys resolved, 1 keys in no other profile source" in result.output
    assert "source app: 2 rows, 1 keys in no other profile source" in result.output


def test_streamed_events_are_normalised_batch_by_batch(tmp_path):
    from segmint.project.identity import Keys
    from segmint.plugin.api import PluginContext, Source, SourceSettings
    from segmint.project.data_report import DataReport
    from segmint.project.identity import SourcePolicy

    class Stream(Source):
        name = "stream"

    settings = SourceSettings(policy=SourcePolicy(key_normalize="email"))
    source = Stream("events", None, PluginContext(project_dir=tmp_path, source=settings))
    batches = [pa.record_batch({"email": [" A@x.com", "b@x.com"], "n": [1, 2]}),
               pa.record_batch({"email": ["B@X.com", None], "n": [3, 4]})]
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, iter(batches))
    report = DataReport()
    keys = Keys("email", get_registry(), PluginContext(project_dir=tmp_path), report)
    out = keys.apply_stream("events", source, reader).read_all()
    assert out.column("email").to_pylist() == ["a@x.com", "b@x.com", "b@x.com", None]
    assert report.sources["events"].rows == 4
    assert set(keys.keysets["events"].to_pylist()) == {"a@x.com", "b@x.com"}


@pytest.mark.parametrize("chunks", [
    [[3, 1, 3, None, 2]],
    [[3, 1], [None, 2, 1], []],
])
def test_the_distinct_keys_of_a_table_read_whole_are_found_when_asked(tmp_path, chunks):
    """A table the run keeps gives its distinct, non-null keys only when they are matched;
    reading it again replaces them (no stale set from an earlier read)."""
    from segmint.plugin.api import PluginContext, Source, SourceSettings
    from segmint.project.data_report import DataReport
    from segmint.project.identity import Keys, SourcePolicy

    class Orders(Source):
        name = "orders_table"

    source = Orders("orders", None, PluginContext(project_dir=tmp_path, source=SourceSettings(
        policy=SourcePolicy())))
    keys = Keys("id", get_registry(), PluginContext(project_dir=tmp_path), DataReport())
    table = pa.table({"id": pa.chunked_array(chunks, pa.int64())})
    keys.apply("orders", source, table, profiles=False)
    assert sorted(keys.keyset("orders").to_pylist()) == sorted({k for c in chunks for k in c} - {None})
    keys.apply("orders", source, pa.table({"id": pa.array([7, 7], pa.int64())}), profiles=False)
    assert keys.keysets["orders"].to_pylist() == [7]
