"""Settings for the whole test session."""

import os

# Load only segmint's own plugins (its built-ins), whatever else is installed here.
os.environ.setdefault("SEGMINT_PLUGINS", "segmint")

# Hypothesis profiles: "ci" runs the property tests hard, "dev" keeps local runs quick.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci", max_examples=500, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


import pytest  # noqa: E402

#: Spark settings of the test session: two cores, few shuffle partitions (the tests' data
#: is small, and each partition costs a task), the UI off.
SPARK_TEST_SETTINGS = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "1g",
}


@pytest.fixture(scope="session")
def spark():
    """ONE local SparkSession for the whole run (starting one costs seconds), stopped at
    the end; the spark engine finds it active and sets each run's time zone on it."""
    from segmint.engines.spark.session import spark_session

    session = spark_session("local[2]", settings=SPARK_TEST_SETTINGS, app_name="segmint-tests")
    yield session
    session.stop()
