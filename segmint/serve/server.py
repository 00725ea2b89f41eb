"""How `segmint serve` runs on uvicorn: bounded request heads, and a deadline for them.

uvicorn's HTTP protocols read a request head (request line and headers) of any size:
httptools buffers it all, parsing on the event loop, so one client sending a 100 MB header
stalls every other client. segmint serve runs uvicorn with protocols that refuse a head
larger than `HEAD_LIMIT` bytes as soon as that much has arrived (``431``, JSON, the
connection closed), and close a connection whose request head is not complete
`header_timeout` seconds after it opened, or after its previous answer, so slow clients
cannot hold connections for ever. httptools is used when installed (``segmint[serve]``
installs it), else h11 with its own bound on incomplete events. Bodies are bounded by the
app (`segmint.serve.app`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Largest request head (request line and headers) read, in bytes.
HEAD_LIMIT = 32 * 1024
#: Seconds a client has to send a request's head (and `POST /v1/evaluate`'s body).
HEADER_TIMEOUT = 10.0

_TOO_LARGE = json.dumps({"error": f"the request head is larger than {HEAD_LIMIT} bytes"}).encode()
_REFUSAL = (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(_TOO_LARGE) + _TOO_LARGE)


class HeadDeadline:
    """Closes a connection still waiting for (the rest of) a request head at its deadline.

    Mixed into a uvicorn protocol: armed when the connection opens and after each answer,
    cancelled when a head is complete.
    """

    header_timeout = HEADER_TIMEOUT
    _deadline: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def awaiting_head(self) -> bool:
        raise NotImplementedError

    def arm_deadline(self) -> None:
        self.cancel_deadline()
        self._deadline = self.loop.call_later(self.header_timeout, self._overdue)

    def cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _overdue(self) -> None:
        if self.awaiting_head() and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self.arm_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self.arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_deadline()
        super().connection_lost(exc)  # type: ignore[misc]


class BoundedH11Protocol(HeadDeadline, H11Protocol):
    """uvicorn's h11 protocol (heads bounded by h11 itself) with a head deadline."""

    def awaiting_head(self) -> bool:
        import h11

        return self.conn.their_state is h11.IDLE


def _httptools_protocol() -> type | None:
    """The bounded httptools protocol, or None without httptools."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return None

    class BoundedHttpToolsProtocol(HeadDeadline, HttpToolsProtocol):
        """uvicorn's httptools protocol, counting each head's bytes as they arrive."""

        _head_bytes = 0
        _in_head = True

        def awaiting_head(self) -> bool:
            return self._in_head

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_head and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > HEAD_LIMIT:
                    self.transport.write(_REFUSAL)
                    self.transport.close()

        def on_message_begin(self) -> None:
            self._in_head, self._head_bytes = True, 0
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._in_head = False
            self.cancel_deadline()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._in_head, self._head_bytes = True, 0

    return BoundedHttpToolsProtocol


def server_config(app: Any, *, host: str, port: int, header_timeout: float = HEADER_TIMEOUT,
                  **options: Any) -> uvicorn.Config:
    """The uvicorn configuration `segmint serve` runs `app` with."""
    base = _httptools_protocol() or BoundedH11Protocol
    protocol = type(base.__name__, (base,), {"header_timeout": header_timeout})
    return uvicorn.Config(app, host=host, port=port, http=protocol,
                          h11_max_incomplete_event_size=HEAD_LIMIT, **options)
