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

import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import attrs
import pyarrow as pa

from segmint.delivery.atomic import atomic_write
from segmint.errors import ConfigError, SegmintError
from segmint.plugin.hookspecs import hookimpl
from segmint.plugin.api import Delivery, PluginContext, RunResult
from segmint.delivery.sync import ADD, REMOVE, Batch, DiffSink, Plan, SyncState, audiences, sink_lock

from segmint.plugins.sinks.http_retry import backoff_delay, retryable, seconds_until_http_date

log = logging.getLogger("segmint.mailchimp")

MAX_BATCH = 500
MAX_CONNECTIONS = 10
_DATA_CENTER = re.compile(r"[a-z]{2,}[0-9]+\Z")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_TRUE = {"true", "t", "yes", "y", "1", "on", "opted_in", "opt-in", "subscribed", "granted"}


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


# -- the sink ----------------------------------------------------------------------------


def is_consent(value: Any) -> bool:
    """Whether a consent column's value means yes: true, a non-zero number, or a word such
    as "yes", "true", "opted_in", "granted". Null and anything else mean no."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    return str(value).strip().lower() in _TRUE


def subscriber_hash(address: str) -> str:
    """Mailchimp's id of a contact: the MD5 of the lower-cased address."""
    return hashlib.md5(address.lower().encode()).hexdigest()


@attrs.define
class _People:
    """Addresses of a run's customers: lower-cased (the sync's keys), as written, consent."""

    address_of: dict[Any, str | None] = attrs.field(factory=dict)
    written: dict[str, str] = attrs.field(factory=dict)
    consent: dict[str, bool] = attrs.field(factory=dict)


@attrs.define
class _Outcome:
    created: int = 0
    added: int = 0
    removed: int = 0
    failures: dict[str, dict[str, str]] = attrs.field(factory=dict)


