"""Consent filtering and identifier hashing, against published customer-match test vectors."""

from __future__ import annotations

import datetime as dt
import hashlib

import pyarrow as pa
import pytest

from segmint.errors import DataError
from segmint.plugin.api import RunResult
from segmint.delivery.privacy import (
    apply_consent, consent_mask, hash_email, hash_identifiers, normalise_email,
)

# sha256("test@example.com"), the example digest of Meta's and Google's customer-match docs.
TEST_AT_EXAMPLE = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"


@pytest.mark.parametrize(
    ("email", "digest"),
    [
        ("test@example.com", TEST_AT_EXAMPLE),
        ("  Test@Example.COM\t", TEST_AT_EXAMPLE),
        ("TEST@EXAMPLE.COM", TEST_AT_EXAMPLE),
    ],
)
def test_emails_hash_to_the_published_digest(email: str, digest: str) -> None:
    assert hash_email(email) == digest


def test_email_edge_cases() -> None:  # phone numbers: tests/test_phone.py
    assert hash_email(None) is None and hash_email("   ") is None
    assert normalise_email(" A@B.C ") == "a@b.c"


def test_hash_identifiers_replaces_only_the_declared_columns() -> None:
    table = pa.table({"id": ["1", "2"], "email": ["Test@Example.com ", None],
                      "phone": ["+16505551234", "bad"], "name": ["Ann", "Bo"]})
    hashed = hash_identifiers(table, {"email": "email", "phone": "phone"})
    assert hashed.column_names == table.column_names
    assert hashed.column("email").to_pylist() == [TEST_AT_EXAMPLE, None]
    assert hashed.column("phone").to_pylist() == [hashlib.sha256(b"+16505551234").hexdigest(), None]
    assert hashed.column("name").equals(table.column("name"))
    with pytest.raises(DataError, match="identifier column 'email' \\(email\\) must hold text"):
        hash_identifiers(pa.table({"email": [1.5]}), {"email": "email"})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pa.array([True, False, None]), [True, False, False]),
        (pa.array([1, 0, None]), [True, False, False]),
        (pa.array(["yes", " TRUE ", "no", "", None, "opt-in", "1", "0"]),
         [True, True, False, False, False, True, True, False]),
    ],
)
def test_consent_values(values: pa.Array, expected: list[bool]) -> None:
    assert consent_mask(values, "c").to_pylist() == expected


def test_apply_consent_drops_members_without_it_and_counts_them() -> None:
    membership = pa.table({"id": ["1", "2", "3", "4"], "vip": [True, True, False, False],
                           "tier": [None, None, "gold", None]})
    profiles = pa.table({"id": ["1", "2", "3", "4"], "ok": [True, False, False, None]})
    run = RunResult(membership, profiles, "id", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    filtered = apply_consent(run, "ok")
    assert filtered.result.membership.column("id").to_pylist() == ["1"]
    assert filtered.result.profiles.column("id").to_pylist() == ["1"]
    assert filtered.dropped == 2  # 2 (vip) and 3 (gold); 4 is in no segment


def test_a_shared_address_needs_every_profiles_consent() -> None:
    """1 and 2 share an email (2 refused), 3 and 4 a phone (4 refused); 5 consents alone."""
    keys = ["1", "2", "3", "4", "5"]
    membership = pa.table({"id": keys, "vip": [True] * 5})
    profiles = pa.table({
        "id": keys,
        "ok": [True, False, True, False, True],
        "email": ["Ann@X.com", " ann@x.com ", "cy@x.com", None, "eve@x.com"],
        "phone": [None, None, "+1 650 555 1234", "+1 (650) 555-1234 ext. 9", "+16505550000"],
    })
    run = RunResult(membership, profiles, "id", dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    contacts = {"email": "email", "phone": "phone"}
    assert apply_consent(run, "ok").result.profiles.column("id").to_pylist() == ["1", "3", "5"]
    filtered = apply_consent(run, "ok", contacts=contacts)
    assert filtered.result.membership.column("id").to_pylist() == ["5"]
    assert filtered.result.profiles.column("id").to_pylist() == ["5"]
    assert filtered.dropped == 4
    by_segment = RunResult(membership.append_column("agreed", profiles.column("ok")), profiles,
                           "id", run.as_of)
    assert apply_consent(by_segment, "agreed", segment=True, contacts=contacts
                         ).result.profiles.column("id").to_pylist() == ["5"]
