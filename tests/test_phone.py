"""The one phone normaliser, through every path that reads a phone number: source keys
(`key_normalize = "phone"`) and hashed identifiers (`hash_identifiers = "sha256"`)."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest

from segmint.delivery.privacy import hash_identifiers, hash_phone, normalise_phone
from segmint.phone import normalize_phone
from segmint.project.identity import normalize

CASES = [
    # (as written, the country code of numbers without + or 00, E.164 or None)
    ("+1 (650) 555-1234", None, "+16505551234"),
    ("+1 650.555.1234", None, "+16505551234"),
    ("001 650 555 1234", None, "+16505551234"),
    ("0033 1 23 45 67 89", None, "+33123456789"),
    ("+44 20 7946 0958", None, "+442079460958"),
    ("+49 151 1234 5678", None, "+4915112345678"),
    ("0049 (151) 1234-5678", None, "+4915112345678"),
    ("+49/151/12345678", None, "+4915112345678"),
    ("+1 415 555 2671 ext. 12", None, "+14155552671"),  # an extension is dropped
    ("+1 415 555 2671 x12", None, "+14155552671"),
    ("+1 415 555 2671 Extension 7", None, "+14155552671"),
    ("0151 12345678", "49", "+4915112345678"),  # national: the trunk 0 goes
    ("151 12345678", "+49", "+4915112345678"),
    ("(415) 555-2671", "1", "+14155552671"),
    ("1-415-555-2671", "1", "+14155552671"),  # 1 + 10 digits already carries the code
    ("650-555-1234 ext 5", "1", "+16505551234"),
    ("16505551234", None, None),  # no + or 00 and no country code to read it with
    ("0151 12345678", None, None),
    ("650-555-1234 ext 5", None, None),
    ("+1 650 555 CALL", None, None),  # letters: not a phone number
    ("+1 650 555 1234 / office", None, None),
    ("+1 555", None, None),  # too short for E.164
    ("+1234567890123456", None, None),  # 16 digits: too long
    ("+0 123 456 789", None, None),  # no country code starts with 0
    ("", None, None),
    ("   ", "49", None),
]


@pytest.mark.parametrize(("raw", "code", "e164"), CASES)
def test_every_path_reads_a_phone_number_alike(raw: str, code: str | None, e164: str | None) -> None:
    assert normalize_phone(pa.array([raw]), code).to_pylist() == [e164]
    assert normalize(pa.array([raw]), "phone", code).to_pylist() == [e164]  # a source's keys
    if code is None:  # hashing has no country code: a number must carry its own
        digest = None if e164 is None else hashlib.sha256(e164.encode()).hexdigest()
        assert normalise_phone(raw) == e164
        assert hash_phone(raw) == digest
        hashed = hash_identifiers(pa.table({"phone": [raw]}), {"phone": "phone"})
        assert hashed.column("phone").to_pylist() == [digest]


#: sha256("+16505551234"): a phone number in E.164, as Google Ads' Customer Match hashes it.
PHONE_DIGEST = "a2996076d3ad4af5dc818b908b3d8e354f26ededf7df0e0aa6ac354143805ee0"


def test_phone_digest_is_the_published_one() -> None:
    assert hash_phone("+1 (650) 555-1234") == PHONE_DIGEST
