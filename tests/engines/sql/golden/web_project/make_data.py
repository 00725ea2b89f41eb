"""Writes data/ of the web golden project (run once; the files are committed):

- profiles.csv: 40 customers, 8 of them without any event;
- events.parquet: ~700 web events (customer_id, naive timestamps read in the project's
  time zone, name) in visits of events minutes apart, across Berlin's daylight-saving day
  (none in the hour it skips), before the 30 days and after as_of, with events at equal
  times, without a key, a time or a name, and customers who are not in the profiles.

    .venv/bin/python tests/engines/sql/golden/web_project/make_data.py
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent / "data"
CUSTOMERS = 40
FIRST = dt.datetime(2024, 2, 1)
NAMES = ["page_view", "page_view", "product_viewed", "cart_abandoned", None]


def skipped(at: dt.datetime) -> bool:
    """In the hour Berlin's clocks skip (2024-03-31 02:00-03:00)."""
    return at.date() == dt.date(2024, 3, 31) and at.hour == 2


def main() -> None:
    rng = np.random.default_rng(2024)
    HERE.mkdir(exist_ok=True)
    keys = [f"c{n:03d}" for n in range(CUSTOMERS)]
    (HERE / "profiles.csv").write_text(
        "customer_id,plan\n" + "".join(f"{k},{rng.choice(['free', 'pro'])}\n" for k in keys))
    rows: list[tuple] = []
    for key in keys[8:] + ["x900", "x901", None]:
        for _ in range(rng.integers(1, 8)):  # visits
            at = FIRST + dt.timedelta(minutes=int(rng.integers(0, 66 * 24 * 60)))
            for _ in range(rng.integers(1, 6)):
                if not skipped(at):
                    rows.append((key, at, NAMES[rng.integers(len(NAMES))]))
                step = [0, 30, 31, int(rng.integers(1, 90))][rng.integers(4)]
                at += dt.timedelta(minutes=step)
    rows.append(("c010", None, "page_view"))
    order = rng.permutation(len(rows))
    pq.write_table(pa.table({
        "customer_id": pa.array([rows[i][0] for i in order], pa.string()),
        "timestamp": pa.array([rows[i][1] for i in order], pa.timestamp("us")),
        "name": pa.array([rows[i][2] for i in order], pa.string()),
    }), HERE / "events.parquet")


if __name__ == "__main__":
    main()
