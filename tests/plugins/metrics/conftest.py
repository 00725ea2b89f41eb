"""Data for the metrics tests: CDNOW, and seeded random order histories with edge cases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

CDNOW = Path(__file__).parents[2] / "data" / "cdnow"
#: Random histories span 600 days from START, so as-of points in 2024 have orders after them.
START = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)


def load_cdnow_orders() -> pa.Table:
    """The raw CDNOW transactions as an orders table (customer_id, timestamp, amount)."""
    rows = [line.split() for line in (CDNOW / "CDNOW_sample.txt").read_text().splitlines()]
    rows = [r for r in rows if r]
    return pa.table({
        "customer_id": pa.array([int(r[1]) for r in rows], pa.int64()),
        "timestamp": pa.array(
            [dt.date(int(r[2][:4]), int(r[2][4:6]), int(r[2][6:])) for r in rows], pa.date32()
        ),
        "amount": pa.array([float(r[4]) for r in rows], pa.float64()),
    })


@pytest.fixture(scope="session")
def cdnow_orders() -> pa.Table:
    return load_cdnow_orders()


@pytest.fixture(scope="session")
def cdnow_summary() -> pa.Table:
    """The published summary with zbar: ID, x, t_x, T, zbar."""
    return pcsv.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="session")
def cdnow_published_summary() -> pa.Table:
    """The published summary file: ID, frequency, recency, T."""
    return pcsv.read_csv(CDNOW / "cdnow_customers_summary.csv")


def random_orders(
    seed: int,
    *,
    customers: int = 200,
    rows: int = 2000,
    string_keys: bool = False,
    order_ids: bool = True,
    margin: bool = False,
    channel: bool = False,
) -> pa.Table:
    """A seeded order history with the cases metrics must get right.

    Skewed customer activity (many one-order customers), customers who arrive at different
    times and stop buying at different times, several orders on one day,
    refunds (and customers with refunds only), orders after the as-of points, order lines
    sharing an order id (at different times), lines without an order id, null keys.
    """
    rng = np.random.default_rng(seed)
    customer = (rng.pareto(1.0, rows) * 5).astype(np.int64) % customers
    # Customers arrive over the first 400 days and stay for a while (some drop out early).
    arrival = rng.integers(0, 400, customers)
    stay = rng.exponential(rng.choice([30.0, 300.0], customers))
    day = np.minimum(arrival[customer] + rng.random(rows) * stay[customer], 599).astype(int)
    busy = rng.random(rows) < 0.3  # a third of the rows land on a customer's first day
    first_day = np.full(customers, 600)
    np.minimum.at(first_day, customer, day)
    day = np.where(busy, first_day[customer], day)
    second = rng.integers(0, 86_400, rows)
    at = np.datetime64(START.replace(tzinfo=None), "us") + (day * 86_400 + second) * 1_000_000
    spender = rng.gamma(3.0, 15.0, customers)  # customers differ in what they spend
    amount = np.round(rng.gamma(2.0, spender[customer]), 2)
    refund = rng.random(rows) < 0.1
    amount = np.where(refund, -np.round(amount / 2, 2), amount)
    # Customers customers..customers+4 have refunds only.
    customer[:5] = customers + np.arange(5)
    amount[:5] = -np.abs(amount[:5]) - 0.01
    order_number = rng.integers(0, 40, rows)
    order_id = pa.array(
        [f"o{c}-{n}" for c, n in zip(customer, order_number)],
        mask=rng.random(rows) < 0.25,
    )
    keys = pa.array(customer)
    if string_keys:
        keys = pa.array([f"c{c:04d}" for c in customer])
    keys = pa.array(keys.to_pylist()[:-3] + [None] * 3, keys.type)  # a few rows without a key
    columns = {
        "customer_id": keys,
        "timestamp": pa.array(at, pa.timestamp("us", tz="UTC")),
        "amount": pa.array(amount),
    }
    if order_ids:
        columns["order_id"] = order_id
    if margin:
        columns["margin"] = pa.array(np.round(amount * rng.uniform(0.1, 0.6, rows), 2))
    if channel:
        columns["channel"] = pa.array(rng.choice(["ads", "email", "social", "organic"], rows))
    return pa.table(columns)


def shuffled(table: pa.Table, seed: int, chunk: int = 97) -> pa.Table:
    """The same rows in another order, in many small chunks."""
    order = np.random.default_rng(seed).permutation(table.num_rows)
    return pa.Table.from_batches(table.take(order).to_batches(max_chunksize=chunk))


@pytest.fixture(scope="session")
def make_orders():
    """`random_orders`, for tests to call with their own seeds and columns."""
    return random_orders


@pytest.fixture(scope="session")
def shuffle():
    """`shuffled`: the same rows in another order and chunking."""
    return shuffled
