"""The list of known engine differences applies to exactly the tests it names."""

from __future__ import annotations

import pytest

from differences import DIFFERENCES, Difference, marks_for

KNOWN = (Difference("duckdb", "test_strings[duckdb-s matches", "RE2 flags differ"),
         Difference("spark", "test_kleene_logic", "not yet"))


@pytest.mark.parametrize("engine, test, applies", [
    ("duckdb", "test_strings[duckdb-s matches \"^a\"-expected3]", True),
    ("duckdb", "test_strings[duckdb-s starts with \"a\"-expected0]", False),
    ("arrow", "test_strings[arrow-s matches \"^a\"-expected3]", False),
    ("spark", "test_kleene_logic[spark-a and b-expected0]", True),
    ("spark", "test_kleene_logic_more[spark-a]", False),
])
def test_a_difference_marks_only_the_tests_it_names(engine, test, applies):
    marks = marks_for(engine, test, KNOWN)
    assert len(marks) == int(applies)
    if applies:
        assert marks[0].kwargs["strict"] is True and marks[0].kwargs["reason"].startswith(engine)


def test_every_difference_has_a_reason():
    assert all(d.reason.strip() for d in DIFFERENCES)
