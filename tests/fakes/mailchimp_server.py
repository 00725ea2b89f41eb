"""A local fake of the Mailchimp Marketing API v3, for testing the ``mailchimp`` sink.

It implements the endpoints the sink uses, with the documented behaviour, errors and limits:

- HTTP basic auth with the API key as the password (any user name); a missing or wrong key
  is a 401 in Mailchimp's problem-detail shape ``{"type", "title", "status", "detail",
  "instance"}``.
- ``GET /3.0/ping``, ``GET /3.0/lists/{list_id}`` (404 for an unknown audience).
- ``POST /3.0/lists/{list_id}``: batch subscribe, at most 500 members (400 otherwise).
  With ``update_existing`` false, ``status`` only applies to the contacts it creates;
  an existing contact is reported in ``errors`` with ``ERROR_CONTACT_EXISTS`` and left as
  it is. With ``update_existing`` true, asking an unsubscribed or cleaned contact to become
  ``subscribed`` or ``pending`` is refused per member ("Member In Compliance State"). Invalid
  addresses, and addresses listed in `FakeMailchimp.compliance` (contacts archived after
  unsubscribing), are per-member errors too; the rest of the batch goes through.
- ``PUT /3.0/lists/{list_id}/members/{subscriber_hash}`` with ``status_if_new``, and ``GET``.
- ``GET/POST /3.0/lists/{list_id}/segments`` (tags are static segments) and
  ``POST /3.0/lists/{list_id}/segments/{segment_id}`` with ``members_to_add`` /
  ``members_to_remove``, each at most 500.
- ``GET/POST /3.0/lists/{list_id}/members/{subscriber_hash}/tags``.
- At most `FakeMailchimp.max_connections` (10) requests in flight at once; beyond that, 429.

Faults are injected with `FakeMailchimp.inject` (429 with Retry-After, 500, 503, a dropped
connection before or after the change was applied) and `FakeMailchimp.kill_client_after`
(SIGKILL a client process when it sends its next change after N applied ones). Everything
applied is journaled so tests can check the final state and count duplicate tag adds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY = "0123456789abcdef0123456789abcdef-us6"
LIST_ID = "a1b2c3d4e5"
MAX_BATCH = 500
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}\Z")
_ERRORS_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


@dataclass
class Member:
    email: str
    status: str
    tags: set[str] = field(default_factory=set)


@dataclass
class Fault:
    """One injected failure: ``kind`` is "429", "500", "503", "drop" (the connection is
    closed before the request is applied) or "drop_after" (applied, then closed without a
    response). It applies to the next `times` requests whose "METHOD /path" contains
    `match`."""

    kind: str
    match: str = ""
    times: int = 1
    retry_after: float | None = None


class _Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers or {}


class FakeMailchimp:
    """The fake server: start it with `start` (or as a context manager), point the sink's
    ``base_url`` at `base_url`."""

    def __init__(self, api_key: str = API_KEY, list_ids: tuple[str, ...] = (LIST_ID,), *,
                 latency: float = 0.0, max_connections: int = 10):
        self.api_key = api_key
        self.lists: dict[str, dict[str, Member]] = {list_id: {} for list_id in list_ids}
        #: Tags per audience: segment id -> name (Mailchimp tags are static segments).
        self.segments: dict[str, dict[int, str]] = {list_id: {} for list_id in list_ids}
        #: Addresses Mailchimp refuses to subscribe again (archived after unsubscribing).
        self.compliance: set[str] = set()
        self.latency = latency
        self.max_connections = max_connections
        #: Retry-After sent with the 429 for too many connections.
        self.concurrency_retry_after = 1.0
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []  # method, path, status, body (parsed JSON)
        self.journal: list[tuple[str, ...]] = []  # ("create", email, status), ("tag", email, tag)...
        self.duplicate_tag_adds = 0
        self.max_in_flight = 0
        self.rejected_for_concurrency = 0
        self._in_flight = 0
        self._lock = threading.RLock()
        self._next_segment_id = 1001
        self._kill: tuple[int, Callable[[], int | None]] | None = None
        self._applied_changes = 0
        self.killed = False
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- running -------------------------------------------------------------------------

    def start(self) -> FakeMailchimp:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeMailchimp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/3.0"

    # -- test set-up and inspection ------------------------------------------------------

    def add_member(self, email: str, status: str = "subscribed", tags: tuple[str, ...] = (),
                   list_id: str = LIST_ID) -> None:
        with self._lock:
            self.lists[list_id][subscriber_hash(email)] = Member(email, status, set(tags))
            for tag in tags:
                self._segment_id(list_id, tag, create=True)

    def member(self, email: str, list_id: str = LIST_ID) -> Member | None:
        return self.lists[list_id].get(subscriber_hash(email))

    def tagged(self, tag: str, list_id: str = LIST_ID) -> set[str]:
        """The (lower-cased) addresses that carry `tag`."""
        with self._lock:
            return {m.email.lower() for m in self.lists[list_id].values() if tag in m.tags}

    def inject(self, kind: str, match: str = "", times: int = 1,
               retry_after: float | None = None) -> None:
        with self._lock:
            self.faults.append(Fault(kind, match, times, retry_after))

    def kill_client_after(self, changes: int, pid: Callable[[], int | None]) -> None:
        """SIGKILL the process `pid()` when it sends a change (a POST or PUT) after
        `changes` changes were applied; that request is not applied."""
        with self._lock:
            self._kill = (changes, pid)
            self._applied_changes = 0

    def mutations(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] in ("POST", "PUT") and r["status"] < 300]

    # -- request handling ----------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.match in f"{method} {path}" and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _check_auth(self, header: str | None) -> None:
        if not header:
            raise _Problem(401, "API Key Missing",
                           "Your request did not include an API key.")
        try:
            scheme, encoded = header.split(" ", 1)
            _user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            raise _Problem(401, "API Key Invalid", "Your API key may be invalid, or you've"
                           " attempted to access the wrong datacenter.") from None
        if scheme.lower() != "basic" or password != self.api_key:
            raise _Problem(401, "API Key Invalid", "Your API key may be invalid, or you've"
                           " attempted to access the wrong datacenter.")

    def _list(self, list_id: str) -> dict[str, Member]:
        if list_id not in self.lists:
            raise _Problem(404, "Resource Not Found",
                           "The requested resource could not be found.")
        return self.lists[list_id]

    def _segment_id(self, list_id: str, name: str, create: bool = False) -> int | None:
        for segment_id, existing in self.segments[list_id].items():
            if existing.lower() == name.lower():
                return segment_id
        if not create:
            return None
        segment_id = self._next_segment_id
        self._next_segment_id += 1
        self.segments[list_id][segment_id] = name
        return segment_id

    def _tag(self, member: Member, tag: str) -> None:
        if tag in member.tags:
            self.duplicate_tag_adds += 1
        member.tags.add(tag)
        self.journal.append(("tag", member.email.lower(), tag))

    def _untag(self, member: Member, tag: str) -> None:
        member.tags.discard(tag)
        self.journal.append(("untag", member.email.lower(), tag))

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               body: Any) -> tuple[int, Any]:
        """Apply one authenticated request; returns (status, JSON body or None)."""
        parts = [p for p in path.split("/") if p]
        if parts[:1] != ["3.0"]:
            raise _Problem(404, "Resource Not Found", "The requested resource could not be found.")
        parts = parts[1:]
        with self._lock:
            if parts == ["ping"] and method == "GET":
                return 200, {"health_status": "Everything's Chimpy!"}
            if len(parts) >= 2 and parts[0] == "lists":
                members = self._list(parts[1])
                list_id = parts[1]
                rest = parts[2:]
                if not rest and method == "GET":
                    return 200, {"id": list_id, "name": "Fake audience",
                                 "stats": {"member_count": len(members)}}
                if not rest and method == "POST":
                    return 200, self._batch(list_id, members, body)
                if rest == ["segments"] and method == "GET":
                    return 200, self._segments(list_id, query)
                if rest == ["segments"] and method == "POST":
                    return 200, self._create_segment(list_id, members, body)
                if len(rest) == 2 and rest[0] == "segments" and method == "POST":
                    return 200, self._segment_members(list_id, members, rest[1], body)
                if len(rest) == 2 and rest[0] == "members":
                    return self._member(members, rest[1], method, body)
                if len(rest) == 3 and rest[0] == "members" and rest[2] == "tags":
                    return self._member_tags(list_id, members, rest[1], method, body)
        raise _Problem(405 if parts[:1] == ["lists"] else 404,
                       "Method Not Allowed" if parts[:1] == ["lists"] else "Resource Not Found",
                       "The requested method and resource are not compatible.")

    def _batch(self, list_id: str, members: dict[str, Member], body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("members"), list):
            raise _Problem(400, "Invalid Resource", "The resource submitted could not be"
                           " validated: 'members' is required.")
        if len(body["members"]) > MAX_BATCH:
            raise _Problem(400, "Invalid Resource", f"The resource submitted could not be"
                           f" validated: 'members' must contain at most {MAX_BATCH} items.")
        update = bool(body.get("update_existing", False))
        new, updated, errors = [], [], []
        for item in body["members"]:
            email = str(item.get("email_address", ""))
            status = item.get("status")
            key = subscriber_hash(email)

            def error(message: str, code: str = "ERROR_GENERIC") -> None:
                errors.append({"email_address": email, "error": message, "error_code": code,
                               "field": "", "field_message": ""})

            if status is not None and status not in STATUSES:
                error(f"Invalid status '{status}'.")
                continue
            if not _EMAIL.match(email) or email.lower().endswith((".invalid", ".test")):
                error(f"{email} looks fake or invalid, please enter a real email address.")
                continue
            existing = members.get(key)
            if existing is None:
                if status in ("subscribed", "pending") and email.lower() in self.compliance:
                    error(f"{email} is in a compliance state due to unsubscribe, bounce, or"
                          " compliance review and cannot be subscribed.",
                          "ERROR_GENERIC")
                    continue
                member = Member(email, status or "subscribed")
                members[key] = member
                self.journal.append(("create", email.lower(), member.status))
                new.append(self._show(member))
                continue
            if not update:
                error(f"{email} is already a list member. Use PUT to insert or update list"
                      " members.", "ERROR_CONTACT_EXISTS")
                continue
            if (status in ("subscribed", "pending")
                    and existing.status in ("unsubscribed", "cleaned")):
                error(f"{email} is in a compliance state due to unsubscribe, bounce, or"
                      " compliance review and cannot be subscribed.")
                continue
            if status is not None and status != existing.status:
                existing.status = status
                self.journal.append(("status", email.lower(), status))
            updated.append(self._show(existing))
        return {"new_members": new, "updated_members": updated, "errors": errors,
                "total_created": len(new), "total_updated": len(updated),
                "error_count": len(errors)}

    def _segments(self, list_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
        offset = int(query.get("offset", ["0"])[0])
        count = min(int(query.get("count", ["10"])[0]), 1000)
        rows = [{"id": sid, "name": name, "type": "static",
                 "member_count": len(self.tagged(name, list_id))}
                for sid, name in sorted(self.segments[list_id].items())]
        return {"segments": rows[offset:offset + count], "total_items": len(rows)}

    def _create_segment(self, list_id: str, members: dict[str, Member], body: Any) -> dict[str, Any]:
        name = (body or {}).get("name") if isinstance(body, dict) else None
        if not name or "static_segment" not in body:
            raise _Problem(400, "Invalid Resource", "The resource submitted could not be"
                           " validated: 'name' and 'static_segment' are required.")
        if self._segment_id(list_id, name) is not None:
            raise _Problem(400, "Invalid Resource", "Tag already exists.")
        segment_id = self._segment_id(list_id, name, create=True)
        for email in body["static_segment"]:
            member = members.get(subscriber_hash(email))
            if member is not None:
                self._tag(member, name)
        return {"id": segment_id, "name": name, "type": "static",
                "member_count": len(self.tagged(name, list_id))}

    def _segment_members(self, list_id: str, members: dict[str, Member], segment: str,
                         body: Any) -> dict[str, Any]:
        try:
            name = self.segments[list_id][int(segment)]
        except (KeyError, ValueError):
            raise _Problem(404, "Resource Not Found",
                           "The requested resource could not be found.") from None
        to_add = list((body or {}).get("members_to_add", []))
        to_remove = list((body or {}).get("members_to_remove", []))
        if len(to_add) > MAX_BATCH or len(to_remove) > MAX_BATCH:
            raise _Problem(400, "Invalid Resource", f"The resource submitted could not be"
                           f" validated: at most {MAX_BATCH} members to add and to remove.")
        added, removed, not_members = [], [], []
        for email in to_add:
            member = members.get(subscriber_hash(email))
            if member is None:
                not_members.append(email)
                continue
            self._tag(member, name)
            added.append(self._show(member))
        for email in to_remove:
            member = members.get(subscriber_hash(email))
            if member is None:
                not_members.append(email)
                continue
            self._untag(member, name)
            removed.append(self._show(member))
        errors = ([{"email_addresses": not_members,
                    "error": "Email addresses are not subscribed to the list"}]
                  if not_members else [])
        return {"members_added": added, "members_removed": removed, "errors": errors,
                "total_added": len(added), "total_removed": len(removed),
                "error_count": len(not_members)}

    def _member(self, members: dict[str, Member], key: str, method: str,
                body: Any) -> tuple[int, Any]:
        member = members.get(key)
        if method == "GET":
            if member is None:
                raise _Problem(404, "Resource Not Found",
                               "The requested resource could not be found.")
            return 200, self._show(member)
        if method != "PUT":
            raise _Problem(405, "Method Not Allowed",
                           "The requested method and resource are not compatible.")
        email = str(body.get("email_address", ""))
        if subscriber_hash(email) != key:
            raise _Problem(400, "Invalid Resource",
                           "The email address does not match the subscriber hash.")
        status, status_if_new = body.get("status"), body.get("status_if_new")
        if member is None:
            if not _EMAIL.match(email):
                raise _Problem(400, "Invalid Resource", f"{email} looks fake or invalid,"
                               " please enter a real email address.")
            member = Member(email, status or status_if_new or "subscribed")
            members[key] = member
            self.journal.append(("create", email.lower(), member.status))
            return 200, self._show(member)
        if status in ("subscribed", "pending") and member.status in ("unsubscribed", "cleaned"):
            raise _Problem(400, "Member In Compliance State", f"{email} is in a compliance"
                           " state due to unsubscribe, bounce, or compliance review and"
                           " cannot be subscribed.")
        if status is not None and status != member.status:
            member.status = status
            self.journal.append(("status", email.lower(), status))
        return 200, self._show(member)

    def _member_tags(self, list_id: str, members: dict[str, Member], key: str, method: str,
                     body: Any) -> tuple[int, Any]:
        member = members.get(key)
        if member is None:
            raise _Problem(404, "Resource Not Found",
                           "The requested resource could not be found.")
        if method == "GET":
            tags = [{"id": self._segment_id(list_id, t), "name": t} for t in sorted(member.tags)]
            return 200, {"tags": tags, "total_items": len(tags)}
        for tag in (body or {}).get("tags", []):
            if tag.get("status") == "active":
                self._segment_id(list_id, tag["name"], create=True)
                self._tag(member, tag["name"])
            elif tag.get("status") == "inactive":
                self._untag(member, tag["name"])
        return 204, None

    @staticmethod
    def _show(member: Member) -> dict[str, Any]:
        return {"id": subscriber_hash(member.email), "email_address": member.email,
                "status": member.status, "tags": [{"name": t} for t in sorted(member.tags)]}

    def _before_change(self) -> bool:
        """Whether to kill the client now (the change is then not applied)."""
        with self._lock:
            if self._kill is None:
                return False
            after, pid = self._kill
            if self._applied_changes < after:
                self._applied_changes += 1
                return False
            target = pid()
            self._kill = None
        if target:
            os.kill(target, signal.SIGKILL)
            self.killed = True
        return True


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request resets its connection: not worth a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeMailchimp
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _dispatch(self) -> None:
        fake = self.server_fake
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with fake._lock:
            fake._in_flight += 1
            in_flight = fake._in_flight
            fake.max_in_flight = max(fake.max_in_flight, in_flight)
        record: dict[str, Any] = {"method": self.command, "path": url.path, "status": 0,
                                  "time": time.monotonic(),
                                  "body": None, "authorization": self.headers.get("Authorization")}
        try:
            if fake.latency:
                time.sleep(fake.latency)
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            record["body"] = body
            try:
                fake._check_auth(self.headers.get("Authorization"))
                if in_flight > fake.max_connections:
                    fake.rejected_for_concurrency += 1
                    raise _Problem(429, "Too Many Requests", "You have exceeded the limit of"
                                   f" {fake.max_connections} simultaneous connections.",
                                   {"Retry-After": f"{fake.concurrency_retry_after:g}"})
                fault = fake._take_fault(self.command, url.path)
                if fault is not None and fault.kind in ("429", "500", "503"):
                    status = int(fault.kind)
                    headers = {}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = f"{fault.retry_after:g}"
                    title = {429: "Too Many Requests", 500: "Internal Server Error",
                             503: "Service Unavailable"}[status]
                    raise _Problem(status, title, "An injected fault.", headers)
                if fault is not None and fault.kind == "drop":
                    record["status"] = -1
                    self._drop()
                    return
                if self.command in ("POST", "PUT") and fake._before_change():
                    record["status"] = -2
                    self._drop()
                    return
                status, payload = fake.handle(self.command, url.path, parse_qs(url.query), body)
                if fault is not None and fault.kind == "drop_after":
                    record["status"] = -1
                    self._drop()
                    return
                record["status"] = status
                self._send(status, payload)
            except _Problem as problem:
                record["status"] = problem.status
                self._send(problem.status, {
                    "type": _ERRORS_DOC, "title": problem.title, "status": problem.status,
                    "detail": problem.detail, "instance": str(uuid.uuid4()),
                }, problem.headers, content_type="application/problem+json; charset=utf-8")
        finally:
            with fake._lock:
                fake._in_flight -= 1
                fake.requests.append(record)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None,
              content_type: str = "application/json; charset=utf-8") -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch
