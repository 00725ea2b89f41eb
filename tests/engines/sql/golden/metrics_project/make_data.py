"""Writes data/ of the metrics golden project (run once; the files are committed):

- profiles.parquet: 80 customers keyed by email (some in upper case, normalised by the
  project), 16 of them without any order;
- orders.csv: ~900 order lines keyed by email in mixed case and with spaces, naive
  timestamps (read in the project's time zone), amounts with cents (ties of half a cent
  included) and refunds, order ids shared by several lines, lines without an id, orders
  after as_of, lines without a customer, customers who are not in the profiles, a margin
  column.

    .venv/bin/python tests/engines/sql/golden/metrics_project/make_data.py
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent / "data"
CUSTOMERS = 80


def main() -> None:
    rng = np.random.default_rng(2026)
    HERE.mkdir(exist_ok=True)
    emails = [f"user{i}@example.com" for i in range(CUSTOMERS)]
    pq.write_table(pa.table({
        "email": [e.upper() if i % 7 == 0 else e for i, e in enumerate(emails)],
        "country": [["DE", "FR", "US", None][int(k)] for k in rng.integers(0, 4, CUSTOMERS)],
        "signup_date": pa.array([dt.date(2022, 1, 1) + dt.timedelta(days=int(d))
                                 for d in rng.integers(0, 800, CUSTOMERS)], pa.date32()),
    }), HERE / "profiles.parquet")
    end = dt.datetime(2024, 6, 20, 12)
    rows = []
    buyers = CUSTOMERS - 16 + 6  # the last 6 buyers are not in the profiles
    for line in range(900):
        who = int(min(rng.zipf(1.6), buyers)) - 1 if rng.random() < 0.7 else int(rng.integers(0, buyers))
        index = who if who < CUSTOMERS - 16 else CUSTOMERS + who
        email = f"user{index}@example.com"
        if rng.random() < 0.3:
            email = f"  {email.title()} "
        if rng.random() < 0.02:
            email = ""
        at = end - dt.timedelta(minutes=int(rng.integers(0, 60 * 24 * 700)))
        cents = int(rng.integers(-3000, 40000)) if rng.random() < 0.9 else -int(rng.integers(1, 5000))
        amount = f"{cents / 100:.2f}" if rng.random() < 0.9 else f"{cents / 100 + 0.005:.3f}"
        order_id = "" if rng.random() < 0.2 else f"o{int(rng.integers(0, 600))}"
        margin = f"{cents * 0.3 / 100:.2f}"
        rows.append([email, at.strftime("%Y-%m-%d %H:%M:%S"), amount, order_id, margin])
    with open(HERE / "orders.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "ordered_at", "amount", "order_id", "margin"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
