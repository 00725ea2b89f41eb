"""Benchmark: a retailer's messy project end to end, `segmint run` against one DuckDB script.

    python benchmarks/project.py                       # 200,000 customers
    python benchmarks/project.py --customers 2000000   # 2M customers
    python benchmarks/project.py --profile             # also cProfile the segmint run

Generates, under benchmarks/data/project-N/ (kept between runs):

- ``contacts.csv``: a HubSpot contact export (emails in mixed case, some with leading
  spaces), read by the ``crm`` source with ``key_normalize = "email"``;
- ``orders.csv``: about four orders per customer keyed by email (case and spaces vary
  again), some after as_of; read as the ``orders`` event source (metrics and aggregates);
- ``survey.csv``: a Typeform export (NPS, a multi-select, a Likert question), some people
  answering twice (the latest answer wins);
- ``events.jsonl``: Segment ``page``/``track``/``identify`` calls; anonymous visits are
  tied to the user by ``identify``, whose ``email`` trait keys the events.

Then it runs ``segmint run`` (a subprocess, the real CLI, membership written to Parquet)
and the same 16 segments and 2 segmentations as one DuckDB SQL script reading the same
files, alternating, ``--repeat`` times; checks that every segment has the same members in
both; prints the best times, their ratio and each process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

DATA = Path(__file__).parent / "data"
AS_OF = "2025-03-01"
NPS = "How likely are you to recommend us to a friend or colleague?"
EASE = "The app is easy to use."
LIKERT = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]

RULES = """\
segment recent_buyers: recency <= 30d
segment frequent: frequency >= 6
segment big_spenders: monetary >= 800
segment lapsing: recency > 90d and frequency >= 3
segment promoters: nps_category == "promoter"
segment detractors: nps <= 6
segment yoga_fans: interests contains "Yoga"
segment finds_it_easy: ease >= 4
segment paying_customers: lifecycle_stage == "customer"
segment engaged_leads: lifecycle_stage == "lead" and exists(events, last 30d)
segment cart_abandoners: exists(events where name == "cart_abandoned", last 7d)
    and not exists(orders, last 7d)
segment browsers: count(events where name == "page_view", last 30d) >= 2
segment pricey_browsing: max(events.price) >= 100
segment q4_spenders: sum(orders.amount, between 2024-10-01 and 2024-12-31) >= 200
segment win_back: lapsing and not promoters
segment unhappy_big_spenders: big_spenders and detractors

segmentation value_tier:
    high: monetary >= 1000
    mid: monetary >= 200
    low: otherwise

segmentation engagement:
    active: exists(events, last 7d)
    warm: exists(events, last 30d)
    cold: otherwise
"""

PROJECT = f"""\
rules = ["rules.seg"]
key = "email"
as_of = "{AS_OF}"
timezone = "UTC"

[sources.crm]
plugin = "crm"
flavor = "hubspot"
contacts = "contacts.csv"
key_normalize = "email"

[sources.survey]
plugin = "survey"
path = "survey.csv"
nps = "{NPS}"
multi_select = {{ interests = ["Yoga", "Running", "Cycling"] }}
likert = {{ ease = "{EASE}" }}
key_normalize = "email"
on_duplicate_keys = "latest"
latest_by = "submitted_at"

[sources.orders]
plugin = "csv"
role = "events"
path = "orders.csv"
key_normalize = "email"

[sources.events]
plugin = "segment_events"
path = "events.jsonl"
key_trait = "email"
key_normalize = "email"
"""

#: The same segments over the same files, by hand: as_of is the whole day 2025-03-01 (UTC).
DUCKDB_SQL = """
CREATE TEMP TABLE crm AS
  SELECT lower(trim("Email")) AS email, any_value("Lifecycle Stage") AS lifecycle_stage
  FROM read_csv('{dir}/contacts.csv', header = true, all_varchar = true)
  WHERE nullif(lower(trim("Email")), '') IS NOT NULL GROUP BY 1;
CREATE TEMP TABLE survey AS
  SELECT email, nps, CASE WHEN nps <= 6 THEN 'detractor' WHEN nps <= 8 THEN 'passive'
         ELSE 'promoter' END AS nps_category, yoga, ease
  FROM (SELECT lower(trim(email)) AS email, TRY_CAST("{nps}" AS BIGINT) AS nps,
               "Yoga" IS NOT NULL AND "Yoga" <> '' AS yoga,
               CASE "{ease}" WHEN 'Strongly disagree' THEN 1 WHEN 'Disagree' THEN 2
                    WHEN 'Neither agree nor disagree' THEN 3 WHEN 'Agree' THEN 4
                    WHEN 'Strongly agree' THEN 5 END AS ease,
               row_number() OVER (PARTITION BY lower(trim(email))
                                  ORDER BY "Submit Date (UTC)" DESC) AS rn
        FROM read_csv('{dir}/survey.csv', header = true, all_varchar = true))
  WHERE rn = 1 AND email <> '';
