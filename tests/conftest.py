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


# PostgreSQL ---------------------------------------------------------------------------

import glob  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    return Path(found[-1]).parent if found[-1] else None


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """ONE throwaway PostgreSQL server for the test session: initdb into a temporary
    directory, pg_ctl on a free loopback port (as the ``postgres`` user when running as
    root), stopped at the end; skipped only when the server binaries are not installed
    (``.ci/run`` installs them). Yields the URI of its ``postgres`` database."""
    adbc = pytest.importorskip("adbc_driver_postgresql.dbapi")
    bin_dir = _binaries()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    as_user: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="segmint-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root
        user = "postgres" if _user_exists("postgres") else "nobody"
        as_user = ["runuser", "-u", user, "--"] if shutil.which("runuser") else ["su", user, "-s", "/bin/sh", "-c"]
        shutil.chown(base, user)
    data, port = base / "data", _free_port()

    def run(*args: str) -> None:
        command = [str(bin_dir / args[0]), *args[1:]]
        if as_user[:1] == ["su"]:
            command = [*as_user, " ".join(shlex.quote(c) for c in command)]
        else:
            command = [*as_user, *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    try:
        run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        run("pg_ctl", "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60", "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}") from None
    uri = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        yield uri
    finally:
        try:
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(base, ignore_errors=True)
