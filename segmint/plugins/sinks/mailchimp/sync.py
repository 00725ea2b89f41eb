"""Carrying out a sync plan against Mailchimp: contacts created first, then tags added and
removed, batch by batch, each journalled before it is sent and confirmed after."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import attrs

from segmint.delivery.sync import ADD, REMOVE, Batch, Plan, SyncState
from segmint.plugins.sinks.mailchimp.client import Client
from segmint.plugins.sinks.mailchimp.options import MailchimpError

if TYPE_CHECKING:
    from segmint.plugins.sinks.mailchimp.sink import MailchimpSink


@attrs.define
class Outcome:
    created: int = 0
    added: int = 0
    removed: int = 0
    failures: dict[str, dict[str, str]] = attrs.field(factory=dict)


class TagSync:
    """Carries out a plan: first the batches an interrupted sync left unconfirmed, then the
    new ones, up to ``max_connections`` at a time. Each batch is journalled before it is
    sent and confirmed in the delivered state once Mailchimp answered for it."""

    def __init__(self, sink: MailchimpSink, client: Client, state: SyncState, plan: Plan,
                 outcome: Outcome) -> None:
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
