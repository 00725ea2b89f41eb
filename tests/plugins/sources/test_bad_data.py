"""Bad data, fed on purpose: each is a clear error naming source, file, row and column, and a
failed run leaves the previous output as it was; with on_bad_rows = "skip" the bad rows go
to the quarantine file, are counted in the report, and the run goes on."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from click.testing import CliRunner

from segmint.cli import cli

RULES = 'segment adults: age >= 18\n'
QUOTE = '"'
PREVIOUS = b"customer_id,adults\nold,true\n"

#: (case, file name, content, extra source options, error text)
CASES = [
    ("malformed row", "crm.csv", "customer_id,age\n1,20\n2,30,x\n3,40\n", "",
     "source 'crm', crm.csv, line 3: expected 2 columns, got 3: 2,30,x"),
    ("value not of the column type", "crm.csv", "customer_id,age\n1,20\n2,old\n3,40\n",
     'columns = { age = "int" }', "source 'crm', crm.csv, line 3, column 'age': cannot read 'old' as int"),
    ("missing key column", "crm.csv", "id,age\n1,20\n", "",
     "source 'crm', crm.csv: no key column 'customer_id' (columns: id, age)"),
    ("empty file", "crm.csv", "", "", "source 'crm', crm.csv: file is empty"),
    ("wrong delimiter", "crm.csv", "customer_id;age\n1;20\n", "",
     "source 'crm', crm.csv: the header reads as one column 'customer_id;age'; the file looks "
     "separated by ';', not ',': set delimiter = \";\""),
    ("wrong encoding", "crm.csv", b"customer_id,age,city\n1,20,Berlin\n2,30,M\xfcnchen\n", "",
     "source 'crm', crm.csv, line 3, column 'city': the file is not valid utf-8 text"),
    ("duplicate keys after normalising", "crm.csv",
     "customer_id,age,notes\nA@x.com,20,\nb@x.com,30,\nc@x.com,40,\"two\nlines\"\n a@x.com,50,\n",
     'key_normalize = "email"',
     "source 'crm', column 'customer_id': duplicate customer key 'a@x.com' (lines 2 and 6)"),
    ("stray quote", "crm.csv",
     "customer_id,name,age\n" + "".join(f"{i},{QUOTE if i == 2 else ''}n{i},{i}\n" for i in range(20)), "",
     "source 'crm', crm.csv, line 4: a quoted value runs over 18 lines from here (to line 21)"),
    ("jsonl: not JSON", "crm.jsonl", '{"customer_id": "1", "age": 20}\n{"customer_id": "2", "age": \n', "",
     "source 'crm', crm.jsonl, line 2:"),
    ("jsonl: type change", "crm.jsonl",
     '{"customer_id": "1", "age": 20}\n{"customer_id": "2", "age": "old"}\n', "",
     "source 'crm', crm.jsonl, line 2, column 'age': values change type from number to string"),
]
SKIPPABLE = {"malformed row": (3, "expected 2 columns, got 3"),
             "stray quote": (4, "a quoted value runs over 18 lines"),
             "value not of the column type": (3, "cannot read 'old' as int"),
             "jsonl: not JSON": (2, "not valid JSON"),
             "jsonl: type change": (2, "values change type from number to string")}


def _project(tmp_path: Path, name: str, content: str | bytes, options: str) -> Path:
    data = tmp_path / name
    data.write_bytes(content.encode() if isinstance(content, str) else content)
    (tmp_path / "rules.seg").write_text(RULES)
    plugin = "jsonl" if name.endswith(".jsonl") else "csv"
    (tmp_path / "segmint.toml").write_text(
        f'rules = ["rules.seg"]\n[sources.crm]\nplugin = "{plugin}"\npath = "{name}"\n{options}\n'
        '[sinks.out]\nplugin = "file"\npath = "out/members.csv"\n'
    )
    return tmp_path / "segmint.toml"


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(cli, ["run", "-p", "segmint.toml"])


@pytest.mark.parametrize(("case", "name", "content", "options", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_data_fails_the_run_and_leaves_the_output(tmp_path, monkeypatch, case, name, content, options, message):
    _project(tmp_path, name, content, options)
    out = tmp_path / "out" / "members.csv"
    out.parent.mkdir()
    out.write_bytes(PREVIOUS)
    result = _run(tmp_path, monkeypatch)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert out.read_bytes() == PREVIOUS
    assert sorted(p.name for p in out.parent.iterdir()) == ["members.csv"]  # no temporary left
    assert not (tmp_path / ".segmint" / "quarantine").exists()


@pytest.mark.parametrize("case", ["malformed row", "wrong encoding", "jsonl: type change"])
def test_a_failed_first_run_writes_no_output(tmp_path, monkeypatch, case):
    _, name, content, options, _ = next(c for c in CASES if c[0] == case)
    _project(tmp_path, name, content, options)
    result = _run(tmp_path, monkeypatch)
    assert result.exit_code == 1, result.output
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / ".segmint" / "quarantine").exists()


@pytest.mark.parametrize("case", sorted(SKIPPABLE))
def test_skipped_bad_rows_are_quarantined_and_counted(tmp_path, monkeypatch, case):
    _, name, content, options, _ = next(c for c in CASES if c[0] == case)
    _project(tmp_path, name, content, options + '\non_bad_rows = "skip"')
    result = _run(tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    quarantine = tmp_path / ".segmint" / "quarantine" / "crm.csv"
    assert "source crm:" in result.output and "1 bad rows quarantined" in result.output
    rows = pacsv.read_csv(quarantine).to_pylist()
    row, reason = SKIPPABLE[case]
    assert len(rows) == 1
    assert rows[0]["line"] == row and reason in rows[0]["reason"]
    assert rows[0]["source"] == "crm" and rows[0]["file"] == name
    members = pacsv.read_csv(tmp_path / "out" / "members.csv",
                             convert_options=pacsv.ConvertOptions(column_types={"customer_id": "string"}))
    kept = members.column("customer_id").to_pylist()
    assert "1" in kept and "2" not in kept


def test_a_row_without_a_key_is_quarantined_under_skip(tmp_path, monkeypatch):
    _project(tmp_path, "crm.csv", "customer_id,age\n1,20\n,30\n", 'on_bad_rows = "skip"')
    result = _run(tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    rows = pacsv.read_csv(tmp_path / ".segmint" / "quarantine" / "crm.csv").to_pylist()
    assert [r["reason"] for r in rows] == ["the customer key is empty (or not a valid key)"]


def test_a_dry_run_writes_no_quarantine(tmp_path, monkeypatch):
    _project(tmp_path, "crm.csv", "customer_id,age\n1,20\n2,30,x\n", 'on_bad_rows = "skip"')
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", "-p", "segmint.toml", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 bad rows quarantined" in result.output
    assert not (tmp_path / ".segmint" / "quarantine").exists()
