"""The built-in file sources (csv, parquet, jsonl) and the file sink."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from segmint.errors import ConfigError, DataError, SegmintError
from segmint.plugin.host import get_registry
from segmint.plugin.options import build_options
from segmint.plugin.api import PluginContext, RunResult
from segmint.plugins.sinks import file as file_sink

#: More than pyarrow's first block (1 MB), so a bad row after it is not seen by schema().
MANY_ROWS = 150_000


def make(kind: str, directory: Path, name: str = "crm", **options):
    """A source or sink built the way a project builds it."""
    registry = get_registry()
    cls = (registry.sources | registry.sinks)[kind]
    parsed = build_options(cls.Options, options, plugin=kind, where="test")
    return cls(name, parsed, PluginContext(project_dir=directory))


def write(directory: Path, name: str, content: str | bytes) -> str:
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return name


# csv


def test_csv_schema_and_projection(tmp_path):
    path = write(tmp_path, "crm.csv", "customer_id,age,country,vip\n007,41,FR,true\n8,,DE,false\n")
    source = make("csv", tmp_path, path=path)
    assert source.schema() == pa.schema(
        [
            ("customer_id", pa.string()),
            ("age", pa.int64()),
            ("country", pa.string()),
            ("vip", pa.bool_()),
        ]
    )
    table = source.read(["country"])
    assert table.to_pydict() == {"customer_id": ["007", "8"], "country": ["FR", "DE"]}
    assert source.read().column("age").to_pylist() == [41, None]


def test_csv_column_types_lists_and_tsv(tmp_path):
    path = write(
        tmp_path,
        "crm.tsv",
        "customer_id\tsignup\tseen\tscore\ttags\n1\t2026-01-31\t2026-01-31 10:00:00\t3\tvip; new\n"
        "2\t\t\t\t\n",
    )
    columns = {"signup": "date", "seen": "timestamp", "score": "float", "tags": "list[string]"}
    source = make("csv", tmp_path, path=path, columns=columns)
    schema = source.schema()
    assert [str(t) for t in schema.types] == [
        "string", "date32[day]", "timestamp[us]", "double", "list<item: string>"
    ]
    table = source.read()
    assert table.schema == schema
    assert table.to_pylist() == [
        {
            "customer_id": "1",
            "signup": dt.date(2026, 1, 31),
            "seen": dt.datetime(2026, 1, 31, 10),
            "score": 3.0,
            "tags": ["vip", "new"],
        },
        {"customer_id": "2", "signup": None, "seen": None, "score": None, "tags": None},
    ]


def test_csv_delimiter_and_encoding(tmp_path):
    path = write(tmp_path, "crm.csv", "customer_id;name\n1;Jos\xe9\n".encode("latin-1"))
    source = make("csv", tmp_path, path=path, delimiter=";", encoding="latin-1")
    assert source.read().column("name").to_pylist() == ["José"]


def test_csv_schema_reads_only_the_first_block(tmp_path):
    rows = "".join(f"{i},{i % 90}\n" for i in range(MANY_ROWS))
    path = write(tmp_path, "big.csv", f"customer_id,age\n{rows}1,2,3\n")
    source = make("csv", tmp_path, path=path)
    assert source.schema().names == ["customer_id", "age"]
    with pytest.raises(DataError) as excinfo:
        source.read()
    assert str(excinfo.value) == (
        f"source 'crm', big.csv, line {MANY_ROWS + 2}: expected 2 columns, got 3: 1,2,3"
    )


@pytest.mark.parametrize("bad_line", [3, 502, MANY_ROWS + 2], ids=["first row", "row 500", "after the first block"])
def test_csv_a_bad_value_in_a_guessed_column_is_a_data_error_wherever_it_falls(tmp_path, bad_line):
    """The guessed type does not depend on where the one bad value is: the error names it."""
    ages = [str(i % 90) for i in range(MANY_ROWS + 1)]
    ages[bad_line - 2] = "unknown"
    rows = "".join(f"{i},{age}\n" for i, age in enumerate(ages))
    path = write(tmp_path, "big.csv", f"customer_id,age\n{rows}")
    source = make("csv", tmp_path, path=path)
    assert source.schema().field("age").type == pa.int64()
    with pytest.raises(DataError) as excinfo:
        source.read()
    assert str(excinfo.value) == (
        f"source 'crm', big.csv, line {bad_line}, column 'age': cannot read 'unknown' as int; the"
        " type was guessed from the first rows, choose it with the columns option (for example"
        ' columns = { age = "string" })'
    )
    source.on_bad_rows = "skip"
    table = source.read()
    assert table.num_rows == MANY_ROWS and table.column("age").type == pa.int64()
    assert [(b.line, b.column, b.text) for b in source.skipped_rows] == [(bad_line, "age", f"{bad_line - 2},unknown")]


def test_csv_a_column_with_many_texts_stays_text(tmp_path):
    path = write(tmp_path, "crm.csv", "customer_id,zip\n1,10115\n2,SW1A 1AA\n3,75001\n")
    assert make("csv", tmp_path, path=path).schema().field("zip").type == pa.string()


CSV_ERRORS = [
    ("missing.csv", None, {}, "source 'crm', missing.csv: file not found"),
    ("empty.csv", "", {}, "source 'crm', empty.csv: file is empty"),
    (
        "short.csv",
        "customer_id,age,country\n1,2,FR\n2,3\n",
        {},
        "source 'crm', short.csv, line 3: expected 3 columns, got 2: 2,3",
    ),
    (
        "age.csv",
        "customer_id,age\n1,41\n2,forty\n",
        {"columns": {"age": "int"}},
        "source 'crm', age.csv, line 3, column 'age': cannot read 'forty' as int",
    ),
    (
        "latin.csv",
        "customer_id,name\n1,Ann\n2,Jos\xe9\n".encode("latin-1"),
        {},
        "source 'crm', latin.csv, line 3, column 'name': the file is not valid utf-8 text; set"
        ' its encoding option (for example encoding = "latin-1")',
    ),
    (
        "nokey.csv",
        "id,age\n1,2\n",
        {},
        "source 'crm', nokey.csv: no key column 'customer_id' (columns: id, age)",
    ),
    (
        "twice.csv",
        "customer_id,age,age\n1,2,3\n",
        {},
        "source 'crm', twice.csv, column 'age': the column appears more than once",
    ),
    (
        "typo.csv",
        "customer_id,age\n1,2\n",
        {"columns": {"agee": "int"}},
        "source 'crm', typo.csv: the columns option names 'agee', which is not in the file",
    ),
]


@pytest.mark.parametrize(("name", "content", "options", "message"), CSV_ERRORS)
def test_csv_errors(tmp_path, name, content, options, message):
    if content is not None:
        write(tmp_path, name, content)
    source = make("csv", tmp_path, path=name, **options)
    with pytest.raises(DataError) as excinfo:
        source.read()
    assert str(excinfo.value) == message


def stray_quote_file(rows: int = 5_000, opened: int = 500, closed: int = 3_000) -> str:
    """Customers 0..rows-1 with a name column; the name on line `opened` opens a quote that
    the name on line `closed` closes (line = customer + 2: the header is line 1)."""
    lines = ["customer_id,name,age"]
    for i in range(rows):
        name = f"name {i}"
        if i + 2 == opened:
            name = '"' + name
        if i + 2 == closed:
            name = name + '"'
        lines.append(f"{i},{name},{i % 90}")
    return "\n".join(lines) + "\n"


def test_csv_a_stray_quote_is_an_error_at_the_line_it_opens(tmp_path):
    path = write(tmp_path, "crm.csv", stray_quote_file())
    with pytest.raises(DataError) as excinfo:
        make("csv", tmp_path, path=path).read()
    assert str(excinfo.value) == (
        "source 'crm', crm.csv, line 500, column 'name': a quoted value runs over 2,501 lines from"
        " here (to line 3,000), most likely a stray quote; a value may run over at most 5 lines:"
        " fix the quote, or raise max_value_lines for a file with long multi-line values"
    )


def test_csv_a_stray_quote_is_quarantined_under_skip(tmp_path):
    path = write(tmp_path, "crm.csv", stray_quote_file())
    source = make("csv", tmp_path, path=path)
    source.on_bad_rows = "skip"
    table = source.read()
    assert table.num_rows == 5_000 - 2_501
    assert [(b.line, b.column) for b in source.skipped_rows] == [(500, "name")]
    assert source.skipped_rows[0].text.startswith("498,name 498,48\n499,name 499,49\n")
    # rows after the swallowed lines keep their own line numbers
    ids = table.column("customer_id").to_pylist()
    assert ids[497:499] == ["497", "2999"]
    assert source.line_numbers[497:499].tolist() == [499, 3001]


def test_csv_multi_line_values_are_read_up_to_max_value_lines(tmp_path):
    path = write(tmp_path, "crm.csv",
                 'customer_id,notes,age\n1,"two\nlines",20\n2,"one",30\n3,"a\nb\nc\nd\ne\nf",40\n4,x,y\n')
    with pytest.raises(DataError, match=r"crm.csv, line 5, column 'notes': a quoted value runs over 6 lines"):
        make("csv", tmp_path, path=path).read()
    source = make("csv", tmp_path, path=path, max_value_lines=6)
    source.on_bad_rows = "skip"
    table = source.read()
    assert table.column("notes").to_pylist() == ["two\nlines", "one", "a\nb\nc\nd\ne\nf", "x"]
    assert source.line_numbers.tolist() == [2, 4, 5, 11]


def test_csv_a_quote_never_closed_is_an_error_at_the_line_it_opens(tmp_path):
    path = write(tmp_path, "crm.csv", stray_quote_file(rows=50, opened=20, closed=0))
    with pytest.raises(DataError, match=r"crm.csv, line 20: a quoted value runs over 32 lines from here"):
        make("csv", tmp_path, path=path).read()


def test_csv_line_numbers_count_blank_lines(tmp_path):
    path = write(tmp_path, "crm.csv", "customer_id,age\n1,20\n\n2,x,3\n\n\n")
    with pytest.raises(DataError) as excinfo:
        make("csv", tmp_path, path=path).read()
    assert str(excinfo.value) == "source 'crm', crm.csv, line 4: expected 2 columns, got 3: 2,x,3"


def test_csv_a_row_longer_than_the_limit_names_its_line(tmp_path, monkeypatch):
    from segmint.plugins.sources import csv_reading

    monkeypatch.setattr(csv_reading, "MAX_ROW_BYTES", 4 << 20)
    monkeypatch.setattr(csv_reading, "BLOCK_BYTES", 1 << 20)
    body = "".join(f"{i},n{i},{i}\n" for i in range(3))
    path = write(tmp_path, "crm.csv", "customer_id,name,age\n" + body + '3,"' + "x" * (9 << 20) + '",3\n4,n4,4\n')
    with pytest.raises(DataError) as excinfo:
        make("csv", tmp_path, path=path).read()
    assert str(excinfo.value) == (
        "source 'crm', crm.csv, line 5: a row is longer than 4 MiB, the most one row may hold;"
        " most likely a quote that is never closed"
    )


def test_csv_a_header_of_many_columns_is_checked_quickly_and_listed_briefly(tmp_path):
    names = [f"c{i}" for i in range(100_000)]
    path = write(tmp_path, "wide.csv", ",".join(names) + "\n" + ",".join("1" * len(names)) + "\n")
    started = time.perf_counter()
    with pytest.raises(DataError) as excinfo:
        make("csv", tmp_path, path=path).schema()
    assert time.perf_counter() - started < 20  # quadratic: minutes
    message = str(excinfo.value)
    assert message.startswith("source 'crm', wide.csv: no key column 'customer_id' (columns: c0, c1,")
    assert message.endswith(", c19 and 99,980 more)") and len(message) < 400


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_directory_where_a_file_is_expected(tmp_path, kind):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError) as excinfo:
        make(kind, tmp_path, path="data").schema()
    assert str(excinfo.value) == "source 'crm', data: is a directory, not a file"


def test_csv_later_floats_in_an_int_column_are_still_numbers(tmp_path):
    rows = "".join(f"{i},{i}\n" for i in range(MANY_ROWS))
    path = write(tmp_path, "big.csv", f"customer_id,age\n{rows}x,1.5\n")
    # A later float in an int column is still a number: read as double, no error.
    assert make("csv", tmp_path, path=path).read().column("age").type == pa.float64()


def test_csv_read_asks_for_an_unknown_column(tmp_path):
    path = write(tmp_path, "crm.csv", "customer_id,age\n1,2\n")
    with pytest.raises(DataError) as excinfo:
        make("csv", tmp_path, path=path).read(["agee"])
    assert str(excinfo.value) == (
        "source 'crm', crm.csv: no column 'agee' (columns: customer_id, age)"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"delimiter": ";;"},
            "option 'delimiter' of plugin 'csv' is invalid: must be a single character, got ';;'",
        ),
        (
            {"encoding": "klingon"},
            "option 'encoding' of plugin 'csv' is invalid: unknown encoding 'klingon'",
        ),
        (
            {"columns": {"age": "integer"}},
            "option 'columns' of plugin 'csv' is invalid: column 'age' has unknown type 'integer'"
            " (known types: string, int, float, bool, date, timestamp, timestamptz, list[string])",
        ),
    ],
)
def test_csv_bad_options(tmp_path, options, message):
    with pytest.raises(ConfigError) as excinfo:
        make("csv", tmp_path, path="crm.csv", **options)
    assert str(excinfo.value) == f"test: {message}"


# parquet


def test_parquet_file_schema_and_projection(tmp_path):
    table = pa.table({"customer_id": ["a", "b"], "age": [30, 40], "country": ["FR", "DE"]})
    pq.write_table(table, tmp_path / "crm.parquet")
    source = make("parquet", tmp_path, path="crm.parquet")
    assert source.schema() == table.schema
    assert source.read(["age"]).to_pydict() == {"customer_id": ["a", "b"], "age": [30, 40]}


def test_parquet_directory_dataset(tmp_path):
    for year in (2025, 2026):
        part = tmp_path / "orders" / f"year={year}"
        part.mkdir(parents=True)
        pq.write_table(pa.table({"customer_id": ["a"], "amount": [year / 100]}), part / "0.parquet")
    source = make("parquet", tmp_path, path="orders")
    assert source.schema().names == ["customer_id", "amount", "year"]
    table = source.read(["year"]).sort_by("year")
    assert table.to_pydict() == {"customer_id": ["a", "a"], "year": [2025, 2026]}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.parquet", None, "source 'crm', missing.parquet: file not found"),
        ("empty.parquet", b"", "source 'crm', empty.parquet: file is empty"),
        (
            "text.parquet",
            b"customer_id\n1\n",
            "source 'crm', text.parquet: not a Parquet file (or a damaged one)",
        ),
    ],
)
def test_parquet_errors(tmp_path, name, content, message):
    if content is not None:
        write(tmp_path, name, content)
    with pytest.raises(DataError) as excinfo:
        make("parquet", tmp_path, path=name).schema()
    assert str(excinfo.value) == message


def test_parquet_empty_directory(tmp_path):
    (tmp_path / "orders").mkdir()
    with pytest.raises(DataError) as excinfo:
        make("parquet", tmp_path, path="orders").schema()
    assert str(excinfo.value) == "source 'crm', orders: the directory holds no Parquet files"


# jsonl


def jsonl(*rows: dict) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def test_jsonl_schema_projection_and_casts(tmp_path):
    path = write(
        tmp_path,
        "crm.jsonl",
        jsonl(
            {"customer_id": "a", "age": 30, "signup": "2026-01-31", "tags": ["vip"]},
            {"customer_id": "b", "age": None, "signup": None, "tags": []},
        ),
    )
    source = make("jsonl", tmp_path, path=path, columns={"signup": "date"})
    assert source.schema() == pa.schema(
        [
            ("customer_id", pa.string()),
            ("age", pa.int64()),
            ("signup", pa.date32()),
            ("tags", pa.list_(pa.string())),
        ]
    )
    table = source.read(["signup"])
    assert table.to_pydict() == {"customer_id": ["a", "b"], "signup": [dt.date(2026, 1, 31), None]}


def test_jsonl_schema_reads_only_the_first_block(tmp_path):
    rows = jsonl(*({"customer_id": str(i), "age": i % 90} for i in range(MANY_ROWS)))
    path = write(tmp_path, "big.ndjson", rows + '{"customer_id": "x", "age": \n')
    source = make("jsonl", tmp_path, path=path)
    assert source.schema().names == ["customer_id", "age"]
    with pytest.raises(DataError) as excinfo:
        source.read()
    assert str(excinfo.value) == f"source 'crm', big.ndjson, line {MANY_ROWS + 1}: Invalid value."


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (None, {}, "source 'crm', crm.jsonl: file not found"),
        ("", {}, "source 'crm', crm.jsonl: file is empty"),
        (
            '{"customer_id": "a"}\n\n{"customer_id": "b"\n',
            {},
            "source 'crm', crm.jsonl, line 3: Missing a comma or '}' after an object member.",
        ),
        (
            '{"customer_id": "a", "age": 3}\n{"customer_id": "b", "age": "old"}\n',
            {},
            "source 'crm', crm.jsonl, line 2, column 'age': values change type from number to"
            " string",
        ),
        (
            '{"customer_id": "a", "name": "Jos\xe9"}\n'.encode("latin-1"),
            {},
            "source 'crm', crm.jsonl, line 1, column 'name': the file is not valid utf-8 text;"
            ' set its encoding option (for example encoding = "latin-1")',
        ),
        (
            '{"customer_id": "a", "signup": "soon"}\n',
            {"columns": {"signup": "date"}},
            "source 'crm', crm.jsonl, column 'signup': cannot read the values as date:"
            " Failed to parse string: 'soon' as a scalar of type date32[day]",
        ),
    ],
)
def test_jsonl_errors(tmp_path, content, options, message):
    if content is not None:
        write(tmp_path, "crm.jsonl", content)
    with pytest.raises(DataError) as excinfo:
        make("jsonl", tmp_path, path="crm.jsonl", **options).read()
    assert str(excinfo.value) == message


def test_jsonl_other_encoding(tmp_path):
    content = '{"customer_id": "a", "name": "Jos\xe9"}\n'.encode("latin-1")
    path = write(tmp_path, "crm.jsonl", content)
    source = make("jsonl", tmp_path, path=path, encoding="latin-1")
    assert source.read().column("name").to_pylist() == ["José"]


# file sink


def run_result(rows: int = 3) -> RunResult:
    membership = pa.table(
        {"customer_id": [str(i) for i in range(rows)], "vip": [i % 2 == 0 for i in range(rows)]}
    )
    return RunResult(
        membership=membership,
        profiles=membership.select(["customer_id"]),
        key="customer_id",
        as_of=dt.datetime(2026, 1, 31, tzinfo=dt.timezone.utc),
    )


@pytest.mark.parametrize(
    ("path", "options", "read"),
    [
        ("out/segments.parquet", {}, pq.read_table),
        ("out/segments.csv", {}, pacsv.read_csv),
        ("out/segments.data", {"format": "csv"}, pacsv.read_csv),
    ],
)
def test_file_sink_writes_the_membership(tmp_path, path, options, read):
    sink = make("file", tmp_path, name="membership", path=path, **options)
    delivery = sink.deliver(run_result())
    assert (delivery.sink, delivery.added, delivery.dry_run) == ("membership", 3, False)
    assert delivery.target == str(tmp_path / path)
    written = read(tmp_path / path)
    assert written.column("vip").to_pylist() == [True, False, True]
    assert os.listdir(tmp_path / "out") == [Path(path).name]


def test_file_sink_dry_run_writes_nothing(tmp_path):
    sink = make("file", tmp_path, path="out.parquet")
    delivery = sink.deliver(run_result(5), dry_run=True)
    assert (delivery.added, delivery.dry_run) == (5, True)
    assert os.listdir(tmp_path) == []


def test_a_failing_sink_leaves_the_old_output(tmp_path, monkeypatch):
    sink = make("file", tmp_path, path="out.parquet")
    sink.deliver(run_result(2))

    def fail_halfway(table, path):
        path.write_bytes(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(file_sink._WRITERS, "parquet", fail_halfway)
    with pytest.raises(SegmintError) as excinfo:
        sink.deliver(run_result(10))
    assert str(excinfo.value) == (
        f"sink 'crm': cannot write {tmp_path / 'out.parquet'}: No space left on device"
    )
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 2
    assert os.listdir(tmp_path) == ["out.parquet"]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["02134", "10001", "94105"], pa.string()),  # a zip code with a leading zero
        (["007", "12"], pa.string()),
        (["+14155550100", "+4915112345678"], pa.string()),  # international phone numbers
        (["0", "10", "-3"], pa.int64()),  # zero itself is a number
        (["0.5", "12.25"], pa.float64()),  # so is a fraction below one
        (["+5", "3.5"], pa.float64()),  # a short signed number is not a phone number
        (["1", "2"], pa.int64()),
    ],
)
def test_csv_codes_with_a_leading_zero_or_plus_stay_text(tmp_path, cells, expected):
    rows = "".join(f"{i},{cell}\n" for i, cell in enumerate(cells))
    path = write(tmp_path, "codes.csv", f"customer_id,code\n{rows}")
    source = make("csv", tmp_path, path=path)
    assert source.schema().field("code").type == expected
    column = source.read().column("code").to_pylist()
    if expected == pa.string():
        assert column == cells  # every zero and plus kept


def test_csv_a_code_past_the_guessed_rows_is_a_data_error_not_a_lost_zero(tmp_path):
    """A zip column typed int from the first block: a later 02134 is a bad value naming its
    line (read as 2134 it would silently lose its zero); choosing the type reads it."""
    zips = [str(10000 + i % 80000) for i in range(MANY_ROWS + 1)]
    zips[-1] = "02134"
    rows = "".join(f"{i},{z}\n" for i, z in enumerate(zips))
    path = write(tmp_path, "zips.csv", f"customer_id,zip\n{rows}")
    source = make("csv", tmp_path, path=path)
    assert source.schema().field("zip").type == pa.int64()
    with pytest.raises(DataError) as excinfo:
        source.read()
    assert str(excinfo.value) == (
        f"source 'crm', zips.csv, line {MANY_ROWS + 2}, column 'zip': cannot read '02134' as int"
        " (it is a code: as a number it would lose its leading zero or plus); the type was guessed"
        ' from the first rows, choose it with the columns option (for example columns = { zip ='
        ' "string" })')
    chosen = make("csv", tmp_path, path=path, columns={"zip": "string"}).read().column("zip")
    assert chosen[-1].as_py() == "02134"
