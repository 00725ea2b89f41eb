"""What a metric needs of a project (`segmint.project.metric_needs`): the sources its
options name (`Metric.requires_for`: acquisition's ``acquisition_channel_source``), read in
`segmint run`, `segmint sql` and checked by `segmint validate` before any data is read."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from segmint.cli import cli
from segmint.project import pipeline
from segmint.project.pipeline import run_project

RULES = """\
segment pricey: acquisition_cost >= 50
segment cheap: acquisition_cost < 50
"""

#: Channels from the CRM (keys in other case and spacing: normalised as the source says),
#: the first order's channel where the CRM has none or no row: c1 ads (order), c2 tv
#: (CRM), c3 ads (CRM null: order), c4 radio (CRM; no spend: cost 0). January spend: ads
#: 90 over 2 customers, tv 50 over 1, radio none.
FILES = {
    "crm.csv": "email,tier,source\n C2@x.com ,gold,tv\nc3@X.com,silver,\nc4@x.com,gold,radio\n"
               "c1@x.com,silver,\n",
    "orders.csv": "email,timestamp,amount,channel\nc1@x.com,2024-01-03,10,ads\n"
                  "c2@x.com,2024-01-04,10,ads\nc3@x.com,2024-01-05,10,ads\nc4@x.com,2024-01-06,5,ads\n",
    "spend.csv": "email,date,channel,spend\n,2024-01-01,ads,90\n,2024-01-01,tv,50\n",
    "visits.csv": "email,timestamp,source\nc1@x.com,2024-01-02,tv\nc2@x.com,2024-01-02,ads\n",
}
EXPECTED = {"c1@x.com": 45.0, "c2@x.com": 50.0, "c3@x.com": 45.0, "c4@x.com": 0.0}


def _project(tmp_path: Path, metrics: str = 'acquisition_channel_source = "crm"\n'
             'acquisition_channel_column = "source"\n') -> Path:
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "rules.seg").write_text(RULES)
    (tmp_path / "segmint.toml").write_text(f"""\
rules = ["rules.seg"]
key = "email"
as_of = "2024-03-31"
engine = "arrow"

[sources.crm]
plugin = "csv"
path = "crm.csv"
key_normalize = "email"

[sources.orders]
plugin = "csv"
role = "events"
path = "orders.csv"

[sources.spend]
plugin = "csv"
role = "events"
path = "spend.csv"
timestamp_column = "date"

[sources.visits]
plugin = "csv"
role = "events"
path = "visits.csv"

[metrics]
{metrics}""")
    return tmp_path / "segmint.toml"


def _costs(run) -> dict[str, float]:
    profiles = run.result.profiles
    return dict(zip(profiles["email"].to_pylist(), profiles["acquisition_cost"].to_pylist()))


@pytest.mark.parametrize("engine", ["arrow", "duckdb"])
def test_a_profile_source_gives_the_acquisition_channel_in_a_run(tmp_path, monkeypatch, engine):
    project_file = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    run = run_project(project_file, dry_run=True, engine=engine)
    assert _costs(run) == EXPECTED
    assert dict(run.sizes()) == {"pricey": 1, "cheap": 3}
    assert run.report.sources["crm"].rows == 4  # read again for the metric, counted once


def test_the_engine_computing_metrics_leaves_a_named_source_to_python(tmp_path, monkeypatch):
    """Parquet orders and spend the engine would read itself: with a channel source the
    options name, the acquisition metric is computed in Python (the engine's SQL has no
    profile source to read), and gives the same costs."""
    project_file = _project(tmp_path)
    text = project_file.read_text().replace('engine = "arrow"\n', "")
    for name in ("orders", "spend"):
        csv = tmp_path / f"{name}.csv"
        table = pv.read_csv(csv)
        if name == "spend":
            table = table.set_column(0, "email", pa.array([None] * table.num_rows, pa.string()))
        pq.write_table(table, tmp_path / f"{name}.parquet")
        text = text.replace(f'plugin = "csv"\nrole = "events"\npath = "{name}.csv"',
                            f'plugin = "parquet"\nrole = "events"\npath = "{name}.parquet"')
    project_file.write_text(text + '\n[engine]\nname = "duckdb"\nmetrics = "engine"\n')
    (tmp_path / "rules.seg").write_text(RULES + "segment buyers: frequency >= 1\n")
    monkeypatch.chdir(tmp_path)
    computed: list[str] = []
    compute_metric = pipeline._compute_metric

    def spy(prepared, metric, *args, **kwargs):
        computed.append(metric.name)
        return compute_metric(prepared, metric, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_compute_metric", spy)
    assert _costs(run_project(project_file, dry_run=True)) == EXPECTED
    assert computed == ["acquisition"]  # purchase (frequency) computed in the engine


def test_an_event_source_may_give_the_channel(tmp_path, monkeypatch):
    """visits names c1 tv and c2 ads: c1 and c2 swap channels (tv 50 / 1, ads 90 / 3)."""
    project_file = _project(tmp_path, 'acquisition_channel_source = "visits"\n'
                                      'acquisition_channel_column = "source"\n')
    monkeypatch.chdir(tmp_path)
    assert _costs(run_project(project_file, dry_run=True)) == {
        "c1@x.com": 50.0, "c2@x.com": 30.0, "c3@x.com": 30.0, "c4@x.com": 30.0}


def test_the_printed_sql_gives_the_runs_channels(tmp_path, monkeypatch):
    project_file = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["sql", "-p", str(project_file), "--dialect", "duckdb"])
    assert result.exit_code == 0, result.output
    membership = duckdb.sql(result.stdout.rstrip().rstrip(";")).to_arrow_table()
    got = {name: sorted(k for k, v in zip(membership["email"].to_pylist(),
                                          membership[name].to_pylist()) if v)
           for name in ("pricey", "cheap")}
    assert got == {"pricey": ["c2@x.com"], "cheap": ["c1@x.com", "c3@x.com", "c4@x.com"]}


@pytest.mark.parametrize(("metrics", "message"), [
    ('acquisition_channel_source = "crn"\n',
     "segmint.toml: metrics.acquisition_channel_source: the acquisition metric reads source 'crn'"
     " (option acquisition_channel_source), which the project does not have (did you mean"
     " 'crm'?) (sources: crm, orders, spend, visits)"),
    ('acquisition_channel_source = "crm"\nacquisition_channel_column = "sorce"\n',
     "segmint.toml: metrics.acquisition_channel_column: the acquisition metric reads column"
     " 'sorce' of source 'crm', which has no such column (did you mean 'source'?)"),
])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_bad_channel_source_is_found_before_any_data_is_read(tmp_path, monkeypatch, metrics,
                                                               message, command):
    project_file = _project(tmp_path, metrics)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, [command, "-p", str(project_file)])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / ".segmint").exists()
