"""Same rows in any order and chunking give byte-identical metric tables."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from segmint.plugin.api import MetricContext
from segmint.plugins.metrics.definitions import (
    compute_acquisition,
    compute_clv,
    compute_purchase,
    compute_rfm,
)

AS_OF = dt.date(2024, 6, 15)
SPEND = pa.table({
    "date": pa.array([dt.date(2023, m, 1) for m in range(1, 13)] * 2),
    "channel": ["ads"] * 12 + ["email"] * 12,
    "spend": [1000.10 + m for m in range(12)] + [200.05] * 12,
})


def ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return sink.getvalue().to_pybytes()


def compute(metric, orders: pa.Table, **options) -> bytes:
    ctx = MetricContext(
        events={"orders": orders, "spend": SPEND}, key="customer_id",
        as_of=dt.datetime.combine(AS_OF, dt.time.max, dt.UTC), as_of_date=AS_OF,
        options={"min_repeat_customers": 5, **options},
    )
    return ipc_bytes(metric(ctx))


METRICS = [
    ("purchase", compute_purchase, {}),
    ("rfm", compute_rfm, {}),
    ("rfm-average", compute_rfm, {"monetary": "average"}),
    ("clv", compute_clv, {}),
    ("acquisition", compute_acquisition, {"clv_to_cac_from": "clv_historical"}),
]


@pytest.mark.parametrize("string_keys", [False, True], ids=["int-keys", "string-keys"])
@pytest.mark.parametrize(("metric", "options"), [m[1:] for m in METRICS],
                         ids=[m[0] for m in METRICS])
def test_row_order_does_not_change_a_byte(make_orders, shuffle, metric, options, string_keys):
    orders = make_orders(seed=11, customers=400, rows=4000, string_keys=string_keys,
                         margin=True, channel=True)
    expected = compute(metric, orders, **options)
    for seed in (1, 2):
        assert compute(metric, shuffle(orders, seed), **options) == expected


def test_monetary_threshold_never_flaps(make_orders, shuffle):
    """Amounts like 0.1 + 0.2 are summed in cents, so a >= threshold is stable."""
    orders = pa.table({
        "customer_id": [1] * 3 + [2] * 3,
        "timestamp": pa.array([dt.datetime(2024, 1, d, tzinfo=dt.UTC) for d in (1, 2, 3)] * 2),
        "amount": [0.1, 0.2, 499.7, 499.7, 0.2, 0.1],
    })
    for seed in range(5):
        ctx = MetricContext(events={"orders": shuffle(orders, seed, chunk=1)},
                            key="customer_id", as_of=dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
                            columns=frozenset({"monetary"}))
        assert compute_purchase(ctx)["monetary"].to_pylist() == [500.0, 500.0]
