"""A Spark failure reaches the user as segmint's error in Spark's words: the root Java
exception of a Py4J error (not "An error occurred while calling o59.getResult."), and out of
memory with what to give more of. No Spark session: the errors are Spark's texts."""

from __future__ import annotations

import pytest

from segmint.engines.spark.engine import spark_error
from segmint.errors import DataError
from segmint.language.parser import parse_rules

PY4J_OUT_OF_MEMORY = """An error occurred while calling o59.getResult.
: org.apache.spark.SparkException: Job aborted due to stage failure: Task 1 in stage 4.0 failed 1 times
\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2856)
Caused by: org.apache.spark.memory.SparkOutOfMemoryError: [UNABLE_TO_ACQUIRE_MEMORY] Unable to acquire 65536 bytes of memory, got 0. SQLSTATE: 53200
\tat org.apache.spark.memory.MemoryConsumer.throwOom(MemoryConsumer.java:157)
"""
PY4J_OTHER = """An error occurred while calling o42.collectToPython.
: org.apache.spark.SparkException: Job aborted due to stage failure
Caused by: java.io.FileNotFoundException: /data/events/part-0.parquet (No such file or directory)
\tat java.base/java.io.FileInputStream.open0(Native Method)
"""


@pytest.mark.parametrize(("text", "expected"), [
    (PY4J_OUT_OF_MEMORY, "Spark ran out of memory ([UNABLE_TO_ACQUIRE_MEMORY] Unable to acquire 65536"
                         " bytes of memory, got 0. SQLSTATE: 53200 (SparkOutOfMemoryError)); give it"
                         " more: in local mode the driver's (SPARK_DRIVER_MEMORY=8g"),
    ("java.lang.OutOfMemoryError: Java heap space", "Spark ran out of memory (java.lang.OutOfMemoryError:"
                                                    " Java heap space)"),
    (PY4J_OTHER, "Spark failed: /data/events/part-0.parquet (No such file or directory)"
                 " (FileNotFoundException)"),
    ("[TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found.\nmore",
     "Spark failed: [TABLE_OR_VIEW_NOT_FOUND] The table `x` cannot be found."),
])
def test_spark_failures_say_what_went_wrong(text: str, expected: str) -> None:
    error = spark_error(RuntimeError(text), "SELECT 1", parse_rules("segment s: true\n"))
    assert isinstance(error, DataError)
    assert str(error).startswith("source 'engine spark': " + expected), str(error)
    if "out of memory" in expected:
        assert str(error).endswith("on a cluster the executors' (spark.executor.memory), or more"
                                   " shuffle partitions (spark.sql.shuffle.partitions)")
