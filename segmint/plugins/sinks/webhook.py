"""The built-in ``webhook`` sink: POSTs the members who entered or left each segment as JSON.

Each request carries one batch (one segment, entered or exited members), signed with
HMAC-SHA256 of the body (``X-Segmint-Signature: sha256=<hex>``, the secret read from an
environment variable) and an ``Idempotency-Key`` that stays the same when the batch is
retried or re-sent after an interrupted run. 429 and 5xx answers and dropped connections
are retried with exponential backoff and jitter, honouring ``Retry-After``. Only changes
since the last confirmed delivery are sent (`segmint.delivery.sync.DiffSink`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import time
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from segmint.errors import ConfigError, SegmintError
from segmint.plugin.hookspecs import hookimpl
from segmint.plugin.api import Delivery, PluginContext, RunResult
from segmint import ADD, REMOVE, UPDATE, Batch, DiffSink

from segmint.plugins.sinks.http_retry import backoff_delay, retryable, seconds_until_http_date
from segmint.plugins.sinks.scrub import excerpt, url_secrets

if TYPE_CHECKING:
    import httpx

SIGNATURE_HEADER = "X-Segmint-Signature"
#: The ``event`` of a batch: members who entered, left, or stayed with changed fields.
EVENTS = {ADD: "entered", REMOVE: "exited", UPDATE: "updated"}
#: Longest wait a Retry-After header may ask for before the sink gives up instead.
MAX_RETRY_AFTER = 600.0


def _url(instance: Any, attribute: Any, value: str) -> None:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL", attribute)


def _positive(instance: Any, attribute: Any, value: float) -> None:
    if value is not None and value <= 0:
        raise ValueError("must be greater than 0", attribute)


@attrs.frozen
class WebhookOptions:
    """Options of the ``webhook`` sink."""

    url: str = attrs.field(validator=_url, metadata={"help": "where to POST the batches"})
    secret_env: str = attrs.field(
        metadata={"help": "the environment variable holding the HMAC signing secret"})
    segments: list[str] = attrs.field(
        factory=list, metadata={"help": "segments to send; all but holdouts when empty"})
    fields: list[str] = attrs.field(
        factory=list, metadata={"help": "profile columns sent with entered and updated members"})
    batch_size: int = attrs.field(default=500, validator=_positive,
                                  metadata={"help": "members per request"})
    max_retries: int = attrs.field(default=6, metadata={"help": "retries of one request"})
    timeout: float = attrs.field(default=10.0, validator=_positive,
                                 metadata={"help": "seconds to wait for an answer"})
    backoff: float = attrs.field(default=0.5, validator=_positive,
                                 metadata={"help": "first retry delay in seconds, doubled each time"})
    max_backoff: float = attrs.field(default=30.0, validator=_positive,
                                     metadata={"help": "longest delay between retries"})


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def redact(url: str) -> str:
    """A URL without credentials, query or fragment, safe to print."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (seconds or an HTTP date), if any."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    return seconds_until_http_date(value, now)


class WebhookSink(DiffSink):
    """Sends entered and exited members of each segment to a URL, signed, in batches."""

    name = "webhook"
    description = "signed JSON POSTs of the members who entered or left each segment"
    Options = WebhookOptions

    #: How the sink waits between retries (tests replace it).
    sleep = staticmethod(time.sleep)

    def __init__(self, sink_name: str, options: Any, context: PluginContext) -> None:
        super().__init__(sink_name, options, context)
        self._client: httpx.Client | None = None
        self._secret: str | None = None
        self._rows: dict[Any, dict[str, Any]] | None = None

    def profile_columns(self) -> Sequence[str]:
        return list(self.options.fields)

    def target(self) -> str:
        return redact(self.options.url)

    def deliver(self, result: RunResult, *, dry_run: bool = False) -> Delivery:
        if not dry_run:
            self._secret = os.environ.get(self.options.secret_env)
            if not self._secret:
                raise ConfigError(f"sink '{self.sink_name}': the environment variable "
                                  f"'{self.options.secret_env}' (secret_env) is not set")
        self._rows = None
        try:
            import httpx  # here, not at import: only a delivery needs it

            with httpx.Client(timeout=self.options.timeout) as self._client:
                return super().deliver(result, dry_run=dry_run)
        finally:
            self._client = None
            self._secret = None

    def send(self, batch: Batch, result: RunResult) -> Sequence[Any]:
        body = json.dumps(self.payload(batch, result), separators=(",", ":"),
                          default=str).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": batch.idempotency_key,
            SIGNATURE_HEADER: sign(self._secret or "", body),
            "User-Agent": "segmint-webhook",
        }
        response = self._post(body, headers)
        return _rejected(response)

    def payload(self, batch: Batch, result: RunResult) -> dict[str, Any]:
        """The JSON body of one batch."""
        with_fields = batch.action != REMOVE and self.options.fields
        rows = self._profile_rows(result) if with_fields else {}
        members = [{"key": key, **rows.get(key, {})} for key in batch.keys]
        return {
            "sink": self.sink_name,
            "run_id": batch.id.rpartition("/")[0],
            "batch": batch.id,
            "segment": batch.segment,
            "event": EVENTS[batch.action],
            "members": members,
        }

    def _profile_rows(self, result: RunResult) -> dict[Any, dict[str, Any]]:
        if self._rows is None:
            present = [f for f in self.options.fields if f in result.profiles.column_names]
            table = result.profiles.select([result.key, *present])
            self._rows = {row.pop(result.key): row for row in table.to_pylist()}
        return self._rows

    def _excerpt(self, response: httpx.Response) -> str:
        """The answer's start, without the secret or what the sink's URL carries."""
        return excerpt(response.text, [self._secret, *url_secrets(self.options.url)])

    def _post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        import httpx

        assert self._client is not None
        options = self.options
        last = ""
        for attempt in range(options.max_retries + 1):
            wait = None
            try:
                response = self._client.post(options.url, content=body, headers=headers)
            except httpx.TransportError as error:
                last = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return response
                if not retryable(status):
                    raise SegmintError(f"sink '{self.sink_name}': {self.target()} refused a batch: "
                                       f"HTTP {status} {self._excerpt(response)}")
                last = f"HTTP {status}"
                wait = retry_after(response.headers.get("Retry-After"))
                if wait is not None and wait > MAX_RETRY_AFTER:
                    raise SegmintError(f"sink '{self.sink_name}': {self.target()} asked to wait "
                                       f"{wait:.0f} s (Retry-After); run again later")
            if attempt == options.max_retries:
                break
            if wait is None:
                wait = backoff_delay(attempt, options.backoff, options.max_backoff)
            self.sleep(wait)
        raise SegmintError(f"sink '{self.sink_name}': {self.target()} failed "
                           f"{options.max_retries + 1} times (last: {last}); what was confirmed "
                           "is kept and the next run resumes")


def _rejected(response: httpx.Response) -> list[Any]:
    """Keys the receiver refused for good: ``{"rejected": [...]}`` in a JSON answer."""
    if "json" not in response.headers.get("Content-Type", ""):
        return []
    try:
        data = response.json()
    except ValueError:
        return []
    rejected = data.get("rejected") if isinstance(data, dict) else None
    return list(rejected) if isinstance(rejected, list) else []




@hookimpl
def register_sinks() -> list[type]:
    return [WebhookSink]
