"""Benchmark: 50 realistic marketing rules over generated customer profiles.

segmint evaluates the rules with `segmint.evaluate`; DuckDB runs the same conditions as one
SQL query over the same Arrow table; Polars runs them as expressions over the same data.
Every engine returns an Arrow table with the key, one bool column per segment and one
label column per segmentation. Each is timed best of N runs, and the three must agree on
every segment's (and every label's) member count. The benchmark also times parsing and
checking a 1,000-segment rule file.

    python benchmarks/rules.py                  # 1,000,000 profiles
    python benchmarks/rules.py --rows 20000     # a quick run
    python benchmarks/rules.py --profile        # also cProfile one segmint.evaluate
    python benchmarks/rules.py --parse-mb 2     # only: parse + check a 2 MB rule file

The profiles are generated from a seed (--seed), so every run sees the same data. DuckDB
scans the same Arrow table segmint gets (its cut values for `in top N%` computed once, in a
CTE); Polars gets a frame converted from it beforehand (not timed). The engines take turns
in every round, so a busy moment of the machine does not favour one of them.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import math
import os
import platform
import pstats
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import segmint
from segmint.api import check_rules

try:
    import duckdb
except ImportError:  # pragma: no cover - the bench extra installs it
    duckdb = None
try:
    import polars as pl
except ImportError:  # pragma: no cover - the bench extra installs it
    pl = None

AS_OF = dt.date(2026, 1, 31)
#: A date as_of observes the whole day: its instant is the day's last microsecond (UTC here).
AS_OF_INSTANT = dt.datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=dt.timezone.utc)
KEY = "customer_id"


# ---------------------------------------------------------------------------------------
# Data


COUNTRIES = [
    ("US", 28), ("GB", 10), ("DE", 9), ("FR", 7), ("IT", 5), ("ES", 5), ("CA", 4), ("AU", 3),
    ("NL", 3), ("SE", 2), ("BE", 2), ("AT", 2), ("CH", 2), ("DK", 1), ("FI", 1), ("IE", 1),
    ("PL", 2), ("PT", 1), ("BR", 3), ("MX", 2), ("JP", 3), ("IN", 3), ("SG", 1), ("NZ", 1),
    ("ZA", 1),
]
CHANNELS = [("organic", 30), ("paid_search", 22), ("social", 18), ("email", 14),
            ("referral", 9), ("affiliate", 7)]
TIERS = [("bronze", 40), ("silver", 30), ("gold", 20), ("platinum", 10)]
DOMAINS = [("gmail.com", 35), ("yahoo.com", 12), ("outlook.com", 12), ("GMail.com", 1),
           ("hotmail.co.uk", 5), ("web.de", 5), ("orange.fr", 4), ("acme.com", 3),
           ("globex.com", 2), ("initech.com", 2), ("icloud.com", 10), ("proton.me", 3),
           ("company.co.uk", 6)]
NAMES = ["anna", "ben", "carla", "dev", "emma", "felix", "grace", "hugo", "ines", "jonas",
         "kim", "liam", "mia", "noah", "olga", "paul", "quinn", "rosa", "sam", "tara"]
CAMPAIGNS = (
    [f"spring_sale_{y}" for y in (2024, 2025)]
    + [f"summer_{y}_social" for y in (2024, 2025)]
    + [f"bf_{y}_email" for y in (2023, 2024, 2025)]
    + [f"bf_{y}_paid" for y in (2024, 2025)]
    + [f"newsletter_{y}_{m:02d}" for y in (2024, 2025) for m in range(1, 13)]
    + ["retarget_q3_2025", "retarget_q4_2025_email", "brand_search", "partner_launch"]
)


def _choice(rng: np.random.Generator, weighted: list[tuple[str, int]], n: int) -> np.ndarray:
    values = np.array([v for v, _ in weighted], dtype=object)
    weights = np.array([w for _, w in weighted], dtype=float)
    return rng.choice(len(values), size=n, p=weights / weights.sum())


def _dictionary(rng: np.random.Generator, weighted: list[tuple[str, int]], n: int,
                null_share: float) -> pa.DictionaryArray:
    indices = _choice(rng, weighted, n).astype(np.int32)
    mask = rng.random(n) < null_share
    return pa.DictionaryArray.from_arrays(
        pa.array(indices, pa.int32(), mask=mask), pa.array([v for v, _ in weighted], pa.string()))


def generate(rows: int, seed: int = 42) -> pa.Table:
    """Customer profiles: RFM figures, geography, channel, dates, web activity, consents."""
    rng = np.random.default_rng(seed)
    n = rows
    frequency = rng.negative_binomial(1.2, 0.25, n).astype(np.int64)
    buyer = frequency > 0
    recency = np.minimum(rng.exponential(220, n), 3000).astype(np.int64)
    spend = np.round(frequency * rng.lognormal(3.8, 0.7, n), 2)
    spend_missing = ~buyer | (rng.random(n) < 0.01)  # no orders, or a gap in the data
    aov = np.round(np.divide(spend, np.maximum(frequency, 1)), 2)
    signup_age = recency + rng.integers(0, 2500, n)
    signup_age = np.where(buyer, signup_age, rng.integers(0, 4000, n))
    as_of_day = (AS_OF - dt.date(1970, 1, 1)).days
    instant_us = int(AS_OF_INSTANT.timestamp() * 1_000_000)
    visit_ago_us = (rng.exponential(20, n) * 86_400 * 1_000_000).astype(np.int64)

    ids = pa.array(np.arange(1, n + 1, dtype=np.int64))
    local = pa.array(np.array(NAMES, dtype=object)[rng.integers(0, len(NAMES), n)], pa.string())
    domain_names = np.array([d for d, _ in DOMAINS], dtype=object)
    domains = pa.array(domain_names[_choice(rng, DOMAINS, n)], pa.string())
    email = pc.binary_join_element_wise(local, ids.cast(pa.string()), "@", domains, "")
    email = pc.if_else(pa.array(rng.random(n) < 0.03), pa.scalar(None, pa.string()), email)
    campaign_index = rng.integers(0, len(CAMPAIGNS), n)
    campaign = pa.array(np.array(CAMPAIGNS, dtype=object)[campaign_index], pa.string(),
                        mask=rng.random(n) < 0.2)
    cart_value = np.round(rng.lognormal(4.0, 0.9, n), 2)

    return pa.table({
        KEY: ids,
        "frequency": pa.array(frequency),
        "recency_days": pa.array(recency, mask=~buyer),
        "monetary": pa.array(spend, pa.float64(), mask=spend_missing),
        "aov": pa.array(aov, pa.float64(), mask=spend_missing),
        "returns": pa.array(rng.binomial(frequency, 0.08).astype(np.int64)),
        "age": pa.array(rng.integers(18, 91, n), pa.int64(), mask=rng.random(n) < 0.1),
        "sessions_30d": pa.array(rng.poisson(3, n).astype(np.int64)),
        "cart_value": pa.array(cart_value, pa.float64(), mask=rng.random(n) < 0.7),
        "churn_score": pa.array(np.round(rng.beta(2, 5, n), 4), pa.float64(),
                                mask=rng.random(n) < 0.15),
        "country": _dictionary(rng, COUNTRIES, n, 0.01),
        "channel": _dictionary(rng, CHANNELS, n, 0.0),
        "loyalty_tier": _dictionary(rng, TIERS, n, 0.35),
        "email": email,
        "utm_campaign": campaign,
        "signup_date": pa.array((as_of_day - signup_age).astype(np.int32), pa.date32()),
        "last_order_date": pa.array((as_of_day - recency).astype(np.int32), pa.date32(), mask=~buyer),
        "last_visit_at": pa.array(instant_us - visit_ago_us, pa.timestamp("us", tz="UTC"),
                                  mask=rng.random(n) < 0.12),
        "email_consent": pa.array(rng.random(n) < 0.6, pa.bool_(), mask=rng.random(n) < 0.05),
        "sms_consent": pa.array(rng.random(n) < 0.3, pa.bool_()),
        "is_employee": pa.array(rng.random(n) < 0.003, pa.bool_()),
    })


# ---------------------------------------------------------------------------------------
# The rules, each written three times: segmint, SQL (DuckDB) and Polars.


def _date_sql(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def _instant_sql(instant: dt.datetime) -> str:
    return f"TIMESTAMPTZ '{instant.strftime('%Y-%m-%d %H:%M:%S.%f')}+00'"


def within_sql(column: str, duration: dt.timedelta, *, date: bool) -> str:
    """`x within D`: today - whole days of D <= x <= today (dates), as_of - D .. as_of."""
    if date:
        low, high = AS_OF - dt.timedelta(days=duration.days), AS_OF
        return f"{column} BETWEEN {_date_sql(low)} AND {_date_sql(high)}"
    return (f"{column} BETWEEN {_instant_sql(AS_OF_INSTANT - duration)} "
            f"AND {_instant_sql(AS_OF_INSTANT)}")


def within_pl(column: str, duration: dt.timedelta, *, date: bool) -> Any:
    if date:
        return pl.col(column).is_between(AS_OF - dt.timedelta(days=duration.days), AS_OF)
    return pl.col(column).is_between(AS_OF_INSTANT - duration, AS_OF_INSTANT)


#: The cut values `in top/bottom N%` needs, computed once per query in a `cuts` CTE.
CUTS: dict[str, str] = {}


def rank_sql(column: str, percent: float, *, top: bool) -> str:
    """`x in top P%`: x >= the k-th largest non-null value, k = ceil(n * P / 100)."""
    order, op = ("DESC", ">=") if top else ("ASC", "<=")
    alias = f"{column}_{'top' if top else 'bottom'}_{str(percent).replace('.', '_')}"
    CUTS[alias] = (f"(SELECT {column} FROM profiles WHERE {column} IS NOT NULL "
                   f"ORDER BY {column} {order} LIMIT 1 OFFSET (SELECT CAST(ceil(count({column}) * "
                   f"{percent} / 100.0 - 1e-9) AS BIGINT) - 1 FROM profiles))")
    return f"{column} {op} cuts.{alias}"


def rank_pl(column: str, percent: float, *, top: bool) -> Any:
    col = pl.col(column)
    k = (col.count() * percent / 100 - 1e-9).ceil().cast(pl.Int64)
    if top:
        return col >= col.drop_nulls().top_k(k).min()
    return col <= col.drop_nulls().bottom_k(k).max()


def text(column: str) -> Any:
    """A string column as Polars string (dictionary columns arrive as Categorical)."""
    return pl.col(column).cast(pl.String)


D = dt.timedelta
Ref = Callable[[str], Any]


class Rule:
    """A segment in the three dialects; Polars as a function of the earlier segments."""

    def __init__(self, name: str, seg: str, sql: str, polars: Callable[[Ref], Any]) -> None:
        self.name, self.seg, self.sql, self.polars = name, seg, sql, polars


class Segmentation:
    """An exclusive segmentation: (label, seg, sql, polars) arms and an optional otherwise."""

    def __init__(self, name: str, arms: list[tuple[str, str, str, Callable[[Ref], Any]]],
                 otherwise: str | None) -> None:
        self.name, self.arms, self.otherwise = name, arms, otherwise


def rules() -> list[Rule | Segmentation]:
    c = pl.col if pl is not None else None
    eu = '"DE", "FR", "IT", "ES", "NL", "BE", "AT", "SE", "DK", "FI", "IE", "PL", "PT"'
    eu_list = [s.strip().strip('"') for s in eu.split(",")]
    eu_sql = ", ".join(f"'{s}'" for s in eu_list)
    today = _date_sql(AS_OF)
    return [
        # recency / frequency / monetary -----------------------------------------------
        Rule("champions", "recency_days <= 30 and frequency >= 5 and monetary >= 500",
             "recency_days <= 30 AND frequency >= 5 AND monetary >= 500",
             lambda r: (c("recency_days") <= 30) & (c("frequency") >= 5) & (c("monetary") >= 500)),
        Rule("loyal", "frequency >= 8 and recency_days <= 120",
             "frequency >= 8 AND recency_days <= 120",
             lambda r: (c("frequency") >= 8) & (c("recency_days") <= 120)),
        Rule("at_risk", "recency_days > 90 and recency_days <= 365 and frequency >= 3",
             "recency_days > 90 AND recency_days <= 365 AND frequency >= 3",
             lambda r: (c("recency_days") > 90) & (c("recency_days") <= 365) & (c("frequency") >= 3)),
        Rule("hibernating", "recency_days > 365 and frequency between 1 and 2",
             "recency_days > 365 AND frequency BETWEEN 1 AND 2",
             lambda r: (c("recency_days") > 365) & c("frequency").is_between(1, 2)),
        Rule("one_and_done", "frequency == 1", "frequency = 1", lambda r: c("frequency") == 1),
        Rule("never_bought", "frequency == 0 or last_order_date is null",
             "frequency = 0 OR last_order_date IS NULL",
             lambda r: (c("frequency") == 0) | c("last_order_date").is_null()),
        Rule("big_spenders", "monetary in top 10%", rank_sql("monetary", 10, top=True),
             lambda r: rank_pl("monetary", 10, top=True)),
        Rule("top_1pct", "monetary in top 1%", rank_sql("monetary", 1, top=True),
             lambda r: rank_pl("monetary", 1, top=True)),
        Rule("low_aov", "aov in bottom 20%", rank_sql("aov", 20, top=False),
             lambda r: rank_pl("aov", 20, top=False)),
        Rule("high_aov", "aov >= 150 and frequency >= 2", "aov >= 150 AND frequency >= 2",
             lambda r: (c("aov") >= 150) & (c("frequency") >= 2)),
        Rule("bargain_hunters", "round(aov) < 40 and frequency >= 4",
             "round(aov) < 40 AND frequency >= 4",
             lambda r: (c("aov").round(0, mode="half_away_from_zero") < 40) & (c("frequency") >= 4)),
        Rule("frequent_returners", "returns / frequency > 0.2 and frequency >= 3",
             "returns / NULLIF(frequency, 0) > 0.2 AND frequency >= 3",
             lambda r: (pl.when(c("frequency") != 0).then(c("returns") / c("frequency")) > 0.2)
             & (c("frequency") >= 3)),
        Rule("steady_value", "monetary / (days(today - signup_date) / 30 + 1) >= 20",
             f"monetary / (({today} - signup_date) / 30 + 1) >= 20",
             lambda r: c("monetary") / ((pl.lit(AS_OF) - c("signup_date")).dt.total_days() / 30 + 1) >= 20),
        # geography ------------------------------------------------------------------------
        Rule("eu", f"country in ({eu})", f"country IN ({eu_sql})",
             lambda r: c("country").is_in(eu_list)),
        Rule("dach", 'country in ("DE", "AT", "CH")', "country IN ('DE', 'AT', 'CH')",
             lambda r: c("country").is_in(["DE", "AT", "CH"])),
        Rule("outside_north_america", 'country not in ("US", "CA", "MX")',
             "country NOT IN ('US', 'CA', 'MX')",
             lambda r: ~c("country").is_in(["US", "CA", "MX"])),
        Rule("eu_email", "eu and email_consent", "COALESCE(${eu}, FALSE) AND email_consent",
             lambda r: r("eu") & c("email_consent")),
        Rule("sms_reachable", 'sms_consent and country in ("US", "GB", "CA", "AU")',
             "sms_consent AND country IN ('US', 'GB', 'CA', 'AU')",
             lambda r: c("sms_consent") & c("country").is_in(["US", "GB", "CA", "AU"])),
        # strings ------------------------------------------------------------------------------
        Rule("gmail_users", 'lower(email) ends with "@gmail.com"',
             "ends_with(lower(email), '@gmail.com')",
             lambda r: c("email").str.to_lowercase().str.ends_with("@gmail.com")),
        Rule("corporate_email", r'email matches "@(acme|globex|initech)\\.com$"',
             r"regexp_matches(email, '@(acme|globex|initech)\.com$')",
             lambda r: c("email").str.contains(r"@(acme|globex|initech)\.com$")),
        Rule("spring_campaign", 'utm_campaign starts with "spring_"',
             "starts_with(utm_campaign, 'spring_')",
             lambda r: c("utm_campaign").str.starts_with("spring_")),
        Rule("black_friday", 'utm_campaign contains "bf_"', "contains(utm_campaign, 'bf_')",
             lambda r: c("utm_campaign").str.contains("bf_", literal=True)),
        Rule("q4_newsletter", 'utm_campaign matches "^newsletter_2025_1[0-2]$"',
             "regexp_matches(utm_campaign, '^newsletter_2025_1[0-2]$')",
             lambda r: c("utm_campaign").str.contains("^newsletter_2025_1[0-2]$")),
        Rule("email_campaign_email_channel", 'utm_campaign ends with "_email" and channel == "email"',
             "ends_with(utm_campaign, '_email') AND channel = 'email'",
             lambda r: c("utm_campaign").str.ends_with("_email") & (text("channel") == "email")),
        Rule("paid_acquired", 'channel in ("paid_search", "affiliate") and not (utm_campaign is null)',
             "channel IN ('paid_search', 'affiliate') AND NOT (utm_campaign IS NULL)",
             lambda r: c("channel").is_in(["paid_search", "affiliate"]) & ~c("utm_campaign").is_null()),
        # dates and times --------------------------------------------------------------------
        Rule("recent_buyers", "last_order_date within 30d",
             within_sql("last_order_date", D(days=30), date=True),
             lambda r: within_pl("last_order_date", D(days=30), date=True)),
        Rule("bought_this_quarter", "last_order_date within 90d",
             within_sql("last_order_date", D(days=90), date=True),
             lambda r: within_pl("last_order_date", D(days=90), date=True)),
        Rule("lapsed_year", "frequency > 0 and not (last_order_date within 365d)",
             f"frequency > 0 AND NOT ({within_sql('last_order_date', D(days=365), date=True)})",
             lambda r: (c("frequency") > 0) & ~within_pl("last_order_date", D(days=365), date=True)),
        Rule("active_web", "last_visit_at within 7d", within_sql("last_visit_at", D(days=7), date=False),
             lambda r: within_pl("last_visit_at", D(days=7), date=False)),
        Rule("browsing_not_buying", "last_visit_at within 2w and not (last_order_date within 60d)",
             f"{within_sql('last_visit_at', D(days=14), date=False)} AND "
             f"NOT ({within_sql('last_order_date', D(days=60), date=True)})",
             lambda r: within_pl("last_visit_at", D(days=14), date=False)
             & ~within_pl("last_order_date", D(days=60), date=True)),
        Rule("new_signups", "signup_date within 30d", within_sql("signup_date", D(days=30), date=True),
             lambda r: within_pl("signup_date", D(days=30), date=True)),
        Rule("january_anniversary", "month(signup_date) == 1 and signup_date < 2025-01-01",
             "month(signup_date) = 1 AND signup_date < DATE '2025-01-01'",
             lambda r: (c("signup_date").dt.month() == 1) & (c("signup_date") < dt.date(2025, 1, 1))),
        Rule("weekend_visitors", "day_of_week(last_visit_at) >= 6", "isodow(last_visit_at) >= 6",
             lambda r: c("last_visit_at").dt.weekday() >= 6),
        Rule("tenure_3y", "days(today - signup_date) >= 1095",
             f"({today} - signup_date) >= 1095",
             lambda r: (pl.lit(AS_OF) - c("signup_date")).dt.total_days() >= 1095),
        Rule("came_back_after_order", "last_visit_at > last_order_date + 30d",
             "last_visit_at > CAST(last_order_date + INTERVAL 30 DAY AS TIMESTAMPTZ)",
             lambda r: c("last_visit_at")
             > c("last_order_date").cast(pl.Datetime("us", "UTC")) + pl.duration(days=30)),
        Rule("signed_up_2025", "year(signup_date) == 2025", "year(signup_date) = 2025",
             lambda r: c("signup_date").dt.year() == 2025),
        # scores, tiers, consents -------------------------------------------------------------
        Rule("high_churn_risk", "churn_score >= 0.6 and monetary >= 200",
             "churn_score >= 0.6 AND monetary >= 200",
             lambda r: (c("churn_score") >= 0.6) & (c("monetary") >= 200)),
        Rule("churn_unscored", "churn_score is null and frequency > 0",
             "churn_score IS NULL AND frequency > 0",
             lambda r: c("churn_score").is_null() & (c("frequency") > 0)),
        Rule("gold_or_better", 'loyalty_tier in ("gold", "platinum")',
             "loyalty_tier IN ('gold', 'platinum')",
             lambda r: c("loyalty_tier").is_in(["gold", "platinum"])),
        Rule("no_tier", 'coalesce(loyalty_tier, "none") == "none"',
             "COALESCE(loyalty_tier, 'none') = 'none'",
             lambda r: text("loyalty_tier").fill_null("none") == "none"),
        Rule("email_reachable", "email_consent and email is not null and not is_employee",
             "email_consent AND email IS NOT NULL AND NOT is_employee",
             lambda r: c("email_consent") & c("email").is_not_null() & ~c("is_employee")),
        Rule("seniors", "age >= 65", "age >= 65", lambda r: c("age") >= 65),
        Rule("young_adults", "age between 18 and 24", "age BETWEEN 18 AND 24",
             lambda r: c("age").is_between(18, 24)),
        Rule("engaged_browsers", "sessions_30d >= 8 and last_visit_at within 30d",
             f"sessions_30d >= 8 AND {within_sql('last_visit_at', D(days=30), date=False)}",
             lambda r: (c("sessions_30d") >= 8) & within_pl("last_visit_at", D(days=30), date=False)),
        Rule("cart_abandoners", "cart_value > 50 and last_visit_at within 72h",
             f"cart_value > 50 AND {within_sql('last_visit_at', D(hours=72), date=False)}",
             lambda r: (c("cart_value") > 50) & within_pl("last_visit_at", D(hours=72), date=False)),
        # segments built on segments ------------------------------------------------------
        Rule("vip", "champions or top_1pct", "COALESCE(${champions}, FALSE) OR COALESCE(${top_1pct}, FALSE)",
             lambda r: r("champions") | r("top_1pct")),
        Rule("win_back", "(at_risk or hibernating) and big_spenders and email_reachable",
             "(COALESCE(${at_risk}, FALSE) OR COALESCE(${hibernating}, FALSE)) "
             "AND COALESCE(${big_spenders}, FALSE) AND COALESCE(${email_reachable}, FALSE)",
             lambda r: (r("at_risk") | r("hibernating")) & r("big_spenders") & r("email_reachable")),
        Rule("suppress", "is_employee or email is null or country is null",
             "is_employee OR email IS NULL OR country IS NULL",
             lambda r: c("is_employee") | c("email").is_null() | c("country").is_null()),
        # exclusive segmentations --------------------------------------------------------------
        Segmentation("lifecycle", [
            ("new", "signup_date within 30d", within_sql("signup_date", D(days=30), date=True),
             lambda r: within_pl("signup_date", D(days=30), date=True)),
            ("active", "last_order_date within 90d",
             within_sql("last_order_date", D(days=90), date=True),
             lambda r: within_pl("last_order_date", D(days=90), date=True)),
            ("lapsing", "last_order_date within 365d",
             within_sql("last_order_date", D(days=365), date=True),
             lambda r: within_pl("last_order_date", D(days=365), date=True)),
        ], otherwise="lost"),
        Segmentation("value_tier", [
            ("vip", "monetary in top 1%", rank_sql("monetary", 1, top=True),
             lambda r: rank_pl("monetary", 1, top=True)),
            ("high", "monetary in top 10%", rank_sql("monetary", 10, top=True),
             lambda r: rank_pl("monetary", 10, top=True)),
            ("mid", "monetary >= 100", "monetary >= 100", lambda r: c("monetary") >= 100),
        ], otherwise=None),
    ]


def seg_text(statements: list[Rule | Segmentation]) -> str:
    parts = []
    for s in statements:
        if isinstance(s, Rule):
            parts.append(f"segment {s.name}:\n    {s.seg}\n")
        else:
            arms = "".join(f"    {label}: {seg}\n" for label, seg, _, _ in s.arms)
            if s.otherwise:
                arms += f"    {s.otherwise}: otherwise\n"
            parts.append(f"segmentation {s.name}:\n{arms}")
    return "\n".join(parts)


def sql_query(statements: list[Rule | Segmentation]) -> str:
    """One SELECT over the Arrow table: key, a non-null bool per segment, a label per segmentation."""
    conditions: dict[str, str] = {}

    def expand(sql: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: f"({conditions[m.group(1)]})", sql)

    columns = [KEY]
    for s in statements:
        if isinstance(s, Rule):
            conditions[s.name] = expand(s.sql)
            columns.append(f"COALESCE(({conditions[s.name]}), FALSE) AS {s.name}")
        else:
            whens = " ".join(f"WHEN COALESCE(({expand(sql)}), FALSE) THEN '{label}'"
                             for label, _, sql, _ in s.arms)
            otherwise = f"'{s.otherwise}'" if s.otherwise else "NULL"
            columns.append(f"CASE {whens} ELSE {otherwise} END AS {s.name}")
    cuts = ",\n    ".join(f"{subquery} AS {alias}" for alias, subquery in CUTS.items())
    return (f"WITH cuts AS (SELECT\n    {cuts})\n" if CUTS else "") + "SELECT " + \
        ",\n  ".join(columns) + "\nFROM profiles" + (", cuts" if CUTS else "")


def polars_exprs(statements: list[Rule | Segmentation]) -> list[Any]:
    built: dict[str, Any] = {}

    def ref(name: str) -> Any:
        return built[name]

    exprs = [pl.col(KEY)]
    for s in statements:
        if isinstance(s, Rule):
            built[s.name] = s.polars(ref).fill_null(False)
            exprs.append(built[s.name].alias(s.name))
        else:
            chain: Any = None
            for label, _, _, build in s.arms:
                cond = build(ref).fill_null(False)
                chain = pl.when(cond).then(pl.lit(label)) if chain is None else \
                    chain.when(cond).then(pl.lit(label))
            exprs.append(chain.otherwise(pl.lit(s.otherwise, pl.String)).alias(s.name))
    return exprs


# ---------------------------------------------------------------------------------------
# Engines


def run_segmint(ruleset: Any, table: pa.Table) -> pa.Table:
    return segmint.evaluate(ruleset, table, key=KEY, as_of=AS_OF)


def run_duckdb(con: Any, query: str) -> pa.Table:
    return con.sql(query).to_arrow_table()


def run_polars(frame: Any, exprs: list[Any]) -> pa.Table:
    return frame.select(exprs).to_arrow()


def different_rows(outputs: dict[str, pa.Table]) -> list[str]:
    """Columns whose values differ between engines, row by row (after sorting by key)."""
    tables = {e: t.sort_by(KEY) for e, t in outputs.items()}
    first, *others = tables.values()
    differing = []
    for name in first.column_names:
        for other in others:
            a, b = first.column(name), other.column(name).cast(first.schema.field(name).type)
            same = pc.fill_null(pc.equal(a, b), False)
            both_null = pc.and_(pc.is_null(a), pc.is_null(b))
            if not pc.all(pc.or_(same, both_null)).as_py():
                differing.append(name)
                break
    return differing


def counts(result: pa.Table) -> dict[str, int]:
    """Members per segment, and per label of each segmentation (`name=label`)."""
    found = {}
    for name in result.column_names:
        if name == KEY:
            continue
        column = result.column(name)
        if pa.types.is_boolean(column.type):
            if column.null_count:
                raise AssertionError(f"{name}: membership has nulls")
            found[name] = pc.sum(column).as_py() or 0
        else:
            for item in pc.value_counts(column).to_pylist():
                found[f"{name}={item['values']}"] = item["counts"]
    return found


# ---------------------------------------------------------------------------------------
# Parse + check of a large rule file


def big_rule_file(statements: list[Rule | Segmentation], size: int) -> str:
    """`size` statements: copies of the 50 rules, each copy's names (and references) suffixed."""
    base = seg_text(statements)
    names = [s.name for s in statements]
    pattern = re.compile(r"\b(" + "|".join(sorted(names, key=len, reverse=True)) + r")\b")
    copies, blocks = math.ceil(size / len(statements)), []
    for i in range(copies):
        blocks.append(pattern.sub(lambda m, i=i: f"{m.group(1)}_{i}", base))
    text = "\n".join(blocks)
    # cut at a statement boundary after `size` statements
    starts = [m.start() for m in re.finditer(r"^segment", text, re.MULTILINE)]
    return text[: starts[size]] if size < len(starts) else text


