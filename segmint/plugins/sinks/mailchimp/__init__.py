"""The built-in ``mailchimp`` sink: each chosen segment becomes a tag on a Mailchimp audience.

It syncs the difference against what it last delivered: members who entered a segment get
its tag (created as contacts first when the audience does not have them), members who left
lose it, unchanged members are not sent again. It speaks the Marketing API v3:

- contacts are created with the batch subscribe endpoint (``POST /lists/{list_id}``, at
  most 500 per request) with ``update_existing`` false, so the ``status`` it sends only
  applies to contacts it creates (the batch form of ``status_if_new``): an existing
  contact, subscribed, unsubscribed or cleaned, keeps its status. A new contact is
  ``subscribed`` only where the profile's consent column says so;
- tags are static segments: created with ``POST /lists/{list_id}/segments`` and filled or
  emptied with ``POST /lists/{list_id}/segments/{segment_id}`` (``members_to_add`` and
  ``members_to_remove``, at most 500 each);
- at most 10 connections at once; the data center comes from the API key's suffix
  (``…-us6`` → ``https://us6.api.mailchimp.com/3.0``); the key is read from an environment
  variable, sent as HTTP basic auth, and never written anywhere (it is cut out of any error
  text);
- 429, 5xx and dropped connections are retried with exponential backoff and jitter,
  honouring Retry-After, up to ``max_retries`` times; per-member errors (an invalid address,
  "Member In Compliance State") are recorded, reported and not retried on later runs.

Every confirmed batch is appended to a journal under the state directory before the next
one is counted as done, so a run killed at any moment and run again resumes where it
stopped: nothing already confirmed is sent again and nothing is missed.
"""
from __future__ import annotations

from segmint.plugin.hookspecs import hookimpl
from segmint.plugins.sinks.mailchimp.options import MailchimpError, MailchimpOptions
from segmint.plugins.sinks.mailchimp.sink import MailchimpSink, is_consent, subscriber_hash

__all__ = ["MailchimpError", "MailchimpOptions", "MailchimpSink", "is_consent", "subscriber_hash"]


@hookimpl
def register_sinks() -> list[type]:
    return [MailchimpSink]
