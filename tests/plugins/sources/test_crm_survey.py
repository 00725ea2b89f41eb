"""The crm and survey sources on the sample exports in tests/data, alone and in a run."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner

from segmint.cli import cli
from segmint.errors import DataError
from segmint.plugin.host import get_registry
from segmint.plugin.options import build_options
from segmint.plugin.api import PluginContext

DATA = Path(__file__).parents[2] / "data"
NPS = "How likely are you to recommend us to a friend or colleague?"


def make(kind: str, directory: Path, **options):
    cls = get_registry().sources[kind]
    return cls(kind, build_options(cls.Options, options, plugin=kind, where="test"),
               PluginContext(project_dir=directory))


@pytest.mark.parametrize(
    ("flavor", "contacts", "companies"),
    [("hubspot", "hubspot_contacts.csv", "hubspot_companies.csv"),
     ("salesforce", "salesforce_contacts.csv", "salesforce_accounts.csv")],
)
def test_crm_joins_contacts_to_their_company(flavor, contacts, companies):
    source = make("crm", DATA / "crm", flavor=flavor, contacts=contacts, companies=companies)
    schema = source.schema()
    assert schema.field("employees").type == pa.int64()
    assert schema.field("annual_revenue").type == pa.float64()
    rows = {r["email"].lower(): r for r in source.read(["email", "industry", "employees", "country"]).to_pylist()}
    assert rows["anna.schmidt@acme.de"]["employees"] == 2500
    assert rows["anna.schmidt@acme.de"]["country"] == "DE"
    assert rows["bob@globex.com"]["employees"] == 120  # HubSpot: the first (primary) company
    assert rows["chloe@initech.fr"]["industry"] is None  # no company: null firmographics


def test_crm_column_mapping_is_configurable():
    source = make("crm", DATA / "crm", contacts="hubspot_contacts.csv", companies="hubspot_companies.csv",
                  key_column="Record ID", columns={"Lifecycle Stage": "stage"},
                  company_columns={"City": "hq_city"}, types={"crm_id": "int"})
    table = source.read()
    assert table.column("customer_id").to_pylist() == ["51", "52", "53", "54"]
    assert "stage" in table.column_names and "hq_city" in table.column_names
    assert "lifecycle_stage" not in table.column_names


def test_crm_bad_number_names_file_row_and_column(tmp_path):
    shutil.copy(DATA / "crm" / "hubspot_contacts.csv", tmp_path)
    (tmp_path / "hubspot_companies.csv").write_text(
        "Record ID,Company name,Number of Employees\n9001,Acme,many\n")
    source = make("crm", tmp_path, contacts="hubspot_contacts.csv", companies="hubspot_companies.csv")
    with pytest.raises(DataError, match="source 'crm', hubspot_companies.csv, line 2, column "
                                        "'Number of Employees': cannot read 'many' as int"):
        source.read()


def test_survey_typeform_latest_response_nps_lists_and_likert():
    source = make("survey", DATA / "survey", path="typeform_responses.csv", nps=NPS,
                  multi_select={"interests": ["Yoga", "Running", "Cycling"]},
                  likert={"ease": "The app is easy to use."})
    rows = {r["customer_id"]: r for r in source.read().to_pylist()}
    assert len(rows) == 3
    anna = rows["anna.schmidt@acme.de"]  # two responses: the later one (NPS 9) wins
    assert (anna["nps"], anna["nps_category"], anna["interests"], anna["ease"]) == (
        9, "promoter", ["Yoga", "Cycling"], 5.0)
    assert rows["bob@globex.com"]["nps_category"] == "detractor"
    assert rows["chloe@initech.fr"]["nps_category"] == "passive"
    assert rows["chloe@initech.fr"]["interests"] == []


def test_survey_qualtrics_skips_its_extra_header_rows():
    source = make("survey", DATA / "survey", flavor="qualtrics", path="qualtrics_responses.csv",
                  nps="Q1", multi_select={"interests": ["Q2"]}, likert={"ease": "Q3"},
                  likert_scale={"Strongly disagree": 1, "Disagree": 2, "Agree": 4, "Strongly agree": 5})
    rows = {r["customer_id"]: r for r in source.read().to_pylist()}
    assert rows["anna.schmidt@acme.de"]["nps"] == 10
    assert rows["bob@globex.com"]["nps"] == 8 and rows["bob@globex.com"]["interests"] == ["Running", "Yoga"]


@pytest.mark.parametrize(("score", "category"), [(0, "detractor"), (6, "detractor"), (7, "passive"),
                                                 (8, "passive"), (9, "promoter"), (10, "promoter")])
def test_nps_categories(tmp_path, score, category):
    (tmp_path / "r.csv").write_text(f"email,Submit Date (UTC),nps\na@x,2025-01-01 00:00:00,{score}\n")
    assert make("survey", tmp_path, path="r.csv", nps="nps").read().column("nps_category").to_pylist() == [category]


def test_survey_bad_nps_is_an_error_or_quarantined(tmp_path):
    (tmp_path / "r.csv").write_text("email,Submit Date (UTC),nps\na@x,2025-01-01 00:00:00,11\nb@x,,5\n")
    with pytest.raises(DataError, match="r.csv, line 2, column 'nps': an NPS answer must be a whole number"):
        make("survey", tmp_path, path="r.csv", nps="nps").read()
    source = make("survey", tmp_path, path="r.csv", nps="nps")
    source.on_bad_rows = "skip"
    assert source.read().column("customer_id").to_pylist() == ["b@x"]
    assert [b.line for b in source.skipped_rows] == [2]


def test_crm_and_survey_in_one_run(tmp_path, monkeypatch):
    for name in ("crm", "survey"):
        shutil.copytree(DATA / name, tmp_path / name)
    (tmp_path / "rules.seg").write_text(
        'segment enterprise_promoters: crm.employees >= 1000 and nps_category == "promoter"\n'
        'segment yoga_fans: interests contains "Yoga" and country in ("DE", "AT", "CH")\n')
    (tmp_path / "segmint.toml").write_text(f"""