def rule_file_of_size(statements: list[Rule | Segmentation], megabytes: float) -> str:
    """Copies of the rules (names suffixed) making a file of at most `megabytes` MB (10^6 bytes)."""
    limit = int(megabytes * 1_000_000)
    per_copy = len(seg_text(statements).encode()) / len(statements)
    size = max(1, int(limit / per_copy))
    text = big_rule_file(statements, size)
    while len(text.encode()) > limit:  # a little over: drop statements until it fits
        size -= max(1, size // 200)
        text = big_rule_file(statements, size)
    return text


def time_parse(statements: list[Rule | Segmentation], megabytes: float, repeat: int,
               seed: int) -> int:
    """Time `segmint.parse_rules` (and the check) of a rule file of `megabytes` MB."""
    text = rule_file_of_size(statements, megabytes)
    schema = generate(100, seed).schema
    best = (math.inf, math.inf, math.inf)
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        parsed = segmint.parse_rules(text, "big.seg")
        parsed_at, parsed_cpu = time.perf_counter(), time.process_time()
        check_rules(parsed, schema, key=KEY)
        done = time.perf_counter()
        best = min(best, (parsed_at - start, parsed_cpu - cpu, done - parsed_at))
    print(f"parse of {len(parsed.statements):,} statements ({len(text.encode()) / 1e6:.2f} MB, "
          f"{text.count(chr(10)):,} lines): {best[0]:.3f} s ({best[1]:.3f} s CPU); "
          f"check {best[2]:.3f} s; best of {repeat}")
    return 0


# ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="profiles to generate")
    parser.add_argument("--repeat", type=int, default=5, help="runs per engine; the best counts")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--rule-file-segments", type=int, default=1000,
                        help="statements in the parse+check rule file")
    parser.add_argument("--parse-mb", type=float, default=None,
                        help="instead, time parsing (and checking) a rule file of this many MB "
                             "of copies of the 50 rules (the limit is 2 MiB) and stop")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile one segmint.evaluate and print the hottest functions")
    parser.add_argument("--engines", default="segmint,duckdb,polars",
                        help="comma-separated subset of segmint,duckdb,polars")
    parser.add_argument("--show-counts", action="store_true",
                        help="print every segment's member count for each engine")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "duckdb" in engines and duckdb is None or "polars" in engines and pl is None:
        print("install the bench extra: pip install -e '.[bench]'", file=sys.stderr)
        return 2

    statements = rules()
    if args.parse_mb is not None:
        return time_parse(statements, args.parse_mb, args.repeat, args.seed)
    segments = sum(isinstance(s, Rule) for s in statements)
    print(f"segmint {segmint.__version__}, pyarrow {pa.__version__}"
          + (f", duckdb {duckdb.__version__}" if duckdb else "")
          + (f", polars {pl.__version__}" if pl else "")
          + f"; Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"{len(statements)} rules ({segments} segments, {len(statements) - segments} "
          f"segmentations) over {args.rows:,} profiles, as of {AS_OF}; best of {args.repeat}")

    start = time.perf_counter()
    table = generate(args.rows, args.seed)
    print(f"generated {table.num_rows:,} profiles x {table.num_columns} columns "
          f"({table.nbytes / 1e6:.0f} MB) in {time.perf_counter() - start:.1f} s")

    text = seg_text(statements)
    ruleset = segmint.parse_rules(text, filename="benchmark.seg")
    runs: dict[str, Callable[[], pa.Table]] = {}
    if "segmint" in engines:
        runs["segmint"] = lambda: run_segmint(ruleset, table)
    if "duckdb" in engines:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.register("profiles", table)
        query = sql_query(statements)
        runs["duckdb"] = lambda: run_duckdb(con, query)
    if "polars" in engines:
        frame = pl.from_arrow(table)  # conversion not timed: Polars works on its own frame
        exprs = polars_exprs(statements)
        runs["polars"] = lambda: run_polars(frame, exprs)
    # Engines take turns, so a busy moment of the machine does not favour one of them.
    times = dict.fromkeys(runs, math.inf)
    outputs: dict[str, pa.Table] = {}
    for _ in range(args.repeat):
        for engine, run in runs.items():
            start = time.perf_counter()
            outputs[engine] = run()
            times[engine] = min(times[engine], time.perf_counter() - start)
    results = {engine: counts(out) for engine, out in outputs.items()}

    print()
    print(f"{'engine':<10}{'best time':>12}")
    for engine, seconds in times.items():
        print(f"{engine:<10}{seconds:>10.3f} s")
    if "segmint" in times:
        for other in ("duckdb", "polars"):
            if other in times:
                print(f"ratio segmint/{other}: {times['segmint'] / times[other]:.2f}x")

    agree = True
    if len(results) > 1:
        names = sorted(set().union(*results.values()))
        engines_run = list(results)
        bad = [(n, [results[e].get(n, 0) for e in engines_run]) for n in names
               if len({results[e].get(n, 0) for e in engines_run}) > 1]
        if bad:
            agree = False
            print(f"\nMISMATCH in {len(bad)} of {len(names)} counts ({', '.join(engines_run)}):")
            for name, values in bad:
                print(f"  {name}: {values}")
        else:
            print(f"\nall {len(engines_run)} engines agree on {len(names)} membership counts")
        differing = different_rows(outputs)
        if differing:
            agree = False
            print("rows differ in: " + ", ".join(differing))
        else:
            print(f"and on every customer's membership ({len(outputs[engines_run[0]]):,} rows)")
    if "segmint" in results:
        shown = ", ".join(f"{n} {v:,}" for n, v in list(results["segmint"].items())[:6])
        print(f"e.g. {shown}, ...")

    if args.show_counts and results:
        engines_run = list(results)
        print("\n" + f"{'segment':<36}" + "".join(f"{e:>12}" for e in engines_run))
        for name in results[engines_run[0]]:
            print(f"{name:<36}" + "".join(f"{results[e].get(name, 0):>12,}" for e in engines_run))

    big = big_rule_file(statements, args.rule_file_segments)
    best = (math.inf, 0.0, 0.0)
    for _ in range(args.repeat):
        start = time.perf_counter()
        parsed = segmint.parse_rules(big, "big.seg")
        parsed_at = time.perf_counter()
        check_rules(parsed, table.schema, key=KEY)
        done = time.perf_counter()
        best = min(best, (done - start, parsed_at - start, done - parsed_at))
    print(f"\nparse + check of {len(parsed.statements):,} statements "
          f"({len(big.encode()) / 1024:.0f} KB): {best[0]:.3f} s "
          f"(parse {best[1]:.3f} s, check {best[2]:.3f} s), best of {args.repeat}")

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run_segmint(ruleset, table)
        profiler.disable()
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream).sort_stats("tottime")
        stats.print_stats(12)
        stats.sort_stats("cumulative").print_stats("segmint", 20)
        print("\ncProfile of one segmint.evaluate (by own time, then segmint's functions by"
              " cumulative time):")
        print(stream.getvalue())
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
