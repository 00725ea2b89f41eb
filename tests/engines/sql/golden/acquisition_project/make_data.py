"""Writes data/ of the acquisition golden project (run once; the files are committed):

- orders.csv: the metrics project's order lines (../metrics_project/data/orders.csv: keys
  in mixed case, refunds, shared order ids, orders after as_of, lines without a customer)
  with a channel per line, some lines without one, "Ads" beside "ads";
- spend.csv: spend per channel and day over the orders' months, some channel-months
  without spend (organic), some rows after as_of, one row without a channel.

    .venv/bin/python tests/engines/sql/golden/acquisition_project/make_data.py
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
CHANNELS = ["ads", "email", "social", "Ads", ""]


def main() -> None:
    rng = np.random.default_rng(2027)
    (HERE / "data").mkdir(exist_ok=True)
    with open(HERE.parent / "metrics_project" / "data" / "orders.csv", newline="") as source:
        rows = list(csv.reader(source))
    with open(HERE / "data" / "orders.csv", "w", newline="") as target:
        out = csv.writer(target)
        out.writerow(rows[0] + ["channel"])
        for row in rows[1:]:
            out.writerow(row + [CHANNELS[rng.choice(5, p=[0.4, 0.25, 0.2, 0.1, 0.05])]])
    with open(HERE / "data" / "spend.csv", "w", newline="") as target:
        out = csv.writer(target)
        out.writerow(["email", "date", "channel", "spend"])
        for month in range(22):  # 2022-10 to 2024-07
            first = dt.date(2022 + (month + 9) // 12, (month + 9) % 12 + 1, 1)
            for channel in CHANNELS[:4]:
                if rng.random() < 0.25:
                    continue  # organic
                for _ in range(int(rng.integers(1, 3))):
                    day = first + dt.timedelta(days=int(rng.integers(0, 28)))
                    out.writerow(["", day.isoformat(), channel, f"{rng.gamma(2.0, 300.0):.3f}"])
        out.writerow(["", "2024-03-05", "", "99.5"])


if __name__ == "__main__":
    main()
