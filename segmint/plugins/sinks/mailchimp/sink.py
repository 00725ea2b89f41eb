"""The ``mailchimp`` sink itself: who should carry each tag (address, consent, earlier
refusals), the delivery under the sync lock, what it reports, and the API key."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa

from segmint.delivery.atomic import atomic_write
from segmint.delivery.consent import says_yes
from segmint.delivery.sync import ADD, DiffSink, Plan, SyncState, audiences, sink_lock
from segmint.errors import ConfigError, SegmintError
from segmint.plugin.api import Delivery, PluginContext, RunResult
from segmint.plugins.sinks.mailchimp.client import Client
from segmint.plugins.sinks.mailchimp.options import MAX_BATCH, MailchimpError, MailchimpOptions
from segmint.plugins.sinks.mailchimp.sync import Outcome, TagSync
from segmint.plugins.sinks.scrub import scrub

_DATA_CENTER = re.compile(r"[a-z]{2,}[0-9]+\Z")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")


def is_consent(value: Any) -> bool:
    """Whether a consent column's value means yes: true, a non-zero number, or a word such
    as "yes", "true", "opted_in", "granted" (segmint's one consent vocabulary). Null and
    anything else mean no."""
    return says_yes(value)


def subscriber_hash(address: str) -> str:
    """Mailchimp's id of a contact: the MD5 of the lower-cased address."""
    return hashlib.md5(address.lower().encode()).hexdigest()


@attrs.define
class People:
    """Addresses of a run's customers: lower-cased (the sync's keys), as written, consent."""

    address_of: dict[Any, str | None] = attrs.field(factory=dict)
    written: dict[str, str] = attrs.field(factory=dict)
    consent: dict[str, bool] = attrs.field(factory=dict)


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
        self._people = People()

    def profile_columns(self) -> Sequence[str]:
        return [c for c in (self.options.email_column, self.options.consent_column) if c]

    def contact_columns(self) -> dict[str, str]:
        return {self.options.email_column: "email"}

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

    def _read_people(self, result: RunResult) -> People:
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
        people = People()
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
            plan = SyncState.open(directory).plan(current, sync_id=sync_id, sink=self.sink_name,
                                             batch_size=size)
            messages = self._plan_messages(plan) + self._left_out(left_out)
            return self._delivery(added=plan.changes.count("added"),
                                  removed=plan.changes.count("removed"), skipped=skipped,
                                  dry_run=True, messages=messages)
        key = self._api_key()
        outcome = Outcome()
        try:
            with sink_lock(directory, self.sink_name):
                state = SyncState.open(directory)
                try:
                    plan = state.plan(current, sync_id=sync_id, sink=self.sink_name,
                                      batch_size=size)
                    with Client(self, key) as client:
                        TagSync(self, client, state, plan, outcome).run()
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

    def _outcome_messages(self, outcome: Outcome, left_out: dict[str, int]) -> list[str]:
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

    def _write_report(self, result: RunResult, outcome: Outcome, left_out: dict[str, int]) -> None:
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
        key = self._key or ""
        secret = key.rpartition("-")[0]
        return scrub(text, [key, secret if len(secret) >= 8 else None])
