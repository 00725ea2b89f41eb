"""One consent vocabulary: the project's [consent] columns and the Mailchimp sink read the
same values the same way."""

from __future__ import annotations

import pyarrow as pa
import pytest

from segmint.delivery.privacy import consent_mask
from segmint.plugins.sinks.mailchimp import is_consent

#: (a consent column's value, whether it means yes)
VALUES = [
    (True, True), (False, False), (None, False), (1, True), (0, False), (2.5, True), (0.0, False),
    ("yes", True), ("Y", True), (" TRUE ", True), ("t", True), ("1", True), ("on", True),
    ("opt-in", True), ("opt_in", True), ("optin", True), ("opted-in", True), ("opted_in", True),
    ("Opted In", True), ("subscribed", True), ("granted", True), ("consented", True),
    ("no", False), ("false", False), ("0", False), ("off", False), ("opted-out", False),
    ("unsubscribed", False), ("", False), ("maybe", False),
]


@pytest.mark.parametrize(("value", "yes"), VALUES, ids=[repr(v) for v, _ in VALUES])
def test_every_consent_reader_agrees(value, yes):
    assert is_consent(value) is yes
    if value is None or isinstance(value, str):
        column = pa.array([value], pa.string())
    elif isinstance(value, bool):
        column = pa.array([value], pa.bool_())
    else:
        column = pa.array([value])
    assert consent_mask(column, "c").to_pylist() == [yes]
