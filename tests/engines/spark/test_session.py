"""The Spark session: the settings every run needs, and masters that cannot be used."""

from __future__ import annotations

import socket
import time

import pytest

from segmint.engines.spark.session import CONNECT_TIMEOUT_S, probe, spark_session
from segmint.errors import ConfigError


def closed_port() -> int:
    """A local port nobody listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_active_session_is_used_with_utc_and_ansi_mode(spark):
    spark.conf.set("spark.sql.session.timeZone", "Europe/Berlin")  # a cluster's own default
    spark.conf.set("spark.sql.ansi.enabled", "false")
    session = spark_session()
    assert session is spark
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"
    # ANSI mode: integer overflow is an error, as the language says, not a wrapped value.
    with pytest.raises(Exception, match="ARITHMETIC_OVERFLOW"):
        spark.sql("SELECT 9223372036854775807 + CAST(1 AS BIGINT)").collect()


def test_results_come_back_as_arrow(spark):
    table = spark.sql("SELECT CAST(1 AS BIGINT) AS k, 'a' AS s").toArrow()
    assert table.to_pylist() == [{"k": 1, "s": "a"}]


@pytest.mark.parametrize(("master", "message"), [
    ("spark://127.0.0.1:{port}", r"cannot reach the Spark master spark://127\.0\.0\.1:\d+ within"),
    ("spark://127.0.0.1:{port},127.0.0.1:{port}", "cannot reach the Spark master"),
    ("spark://:7077", "bad Spark master URL"),
    ("spark://host:notaport", "bad Spark master URL"),
])
def test_an_unusable_master_is_a_clear_error_in_bounded_time(master, message):
    started = time.monotonic()
    with pytest.raises(ConfigError, match=message) as error:
        probe(master.format(port=closed_port()))
    assert error.value.key == "engine.master"
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 1


def test_a_reachable_master_passes_the_probe():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        probe(f"spark://127.0.0.1:{server.getsockname()[1]}")


@pytest.mark.parametrize("master", ["local[2]", "yarn", "k8s://https://example:6443"])
def test_other_masters_are_left_to_spark(master):
    probe(master)
