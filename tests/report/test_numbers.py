"""Every number of the starter's report against an independent computation: DuckDB SQL over
the raw orders and the stored membership, statsmodels for intervals and tests, scipy's
bootstrap for the CLV interval, numpy formulas for the personas."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep, proportion_confint, proportion_effectsize, proportions_ztest,
)

from segmint.report import stats

AS_OF = "1998-03-31"


def sql(shop: Path, run: str, query: str) -> list[tuple]:
    """A query over the run's membership (m), its profiles (p) and the raw orders (o)."""
    runs = shop / ".segmint" / "runs"
    con = duckdb.connect()
    con.execute(f"create view m as select * from read_parquet('{runs / run / 'membership.parquet'}')")
    con.execute(f"create view p as select * from read_parquet('{runs / run / 'profiles.parquet'}')")
    con.execute(f"create view o as select customer_id::varchar customer_id, timestamp::date t, "
                f"amount from read_csv('{shop / 'data' / 'orders.csv'}')")
    return con.execute(query).fetchall()


def members_where(segment_id: str, table: str = "") -> str:
    prefix = f"{table}." if table else ""
    if "=" in segment_id:
        column, label = segment_id.split("=")
        return f"{prefix}{column} = '{label}'"
    return f'{prefix}"{segment_id}"'


def test_sizes_and_shares(shop, run_ids, report) -> None:
    customers = sql(shop, run_ids[1], "select count(*) from m")[0][0]
    assert report.customers == customers == 2357
    for s in report.segments:
        expected = sql(shop, run_ids[1], f"select count(*) from m where {members_where(s.id)}")[0][0]
        assert (s.id, s.members) == (s.id, expected)
        assert s.share == expected / customers


def test_loyal_is_what_sql_says_over_the_raw_orders(shop, run_ids, report) -> None:
    expected = sql(shop, run_ids[1], f"""
        select count(*) from (select customer_id, count(*) f, max(t) last from o
        where t <= DATE '{AS_OF}' group by 1) where f >= 4 and DATE '{AS_OF}' - last <= 120""")[0][0]
    assert report.segment("loyal").members == expected


def test_revenue_and_orders_are_exact_sums_of_the_raw_orders(shop, run_ids, report) -> None:
    total = sql(shop, run_ids[1], f"select sum(round(amount * 100)::bigint) from o where t <= DATE '{AS_OF}'")[0][0]
    assert report.revenue.minor == total
    for s in report.segments:
        cents, orders = sql(shop, run_ids[1], f"""
            select coalesce(sum(round(o.amount * 100)::bigint), 0), count(o.amount) from m
            left join o on o.customer_id = m.customer_id and o.t <= DATE '{AS_OF}'
            where {members_where(s.id)}""")[0]
        assert (s.id, s.revenue.minor, s.orders) == (s.id, cents, orders)
        assert s.revenue_share == cents / total
        assert s.aov == pytest.approx(cents / 100 / orders)


def test_overlap_of_every_pair(shop, run_ids, report) -> None:
    ids = [s.id for s in report.segments]
    pairs = {(o.a, o.b): o for o in report.overlap}
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if "=" in a and "=" in b and a.split("=")[0] == b.split("=")[0]:
                assert (a, b) not in pairs
                continue
            both, na, nb = sql(shop, run_ids[1], f"""select count(*) filter (where ({members_where(a)})
                and ({members_where(b)})), count(*) filter (where {members_where(a)}),
                count(*) filter (where {members_where(b)}) from m""")[0]
            o = pairs[(a, b)]
            assert o.both == both
            assert o.jaccard == (both / (na + nb - both) if na + nb - both else None)
            assert o.a_in_b == (both / na if na else None)
            assert o.b_in_a == (both / nb if nb else None)


def test_migration_and_growth_against_the_compared_run(shop, run_ids, report) -> None:
    before, after = (shop / ".segmint" / "runs" / r / "membership.parquet" for r in run_ids)
    con = duckdb.connect()
    rows = con.execute(f"""select a.lifecycle, b.lifecycle, count(*) from read_parquet('{before}') a
        join read_parquet('{after}') b using (customer_id) group by all""").fetchall()
    (migration,) = report.migration
    assert migration.segmentation == "lifecycle"
    found = {(f, t): migration.counts[i][j] for i, f in enumerate(migration.labels_from)
             for j, t in enumerate(migration.labels_to)}
    assert {k: v for k, v in found.items() if v} == {(f, t): n for f, t, n in rows}
    for s in report.segments:
        now, was_in = members_where(s.id, "b"), members_where(s.id, "a")
        entered, exited, was = con.execute(f"""select
            count(*) filter (where {now} and not {was_in}), count(*) filter (where {was_in} and not {now}),
            count(*) filter (where {was_in})
            from read_parquet('{before}') a join read_parquet('{after}') b using (customer_id)""").fetchone()
        assert (s.id, s.growth.entered, s.growth.exited, s.growth.before) == (s.id, entered, exited, was)


def test_history_lists_both_runs(run_ids, report) -> None:
    assert [h.run_id for h in report.history] == list(run_ids)
    assert report.history[1].counts["loyal"] == report.segment("loyal").members


