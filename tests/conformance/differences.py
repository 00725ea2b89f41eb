"""Known differences between engines: the one place that says where an engine does not
give what the language promises, and why.

Each `Difference` names an engine, a test (its name, optionally with the start of its
parameter id: ``"test_strings[duckdb-s matches"``) and the reason. The conformance
suite expects such a test to fail on that engine, strictly: once the engine conforms the
test passes, the suite fails, and the entry must go. Today no engine differs.
"""

from __future__ import annotations

import attrs
import pytest


@attrs.frozen
class Difference:
    engine: str
    test: str
    reason: str


DIFFERENCES: tuple[Difference, ...] = ()


def _matches(difference: Difference, engine: str, test: str) -> bool:
    """Whether `difference` is about this test id on this engine. The engine's name is the
    first parameter of a conformance test's id (``test_x[arrow-...]``)."""
    if difference.engine != engine:
        return False
    name, _, params = test.partition("[")
    wanted, _, wanted_params = difference.test.partition("[")
    return name == wanted and (not wanted_params or params.startswith(wanted_params))


def marks_for(engine: str, test: str,
              differences: tuple[Difference, ...] = DIFFERENCES) -> list[pytest.MarkDecorator]:
    """The xfail marks of the differences that apply to a test id on an engine."""
    return [pytest.mark.xfail(reason=f"{d.engine}: {d.reason}", strict=True)
            for d in differences if _matches(d, engine, test)]
