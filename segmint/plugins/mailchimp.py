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
import email.utils
import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import attrs
import pyarrow as pa

from segmint.engine.atomic import atomic_write
from segmint.engine.errors import ConfigError, SegmintError
from segmint.engine.hookspecs import hookimpl
from segmint.engine.plugin_api import Delivery, PluginContext, RunResult, Sink

log = logging.getLogger("segmint.mailchimp")

MAX_BATCH = 500
MAX_CONNECTIONS = 10
_DATA_CENTER = re.compile(r"[a-z]{2,}[0-9]+\Z")
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


# -- delivered state ---------------------------------------------------------------------


class DeliveredState:
    """What this sink delivered, confirmed by Mailchimp: the contacts known to be in the
    audience, the addresses carrying each tag, and the addresses that failed for good.

    It lives in ``state.json`` (rewritten atomically at the end of a sync) plus
    ``journal.jsonl``, to which each confirmed batch is appended and fsynced; loading
    replays the journal over the state (a torn last line, from a kill mid-write, is
    ignored), so a killed sync loses nothing it had confirmed.
    """

    def __init__(self, directory: Path, list_id: str) -> None:
        self.directory = directory
        self.list_id = list_id
        self.contacts: set[str] = set()
        self.tags: dict[str, set[str]] = {}
        self.failed: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._journal: Any = None

    @property
    def state_file(self) -> Path:
        return self.directory / "state.json"

    @property
    def journal_file(self) -> Path:
        return self.directory / "journal.jsonl"

    def load(self) -> DeliveredState:
        if self.state_file.is_file():
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            if data.get("list_id") == self.list_id:
                self.contacts = set(data.get("contacts", ()))
                self.tags = {t: set(m) for t, m in data.get("tags", {}).items()}
                self.failed = dict(data.get("failed", {}))
        if self.journal_file.is_file():
            with self.journal_file.open(encoding="utf-8") as lines:
                for line in lines:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        break  # a line torn by a kill: its batch was never counted as done
                    if entry.get("list_id") == self.list_id:
                        self._apply(entry)
        return self

    def _apply(self, entry: dict[str, Any]) -> None:
        op, emails = entry["op"], entry.get("emails", ())
        if op == "contacts":
            self.contacts.update(emails)
        elif op == "forget_contacts":
            self.contacts.difference_update(emails)
        elif op == "tag":
            self.tags.setdefault(entry["tag"], set()).update(emails)
        elif op == "untag":
            self.tags.setdefault(entry["tag"], set()).difference_update(emails)
        elif op == "failed":
            self.failed.update(entry["failures"])
        elif op == "unfail":
            for address in emails:
                self.failed.pop(address, None)

    def record(self, op: str, **fields: Any) -> None:
        """Apply one confirmed change and make it durable before returning."""
        entry = {"list_id": self.list_id, "op": op, **fields}
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock:
            if self._journal is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._journal = self.journal_file.open("a", encoding="utf-8")
            self._journal.write(line)
            self._journal.flush()
            os.fsync(self._journal.fileno())
            self._apply(entry)

    def compact(self) -> None:
        """Fold the journal into ``state.json`` (atomically) and start a new journal."""
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            data = {
                "list_id": self.list_id,
                "contacts": sorted(self.contacts),
                "tags": {t: sorted(m) for t, m in sorted(self.tags.items()) if m},
                "failed": dict(sorted(self.failed.items())),
            }
            self.directory.mkdir(parents=True, exist_ok=True)
            with atomic_write(self.state_file) as temp:
                temp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            self.journal_file.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None


# -- the plan: what to send --------------------------------------------------------------


@attrs.define
class Plan:
    """The changes one sync makes: contacts to create, tag additions and removals."""

    #: address (lower-cased) -> (address as written, status for a new contact)
    contacts: dict[str, tuple[str, str]] = attrs.field(factory=dict)
    add: dict[str, list[str]] = attrs.field(factory=dict)  # tag -> addresses
    remove: dict[str, list[str]] = attrs.field(factory=dict)
    without_email: int = 0
    without_consent: int = 0
    failed_before: int = 0

    @property
    def added(self) -> int:
        return sum(len(v) for v in self.add.values())

    @property
    def removed(self) -> int:
        return sum(len(v) for v in self.remove.values())


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


# -- the sink ----------------------------------------------------------------------------


