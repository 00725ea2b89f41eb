"""Error text from HTTP receivers made safe to print: one scrubber for every sink.

A receiver's answer may echo the request (its line, headers, URL): a refused batch's
excerpt must not print what the request carried. `scrub` replaces the configured secrets
(tokens, API keys, the values of the sink URL's user-info and query), then any URL
user-info (``https://user:pw@host``) and every query value (``?token=...``) left.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable

REDACTED = "[redacted]"
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")
_QUERY_VALUE = re.compile(r"([?&;][^=&;#\s]+=)[^&;#\s\"'<>]+")
#: Shorter configured values are not replaced (they would blank out ordinary words).
_SHORTEST_SECRET = 4


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with the secrets, URL user-info and query values replaced by ``[redacted]``."""
    for secret in sorted({s for s in secrets if s and len(s) >= _SHORTEST_SECRET},
                         key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _USERINFO.sub(lambda m: m[1] + REDACTED + "@", text)
    return _QUERY_VALUE.sub(lambda m: m[1] + REDACTED, text)


def url_secrets(url: str) -> list[str]:
    """The values a URL carries that must not be printed: user, password, query values."""
    parts = urllib.parse.urlsplit(url)
    values = [parts.username, parts.password]
    values += [v for _, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=False)]
    return [v for v in values if v]


def excerpt(text: str, secrets: Iterable[str | None] = (), limit: int = 200) -> str:
    """The start of a receiver's answer on one line, scrubbed before it is cut."""
    text = scrub(" ".join(text.split()), secrets)
    return text[:limit] + ("…" if len(text) > limit else "")
