"""Error excerpts of every HTTP sink scrub secrets, URL user-info and query values."""

from __future__ import annotations

import httpx
import pytest

from segmint.plugins.sinks.scrub import excerpt, scrub, url_secrets
from segmint.plugins.sinks.webhook import WebhookOptions, WebhookSink

URL = "https://bot:pa55word@hooks.example.com/in?token=tok-12345&team=ops"


@pytest.mark.parametrize(("text", "secrets", "expected"), [
    ("POST /in?token=tok-12345&team=ops HTTP/1.1", [],
     "POST /in?token=[redacted]&team=[redacted] HTTP/1.1"),
    ("see https://bot:pa55word@hooks.example.com/in", [],
     "see https://[redacted]@hooks.example.com/in"),
    ("bad signature for secret s3cr3t-value", ["s3cr3t-value"],
     "bad signature for secret [redacted]"),
    ("key abc is fine", ["abc"], "key abc is fine"),  # too short to be a secret
    ("Authorization: Bearer tok-12345", url_secrets(URL), "Authorization: Bearer [redacted]"),
    ("nothing to hide", [None], "nothing to hide"),
])
def test_scrub(text: str, secrets: list[str | None], expected: str) -> None:
    assert scrub(text, secrets) == expected


def test_url_secrets_are_user_password_and_query_values() -> None:
    assert url_secrets(URL) == ["bot", "pa55word", "tok-12345", "ops"]


def test_a_secret_is_scrubbed_before_the_excerpt_is_cut() -> None:
    text = "x" * 195 + " s3cr3t-value"
    assert "s3cr3t" not in excerpt(text, ["s3cr3t-value"])


def test_the_webhook_excerpt_of_an_echoing_receiver_leaks_nothing(monkeypatch) -> None:
    sink = WebhookSink.__new__(WebhookSink)
    sink.options = WebhookOptions(url=URL, secret_env="HOOK_SECRET")
    sink._secret = "hmac-secret-42"
    echoed = ("You sent: POST /in?token=tok-12345&team=ops HTTP/1.1 Host: hooks.example.com"
              " Authorization: Basic bot:pa55word X-Secret: hmac-secret-42")
    text = sink._excerpt(httpx.Response(400, text=echoed))
    for secret in ("tok-12345", "pa55word", "hmac-secret-42"):
        assert secret not in text
    assert "token=[redacted]" in text
