"""The consent vocabulary: which values of a consent column mean yes, for every part of
segmint that reads one (the project's ``[consent]`` purposes, sinks such as Mailchimp).

Yes is true, a non-zero number, or one of `YES` compared without case, spaces, ``-`` or
``_`` ("Opted In", "opted-in" and "opted_in" are one word). Null, and anything else, is no.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

#: The words that mean yes, as `normal_word` writes them.
YES = frozenset({"true", "t", "yes", "y", "1", "on", "optin", "optedin", "subscribed",
                 "granted", "consented"})
_SEPARATORS = r"[\s_\-]+"


def normal_word(text: str) -> str:
    """A consent word as the vocabulary compares it: lower case, no spaces, ``-`` or ``_``."""
    return re.sub(_SEPARATORS, "", text.strip().lower())


def says_yes(value: Any) -> bool:
    """Whether one consent value means yes."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0 and value == value  # NaN is no
    return normal_word(str(value)) in YES


def yes_mask(values: pa.Array) -> pa.Array | None:
    """True where each value of a column means yes (null is no); None for a column type
    that cannot hold consent."""
    if pa.types.is_boolean(values.type):
        mask = values
    elif pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        mask = pc.not_equal(values, 0)
    elif pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        words = pc.replace_substring_regex(pc.utf8_lower(values), pattern=_SEPARATORS, replacement="")
        mask = pc.is_in(words, value_set=pa.array(sorted(YES)))
    else:
        return None
    return pc.fill_null(mask, False)
