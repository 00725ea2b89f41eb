"""The ASGI application: visitor lookups, real-time evaluation and the page snippet.

Routes (all under ``/v1``):

- ``GET  /v1/visitors/{id}/segments`` — the visitor's segments and labels in the latest
  run (an unknown visitor gets empty ones); needs a token.
- ``POST /v1/evaluate`` — the project's rules on a posted profile; needs the full token.
- ``GET  /v1/segmint.js`` — the page snippet (public).
- ``GET  /v1/health`` — whether a snapshot is loaded, and which run (public).

Tokens are compared in constant time and never logged. CORS allows only the configured
origins; a preflight needs no token. Every answer is JSON, 404 and 405 too. A body is read
only up to `MAX_BODY` bytes, and within `ServeConfig.body_timeout` seconds; JSON nested
deeper than `MAX_DEPTH` or holding text that is not Unicode (a lone surrogate) is the
client's mistake (400), never a server error.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from segmint.errors import SegmintError

from segmint.serve.index import SnapshotWatcher
from segmint.serve.realtime import NotEvaluable, RealtimeEvaluator

log = logging.getLogger("segmint.serve")

FULL = "full"
LOOKUP = "lookup"
MAX_BODY = 64 * 1024
#: Deepest nesting of a request's JSON (a profile is one object of values and lists).
MAX_DEPTH = 32
#: Refusals that leave a body unread end the connection, so nothing more of it is read.
_CLOSE = {"Connection": "close"}


@attrs.frozen
class ServeConfig:
    """What the app needs; `segmint.serve.cli` builds it from the project and flags."""

    state_dir: Path
    #: token → scope ("full": every endpoint; "lookup": visitor lookups only, for pages).
    tokens: dict[str, str] = attrs.field(repr=False)
    cors_origins: tuple[str, ...] = ()
    poll_interval: float = 1.0
    evaluator: RealtimeEvaluator | None = attrs.field(default=None, repr=False)
    #: Why there is no evaluator, for the answer of POST /v1/evaluate.
    evaluator_unavailable: str = ""
    #: Seconds a client has to send the body of POST /v1/evaluate.
    body_timeout: float = 10.0


def create_app(config: ServeConfig, watcher: SnapshotWatcher | None = None) -> Starlette:
    """The Starlette app; it loads the latest snapshot at startup and polls for new ones."""
    if not config.tokens:
        raise SegmintError("segmint serve needs a bearer token (see docs/serve.md)")
    watcher = watcher or SnapshotWatcher(config.state_dir)
    script = resources.files("segmint.serve").joinpath("segmint.js").read_bytes()
    tokens = [(token.encode(), scope) for token, scope in config.tokens.items()]

    def scope_of(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        kind, _, presented = header.partition(" ")
        if kind.lower() != "bearer" or not presented:
            return None
        given = presented.strip().encode()
        found = None
        for token, scope in tokens:  # compare with every token: time says nothing
            if hmac.compare_digest(token, given):
                found = scope
        return found

    def refuse(scope: str | None) -> Response:
        if scope is None:
            return _error(401, "a valid bearer token is required",
                          headers={"WWW-Authenticate": 'Bearer realm="segmint"'})
        return _error(403, "this token may only look up visitors")

    async def segments(request: Request) -> Response:
        if scope_of(request) is None:
            return refuse(None)
        index = watcher.current  # read the reference once: one whole snapshot
        if index is None:
            return _error(503, "no snapshot yet: run 'segmint run' first")
        return Response(index.lookup(request.path_params["visitor"]), media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    async def evaluate(request: Request) -> Response:
        scope = scope_of(request)
        if scope != FULL:
            return refuse(scope)
        if config.evaluator is None:
            reason = config.evaluator_unavailable or "the service was started without rules"
            return _error(422, f"real-time evaluation is off: {reason}")
        body = await _read_body(request, config.body_timeout)
        if isinstance(body, Response):
            return body
        try:
            document = json.loads(body.decode("utf-8"))
        except RecursionError:
            return _error(400, f"the body is nested more than {MAX_DEPTH} deep")
        except ValueError:
            return _error(400, "the body must be JSON in UTF-8: "
                               "{\"profile\": {...}, \"segments\": [...]}")
        problem = _not_plain_json(document)
        if problem:
            return _error(400, problem)
        if not isinstance(document, dict) or not isinstance(document.get("profile"), dict):
            return _error(422, "the body must be an object with a 'profile' object")
        wanted = document.get("segments")
        if wanted is not None and not (isinstance(wanted, list)
                                       and all(isinstance(n, str) for n in wanted)):
            return _error(422, "'segments' must be a list of segment names")
        try:
            decision = await asyncio.to_thread(config.evaluator.evaluate, document["profile"], wanted)
        except NotEvaluable as error:
            return _error(422, str(error))
        except SegmintError as error:
            return _error(422, str(error))
        return JSONResponse(decision.to_json(), headers={"Cache-Control": "no-store"})

    async def snippet(request: Request) -> Response:
        return Response(script, media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300"})

    async def health(request: Request) -> Response:
        index = watcher.current
        if index is None:
            return JSONResponse({"status": "waiting for a snapshot"}, status_code=503)
        return JSONResponse({"status": "ok", "run_id": index.run_id})

    async def poll_forever() -> None:
        last = ""
        while True:
            await asyncio.sleep(config.poll_interval)
            try:
                await asyncio.to_thread(watcher.poll)
                last = ""
            except Exception as error:  # never let the poller die; the next poll tries again
                problem = f"{type(error).__name__}: {error}"
                if problem != last:  # one report per problem, not one per poll
                    log.exception("polling for a new snapshot failed: %s", problem)
                last = problem

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(watcher.poll)
        task = asyncio.create_task(poll_forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    middleware = [Middleware(
        CORSMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"], max_age=600,
    )]
    routes = [
        Route("/v1/visitors/{visitor}/segments", segments, methods=["GET"]),
        Route("/v1/evaluate", evaluate, methods=["POST"]),
        Route("/v1/segmint.js", snippet, methods=["GET"]),
        Route("/v1/health", health, methods=["GET"]),
    ]
    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        headers = dict(error.headers or {})
        if "Allow" in headers:  # Starlette builds it from a set: give it one order
            headers["Allow"] = ", ".join(sorted(headers["Allow"].split(", ")))
        return _error(error.status_code, error.detail, headers=headers)

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error})
    app.state.watcher = watcher
    return app


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _read_body(request: Request, timeout: float) -> bytes | Response:
    """The body, read as it arrives and never past `MAX_BODY` bytes; or the refusal."""
    declared = request.headers.get("content-length", "")
    too_large = _error(413, f"the request body is larger than {MAX_BODY} bytes", headers=_CLOSE)
    if declared.isdigit() and int(declared) > MAX_BODY:
        return too_large
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BODY:
                    return too_large
                chunks.append(chunk)
    except TimeoutError:
        return _error(408, f"the request body did not arrive within {timeout:g} s",
                      headers=_CLOSE)
    return b"".join(chunks)


def _not_plain_json(document: Any) -> str | None:
    """Why a parsed body cannot be used (too deep, text that is not Unicode), or None.

    Walks the document without recursion; JSON's ``\\ud800`` escapes parse to lone
    surrogates, which no encoder can write back, so they are refused here by name.
    """
    stack: list[tuple[Any, str, int]] = [(document, "body", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"the body is nested more than {MAX_DEPTH} deep"
        if isinstance(value, str):
            problem = _surrogate(value)
            if problem:
                return f"{where}: {problem}"
        elif isinstance(value, dict):
            for name, item in value.items():
                problem = _surrogate(name)
                if problem:
                    return f"{where}: the name {ascii(name)}: {problem}"
                stack.append((item, name if where == "body" else f"{where}.{name}", depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
    return None


def _surrogate(text: str) -> str | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"a lone surrogate (\\u{ord(text[error.start]):04x}) is not text"
    return None


def origins(values: Sequence[str]) -> tuple[str, ...]:
    """Allowed origins as CORS compares them: scheme://host[:port], no trailing slash."""
    cleaned = []
    for value in values:
        value = value.strip().rstrip("/")
        if value and value != "*" and "://" not in value:
            raise SegmintError(f"CORS origin '{value}' must look like https://shop.example.com")
        if value:
            cleaned.append(value)
    return tuple(cleaned)

