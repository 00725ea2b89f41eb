"""Validation of `matches` patterns with RE2, the regular expressions of the language.

Every engine evaluates RE2 patterns (the arrow and DuckDB engines run RE2 itself); this is
the check `Engine.pattern_error` makes by default, with the RE2 that pyarrow ships, so a
pattern RE2 refuses is a check-time error whatever the engine.
"""

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
