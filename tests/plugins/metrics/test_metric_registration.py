"""The plugin as the host sees it: entry point, declared columns, types of what it computes."""

from __future__ import annotations

import datetime as dt
from importlib.metadata import entry_points

import pyarrow as pa
import pytest

import segmint.plugins.metrics as plugin
from segmint.plugin.api import Metric, MetricContext

AS_OF = dt.date(2024, 6, 15)


def test_entry_point_names_the_plugin():
    found = {e.name: e.value for e in entry_points(group="segmint")}
    assert found["metrics"] == "segmint.plugins.metrics"


def test_register_metrics_returns_metric_values():
    metrics = plugin.register_metrics()
    assert [m.name for m in metrics] == ["purchase", "rfm", "clv", "acquisition"]
    assert all(isinstance(m, Metric) and m.description for m in metrics)
    names = [c.name for m in metrics for c in m.columns]
    assert len(names) == len(set(names))
    assert {"recency", "frequency", "monetary", "aov", "tenure", "churned", "rfm_segment",
            "p_alive", "clv_12mo", "expected_orders_12mo", "acquisition_cost",
            "clv_to_cac"} <= set(names)


@pytest.mark.parametrize("metric", plugin.register_metrics(), ids=lambda m: m.name)
def test_computed_types_are_the_declared_types(make_orders, metric):
    pytest.importorskip("scipy")
    orders = make_orders(seed=31, customers=400, rows=4000, channel=True)
    spend = pa.table({"date": pa.array([dt.date(2023, 1, 1)]), "channel": ["ads"],
                      "spend": [100.0]})
    ctx = MetricContext(
        events={"orders": orders, "spend": spend}, key="customer_id",
        as_of=dt.datetime.combine(AS_OF, dt.time.max, dt.UTC), as_of_date=AS_OF,
        options={"min_repeat_customers": 5},
    )
    table = metric.compute(ctx)
    declared = pa.schema([pa.field("customer_id", orders["customer_id"].type)]
                         + [pa.field(c.name, c.type) for c in metric.columns])
    assert table.schema.remove_metadata() == declared
    assert table["customer_id"].to_pylist() == sorted(table["customer_id"].to_pylist())
