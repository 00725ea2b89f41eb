"""The metrics read only the orders columns they use: from a wide Parquet export, the key,
timestamp and amount (and order id, margin, cost, channel where present or named) — the
other columns are never asked of the source, whatever they hold."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmint.plugin.host import get_registry
from segmint.plugins.sources.parquet import ParquetSource
from segmint.project.config import load_project
from segmint.project.pipeline import execute, prepare

ORDERS = {
    "customer_email": ["ann@x.io", "ann@x.io", "ann@x.io", "bo@x.io"],
    "order_id": ["1", "1", "2", "3"],
    "amount": [10.0, 5.0, 20.0, 7.0],
    "timestamp": [dt.datetime(2026, 1, d) for d in (2, 2, 5, 4)],
    # what no metric reads: a large text column and a nested one
    "notes": ["x" * 100_000] * 4,
    "payload": [[{"a": 1}]] * 4,
}


def _run(tmp_path: Path, extra: dict[str, list], metrics: str, rules: str,
         monkeypatch: pytest.MonkeyPatch) -> tuple[dict, list]:
    pq.write_table(pa.table({**ORDERS, **extra}), tmp_path / "orders.parquet")
    (tmp_path / "rules.seg").write_text(rules)
    (tmp_path / "segmint.toml").write_text(
        'rules = ["rules.seg"]\nkey = "email"\nas_of = 2026-02-01\n' + metrics
        + '[sources.orders]\nplugin = "parquet"\npath = "orders.parquet"\nrole = "events"\n'
          'key = "customer_email"\n')
    asked: list = []
    read = ParquetSource.read

    def spy(self, columns=None):
        asked.append(None if columns is None else sorted(columns))
        return read(self, columns)

    monkeypatch.setattr(ParquetSource, "read", spy)
    result = execute(prepare(load_project(tmp_path / "segmint.toml"), get_registry())).result
    return result.membership.to_pydict(), asked


CASES = [
    # (extra columns, [metrics] options, rules, columns read, membership of `s`)
    ({}, "", "segment s: frequency >= 2 and monetary >= 30\n",
     [["amount", "order_id", "timestamp"]], [True, False]),
    ({"margin": [1.0, 1.0, 2.0, 3.0]}, "",
     "segment s: recency <= 30d and rfm_r >= 1\n",
     [["amount", "margin", "order_id", "timestamp"]], [True, True]),
    ({"paid": [10.0, 5.0, 20.0, 70.0]}, '[metrics]\namount_column = "paid"\n',
     "segment s: monetary >= 70\n", [["order_id", "paid", "timestamp"]], [False, True]),
]


@pytest.mark.parametrize(("extra", "metrics", "rules", "read", "members"), CASES)
def test_metrics_read_only_the_order_columns_they_use(tmp_path, monkeypatch, extra, metrics,
                                                      rules, read, members):
    membership, asked = _run(tmp_path, extra, metrics, rules, monkeypatch)
    assert asked == read  # one read, shared by every metric, of only these columns
    assert membership["email"] == ["ann@x.io", "bo@x.io"]
    assert membership["s"] == members
