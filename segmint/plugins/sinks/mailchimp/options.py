"""The ``mailchimp`` sink's options and its error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import attrs

from segmint.errors import SegmintError

MAX_BATCH = 500
MAX_CONNECTIONS = 10


def _between(low: float, high: float) -> Callable[[Any, attrs.Attribute, Any], None]:
    def check(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}, got {value}", attribute)
    return check


@attrs.frozen
class MailchimpOptions:
    """Options of the ``mailchimp`` sink."""

    list_id: str = attrs.field(metadata={"help": "the audience (list) id"})
    api_key_env: str = attrs.field(default="MAILCHIMP_API_KEY", metadata={
        "help": "the environment variable holding the API key (never the key itself)"})
    email_column: str = attrs.field(default="email", metadata={
        "help": "the profile column with the email address"})
    consent_column: str | None = attrs.field(default=None, metadata={
        "help": "the profile column saying whether the customer agreed to marketing email"})
    without_consent: Literal["skip", "transactional"] = attrs.field(default="skip", metadata={
        "help": "members without consent: skip (leave out) or transactional (tag them; new"
                " contacts are created as transactional, never subscribed)"})
    segments: list[str] = attrs.field(factory=list, metadata={
        "help": "the segments to sync, as tags; all segments when empty"})
    tag_prefix: str = attrs.field(default="", metadata={
        "help": "put before each segment name to make its tag name"})
    base_url: str | None = attrs.field(default=None, metadata={
        "help": "the API's address; by default from the key's data center (for tests)"})
    max_connections: int = attrs.field(default=MAX_CONNECTIONS, validator=_between(1, MAX_CONNECTIONS),
                                       metadata={"help": "requests in flight at once (at most 10)"})
    batch_size: int = attrs.field(default=MAX_BATCH, validator=_between(1, MAX_BATCH),
                                  metadata={"help": "members per request (at most 500)"})
    max_retries: int = attrs.field(default=8, validator=_between(0, 100), metadata={
        "help": "retries of a request after 429, 5xx or a dropped connection"})
    retry_base_delay: float = attrs.field(default=1.0, validator=_between(0, 3600), metadata={
        "help": "seconds before the first retry; doubles each time, with jitter"})
    max_retry_delay: float = attrs.field(default=120.0, validator=_between(0, 3600), metadata={
        "help": "the longest wait before a retry, Retry-After included"})
    timeout: float = attrs.field(default=120.0, validator=_between(1, 3600), metadata={
        "help": "seconds to wait for an answer"})
    retry_failed: bool = attrs.field(default=False, metadata={
        "help": "try again members that failed permanently in earlier runs"})


class MailchimpError(SegmintError):
    """Mailchimp refused a request for good (a 4xx other than 429, or retries ran out)."""
