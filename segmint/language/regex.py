"""Validation of `matches` patterns with the regex engine evaluation uses (RE2)."""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc


@lru_cache(maxsize=1024)
def regex_error(pattern: str) -> str | None:
    """Why RE2 refuses `pattern`, or None when it compiles."""
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern=pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        text = str(error)
        return text.split(": ", 1)[1] if text.startswith("Invalid regular expression") else text
    return None