CREATE TEMP TABLE orders AS
  SELECT lower(trim(email)) AS email, CAST("timestamp" AS TIMESTAMPTZ) AS ts, amount
  FROM read_csv('{dir}/orders.csv', header = true,
                columns = {{'order_id': 'VARCHAR', 'email': 'VARCHAR', 'timestamp': 'VARCHAR',
                            'amount': 'DOUBLE'}})
  WHERE CAST("timestamp" AS TIMESTAMPTZ) <= TIMESTAMPTZ '{as_of} 23:59:59.999999+00';
CREATE TEMP TABLE purchase AS
  SELECT email, date_diff('day', CAST(max(ts) AS DATE), DATE '{as_of}') AS recency_days,
         count(*) AS frequency, sum(CAST(round(amount * 100) AS BIGINT)) AS cents
  FROM orders GROUP BY email;
CREATE TEMP TABLE calls AS
  SELECT "type" AS kind, "event" AS event, "userId" AS user_id, "anonymousId" AS anon,
         CAST("timestamp" AS TIMESTAMPTZ) AS ts, traits.email AS trait_email,
         TRY_CAST(properties.price AS DOUBLE) AS price, row_number() OVER () AS line
  FROM read_json('{dir}/events.jsonl', format = 'newline_delimited');
CREATE TEMP TABLE links AS
  SELECT anon, arg_max(user_id, (ts, line)) AS user_id FROM calls
  WHERE anon IS NOT NULL AND user_id IS NOT NULL GROUP BY anon;
CREATE TEMP TABLE emails AS
  SELECT user_id, arg_max(trait_email, (ts, line)) AS email FROM calls
  WHERE kind = 'identify' AND user_id IS NOT NULL AND trait_email IS NOT NULL GROUP BY user_id;
CREATE TEMP TABLE events AS
  SELECT nullif(lower(trim(e.email)), '') AS email, c.ts,
         CASE c.kind WHEN 'page' THEN 'page_view' ELSE c.event END AS name, c.price
  FROM calls c LEFT JOIN links l ON c.anon = l.anon
  JOIN emails e ON e.user_id = coalesce(c.user_id, l.user_id)
  WHERE c.kind <> 'identify' AND c.ts <= TIMESTAMPTZ '{as_of} 23:59:59.999999+00';
CREATE TEMP TABLE ev AS
  SELECT email,
         bool_or(ts >= TIMESTAMPTZ '{as_of} 23:59:59.999999+00' - INTERVAL 30 DAY) AS any_30d,
         bool_or(ts >= TIMESTAMPTZ '{as_of} 23:59:59.999999+00' - INTERVAL 7 DAY) AS any_7d,
         bool_or(name = 'cart_abandoned'
                 AND ts >= TIMESTAMPTZ '{as_of} 23:59:59.999999+00' - INTERVAL 7 DAY) AS cart_7d,
         count(*) FILTER (WHERE name = 'page_view'
                 AND ts >= TIMESTAMPTZ '{as_of} 23:59:59.999999+00' - INTERVAL 30 DAY) AS pages_30d,
         max(price) AS max_price
  FROM events WHERE email IS NOT NULL GROUP BY email;
CREATE TEMP TABLE oa AS
  SELECT email,
         bool_or(ts >= TIMESTAMPTZ '{as_of} 23:59:59.999999+00' - INTERVAL 7 DAY) AS order_7d,
         sum(amount) FILTER (WHERE ts BETWEEN TIMESTAMPTZ '2024-10-01 00:00:00+00'
                             AND TIMESTAMPTZ '2024-12-31 23:59:59.999999+00') AS q4
  FROM orders GROUP BY email;
CREATE TEMP TABLE people AS  -- the profile sources' keys: orders never add customers
  SELECT email FROM crm UNION SELECT email FROM survey;
