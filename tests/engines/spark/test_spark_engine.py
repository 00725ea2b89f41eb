"""The spark engine end to end: the same membership as the arrow engine, byte for byte;
Parquet read by Spark itself; errors worded as segmint's, and a cluster that cannot be
reached is a clear error with exit code 1.

The conformance suite (tests/conformance) runs the language on Spark as on every engine;
these are what is Spark's own: key types kept, the scan path, the session, the CLI.
"""

from __future__ import annotations

import datetime as dt
import socket
import time

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import segmint
from segmint.cli import cli
from segmint.engines.spark.engine import parquet_files
from segmint.engines.spark.session import CONNECT_TIMEOUT_S

AS_OF = dt.date(2026, 1, 31)
RULES = """\
segment big: spend > 100
segment buyer: count(orders, last 3650d) >= 2
    holdout 50%
segment upper: spend in top 50%
segment german: country == "DE" and not big
segment recent: max(orders.ts) within 3650d
segmentation tier:
    gold: big
    silver: buyer
    rest: otherwise
"""


@pytest.fixture(scope="module")
def profiles() -> pa.Table:
    return pa.table({
        "customer_id": pa.array([3, 1, 2, 4, 7, 5], pa.int32()),  # a key type Spark widens
        "spend": [10.0, 250.0, float("nan"), None, 120.0, 99.5],
        "country": pa.array(["DE", "FR", None, "DE", "DE", "FR"]).dictionary_encode(),
    })


@pytest.fixture(scope="module")
def orders() -> pa.Table:
    return pa.table({
        "customer_id": pa.array([1, 1, 3, 7, 7, 9], pa.int32()),
        "ts": pa.array([0, 86_400, 2, 5, 6, 7], pa.timestamp("s")).cast(pa.timestamp("us")),
        "amount": [5.0, 6.0, 7.0, 1.0, 2.0, 3.0],
    })


def both(rules: str, profiles: pa.Table, events) -> tuple[pa.Table, pa.Table]:
    results = []
    for engine in ("arrow", "spark"):
        results.append(segmint.evaluate(rules, profiles, as_of=AS_OF, events=events,
                                        timestamps={"orders": "ts"}, engine=engine))
    return results[0], results[1]


def test_membership_is_the_arrow_engines_byte_for_byte(spark, profiles, orders):
    arrow, on_spark = both(RULES, profiles, {"orders": orders})
    assert on_spark.schema == arrow.schema  # the key stays int32, bools and labels as arrow's
    assert on_spark.equals(arrow)
    assert sum(on_spark["big"].to_pylist()) == 2  # NaN spend is null, not above 100


@pytest.mark.full
def test_parquet_events_are_read_by_spark_itself(spark, profiles, orders, tmp_path):
    pq.write_table(orders.slice(0, 3), tmp_path / "a.parquet")
    pq.write_table(orders.slice(3), tmp_path / "b.parquet")
    dataset = ds.dataset(tmp_path, format="parquet")
    assert parquet_files(dataset)
    arrow, on_spark = both(RULES, profiles, {"orders": dataset})
    assert on_spark.equals(arrow)


def test_integer_overflow_names_the_segment(spark):
    table = pa.table({"customer_id": [1, 2], "n": pa.array([1, 2**63 - 1], pa.int64())})
    with pytest.raises(segmint.EvaluationError, match=r"<string>:2: segment 'huge': integer overflow"):
        segmint.evaluate("segment fine: n > 0\nsegment huge: n + 1 > 0\n", table, engine="spark")


def test_a_pattern_java_cannot_match_as_re2_does_is_refused_at_check_time(spark):
    table = pa.table({"customer_id": [1], "email": ["a@b.c"]})
    rules = 'segment x: email matches "\\\\pL+@"'
    assert segmint.evaluate(rules, table, engine="arrow")["x"].to_pylist() == [True]
    with pytest.raises(segmint.RuleError, match="<string>:1"):
        segmint.evaluate(rules, table, engine="spark")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_master_fails_the_run_clearly_in_bounded_time(spark, tmp_path):
    (tmp_path / "people.csv").write_text("customer_id,spend\n1,200\n2,50\n")
    (tmp_path / "rules.seg").write_text("segment big: spend > 100\n")
    (tmp_path / "segmint.toml").write_text(
        'rules = ["rules.seg"]\n'
        '[sources.people]\nplugin = "csv"\npath = "people.csv"\n'
        f'[engine]\nname = "spark"\nmaster = "spark://127.0.0.1:{closed_port()}"\n'
    )
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["run", "-p", str(tmp_path / "segmint.toml"), "--dry-run"])
    assert result.exit_code == 1, result.output
    assert "cannot reach the Spark master spark://127.0.0.1:" in result.output
    assert "Traceback" not in result.output
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 30


@pytest.mark.full
def test_a_project_runs_on_spark_as_on_arrow(spark, tmp_path):
    (tmp_path / "people.csv").write_text("customer_id,spend,country\n1,200,DE\n2,50,FR\n3,,DE\n")
    (tmp_path / "rules.seg").write_text("segment big: spend > 100\n"
                                        'segment german: country == "DE"\n')
    (tmp_path / "segmint.toml").write_text(
        'rules = ["rules.seg"]\nas_of = "2026-01-31"\n'
        '[sources.people]\nplugin = "csv"\npath = "people.csv"\n')
    outputs = {}
    for engine in ("arrow", "spark"):
        result = CliRunner().invoke(cli, ["run", "-p", str(tmp_path / "segmint.toml"),
                                          "--dry-run", "--engine", engine])
        assert result.exit_code == 0, result.output
        outputs[engine] = result.output
    assert "big" in outputs["spark"]
    assert outputs["spark"].replace("spark", "ENGINE") == outputs["arrow"].replace("arrow", "ENGINE")