rules = ["rules.seg"]
[sources.crm]
plugin = "crm"
contacts = "crm/hubspot_contacts.csv"
companies = "crm/hubspot_companies.csv"
key_normalize = "email"
[sources.survey]
plugin = "survey"
path = "survey/typeform_responses.csv"
nps = "{NPS}"
multi_select = {{ interests = ["Yoga", "Running", "Cycling"] }}
key_normalize = "email"
""")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", "--out", "out.csv"])
    assert result.exit_code == 0, result.output
    members = (tmp_path / "out.csv").read_text().splitlines()
    assert members[0] == '"customer_id","enterprise_promoters","yoga_fans"'
    assert '"anna.schmidt@acme.de",true,true' in members
    assert '"dev@acme.de",false,false' in members
    assert "source crm: 4 rows, 1 keys in no other profile source" in result.output


def test_survey_submission_times_in_several_forms(tmp_path):
    (tmp_path / "r.csv").write_text(
        "email,Submit Date (UTC)\na@x,2025-01-01 10:00:00\nb@x,2025-01-02T11:30:00.000Z\n"
        "c@x,2025-01-03 12:15\nd@x,\ne@x,next week\n")
    source = make("survey", tmp_path, path="r.csv")
    with pytest.raises(DataError, match="line 6, column 'Submit Date \\(UTC\\)': cannot read 'next week'"):
        source.read()
    source.on_bad_rows = "skip"
    times = {r["customer_id"]: r["submitted_at"] for r in source.read().to_pylist()}
    assert times == {"a@x": dt.datetime(2025, 1, 1, 10), "b@x": dt.datetime(2025, 1, 2, 11, 30),
                     "c@x": dt.datetime(2025, 1, 3, 12, 15), "d@x": None}


def _typed_exports(tmp_path: Path, age_cells: list[str]) -> None:
    rows = "".join(
        f"{i},c{i}@shop.example.com,{age},{'true' if i % 2 else 'false'},2024-03-0{i % 9 + 1},DE,9001\n"
        for i, age in enumerate(age_cells, start=1))
    (tmp_path / "contacts.csv").write_text(
        "Record ID,Email,Age,Newsletter,Last Order Date,Country/Region,Associated Company IDs\n" + rows)
    (tmp_path / "companies.csv").write_text(
        "Record ID,Company name,Country/Region\n9001,Acme,US\n")


def test_crm_contact_properties_are_typed_by_inspection(tmp_path):
    """Age, flags and dates in a contacts export are typed as the csv source types them;
    identifiers stay text; a contact's Country/Region is `country` (its company's is then
    `company_country`)."""
    _typed_exports(tmp_path, ["34", "51", "28", ""])
    source = make("crm", tmp_path, contacts="contacts.csv", companies="companies.csv")
    schema = source.schema()
    assert schema.field("age").type == pa.int64()
    assert schema.field("newsletter").type == pa.bool_()
    assert schema.field("last_order_date").type == pa.date32()
    assert schema.field("crm_id").type == pa.string()  # "1" is an id, not a number
    assert schema.field("country").type == pa.string()
    table = source.read()
    assert table.schema == schema
    assert table.column("age").to_pylist() == [34, 51, 28, None]
    assert table.column("country").to_pylist() == ["DE"] * 4
    assert table.column("company_country").to_pylist() == ["US"] * 4
    assert table.column("crm_id").to_pylist() == ["1", "2", "3", "4"]
    without_companies = make("crm", tmp_path, contacts="contacts.csv").read()
    assert without_companies.column("associated_company_ids").type == pa.string()


def test_crm_guessed_type_misfit_is_a_data_error_naming_the_types_option(tmp_path):
    _typed_exports(tmp_path, [str(20 + i % 50) for i in range(300)] + ["thirty"])
    source = make("crm", tmp_path, contacts="contacts.csv")
    with pytest.raises(DataError, match=r"contacts.csv, line 302, column 'Age': cannot read 'thirty'"
                                        r" as int; the type was guessed .* types = \{ age = \"string\" \}"):
        source.read()
    assert make("crm", tmp_path, contacts="contacts.csv", types={"age": "string"}).read() \
        .column("age").type == pa.string()


def test_crm_text_column_compared_with_a_number_points_at_types(tmp_path, monkeypatch):
    _typed_exports(tmp_path, ["34", "about 50", "28", "n/a"])
    (tmp_path / "old.seg").write_text("segment older: age > 30\n")
    (tmp_path / "segmint.toml").write_text(
        'rules = ["old.seg"]\n[sources.crm]\nplugin = "crm"\ncontacts = "contacts.csv"\n')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate"], prog_name="segmint")
    assert result.exit_code == 1, result.output
    assert ("age is text, which compares letter by letter: give it a number type with the types"
            " option of source 'crm' (types = { age = \"int\" })") in result.output
    assert "quote the value" not in result.output and "Traceback" not in result.output


def test_crm_postal_codes_and_phone_numbers_keep_their_zeros_and_plus(tmp_path):
    (tmp_path / "contacts.csv").write_text(
        "Record ID,Email,Postal Code,Mobile Phone Number,Age\n"
        "1,a@shop.example.com,02134,+14155550100,34\n"
        "2,b@shop.example.com,10001,+4915112345678,51\n")
    table = make("crm", tmp_path, contacts="contacts.csv").read()
    assert table.column("postal_code").to_pylist() == ["02134", "10001"]
    assert table.column("mobile_phone_number").to_pylist() == ["+14155550100", "+4915112345678"]
    assert table.column("age").to_pylist() == [34, 51]  # a real number column is still one