class MailchimpSink(Sink):
    """Syncs segments to tags of a Mailchimp audience."""

    name = "mailchimp"
    description = "tags on a Mailchimp audience, one per segment, synced incrementally"
    Options = MailchimpOptions

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

    # Profile columns the sink sends, read even when no rule uses them.
    def profile_columns(self) -> Sequence[str]:
        return [c for c in (self.options.email_column, self.options.consent_column) if c]

    @property
    def state_directory(self) -> Path:
        root = self.context.state_dir or (self.context.project_dir / ".segmint")
        return root / "sinks" / self.sink_name

    @property
    def report_file(self) -> Path:
        return self.state_directory / "report.json"

    def _target(self) -> str:
        return f"Mailchimp audience {self.options.list_id}"

    # -- planning ------------------------------------------------------------------------

    def _segments(self, result: RunResult) -> list[str]:
        available = [s.name for s in result.segments if s.kind == "segment"]
        if not self.options.segments:
            return available
        for name in self.options.segments:
            if name not in available:
                known = ", ".join(available) or "none"
                raise ConfigError(f"sink '{self.sink_name}': unknown segment '{name}';"
                                  f" the rules define: {known}")
        return list(self.options.segments)

    def _people(self, result: RunResult) -> tuple[dict[Any, str | None], dict[str, bool]]:
        """Each key's address (lower-cased, None when missing) and each address's consent."""
        profiles = result.profiles
        email_column, consent_column = self.options.email_column, self.options.consent_column
        for column in (email_column, consent_column):
            if column is not None and column not in profiles.column_names:
                raise ConfigError(
                    f"sink '{self.sink_name}': the profiles have no column '{column}'"
                    f" (set {'email_column' if column == email_column else 'consent_column'})")
        keys = profiles.column(result.key).to_pylist()
        emails = profiles.column(email_column).to_pylist()
        consents = (profiles.column(consent_column).to_pylist() if consent_column
                    else [False] * len(keys))
        address_of: dict[Any, str | None] = {}
        written: dict[str, str] = {}
        consent: dict[str, bool] = {}
        for key, address, agreed in zip(keys, emails, consents):
            text = str(address).strip() if address is not None else ""
            if not text:
                address_of[key] = None
                continue
            lower = text.lower()
            address_of[key] = lower
            written.setdefault(lower, text)
            # An address shared by several profiles counts as consenting only if all do.
            consent[lower] = consent.get(lower, True) and is_consent(agreed)
        self._written = written
        return address_of, consent

    def plan(self, result: RunResult, state: DeliveredState) -> Plan:
        plan = Plan()
        address_of, consent = self._people(result)
        membership = result.membership
        keys = membership.column(result.key).to_pylist()
        transactional = self.options.without_consent == "transactional"
        left_out_email: set[Any] = set()
        left_out_consent: set[str] = set()
        failed_before: set[str] = set()
        for segment in self._segments(result):
            tag = self.options.tag_prefix + segment
            column = membership.column(segment).to_pylist()
            wanted: set[str] = set()
            for key, member in zip(keys, column):
                if not member:
                    continue
                address = address_of.get(key)
                if address is None:
                    left_out_email.add(key)
                    continue
                if not consent.get(address) and not transactional:
                    left_out_consent.add(address)
                    continue
                wanted.add(address)
            delivered = state.tags.get(tag, set())
            adds = []
            for address in sorted(wanted - delivered):
                if address in state.failed and not self.options.retry_failed:
                    failed_before.add(address)
                    continue
                adds.append(address)
                if address not in state.contacts:
                    status = "subscribed" if consent.get(address) else "transactional"
                    plan.contacts[address] = (self._written.get(address, address), status)
            if adds:
                plan.add[tag] = adds
            removes = sorted(delivered - wanted)
            if removes:
                plan.remove[tag] = removes
        plan.without_email = len(left_out_email)
        plan.without_consent = len(left_out_consent)
        plan.failed_before = len(failed_before)
        return plan

    # -- delivering ----------------------------------------------------------------------

    def deliver(self, result: RunResult, *, dry_run: bool = False) -> Delivery:
        state = DeliveredState(self.state_directory, self.options.list_id).load()
        plan = self.plan(result, state)
        skipped = plan.without_email + plan.without_consent + plan.failed_before
        messages = self._plan_messages(plan)
        if dry_run:
            return self._delivery(added=plan.added, removed=plan.removed, skipped=skipped,
                                  dry_run=True, messages=messages)
        key = self._api_key()
        try:
            with _Client(self, key) as client:
                outcome = _Sync(self, client, state, plan).run()
        except SegmintError as error:
            raise MailchimpError(self._redact(str(error))) from None
        except Exception as error:
            raise MailchimpError(self._redact(
                f"sink '{self.sink_name}': {type(error).__name__}: {error}")) from None
        finally:
            state.close()
        state.compact()
        self._write_report(result, plan, outcome)
        messages = self._outcome_messages(plan, outcome)
        return self._delivery(added=outcome.added, removed=outcome.removed,
                              skipped=skipped + len(outcome.failures), messages=messages)

    def _delivery(self, *, messages: list[str], **counts: Any) -> Delivery:
        extra = {}
        if "messages" in attrs.fields_dict(Delivery):
            extra["messages"] = tuple(messages)
        else:
            for message in messages:
                print(f"sink {self.sink_name}: {message}")
        return Delivery(sink=self.sink_name, target=self._target(), **counts, **extra)

    def _plan_messages(self, plan: Plan) -> list[str]:
        messages = []
        for tag in sorted(set(plan.add) | set(plan.remove)):
            messages.append(f"tag '{tag}': {len(plan.add.get(tag, ())):,} to add,"
                            f" {len(plan.remove.get(tag, ())):,} to remove")
        if plan.contacts:
            subscribed = sum(1 for _, s in plan.contacts.values() if s == "subscribed")
            messages.append(f"{len(plan.contacts):,} contacts to create if the audience lacks"
                            f" them ({subscribed:,} as subscribed,"
                            f" {len(plan.contacts) - subscribed:,} as transactional)")
        messages.extend(self._left_out(plan))
        return messages

    def _left_out(self, plan: Plan) -> list[str]:
        messages = []
        if plan.without_consent:
            messages.append(f"{plan.without_consent:,} members left out without consent"
                            f" ({self.options.consent_column})")
        if plan.without_email:
            messages.append(f"{plan.without_email:,} members left out without an email address")
        if plan.failed_before:
            messages.append(f"{plan.failed_before:,} members left out that Mailchimp refused"
                            f" in an earlier run (see {self.report_file};"
                            f" retry_failed = true tries them again)")
        return messages

    def _outcome_messages(self, plan: Plan, outcome: _Outcome) -> list[str]:
        messages = []
        if outcome.created:
            messages.append(f"{outcome.created:,} new contacts created")
        messages.extend(self._left_out(plan))
        if outcome.failures:
            messages.append(f"{len(outcome.failures):,} members refused by Mailchimp"
                            f" (see {self.report_file})")
        return messages

    def _write_report(self, result: RunResult, plan: Plan, outcome: _Outcome) -> None:
        report = {
            "sink": self.sink_name,
            "list_id": self.options.list_id,
            "run_id": getattr(result, "run_id", None),
            "as_of": result.as_of.isoformat() if result.as_of else None,
            "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "created": outcome.created,
            "added": outcome.added,
            "removed": outcome.removed,
            "left_out_without_consent": plan.without_consent,
            "left_out_without_email": plan.without_email,
            "left_out_failed_before": plan.failed_before,
            "failures": [{"email": address, **failure}
                         for address, failure in sorted(outcome.failures.items())],
        }
        self.state_directory.mkdir(parents=True, exist_ok=True)
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
        _, _, data_center = key.rpartition("-")
        if not _ or not _DATA_CENTER.match(data_center):
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
                if response.status_code != 429 and response.status_code < 500:
                    raise MailchimpError(self._problem(method, path, response))
                reason = f"HTTP {response.status_code}"
                retry_after = _retry_after(response.headers.get("Retry-After"))
            if attempt >= options.max_retries:
                raise MailchimpError(
                    f"sink '{self.sink.sink_name}': {method} {path} failed after"
                    f" {attempt + 1} attempts; last: {self.sink._redact(reason)}")
            delay = min(options.max_retry_delay,
                        options.retry_base_delay * 2 ** attempt) * random.uniform(0.5, 1.0)
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
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - dt.datetime.now(dt.timezone.utc)).total_seconds())


