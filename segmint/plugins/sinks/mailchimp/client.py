"""HTTP for the ``mailchimp`` sink: an httpx client with Mailchimp's auth, a bound on requests
in flight, and retries with backoff that honour Retry-After."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from segmint.plugins.sinks.mailchimp.options import MailchimpError
from segmint.plugins.sinks.http_retry import backoff_delay, retryable, seconds_until_http_date

if TYPE_CHECKING:
    from segmint.plugins.sinks.mailchimp.sink import MailchimpSink

log = logging.getLogger("segmint.mailchimp")


class Client:
    """An httpx client with Mailchimp's auth, a connection limit and retries."""

    def __init__(self, sink: MailchimpSink, key: str) -> None:
        import httpx

        self._httpx = httpx
        self.sink = sink
        options = sink.options
        self.client = httpx.Client(
            base_url=sink.base_url(key),
            auth=httpx.BasicAuth("segmint", key),
            limits=httpx.Limits(max_connections=options.max_connections,
                                max_keepalive_connections=options.max_connections),
            timeout=options.timeout,
            headers={"User-Agent": "segmint-mailchimp-sink"},
        )
        # The pool bounds connections; this bounds requests in flight (and so waits).
        self.slots = threading.BoundedSemaphore(options.max_connections)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def request(self, method: str, path: str, *, json_body: Any = None,
                params: dict[str, Any] | None = None) -> Any:
        options = self.sink.options
        httpx = self._httpx
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                with self.slots:
                    response = self.client.request(method, path, json=json_body, params=params)
            except httpx.TransportError as error:
                reason = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 300:
                    return response.json() if response.content else None
                if not retryable(response.status_code):
                    raise MailchimpError(self._problem(method, path, response))
                reason = f"HTTP {response.status_code}"
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if attempt >= options.max_retries:
                raise MailchimpError(
                    f"sink '{self.sink.sink_name}': {method} {path} failed after"
                    f" {attempt + 1} attempts; last: {self.sink._redact(reason)}")
            delay = backoff_delay(attempt, options.retry_base_delay, options.max_retry_delay)
            if retry_after is not None:
                delay = max(delay, min(retry_after, options.max_retry_delay))
            log.warning("Mailchimp %s %s: %s; retrying in %.2fs", method, path,
                        self.sink._redact(reason), delay)
            time.sleep(delay)
            attempt += 1

    def _problem(self, method: str, path: str, response: Any) -> str:
        try:
            body = response.json()
            title, detail = body.get("title", ""), body.get("detail", "")
        except ValueError:
            title, detail = "", response.text[:200]
        text = (f"sink '{self.sink.sink_name}': Mailchimp refused {method} {path}:"
                f" {response.status_code} {title}: {detail}").rstrip(": ")
        return self.sink._redact(text)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    return seconds_until_http_date(value)
