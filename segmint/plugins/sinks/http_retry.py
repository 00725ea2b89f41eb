"""What the HTTP sinks (``mailchimp``, ``webhook``) share when they retry a request: which
answers are worth another try, how long to back off, and how far off a ``Retry-After``
HTTP date is."""

from __future__ import annotations

import datetime as dt
import email.utils
import random


def retryable(status: int) -> bool:
    """Whether an HTTP status is worth another try: 429 (too many requests) or a 5xx."""
    return status == 429 or status >= 500


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retry ``attempt + 1``: ``base`` doubled per attempt, at most
    ``cap``, jittered down to between half and all of that."""
    return min(cap, base * 2 ** attempt) * random.uniform(0.5, 1.0)


def seconds_until_http_date(value: str, now: dt.datetime | None = None) -> float | None:
    """Seconds from ``now`` (default: the current time) until an HTTP date such as
    ``Wed, 21 Oct 2015 07:28:00 GMT`` (0 if it has passed), or None if it is not one."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    now = now or dt.datetime.now(dt.timezone.utc)
    return max(0.0, (when - now).total_seconds())