CREATE TEMP TABLE p AS
  SELECT people.email, crm.lifecycle_stage, s.nps, s.nps_category, s.yoga, s.ease,
         pu.recency_days, pu.frequency, pu.cents, coalesce(ev.any_30d, false) AS any_30d,
         coalesce(ev.any_7d, false) AS any_7d, coalesce(ev.cart_7d, false) AS cart_7d,
         coalesce(ev.pages_30d, 0) AS pages_30d, ev.max_price,
         coalesce(oa.order_7d, false) AS order_7d, oa.q4
  FROM people LEFT JOIN crm USING (email) LEFT JOIN survey s USING (email)
  LEFT JOIN purchase pu USING (email) LEFT JOIN ev USING (email) LEFT JOIN oa USING (email);
CREATE TEMP TABLE m AS SELECT email,
  coalesce(recency_days <= 30, false) AS recent_buyers,
  coalesce(frequency >= 6, false) AS frequent,
  coalesce(cents >= 80000, false) AS big_spenders,
  coalesce(recency_days > 90 AND frequency >= 3, false) AS lapsing,
  coalesce(nps_category = 'promoter', false) AS promoters,
  coalesce(nps <= 6, false) AS detractors,
  coalesce(yoga, false) AS yoga_fans,
  coalesce(ease >= 4, false) AS finds_it_easy,
  coalesce(lifecycle_stage = 'customer', false) AS paying_customers,
  coalesce(lifecycle_stage = 'lead' AND any_30d, false) AS engaged_leads,
  cart_7d AND NOT order_7d AS cart_abandoners,
  pages_30d >= 2 AS browsers,
  coalesce(max_price >= 100, false) AS pricey_browsing,
  coalesce(q4 >= 200, false) AS q4_spenders,
  coalesce(recency_days > 90 AND frequency >= 3, false)
    AND NOT coalesce(nps_category = 'promoter', false) AS win_back,
  coalesce(cents >= 80000, false) AND coalesce(nps <= 6, false) AS unhappy_big_spenders,
  CASE WHEN cents >= 100000 THEN 'high' WHEN cents >= 20000 THEN 'mid' ELSE 'low' END AS value_tier,
  CASE WHEN any_7d THEN 'active' WHEN any_30d THEN 'warm' ELSE 'cold' END AS engagement
  FROM p;
"""
SEGMENTS = ["recent_buyers", "frequent", "big_spenders", "lapsing", "promoters", "detractors",
            "yoga_fans", "finds_it_easy", "paying_customers", "engaged_leads", "cart_abandoners",
            "browsers", "pricey_browsing", "q4_spenders", "win_back", "unhappy_big_spenders"]
SEGMENTATIONS = {"value_tier": ["high", "mid", "low"], "engagement": ["active", "warm", "cold"]}


def _variant(rng: np.random.Generator, emails: np.ndarray) -> list[str]:
    """The same addresses as a messy export writes them: case changed, spaces around."""
    kind = rng.integers(0, 10, len(emails))
    out = []
    for text, k in zip(emails.tolist(), kind.tolist(), strict=True):
        if k == 0:
            text = text.upper()
        elif k <= 2:
            text = text.title()
        if k in (3, 4):
            text = "  " + text
        elif k == 5:
            text = text + " "
        out.append(text)
    return out


def _write_csv(path: Path, columns: dict[str, list | np.ndarray]) -> None:
    pacsv.write_csv(pa.table(columns), path)


def _stamp(seconds: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")


def generate(directory: Path, customers: int, seed: int = 7) -> None:
    """The four exports, the project file and the rules."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    first = np.array(["anna", "bob", "chloe", "dev", "emma", "felix", "gina", "hugo", "ines", "jan"])
    domains = np.array(["acme.de", "globex.com", "initech.fr", "example.org", "mail.com"])
    ids = np.arange(customers)
    emails = np.char.add(np.char.add(np.char.add(first[ids % 10], "."), ids.astype(str)),
                         np.char.add("@", domains[ids % 5]))
    start_2023 = np.datetime64("2023-01-01T00:00:00").astype(int)
    end = np.datetime64("2025-03-10T00:00:00").astype(int)

    in_crm = ids[rng.random(customers) < 0.95]
    created = rng.integers(np.datetime64("2022-01-01T00:00:00").astype(int), end, len(in_crm))
    _write_csv(directory / "contacts.csv", {
        "Record ID": 1000 + in_crm,
        "First Name": first[in_crm % 10].tolist(),
        "Last Name": [f"Name{i}" for i in in_crm.tolist()],
        "Email": _variant(rng, emails[in_crm]),
        "Phone Number": [f"+49 30 {1000000 + i}" if i % 3 else "" for i in in_crm.tolist()],
        "Lifecycle Stage": np.array(["lead", "customer", "opportunity", "subscriber"])[
            rng.integers(0, 4, len(in_crm))].tolist(),
        "Create Date": np.char.replace(_stamp(created), "T", " ").tolist(),
        "Associated Company IDs": [""] * len(in_crm),
    })

    counts = np.where(rng.random(customers) < 0.8, rng.poisson(5.0, customers), 0)
    owner = np.repeat(ids, counts)
    at = rng.integers(start_2023, end, len(owner))
    amount = np.round(rng.lognormal(3.5, 0.9, len(owner)), 2)
    _write_csv(directory / "orders.csv", {
        "order_id": [f"o-{i}" for i in range(len(owner))],
        "email": _variant(rng, emails[owner]),
        "timestamp": np.char.add(_stamp(at), "Z").tolist(),
        "amount": amount,
    })

    who = ids[rng.random(customers) < 0.2]
    again = who[rng.random(len(who)) < 0.05]
    who = np.concatenate([who, again])
    submitted = rng.integers(np.datetime64("2024-06-01T00:00:00").astype(int),
                             np.datetime64("2025-02-28T00:00:00").astype(int), len(who))
    picks = rng.random((3, len(who))) < 0.4
    _write_csv(directory / "survey.csv", {
        "#": [f"t{i}" for i in range(len(who))],
        NPS: rng.integers(0, 11, len(who)).astype(str).tolist(),
        "Yoga": np.where(picks[0], "Yoga", "").tolist(),
        "Running": np.where(picks[1], "Running", "").tolist(),
        "Cycling": np.where(picks[2], "Cycling", "").tolist(),
        EASE: np.array(LIKERT)[rng.integers(0, 5, len(who))].tolist(),
        "email": _variant(rng, emails[who]),
        "Start Date (UTC)": np.char.replace(_stamp(submitted - 120), "T", " ").tolist(),
        "Submit Date (UTC)": np.char.replace(_stamp(submitted), "T", " ").tolist(),
        "Network ID": [f"n{i}" for i in who.tolist()],
    })
    _write_events(directory / "events.jsonl", rng, emails, customers)
    (directory / "segmint.toml").write_text(PROJECT)
    (directory / "rules.seg").write_text(RULES)


