"""The one "did you mean": which known name a mistyped one was meant to be.

Every message that suggests a name (a rule's column or segment, a project key, a plugin, an
option, an engine) asks `closest`, so one typo gets the same suggestion everywhere. Names
are case-sensitive, so a name differing only in case is the best guess; otherwise the most
similar by difflib's ratio, if similar enough.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: How similar (difflib's ratio, 0–1) a known name must be to be suggested.
CUTOFF = 0.65


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The known name `word` most likely meant, or None when none is close."""
    candidates = [c for c in dict.fromkeys(choices) if c != word]
    same = [c for c in candidates if c.lower() == word.lower()]
    close = same or difflib.get_close_matches(word, candidates, n=1, cutoff=CUTOFF)
    return close[0] if close else None


def name_hint(word: str, choices: Iterable[str]) -> str | None:
    """``did you mean 'x'?`` when one of `choices` is close to `word`, else None: a
    diagnostic's hint (the rules checker shows it on a line of its own)."""
    close = closest(word, choices)
    return f"did you mean '{close}'?" if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when one of `choices` is close to `word`, else ``""``:
    written straight after the unknown name in a message (the same words as `name_hint`)."""
    found = name_hint(word, choices)
    return f" ({found})" if found else ""