class MailchimpSink(DiffSink):
    """Syncs segments to tags of a Mailchimp audience."""

    name = "mailchimp"
    description = "tags on a Mailchimp audience, one per segment, synced incrementally"
    Options = MailchimpOptions
    batch_size = MAX_BATCH

    def __init__(self, sink_name: str, options: Any, context: PluginContext) -> None:
        super().__init__(sink_name, options, context)
        if options.consent_column is None and options.without_consent == "skip":
            raise ConfigError(
                f"sink '{sink_name}': set consent_column, the profile column that says whether"
                f" a customer agreed to marketing email (or without_consent = \"transactional\""
                f" to tag everyone and create new contacts as transactional)"
            )
        if options.base_url is not None and not options.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"sink '{sink_name}': base_url must start with http:// or https://")
        self._key: str | None = None
        self._people = _People()

    def profile_columns(self) -> Sequence[str]:
        return [c for c in (self.options.email_column, self.options.consent_column) if c]

    def target(self) -> str:
        return f"Mailchimp audience {self.options.list_id}"

    @property
    def report_file(self) -> Path:
        return self.sync_directory() / "report.json"

    @property
    def failures_file(self) -> Path:
        return self.sync_directory() / "failed.json"

    def tag(self, audience: str) -> str:
        return self.options.tag_prefix + audience

    # -- what to deliver -----------------------------------------------------------------

    def _read_people(self, result: RunResult) -> _People:
        profiles = result.profiles
        email_column, consent_column = self.options.email_column, self.options.consent_column
        for option, column in (("email_column", email_column), ("consent_column", consent_column)):
            if column is not None and column not in profiles.column_names:
                raise ConfigError(f"sink '{self.sink_name}': the profiles have no column"
                                  f" '{column}' (set {option})")
        keys = profiles.column(result.key).to_pylist()
        emails = profiles.column(email_column).to_pylist()
        consents = (profiles.column(consent_column).to_pylist() if consent_column
                    else [False] * len(keys))
        present = [e for e in emails if e]
        if present and all(_SHA256.match(str(e)) for e in present):
            raise ConfigError(f"sink '{self.sink_name}': the column '{email_column}' holds"
                              f" SHA-256 hashes, not addresses; Mailchimp needs the addresses"
                              f" (remove hash_identifiers from this sink)")
        people = _People()
        for key, address, agreed in zip(keys, emails, consents):
            text = str(address).strip() if address is not None else ""
            if not text:
                people.address_of[key] = None
                continue
            lower = text.lower()
            people.address_of[key] = lower
            people.written.setdefault(lower, text)
            # An address shared by several profiles counts as consenting only if all do.
            people.consent[lower] = people.consent.get(lower, True) and is_consent(agreed)
        return people

    def _load_failures(self) -> dict[str, dict[str, str]]:
        try:
            return dict(json.loads(self.failures_file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}
        except ValueError:
            return {}

    def current(self, result: RunResult, failed: dict[str, dict[str, str]]
                ) -> tuple[dict[str, pa.Array], dict[str, int]]:
        """The addresses that should carry each tag (by audience name), and how many
        members were left out: without an address, without consent, refused before."""
        people = self._people = self._read_people(result)
        transactional = self.options.without_consent == "transactional"
        by_key = audiences(result.membership, result.key, self.segments(), result.segments)
        left_out: dict[str, set[Any]] = {"email": set(), "consent": set(), "failed": set()}
        current: dict[str, pa.Array] = {}
        for audience, keys in by_key.items():
            wanted: set[str] = set()
            for key in keys.to_pylist():
                address = people.address_of.get(key)
                if address is None:
                    left_out["email"].add(key)
                elif not people.consent.get(address) and not transactional:
                    left_out["consent"].add(address)
                elif address in failed and not self.options.retry_failed:
                    left_out["failed"].add(address)
                else:
                    wanted.add(address)
            current[audience] = pa.array(sorted(wanted), pa.string())
        return current, {reason: len(found) for reason, found in left_out.items()}

    # -- delivering ----------------------------------------------------------------------

    def deliver(self, result: RunResult, *, dry_run: bool = False) -> Delivery:
        failed = self._load_failures()
        current, left_out = self.current(result, failed)
        skipped = sum(left_out.values())
        directory = self.sync_directory()
        sync_id = result.run_id or secrets.token_hex(8)
        size = self.options.batch_size
        if dry_run:  # reads the state, writes nothing, sends nothing
            plan = SyncState(directory).plan(current, sync_id=sync_id, sink=self.sink_name,
                                             batch_size=size)
            messages = self._plan_messages(plan) + self._left_out(left_out)
            return self._delivery(added=plan.changes.count("added"),
                                  removed=plan.changes.count("removed"), skipped=skipped,
                                  dry_run=True, messages=messages)
        key = self._api_key()
        outcome = _Outcome()
        try:
            with sink_lock(directory, self.sink_name):
                state = SyncState(directory)
                try:
                    plan = state.plan(current, sync_id=sync_id, sink=self.sink_name,
                                      batch_size=size)
                    with _Client(self, key) as client:
                        _Sync(self, client, state, plan, outcome).run()
                    state.commit()
                finally:
                    state.close()
                    if outcome.failures:
                        self._save_failures({**failed, **outcome.failures}, sync_id)
        except SegmintError as error:
            raise MailchimpError(self._redact(str(error))) from None
        except Exception as error:
            raise MailchimpError(self._redact(
                f"sink '{self.sink_name}': {type(error).__name__}: {error}")) from None
        if self.options.retry_failed and failed:
            # Everything refused before was offered again: only this run's refusals stay.
            self._save_failures(outcome.failures, sync_id)
        self._write_report(result, outcome, left_out)
        messages = self._plan_messages(plan, pending_only=True) + self._outcome_messages(
            outcome, left_out)
        return self._delivery(added=outcome.added, removed=outcome.removed,
                              skipped=skipped + len(outcome.failures), messages=messages)

    def _delivery(self, *, messages: list[str], **counts: Any) -> Delivery:
        extra = {}
        if "messages" in attrs.fields_dict(Delivery):
            extra["messages"] = tuple(messages)
        return Delivery(sink=self.sink_name, target=self.target(), **counts, **extra)

    def _plan_messages(self, plan: Plan, pending_only: bool = False) -> list[str]:
        messages = []
        if plan.pending:
            messages.append(f"{len(plan.pending)} unconfirmed batches of an interrupted"
                            f" delivery {'sent' if pending_only else 'would be sent'} again")
        if pending_only:
            return messages
        for audience in plan.changes.segments:
            added = len(plan.changes.added[audience])
            removed = len(plan.changes.removed[audience])
            if added or removed:
                messages.append(f"tag '{self.tag(audience)}': {added:,} to add,"
                                f" {removed:,} to remove")
        new = {a for batch in plan if batch.action == ADD for a in batch.keys}
        if new:
            subscribed = sum(1 for a in new if self._people.consent.get(a))
            messages.append(f"{len(new):,} addresses to create as contacts where the audience"
                            f" lacks them ({subscribed:,} as subscribed,"
                            f" {len(new) - subscribed:,} as transactional)")
        return messages

    def _left_out(self, left_out: dict[str, int]) -> list[str]:
        messages = []
        if left_out["consent"]:
            messages.append(f"{left_out['consent']:,} members left out without consent"
                            f" ({self.options.consent_column})")
        if left_out["email"]:
            messages.append(f"{left_out['email']:,} members left out without an email address")
        if left_out["failed"]:
            messages.append(f"{left_out['failed']:,} members left out that Mailchimp refused"
                            f" in an earlier run (see {self.failures_file};"
                            f" retry_failed = true tries them again)")
        return messages

    def _outcome_messages(self, outcome: _Outcome, left_out: dict[str, int]) -> list[str]:
        messages = []
        if outcome.created:
            messages.append(f"{outcome.created:,} new contacts created")
        messages.extend(self._left_out(left_out))
        if outcome.failures:
            messages.append(f"{len(outcome.failures):,} members refused by Mailchimp"
                            f" (see {self.report_file})")
        return messages

    def _save_failures(self, failures: dict[str, dict[str, str]], sync_id: str) -> None:
        """Remember the addresses Mailchimp refused (with the run that met the refusal)."""
        data = {a: {**f, "run_id": f.get("run_id", sync_id)} for a, f in failures.items()}
        self.failures_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.failures_file) as temp:
            temp.write_text(json.dumps(dict(sorted(data.items())), ensure_ascii=False, indent=1),
                            encoding="utf-8")

    def _write_report(self, result: RunResult, outcome: _Outcome, left_out: dict[str, int]) -> None:
        report = {
            "sink": self.sink_name,
            "list_id": self.options.list_id,
            "run_id": getattr(result, "run_id", None),
            "as_of": result.as_of.isoformat() if result.as_of else None,
            "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "created": outcome.created,
            "added": outcome.added,
            "removed": outcome.removed,
            "left_out_without_consent": left_out["consent"],
            "left_out_without_email": left_out["email"],
            "left_out_refused_before": left_out["failed"],
            "failures": [{"email": address, **failure}
                         for address, failure in sorted(outcome.failures.items())],
        }
        self.report_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.report_file) as temp:
            temp.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")

    # -- the key -------------------------------------------------------------------------

    def _api_key(self) -> str:
        name = self.options.api_key_env
        key = os.environ.get(name, "").strip()
        if not key:
            raise ConfigError(f"sink '{self.sink_name}': the environment variable {name} is not"
                              f" set; put the Mailchimp API key there (never in the project file)")
        self._key = key
        return key

    def base_url(self, key: str) -> str:
        if self.options.base_url:
            return self.options.base_url.rstrip("/")
        secret, _, data_center = key.rpartition("-")
        if not secret or not _DATA_CENTER.match(data_center):
            raise ConfigError(
                f"sink '{self.sink_name}': the API key in {self.options.api_key_env} does not"
                f" end in a data center such as '-us6'")
        return f"https://{data_center}.api.mailchimp.com/3.0"

    def _redact(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key, "[redacted]")
            secret = self._key.rpartition("-")[0]
            if len(secret) >= 8:
                text = text.replace(secret, "[redacted]")
        return text


