"""Consent and identifier hashing, applied to a run's result before a sink sees it.

A project names a consent column per purpose (``[consent] email = "email_consent"``) and
its contact identifier columns (``[identifiers] email = "email"``); a sink with
``purpose = "email"`` gets only the members whose consent column says yes, and one with
``hash_identifiers = "sha256"`` gets normalised, SHA-256-hashed identifiers, as ad
platforms' customer-match uploads expect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from segmint.delivery.consent import yes_mask
from segmint.errors import DataError
from segmint.phone import normalize_phone
from segmint.plugin.api import RunResult


def normalise_email(value: str) -> str:
    """Trimmed and lower-cased, as Google Ads and Meta ask before hashing."""
    return value.strip().lower()


def normalise_phone(value: str) -> str | None:
    """E.164 (``+16505551234``), as `segmint.phone` writes keys, or None (not sent)."""
    return normalize_phone(pa.array([value], pa.string()))[0].as_py()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return sha256_hex(normalise_email(value))


def hash_phone(value: str | None) -> str | None:
    if value is None:
        return None
    normal = normalise_phone(str(value))
    return None if normal is None else sha256_hex(normal)


_HASHERS = {"email": hash_email, "phone": hash_phone}


def hash_identifiers(profiles: pa.Table, columns: Mapping[str, str]) -> pa.Table:
    """`profiles` with each identifier column (by kind: email, phone) normalised and hashed."""
    for kind, column in columns.items():
        if column not in profiles.column_names:
            continue
        values = profiles.column(column)
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
                or pa.types.is_integer(values.type)):
            raise DataError(f"identifier column '{column}' ({kind}) must hold text, "
                            f"not {values.type}")
        if kind == "phone":  # normalised as one column, then hashed
            normal = normalize_phone(values.cast(pa.string())).to_pylist()
            hashed = pa.array([None if v is None else sha256_hex(v) for v in normal], pa.string())
        else:
            hasher = _HASHERS[kind]
            hashed = pa.array([hasher(None if v is None else str(v)) for v in values.to_pylist()],
                              pa.string())
        profiles = profiles.set_column(profiles.column_names.index(column), column, hashed)
    return profiles


def consent_mask(values: pa.ChunkedArray | pa.Array, column: str) -> pa.Array:
    """True where the consent column says yes (`segmint.delivery.consent`); null and
    anything else is no."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    mask = yes_mask(values)
    if mask is None:
        raise DataError(f"consent column '{column}' must be true/false, a number or text, "
                        f"not {values.type}")
    return mask


@attrs.frozen
class Filtered:
    result: RunResult
    dropped: int  # members of at least one segment left out for lack of consent


def apply_consent(result: RunResult, column: str, *, segment: bool = False,
                  contacts: Mapping[str, str] | None = None) -> Filtered:
    """Only the customers whose consent column (a profile column) says yes, or, with
    `segment`, the members of that segment. An address in one of the `contacts` columns
    (column: kind, "email" or "phone") that several profiles share needs every one of
    those profiles' consent: one profile without it withholds the address from all."""
    profiles = result.profiles
    table = result.membership if segment else profiles
    if column not in table.column_names:
        raise DataError(f"consent column '{column}' is not in the profile data")
    keys = table.filter(consent_mask(table.column(column), column)).column(result.key).combine_chunks()
    keys = _without_shared_refusals(profiles, result.key, keys, contacts or {})
    membership = result.membership
    keep = pc.is_in(membership.column(result.key), value_set=keys)
    dropped_rows = membership.filter(pc.invert(keep))
    dropped = int(pc.sum(_is_member(dropped_rows, result.key)).as_py() or 0) if dropped_rows.num_rows else 0
    kept_profiles = profiles.filter(pc.is_in(profiles.column(result.key), value_set=keys))
    return Filtered(attrs.evolve(result, membership=membership.filter(keep), profiles=kept_profiles),
                    dropped)


def _without_shared_refusals(profiles: pa.Table, key: str, keys: pa.Array,
                             contacts: Mapping[str, str]) -> pa.Array:
    """The consenting `keys` less those whose address (in a `contacts` column, compared
    normalised) is also the address of a profile without consent."""
    profile_keys = profiles.column(key).combine_chunks()
    agreed = pc.is_in(profile_keys, value_set=keys)
    refused = pc.invert(agreed)
    withheld = pa.array([False] * profiles.num_rows)
    for column, kind in contacts.items():
        if column not in profiles.column_names:
            continue
        values = profiles.column(column).combine_chunks()
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
                or pa.types.is_integer(values.type)):
            continue
        values = values.cast(pa.string())
        if kind == "phone":
            normal = normalize_phone(values)
        else:
            normal = pc.utf8_lower(pc.utf8_trim_whitespace(values))
            normal = pc.if_else(pc.equal(normal, ""), pa.scalar(None, pa.string()), normal)
        refused_addresses = pc.drop_null(normal.filter(refused))
        if len(refused_addresses):
            shared = pc.fill_null(pc.is_in(normal, value_set=pc.unique(refused_addresses)), False)
            withheld = pc.or_(withheld, pc.and_(agreed, shared))
    if not pc.any(withheld).as_py():
        return keys
    return profile_keys.filter(pc.and_(agreed, pc.invert(withheld)))


def _is_member(membership: pa.Table, key: str) -> pa.Array:
    """True for rows in at least one segment or with a segmentation label."""
    member = pa.array([False] * membership.num_rows)
    for name in membership.column_names:
        if name == key:
            continue
        column = membership.column(name)
        flag = column if pa.types.is_boolean(column.type) else pc.is_valid(column)
        member = pc.or_(member, pc.fill_null(flag, False))
    return member
