"""The conformance suite: one set of tests, run on every engine (in the style of ibis's
``ibis/backends/tests``).

`ENGINES` is the one list of engines the suite runs on. A test takes the ``engine``
fixture (the engine's name) or ``evaluate`` (`segmint.evaluate` on that engine); an
engine that is not installed is skipped, the reason shown in pytest's summary. Known
differences between engines are listed in one place, `differences.py`, each with its
reason; a test listed there for an engine is expected to fail on it (strictly: it fails
the suite once the engine conforms, so the list stays true).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import Any

import pytest

import segmint
from segmint.errors import ConfigError
from segmint.plugin.engines import engine_named
from segmint.plugin.host import get_registry

from differences import marks_for

#: The engines the conformance suite runs on. An engine joins the suite by being added here.
ENGINES: tuple[str, ...] = ("arrow", "duckdb", "spark")
#: Spark takes a second or more for even a tiny query, so `make test` runs one in
#: SPARK_SAMPLE of its conformance tests (by a stable hash of the test id, so always the
#: same ones); the others are marked `full` and run under `make test-all`.
SPARK_SAMPLE = 20


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The name of the engine a test runs on; skipped when it is not installed."""
    name = request.param
    try:
        engine_named(name, get_registry())
    except ConfigError as error:
        pytest.skip(f"engine '{name}' is not available: {error}")
    if name == "spark":
        request.getfixturevalue("spark")  # the test session's local Spark (tests/conftest.py)
    return name


@pytest.fixture(scope="session")
def evaluate(engine: str) -> Callable[..., Any]:
    """`segmint.evaluate` on the engine under test."""
    return functools.partial(segmint.evaluate, engine=engine)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test an engine is known to differ on, as `differences.py` says."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("engine") if callspec is not None else None
        if name is not None:
            for mark in marks_for(name, item.name):
                item.add_marker(mark)
        if name == "spark" and zlib.crc32(item.name.encode()) % SPARK_SAMPLE:
            item.add_marker(pytest.mark.full)
