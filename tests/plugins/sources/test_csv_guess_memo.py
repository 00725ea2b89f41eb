"""A CSV file's column types are guessed once per content: a run asks each file's schema
several times, and a file rewritten in between (same size, same modification time even) is
guessed again from its new first block."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from segmint.plugin.api import PluginContext
from segmint.plugin.host import get_registry
from segmint.plugin.options import build_options
from segmint.plugins.sources import csv as csv_source
from segmint.project.config import load_project
from segmint.project.pipeline import execute, prepare


def make(directory: Path, **options):
    cls = get_registry().sources["csv"]
    return cls("crm", build_options(cls.Options, options, plugin="csv", where="test"),
               PluginContext(project_dir=directory))


def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    guess = csv_source.guess_types

    def spy(table):
        calls.append(table.num_rows)
        return guess(table)

    monkeypatch.setattr(csv_source, "guess_types", spy)
    return calls


CASES = [
    # (first content, second content of the same size, the second's types)
    ("ints become text", "customer_id,n\n1,10\n2,20\n", "customer_id,n\n1,ab\n2,cd\n",
     [pa.string(), pa.string()]),
    ("text becomes ints", "customer_id,n\n1,ab\n2,cd\n", "customer_id,n\n1,10\n2,20\n",
     [pa.string(), pa.int64()]),
    ("a code's leading zero appears", "customer_id,z\n1,12134\n2,1234\n", "customer_id,z\n1,02134\n2,1234\n",
     [pa.string(), pa.string()]),
    ("dates become timestamps", "customer_id,d\n1,2026-01-02         \n",
     "customer_id,d\n1,2026-01-02 10:11:12\n", [pa.string(), pa.timestamp("us")]),
]


@pytest.mark.parametrize(("first", "second", "types"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_a_rewritten_file_is_guessed_again(tmp_path, first, second, types):
    path = tmp_path / "crm.csv"
    path.write_text(first)
    source = make(tmp_path, path="crm.csv")
    before = source.schema()
    stat = path.stat()
    path.write_text(second)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same time stamp
    assert path.stat().st_size == stat.st_size
    after = source.schema()
    assert after.types == types
    assert after == make(tmp_path, path="crm.csv").schema()
    assert before != after


def test_the_same_content_is_guessed_once(tmp_path, monkeypatch):
    calls = counting(monkeypatch)
    (tmp_path / "crm.csv").write_text("customer_id,n\n1,10\n2,20\n")
    for _ in range(3):
        assert make(tmp_path, path="crm.csv").schema().types == [pa.string(), pa.int64()]
    assert len(calls) == 1


def test_a_run_guesses_each_file_once(tmp_path, monkeypatch):
    (tmp_path / "people.csv").write_text("email,age\nann@x.io,41\nbo@x.io,30\n")
    (tmp_path / "orders.csv").write_text(
        "order_id,email,timestamp,amount\no1,ann@x.io,2026-01-30T10:00:00Z,10.5\n"
        "o2,bo@x.io,2026-01-02T10:00:00Z,7.0\n")
    (tmp_path / "rules.seg").write_text(
        "segment s: age > 35 and frequency >= 1 and count(orders, last 7d) >= 1\n")
    (tmp_path / "segmint.toml").write_text(
        'rules = ["rules.seg"]\nkey = "email"\nas_of = 2026-02-01\n'
        '[sources.people]\nplugin = "csv"\npath = "people.csv"\n'
        '[sources.orders]\nplugin = "csv"\npath = "orders.csv"\nrole = "events"\n')
    calls = counting(monkeypatch)
    result = execute(prepare(load_project(tmp_path / "segmint.toml"), get_registry())).result
    assert result.membership.column("s").to_pylist() == [True, False]
    assert len(calls) == 2  # people.csv and orders.csv, each once