def _write_events(path: Path, rng: np.random.Generator, emails: np.ndarray, customers: int) -> None:
    """Segment calls: anonymous pages, an identify, then tracked events; some never identified."""
    start = np.datetime64("2025-01-01T00:00:00").astype(int)
    end = np.datetime64("2025-03-05T00:00:00").astype(int)
    visitors = np.flatnonzero(rng.random(customers) < 0.55)
    strangers = rng.integers(0, customers, len(visitors) // 6)
    lines = []
    message = 0

    def emit(call: dict) -> None:
        nonlocal message
        message += 1
        call["messageId"] = f"m{message}"
        lines.append(json.dumps(call, separators=(",", ":")))

    def when(seconds: int) -> str:
        text = str(np.datetime64(int(seconds), "s"))
        return text + (".000Z" if seconds % 4 else "Z")

    for i in visitors.tolist():
        anon, user = f"anon-{i}", f"u-{i}"
        t = int(rng.integers(start, end))
        emit({"type": "page", "name": "Home", "anonymousId": anon, "timestamp": when(t),
              "properties": {"path": "/", "url": "https://shop.example/", "title": "Shop"},
              "context": {"page": {"referrer": "https://www.google.com/"}}})
        emit({"type": "identify", "userId": user, "anonymousId": anon, "timestamp": when(t + 60),
              "traits": {"email": _variant(rng, emails[i:i + 1])[0], "plan": "free"}})
        for _ in range(int(rng.poisson(0.2))):
            t += int(rng.integers(600, 86400 * 5))
            kind = rng.integers(0, 4)
            if kind == 0:
                emit({"type": "page", "name": "Catalog", "userId": user, "timestamp": when(t),
                      "properties": {"path": "/c/yoga", "url": "https://shop.example/c/yoga"}})
            elif kind == 1:
                emit({"type": "track", "event": "Product Added", "anonymousId": anon,
                      "timestamp": when(t), "properties": {
                          "product_id": f"sku-{i % 97}", "price": round(float(rng.lognormal(3.5, 0.8)), 2),
                          "category": "yoga"}})
            elif kind == 2:
                emit({"type": "track", "event": "cart_abandoned", "userId": user, "timestamp": when(t),
                      "properties": {"cart_value": round(float(rng.lognormal(3.5, 0.8)), 2)}})
            else:
                emit({"type": "track", "event": "Order Completed", "userId": user, "anonymousId": anon,
                      "timestamp": when(t), "properties": {"order_id": f"w-{i}", "revenue": 42.5}})
    for i in strangers.tolist():
        emit({"type": "page", "name": "Home", "anonymousId": f"stranger-{i}",
              "timestamp": when(int(rng.integers(start, end))), "properties": {"path": "/"}})
    path.write_text("\n".join(lines) + "\n")


def _child(kind: str, directory: str) -> None:
    """Run one side in this process and report its peak memory (children are separate)."""
    if kind == "duckdb":
        import duckdb

        sql = DUCKDB_SQL.format(dir=directory, as_of=AS_OF, nps=NPS, ease=EASE)
        connection = duckdb.connect()
        connection.execute(sql)
        connection.execute(f"COPY m TO '{directory}/duckdb.parquet' (FORMAT parquet)")
    print(json.dumps({"peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))


def _one(kind: str, directory: Path, profile: bool) -> tuple[float, float]:
    if kind == "segmint":
        segmint = Path(sys.executable).with_name("segmint")
        command = [str(segmint), "run", "--out", "segmint.parquet"]
        if profile:
            command = [sys.executable, "-m", "cProfile", "-o", "segmint.prof", str(segmint),
                       "run", "--out", "segmint.parquet"]
        command = ["/usr/bin/time", "-f", "%M", *command]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=directory, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"segmint run failed:\n{result.stdout}\n{result.stderr}")
        peak = int(result.stderr.strip().splitlines()[-1]) / 2**20
        return seconds, peak
    started = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, "--child", kind, str(directory)],
                            capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{kind} failed:\n{result.stdout}\n{result.stderr}")
    return seconds, json.loads(result.stdout.splitlines()[-1])["peak_gib"]


def compare(directory: Path) -> list[str]:
    """The segments whose members differ between segmint's output and DuckDB's."""
    import duckdb

    ours = duckdb.sql(f"SELECT * FROM '{directory}/segmint.parquet'")
    theirs = duckdb.sql(f"SELECT * FROM '{directory}/duckdb.parquet'")
    differ = []
    for name in SEGMENTS:
        a = set(r[0] for r in ours.filter(f'"{name}"').project("email").fetchall())
        b = set(r[0] for r in theirs.filter(f'"{name}"').project("email").fetchall())
        print(f"  {name:22} {len(a):>9,} {len(b):>9,}{'' if a == b else '  DIFFERENT'}")
        if a != b:
            differ.append(name)
    for name, labels in SEGMENTATIONS.items():
        for label in labels:
            a = set(r[0] for r in ours.filter(f"\"{name}\" = '{label}'").project("email").fetchall())
            b = set(r[0] for r in theirs.filter(f"\"{name}\" = '{label}'").project("email").fetchall())
            print(f"  {name + ':' + label:22} {len(a):>9,} {len(b):>9,}{'' if a == b else '  DIFFERENT'}")
            if a != b:
                differ.append(f"{name}:{label}")
    if ours.count("*").fetchall() != theirs.count("*").fetchall():
        differ.append("(the number of customers)")
    return differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile one segmint run")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    directory = DATA / f"project-{args.customers}"
    if not (directory / "rules.seg").exists():
        print(f"generating {directory} ...")
        generate(directory, args.customers)
    sizes = {p.name: p.stat().st_size / 2**20 for p in directory.iterdir() if p.suffix in (".csv", ".jsonl")}
    print(f"{args.customers:,} customers: " + ", ".join(f"{k} {v:.0f} MiB" for k, v in sorted(sizes.items())))
    best = {"segmint": (float("inf"), 0.0), "duckdb": (float("inf"), 0.0)}
    for _ in range(args.repeat):
        for kind in best:
            seconds, peak = _one(kind, directory, False)
            best[kind] = (min(best[kind][0], seconds), max(best[kind][1], peak))
    print("segment sizes (segmint, duckdb):")
    differ = compare(directory)
    for kind, (seconds, peak) in best.items():
        print(f"{kind:8} {seconds:6.2f} s   peak {peak:.2f} GiB")
    print(f"ratio    {best['segmint'][0] / best['duckdb'][0]:.2f}x time,"
          f" {best['segmint'][1] / best['duckdb'][1]:.2f}x memory")
    if args.profile:
        _one("segmint", directory, True)
        print(f"profile written to {directory / 'segmint.prof'}")
    if differ:
        sys.exit(f"segments differ: {', '.join(differ)}")


if __name__ == "__main__":
    main()
