"""Aggregates where the events do not decide, as rules-language.md words it."""

from __future__ import annotations

import pytest

from segmint.semantics.aggregates import empty_result, takes_earliest


@pytest.mark.parametrize("function, empty", [
    ("count", 0), ("exists", False), ("sum", None), ("avg", None), ("min", None), ("max", None),
    ("count_distinct", None), ("first", None), ("last", None),
])
def test_what_no_matching_event_gives(function, empty):
    found = empty_result(function)
    assert found == empty and type(found) is type(empty)


def test_first_takes_the_earliest_and_last_the_latest():
    assert (takes_earliest("first"), takes_earliest("last")) == (True, False)
    with pytest.raises(ValueError):
        takes_earliest("max")
