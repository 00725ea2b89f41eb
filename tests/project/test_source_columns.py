"""What a project says about a source's columns: its own key column (``key``), text flags
made booleans (``booleans``), and which customers a run has (the profiles', never a
metric's), with consent from a segment."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner

from segmint.cli import cli as main
from segmint.errors import ConfigError
from segmint.language.types import BOOL
from segmint.plugin.host import get_registry
from segmint.project.config import load_project
from segmint.project.pipeline import execute, prepare

CRM = ("email,Marketing contact status,age\n"
       "ann@x.io,Marketing contact,30\nbo@x.io,Non-marketing contact,40\ncy@x.io,,50\n")
ORDERS = ("customer_email,order_id,amount,timestamp\n"
          "ann@x.io,1,10,2026-01-02\nann@x.io,2,20,2026-01-05\nzed@x.io,3,5,2026-01-03\n"
          "yan@x.io,4,7,2026-01-04\n")


def _project(tmp_path: Path, toml: str, rules: str, files: dict[str, str] | None = None) -> Path:
    for name, text in {"crm.csv": CRM, "orders.csv": ORDERS, **(files or {})}.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "rules.seg").write_text(rules)
    (tmp_path / "segmint.toml").write_text(
        'rules = ["rules.seg"]\nkey = "email"\nas_of = 2026-02-01\n' + toml)
    return tmp_path / "segmint.toml"


ORDERS_SOURCE = '[sources.orders]\nplugin = "csv"\npath = "orders.csv"\nrole = "events"\nkey = "customer_email"\n'
CRM_SOURCE = '[sources.crm]\nplugin = "csv"\npath = "crm.csv"\n'


def _run(path: Path):
    return execute(prepare(load_project(path), get_registry()))


def test_a_source_names_its_own_key_column(tmp_path):
    path = _project(tmp_path, CRM_SOURCE + ORDERS_SOURCE,
                    "segment buyers: count(orders, last 365d) >= 2\n")
    members = _run(path).result.membership
    assert members.to_pydict() == {"email": ["ann@x.io", "bo@x.io", "cy@x.io"],
                                   "buyers": [True, False, False]}


def test_a_profile_source_key_column_becomes_the_key(tmp_path):
    path = _project(tmp_path, '[sources.crm]\nplugin = "csv"\npath = "people.csv"\nkey = "Email"\n',
                    "segment older: age > 35\n", {"people.csv": "Email,age\nA,30\nB,40\n"})
    assert _run(path).result.membership.to_pydict() == {"email": ["A", "B"], "older": [False, True]}


def test_metric_columns_do_not_add_customers(tmp_path):
    """With a profile source, the run's customers are the profile's: order-only keys are
    counted as matching no profile, not added."""
    path = _project(tmp_path, CRM_SOURCE + ORDERS_SOURCE, "segment buyers: frequency >= 1\n")
    outcome = _run(path)
    assert outcome.result.membership.column("email").to_pylist() == ["ann@x.io", "bo@x.io", "cy@x.io"]
    assert outcome.report.sources["orders"].unmatched == 2
    assert "source orders: 4 rows, 2 keys with no profile (left out)" in outcome.report.lines()


def test_text_values_become_booleans(tmp_path):
    toml = CRM_SOURCE + 'booleans = { marketing = ["Marketing contact"] }\n'
    path = _project(tmp_path, toml, "segment reachable: marketing\nsegment unknown: marketing is null\n",
                    {"crm.csv": CRM.replace("Marketing contact status", "marketing", 1)})
    members = _run(path).result.membership
    assert members.column("reachable").to_pylist() == [True, False, False]
    assert members.column("unknown").to_pylist() == [False, False, True]
    prepared = prepare(load_project(path), get_registry())
    assert prepared.checked.catalog.find("marketing", None)[0].type == BOOL


@pytest.mark.parametrize(("booleans", "message"), [
    ('{ nope = ["x"] }', "booleans names 'nope', which source 'crm' does not have"),
    ('{ marketing = "x" }', "booleans.marketing: must be a list of the texts that mean true"),
    ('["x"]', "booleans: must be a table of column = [texts that mean true]"),
])
def test_bad_booleans_are_config_errors(tmp_path, booleans, message):
    path = _project(tmp_path, CRM_SOURCE + f"booleans = {booleans}\n", "segment a: age > 1\n",
                    {"crm.csv": CRM.replace("Marketing contact status", "marketing", 1)})
    with pytest.raises(ConfigError, match=re.escape(message)):
        prepare(load_project(path), get_registry())


def test_consent_may_be_a_segment(tmp_path, monkeypatch):
    toml = (CRM_SOURCE + 'booleans = { marketing = ["Marketing contact"] }\n'
            '[consent]\nemail = "reachable"\n'
            '[sinks.out]\nplugin = "file"\npath = "out.csv"\npurpose = "email"\n')
    path = _project(tmp_path, toml, "segment reachable: marketing and age < 45\nsegment everyone: age > 0\n",
                    {"crm.csv": CRM.replace("Marketing contact status", "marketing", 1)})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "-p", str(path)])
    assert result.exit_code == 0, result.output
    sent = pacsv.read_csv(tmp_path / "out.csv").column("email").to_pylist()
    assert sent == ["ann@x.io"]
    assert "2 members without email consent left out" in result.output