# -- HTTP --------------------------------------------------------------------------------


class _Client:
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

    def __enter__(self) -> _Client:
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
                retry_after = _retry_after(response.headers.get("Retry-After"))
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


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    return seconds_until_http_date(value)


# -- the sync ----------------------------------------------------------------------------


class _Sync:
    """Carries out a plan: first the batches an interrupted sync left unconfirmed, then the
    new ones, up to ``max_connections`` at a time. Each batch is journalled before it is
    sent and confirmed in the delivered state once Mailchimp answered for it."""

    def __init__(self, sink: MailchimpSink, client: _Client, state: SyncState, plan: Plan,
                 outcome: _Outcome) -> None:
        self.sink, self.client, self.state, self.plan = sink, client, state, plan
        self.list_id = sink.options.list_id
        self.outcome = outcome
        self._lock = threading.Lock()
        self.segment_ids: dict[str, int] = {}
        self.unknown: set[str] = set()  # entering addresses whose consent is no longer known

    def run(self) -> None:
        batches = list(self.plan)
        if not batches:
            return
        self.segment_ids = self._tag_ids({self.sink.tag(b.segment) for b in batches},
                                         {self.sink.tag(b.segment) for b in batches
                                          if b.action == ADD})
        # Contacts first, each address once, in batches; creating is idempotent, so after
        # a kill the next run simply asks again.
        entering = list(dict.fromkeys(a for b in batches if b.action == ADD for a in b.keys))
        size = self.sink.options.batch_size
        self._parallel(self._create_contacts,
                       [entering[i:i + size] for i in range(0, len(entering), size)])
        # Interrupted batches first: the new ones were planned as if those had been applied.
        self._parallel(self._one, list(self.plan.pending))
        self._parallel(self._one, list(self.plan.batches))

    def _parallel(self, work: Callable[[Any], None], jobs: list[Any]) -> None:
        if not jobs:
            return
        workers = min(self.sink.options.max_connections, len(jobs))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(work, job) for job in jobs]
            error: BaseException | None = None
            for future in futures:
                try:
                    future.result()
                except BaseException as exc:  # the first error wins; the others finish
                    if error is None:
                        error = exc
        if error is not None:
            raise error

    def _one(self, batch: Batch) -> None:
        with self._lock:
            self.state.begin(batch)
        if batch.action == ADD:
            rejected = self._add(batch)
        elif batch.action == REMOVE:
            rejected = self._remove(batch)
        else:  # updates carry profile fields, which this sink does not send
            rejected = set()
        with self._lock:
            self.state.confirm(batch, sorted(rejected))
            done = len(set(batch.keys) - rejected)
            if batch.action == ADD:
                self.outcome.added += done
            elif batch.action == REMOVE:
                self.outcome.removed += done

    def _tag_ids(self, tags: set[str], create: set[str]) -> dict[str, int]:
        """The segment id of each tag, creating those in `create` that do not exist."""
        ids = self._existing_tags()
        result: dict[str, int] = {}
        for tag in sorted(tags):
            if tag.lower() not in ids and tag in create:
                try:
                    made = self.client.request("POST", f"/lists/{self.list_id}/segments",
                                               json_body={"name": tag, "static_segment": []})
                    ids[tag.lower()] = int(made["id"])
                except MailchimpError:
                    # A retried creation whose first answer was lost: the tag exists now.
                    ids = self._existing_tags()
                    if tag.lower() not in ids:
                        raise
            if tag.lower() in ids:
                result[tag] = ids[tag.lower()]
        return result

    def _existing_tags(self) -> dict[str, int]:
        ids: dict[str, int] = {}
        offset = 0
        while True:
            page = self.client.request("GET", f"/lists/{self.list_id}/segments",
                                       params={"type": "static", "count": 1000, "offset": offset})
            found = page.get("segments") or []
            for segment in found:
                ids.setdefault(str(segment["name"]).lower(), int(segment["id"]))
            offset += len(found)
            if not found or offset >= int(page.get("total_items", 0)):
                return ids

    def _create_contacts(self, addresses: list[str]) -> None:
        """Create the contacts the audience lacks (one request per batch); an address
        Mailchimp refuses is recorded as a failure and not tagged."""
        people = self.sink._people
        transactional = self.sink.options.without_consent == "transactional"
        members = []
        for address in addresses:
            if people.consent.get(address):
                status = "subscribed"
            elif transactional:
                status = "transactional"
            else:  # from an interrupted sync, and no longer known to consent: not created
                with self._lock:
                    self.unknown.add(address)
                continue
            members.append({"email_address": people.written.get(address, address),
                            "status": status})
        if not members:
            return
        # update_existing false: the status only applies to contacts this creates; an
        # existing contact (subscribed, unsubscribed, cleaned...) is left as it is.
        answer = self.client.request("POST", f"/lists/{self.list_id}",
                                     json_body={"members": members, "update_existing": False})
        created = {str(m.get("email_address", "")).lower() for m in answer.get("new_members") or ()}
        failures: dict[str, dict[str, str]] = {}
        for item in answer.get("errors") or ():
            address = str(item.get("email_address", "")).lower()
            if item.get("error_code") == "ERROR_CONTACT_EXISTS" or not address:
                continue
            failures[address] = {"error": str(item.get("error", "")),
                                 "error_code": str(item.get("error_code", ""))}
        with self._lock:
            self.outcome.created += len(created & set(addresses))
            self.outcome.failures.update(failures)

    def _add(self, batch: Batch) -> set[str]:
        """Tag the batch's contacts; returns the addresses refused."""
        rejected = {a for a in batch.keys if a in self.outcome.failures or a in self.unknown}
        to_tag = [a for a in batch.keys if a not in rejected]
        if to_tag:
            people = self.sink._people
            tag = self.sink.tag(batch.segment)
            answer = self.client.request(
                "POST", f"/lists/{self.list_id}/segments/{self.segment_ids[tag]}",
                json_body={"members_to_add": [people.written.get(a, a) for a in to_tag]})
            for item in answer.get("errors") or ():
                # Not in the audience (deleted or archived meanwhile): tried again next run.
                rejected.update(str(a).lower() for a in item.get("email_addresses") or ())
        return rejected & set(batch.keys)

    def _remove(self, batch: Batch) -> set[str]:
        segment_id = self.segment_ids.get(self.sink.tag(batch.segment))
        if segment_id is not None:  # a tag deleted in Mailchimp is carried by nobody
            people = self.sink._people
            self.client.request(
                "POST", f"/lists/{self.list_id}/segments/{segment_id}",
                json_body={"members_to_remove": [people.written.get(a, a) for a in batch.keys]})
        # A contact no longer in the audience carries no tag either: removed all the same.
        return set()


@hookimpl
def register_sinks() -> list[type]:
    return [MailchimpSink]