# -- the sync ----------------------------------------------------------------------------


@attrs.define
class _Outcome:
    created: int = 0
    added: int = 0
    removed: int = 0
    failures: dict[str, dict[str, str]] = attrs.field(factory=dict)


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


class _Sync:
    """Carries out a plan: contacts, then tag additions, then removals; each batch is
    recorded in the delivered state as soon as Mailchimp confirmed it."""

    def __init__(self, sink: MailchimpSink, client: _Client, state: DeliveredState,
                 plan: Plan) -> None:
        self.sink, self.client, self.state, self.plan = sink, client, state, plan
        self.list_id = sink.options.list_id
        self.size = sink.options.batch_size
        self.outcome = _Outcome()
        self._lock = threading.Lock()

    def run(self) -> _Outcome:
        self._parallel(self._create_contacts, _chunks(sorted(self.plan.contacts), self.size))
        if self.plan.add or self.plan.remove:
            segment_ids = self._tag_ids(set(self.plan.add))
            jobs = [(tag, chunk, True) for tag, emails in self.plan.add.items()
                    for chunk in _chunks([e for e in emails if e not in self.outcome.failures],
                                         self.size)]
            self._parallel(lambda job: self._tag(segment_ids, *job), jobs)
            jobs = [(tag, chunk, False) for tag, emails in self.plan.remove.items()
                    for chunk in _chunks(emails, self.size)]
            self._parallel(lambda job: self._tag(segment_ids, *job), jobs)
        return self.outcome

    def _parallel(self, work: Callable[[Any], None], jobs: Iterable[Any]) -> None:
        jobs = list(jobs)
        if not jobs:
            return
        workers = min(self.sink.options.max_connections, len(jobs))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(work, job) for job in jobs]
            error: BaseException | None = None
            for future in futures:
                try:
                    future.result()
                except BaseException as exc:  # the first error wins; the rest still finish
                    if error is None:
                        error = exc
            if error is not None:
                raise error

    def _fail(self, failures: dict[str, dict[str, str]]) -> None:
        if failures:
            self.state.record("failed", failures=failures)
            with self._lock:
                self.outcome.failures.update(failures)

    def _create_contacts(self, chunk: list[str]) -> None:
        members = [{"email_address": self.plan.contacts[a][0], "status": self.plan.contacts[a][1]}
                   for a in chunk]
        answer = self.client.request("POST", f"/lists/{self.list_id}",
                                     json_body={"members": members, "update_existing": False})
        created = {m["email_address"].lower() for m in answer.get("new_members", ())}
        created |= {m["email_address"].lower() for m in answer.get("updated_members", ())}
        failures: dict[str, dict[str, str]] = {}
        existing: set[str] = set()
        for item in answer.get("errors", ()):
            address = str(item.get("email_address", "")).lower()
            if item.get("error_code") == "ERROR_CONTACT_EXISTS":
                existing.add(address)
            elif address:
                failures[address] = {"error": str(item.get("error", "")),
                                     "error_code": str(item.get("error_code", ""))}
        confirmed = sorted((created | existing) & set(chunk))
        self._fail(failures)
        if confirmed:
            self.state.record("contacts", emails=confirmed)
            if self.sink.options.retry_failed:
                self.state.record("unfail", emails=confirmed)
        with self._lock:
            self.outcome.created += len(created & set(chunk))

    def _tag_ids(self, needed: set[str]) -> dict[str, int]:
        ids: dict[str, int] = {}
        offset = 0
        while True:
            page = self.client.request("GET", f"/lists/{self.list_id}/segments",
                                       params={"type": "static", "count": 1000, "offset": offset})
            for segment in page.get("segments", ()):
                ids.setdefault(segment["name"].lower(), segment["id"])
            offset += len(page.get("segments", ()))
            if not page.get("segments") or offset >= page.get("total_items", 0):
                break
        result: dict[str, int] = {}
        for tag in sorted(needed | set(self.plan.remove)):
            if tag.lower() in ids:
                result[tag] = ids[tag.lower()]
            elif tag in needed:
                created = self.client.request("POST", f"/lists/{self.list_id}/segments",
                                              json_body={"name": tag, "static_segment": []})
                result[tag] = created["id"]
        return result

    def _tag(self, segment_ids: dict[str, int], tag: str, chunk: list[str], add: bool) -> None:
        segment_id = segment_ids.get(tag)
        if segment_id is None:  # the tag is gone from Mailchimp: nobody carries it
            self.state.record("untag", tag=tag, emails=chunk)
            with self._lock:
                self.outcome.removed += len(chunk)
            return
        written = [self.sink._written.get(a, a) for a in chunk]
        body = {"members_to_add": written} if add else {"members_to_remove": written}
        answer = self.client.request("POST", f"/lists/{self.list_id}/segments/{segment_id}",
                                     json_body=body)
        refused: set[str] = set()
        for item in answer.get("errors", ()):
            refused.update(str(a).lower() for a in item.get("email_addresses", ()))
        if add:
            done = sorted(set(chunk) - refused)
            if refused:
                # Not in the audience (archived or deleted since): create them next time.
                self.state.record("forget_contacts", emails=sorted(refused & set(chunk)))
            if done:
                self.state.record("tag", tag=tag, emails=done)
            with self._lock:
                self.outcome.added += len(done)
        else:
            # A member no longer in the audience carries no tag either: removed all the same.
            self.state.record("untag", tag=tag, emails=chunk)
            with self._lock:
                self.outcome.removed += len(chunk)


@hookimpl
def register_sinks() -> list[type]:
    return [MailchimpSink]
