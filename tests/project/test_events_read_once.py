"""An orders file that metrics and aggregates both read is read once when the metrics' read
holds every column the aggregates use and skipped no bad rows; otherwise it is read again,
so the aggregates see exactly the rows a read of their own columns gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmint.plugin.host import get_registry
from segmint.plugins.sources.csv import CsvSource
from segmint.project.config import load_project
from segmint.project.pipeline import execute, prepare

PEOPLE = "email,tier\nann@x.io,gold\nbo@x.io,silver\ncy@x.io,gold\n"
ORDERS = """order_id,email,timestamp,amount,coupon
o1,ANN@x.io,2026-01-30T10:00:00Z,10.0,
o2,ann@x.io,2026-01-31T10:00:00Z,{bad},spring
o3,bo@x.io,2025-11-01T10:00:00Z,7.5,
o4,cy@x.io,2026-01-29T10:00:00Z,50.0,spring
"""


def _run(tmp_path: Path, rules: str, monkeypatch: pytest.MonkeyPatch, *, bad: str = "20.0",
         orders_options: str = "") -> tuple[dict, list]:
    (tmp_path / "people.csv").write_text(PEOPLE)
    (tmp_path / "orders.csv").write_text(ORDERS.format(bad=bad))
    (tmp_path / "rules.seg").write_text(rules)
    (tmp_path / "segmint.toml").write_text(
        'rules = ["rules.seg"]\nkey = "email"\nas_of = 2026-02-01\n'
        '[sources.people]\nplugin = "csv"\npath = "people.csv"\n'
        '[sources.orders]\nplugin = "csv"\npath = "orders.csv"\nrole = "events"\n'
        'key_normalize = "email"\ncolumns = { amount = "float" }\n' + orders_options)
    asked: list = []
    read = CsvSource.read

    def spy(self, columns=None):
        if self.source_name == "orders":
            asked.append(None if columns is None else sorted(columns))
        return read(self, columns)

    monkeypatch.setattr(CsvSource, "read", spy)
    result = execute(prepare(load_project(tmp_path / "segmint.toml"), get_registry())).result
    membership = result.membership.to_pydict()
    return {k: v for k, v in membership.items() if k != "email"}, asked


METRIC_READ = ["amount", "order_id", "timestamp"]
CASES = [
    # (rules, orders options, bad amount, reads of orders, membership)
    ("the aggregates' columns are the metrics': one read",
     "segment s: frequency >= 2 and count(orders, last 7d) >= 2\n"
     "segment t: sum(orders.amount, last 7d) >= 30\n", "", "20.0",
     [METRIC_READ], {"s": [True, False, False], "t": [True, False, True]}),
    ("an aggregate reads a column the metrics do not: read again",
     "segment s: frequency >= 1 and count(orders where coupon == \"spring\", last 7d) >= 1\n",
     "", "20.0", [METRIC_READ, ["coupon", "timestamp"]],
     {"s": [True, False, True]}),
    ("the metrics' read skipped a bad amount: read again, the aggregate sees that order",
     "segment s: monetary >= 10 and count(orders, last 7d) >= 2\n",
     'on_bad_rows = "skip"\n', "abc", [METRIC_READ, ["timestamp"]],
     {"s": [True, False, False]}),
]


@pytest.mark.parametrize(("rules", "options", "bad", "reads", "members"),
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_orders_read_by_metrics_and_aggregates(tmp_path, monkeypatch, rules, options, bad, reads,
                                               members):
    membership, asked = _run(tmp_path, rules, monkeypatch, bad=bad, orders_options=options)
    assert asked == reads
    assert membership == members
