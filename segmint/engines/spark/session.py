"""The Spark session a run uses: the one already active, or one started for the master.

Under ``spark-submit`` (or in a notebook, or a test session) a `SparkSession` is already
active and segmint uses it as it is, only setting the SQL settings its semantics need.
Otherwise the project's ``[engine] master`` names the cluster (``spark://host:7077``,
``yarn``, ``k8s://...``) or, by default, ``local[*]`` runs Spark in this process' machine.

A ``spark://`` master is probed with a TCP connection first, so one that cannot be reached
is a clear `ConfigError` within `CONNECT_TIMEOUT_S` rather than Spark's own minute of
retries followed by a job that waits for executors forever.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from segmint.errors import ConfigError, SegmintError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: How long a ``spark://`` master may take to accept a connection.
CONNECT_TIMEOUT_S = 5.0
DEFAULT_MASTER = "local[*]"
STANDALONE_PORT = 7077

#: SQL settings every run needs, whoever started the session (see docs/engines.md):
#: ANSI mode on, so integer overflow is an error as the language says (division by zero
#: is guarded in the SQL itself, not by turning ANSI off); the session time zone UTC,
#: because the SQL holds timestamps as UTC wall clocks and applies the run's time zone
#: explicitly (so a cluster's own default zone cannot shift a day); results as Arrow.
SQL_SETTINGS = {
    "spark.sql.ansi.enabled": "true",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
}
#: Settings of a session segmint starts itself (a cluster's own session keeps its own).
START_SETTINGS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}


def pyspark_module() -> Any:
    """The pyspark.sql module, or a clear error naming the extra to install."""
    try:
        import pyspark.sql
    except ImportError:
        raise SegmintError(
            "engine 'spark' needs PySpark: pip install 'segmint[spark]' (and a Java runtime)"
        ) from None
    return pyspark.sql


def spark_session(
    master: str | None = None,
    *,
    settings: dict[str, str] | None = None,
    app_name: str = "segmint",
) -> SparkSession:
    """The active session, or one started for `master`, with `SQL_SETTINGS` applied.

    `settings` are extra Spark settings for a session started here (``spark.sql.shuffle.
    partitions`` for a small local run, say).
    """
    sql = pyspark_module()
    if master is not None:
        probe(master)  # named explicitly: it must answer, whatever session is active
    session = sql.SparkSession.getActiveSession()
    if session is None:
        session = _start(sql, master, settings or {}, app_name)
    for name, value in SQL_SETTINGS.items():
        session.conf.set(name, value)
    return session


def _start(sql: Any, master: str | None, settings: dict[str, str], app_name: str) -> SparkSession:
    if master is None and under_spark_submit():
        builder = sql.SparkSession.builder  # spark-submit's --master and --conf apply
    else:
        master = master or DEFAULT_MASTER
        builder = sql.SparkSession.builder.master(master)
    builder = builder.appName(app_name)
    for name, value in {**START_SETTINGS, **settings}.items():
        builder = builder.config(name, value)
    try:
        session = builder.getOrCreate()
    except Exception as error:  # Java missing, a bad master URL: Spark's own words
        raise ConfigError(
            f"cannot start Spark for master {master or '(spark-submit)'}:"
            f" {first_line(error)}", key="engine.master",
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    return session


def under_spark_submit() -> bool:
    """Whether this process was launched by ``spark-submit`` (which passes the master)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ or "SPARK_SUBMIT_OPTS" in os.environ


def probe(master: str) -> None:
    """Refuse a ``spark://`` master nobody answers at, within `CONNECT_TIMEOUT_S`."""
    if not master.startswith("spark://"):
        return
    for address in master.removeprefix("spark://").split(","):  # standby masters
        parts = urlsplit(f"spark://{address}")
        try:
            host, port = parts.hostname, parts.port or STANDALONE_PORT
        except ValueError:
            raise ConfigError(f"bad Spark master URL {master!r}", key="engine.master") from None
        if not host:
            raise ConfigError(f"bad Spark master URL {master!r}", key="engine.master")
        try:
            with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
                return
        except OSError as error:
            reason = error.strerror or type(error).__name__
    raise ConfigError(
        f"cannot reach the Spark master {master} within {CONNECT_TIMEOUT_S:g} s ({reason});"
        " is the cluster up, and the host and port right?", key="engine.master",
    )


def first_line(error: BaseException) -> str:
    """The first line of an error's text (Spark's carry a Java stack trace after it)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