def test_predicted_clv_interval_is_scipys_seeded_bootstrap(shop, run_ids, report) -> None:
    profiles = pq.read_table(shop / ".segmint" / "runs" / run_ids[1] / "profiles.parquet")
    membership = pq.read_table(shop / ".segmint" / "runs" / run_ids[1] / "membership.parquet")
    for name in ("loyal", "fading", "champions"):
        values = np.array([v for v, member in zip(profiles.column("clv_12mo").to_pylist(),
                                                  membership.column(name).to_pylist(), strict=True)
                           if member and v is not None])
        import zlib
        rng = np.random.default_rng([0, zlib.crc32(name.encode())])
        expected = scipy_stats.bootstrap((values,), np.mean, n_resamples=2000, method="percentile",
                                         rng=rng, confidence_level=0.95)
        clv = report.segment(name).clv_predicted
        assert clv.mean == pytest.approx(values.mean(), rel=1e-12)
        assert clv.low == pytest.approx(expected.confidence_interval.low, rel=1e-9)
        assert clv.high == pytest.approx(expected.confidence_interval.high, rel=1e-9)
        assert clv.low < clv.mean < clv.high


def test_effectiveness_against_sql_and_statsmodels(shop, run_ids, report) -> None:
    e = report.segment("high_clv").effectiveness
    counts = {}
    for group in ("high_clv", "high_clv__holdout"):
        counts[group] = sql(shop, run_ids[1], f"""select count(*), count(*) filter (where exists (
            select 1 from o where o.customer_id = m.customer_id and o.t > DATE '{AS_OF}'
            and o.t <= DATE '{AS_OF}' + INTERVAL 90 DAY)), (select sum(round(amount * 100)::bigint) from o
            where o.t > DATE '{AS_OF}' and o.t <= DATE '{AS_OF}' + INTERVAL 90 DAY
            and o.customer_id in (select customer_id from m where "{group}")) from m where "{group}" """)[0]
    (nt, ct, rt), (nh, ch, rh) = counts["high_clv"], counts["high_clv__holdout"]
    assert (e.treatment.members, e.treatment.converted, e.treatment.revenue_minor) == (nt, ct, rt)
    assert (e.holdout.members, e.holdout.converted, e.holdout.revenue_minor) == (nh, ch, rh)
    low, high = confint_proportions_2indep(ct, nt, ch, nh, method="newcomb", compare="diff")
    assert e.lift.absolute == pytest.approx(ct / nt - ch / nh)
    assert (e.lift.absolute_low, e.lift.absolute_high) == pytest.approx((low, high))
    rlow, rhigh = confint_proportions_2indep(ct, nt, ch, nh, method="score", compare="ratio")
    assert (e.lift.relative_low, e.lift.relative_high) == pytest.approx((rlow - 1, rhigh - 1))
    assert e.lift.p_value == pytest.approx(proportions_ztest([ct, ch], [nt, nh])[1])
    assert e.lift.incremental_conversions == pytest.approx((ct / nt - ch / nh) * nt)
    assert e.lift.incremental_revenue == pytest.approx((rt / nt - rh / nh) / 100 * nt)
    # the minimum detectable effect is the lift the test detects with 80% power
    rate = ch / nh
    achieved = NormalIndPower().power(proportion_effectsize(rate + e.minimum_detectable_effect, rate),
                                      nobs1=nt, ratio=nh / nt, alpha=0.05)
    assert achieved == pytest.approx(0.8, abs=1e-6)
    assert e.verdict == ("better" if low > 0 else "worse" if high < 0 else "not distinguishable yet")


def test_roi_uses_the_configured_cost(report) -> None:
    lift = report.segment("win_back").effectiveness.lift
    assert lift.cost == 1200
    assert lift.roi == pytest.approx((lift.incremental_revenue - 1200) / 1200)


def test_newcombe_interval_reproduces_the_published_example() -> None:
    """Newcombe (1998), example (a): 56/70 against 48/80 gives 0.0524 to 0.3339."""
    low, high = stats.difference_interval(56, 70, 48, 80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_persona_levels_and_smd(shop, run_ids, report) -> None:
    membership = pq.read_table(shop / ".segmint" / "runs" / run_ids[1] / "membership.parquet")
    profiles = pq.read_table(shop / ".segmint" / "runs" / run_ids[1] / "profiles.parquet")
    described = {t.column for s in report.segments for t in (*s.persona.numeric, *s.persona.categorical)}
    assert "email" not in described and "customer_id" not in described  # identifiers left out
    assert {"country", "orders", "monetary"} <= described
    eu = report.segment("eu_email").persona
    country = profiles.column("country").to_pylist()
    members = membership.column("eu_email").to_pylist()
    for trait in (t for t in eu.categorical if t.column == "country"):
        count = sum(1 for c, m in zip(country, members, strict=True) if m and c == trait.level)
        n = sum(members)
        base = country.count(trait.level) / len(country)
        low, high = proportion_confint(count, n, method="wilson")
        assert (trait.share, trait.base_share) == pytest.approx((count / n, base))
        assert (trait.low, trait.high) == pytest.approx((low / base, high / base))
        assert not trait.low <= 1 <= trait.high
    orders = np.array(profiles.column("orders").to_pylist(), dtype=float)
    loyal = np.array(membership.column("loyal").to_pylist())
    trait = next(t for t in report.segment("loyal").persona.numeric if t.column == "orders")
    expected = (orders[loyal].mean() - orders.mean()) / math.sqrt((orders[loyal].var() + orders.var()) / 2)
    assert trait.smd == pytest.approx(expected)
    assert trait.median == np.median(orders[loyal])
    assert report.segment("loyal").persona.card.startswith("loyal — ")


def test_warnings_name_segments_and_say_what_to_do(report) -> None:
    codes = {(w.code, w.segments) for w in report.warnings}
    assert ("subset", ("win_back", "at_risk")) in codes
    assert ("holdout-too-small", ("win_back",)) in codes
    small = {w.segments[0] for w in report.warnings if w.code == "small"}
    assert small == {s.id for s in report.segments if 0 < s.members < 100}
    assert all(w.message.endswith(".") for w in report.warnings)
    assert "holdout-too-small" in report.segment("win_back").warnings
