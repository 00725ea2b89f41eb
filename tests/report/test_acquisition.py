"""CAC and CLV:CAC per segment when the project has a `spend` source, against DuckDB SQL
over the raw orders and spend (the acquisition month and channel of each customer)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from report_helpers import segmint
from segmint.delivery.snapshots import load_snapshot
from segmint.plugin.host import get_registry
from segmint.project.config import load_project
from segmint.report import build_report

#: The file sources insist on a key column in every file, so spend carries an empty one.
SPEND = """customer_id,date,channel,spend
,1997-01-15,ads,5000
,1997-01-15,email,800
,1997-02-15,ads,4000
,1997-03-15,ads,3000
,1997-03-15,email,600
"""


@pytest.fixture
def paid(tmp_path: Path) -> Path:
    """The starter with a channel per order (by customer) and monthly spend per channel."""
    root = tmp_path / "paid"
    assert segmint("init", root).exit_code == 0
    lines = (root / "data" / "orders.csv").read_text().splitlines()
    rows = [lines[0] + ",channel"] + [
        f"{line},{'ads' if int(line.split(',')[0]) % 3 else 'email'}" for line in lines[1:]]
    (root / "data" / "orders.csv").write_text("\n".join(rows) + "\n")
    (root / "data" / "spend.csv").write_text(SPEND)
    toml = root / "segmint.toml"
    toml.write_text(toml.read_text().replace("[sinks.membership]", (
        '[sources.spend]\nplugin = "csv"\npath = "data/spend.csv"\nrole = "events"\n'
        'timestamp_column = "date"\n\n[sinks.membership]')))
    result = segmint("run", "-p", toml, "--as-of", "1998-03-31")
    assert result.exit_code == 0, result.output
    return root


def test_cac_and_clv_to_cac(paid: Path) -> None:
    report = build_report(load_project(paid / "segmint.toml"), get_registry())
    assert report.notes == ()
    run = load_snapshot(paid / ".segmint", "latest")
    con = duckdb.connect()
    con.register("m", run.membership)
    con.register("p", pq.read_table(run.path / "profiles.parquet"))
    con.execute(f"""create view cost as
        with o as (select customer_id::varchar customer_id, timestamp::date t, channel
                   from read_csv('{paid / 'data' / 'orders.csv'}') where timestamp <= DATE '1998-03-31'),
        first as (select customer_id, min(t) t from o group by 1),
        acquired as (select f.customer_id, date_trunc('month', f.t) AS mon, min(o.channel) channel
                     from first f join o on o.customer_id = f.customer_id and o.t = f.t group by 1, 2),
        spend as (select date_trunc('month', date) AS mon, channel, sum(spend) AS spend
                  from read_csv('{paid / 'data' / 'spend.csv'}') group by 1, 2),
        sized as (select mon, channel, count(*) AS n from acquired group by 1, 2)
        select a.customer_id, coalesce(s.spend, 0) / z.n cac from acquired a
        join sized z using (mon, channel) left join spend s using (mon, channel)""")
    checked = 0
    for segment in report.segments:
        if segment.segmentation is not None:
            continue
        cac, ratio = con.execute(f"""select avg(c.cac), avg(case when c.cac > 0 then p.clv_12mo / c.cac end)
            from m join cost c using (customer_id) join p using (customer_id)
            where m."{segment.id}" """).fetchone()
        assert segment.cac == pytest.approx(cac, rel=1e-12), segment.id
        assert segment.clv_to_cac == pytest.approx(ratio, rel=1e-9), segment.id
        checked += 1
    assert checked >= 8 and report.segment("loyal").cac > 0
