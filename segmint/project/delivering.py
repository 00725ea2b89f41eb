"""Handing a run's result to the project's sinks: the consent and contact columns each
sink needs (checked before any data is read, `delivery_columns`), the segments that need
consent, and one `Delivery` per sink."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from segmint.delivery import privacy
from segmint.errors import SegmintError
from segmint.language import ast
from segmint.language.catalog import Column
from segmint.plugin.api import Delivery, RunResult, Sink
from segmint.plugin.host import calling_plugin, provenance
from segmint.project.named_columns import find_columns
from segmint.project.quarantine import write_quarantine

if TYPE_CHECKING:
    from segmint.project.pipeline import Outcome, Prepared


def deliver(prepared: Prepared, outcome: Outcome, *, only: Sequence[str] = (),
            dry_run: bool = False) -> list[Delivery]:
    """Hand the result to the project's sinks (or the named ones)."""
    sinks = prepared.sinks
    unknown = [name for name in only if name not in sinks]
    if unknown:
        raise SegmintError(f"unknown sink '{unknown[0]}'; the project has: {', '.join(sinks) or 'none'}")
    chosen: dict[str, Sink] = {n: s for n, s in sinks.items() if not only or n in only}
    if not dry_run:
        write_quarantine(outcome.report, prepared.project.state_path)
    deliveries = []
    for name, sink in chosen.items():
        with calling_plugin(lambda: f"sink '{name}' ({sink.name}, "
                            f"{provenance(prepared.registry, 'sink', sink.name)}) failed"):
            deliveries.append(_deliver_to(prepared, name, sink, outcome.result, dry_run))
    return deliveries


def delivery_columns(prepared: Prepared) -> dict[str, Column]:
    """Profile columns sinks need besides the rules': consent, identifiers, sinks' own."""
    project = prepared.project
    segments = consent_segments(prepared)
    names = [c for c in project.consent.values() if c not in segments] + list(project.identifiers.values())
    names += [c for sink in prepared.sinks.values() for c in sink.profile_columns()]
    names = [n for n in dict.fromkeys(names) if n != project.key]
    return dict(zip(names, find_columns(prepared, names)))


def consent_segments(prepared: Prepared) -> set[str]:
    """The ``[consent]`` purposes' targets that are segments of the rules, not columns."""
    names = {s.name for s in prepared.rules.statements if isinstance(s, ast.Segment)}
    return {c for c in prepared.project.consent.values() if c in names}


def _deliver_to(prepared: Prepared, name: str, sink: Sink, result: RunResult, dry_run: bool) -> Delivery:
    """One sink's delivery: members without consent for its purpose left out, identifiers
    hashed when it asks, and what was left out said in the delivery."""
    config = next((c for c in prepared.project.sinks if c.name == name), None)
    columns = delivery_columns(prepared) if config else {}
    dropped = 0
    if config is not None and config.purpose is not None:
        target = prepared.project.consent[config.purpose]
        contacts = _contact_columns(prepared, sink, columns)
        if target in consent_segments(prepared):  # consent given by a segment of the rules
            filtered = privacy.apply_consent(result, target, segment=True, contacts=contacts)
        else:
            filtered = privacy.apply_consent(result, columns[target].physical, contacts=contacts)
        result, dropped = filtered.result, filtered.dropped
    if config is not None and config.hash_identifiers:
        physical = {kind: columns[c].physical for kind, c in prepared.project.identifiers.items()
                    if c in columns}  # the customer key itself is never replaced
        result = attrs.evolve(result, profiles=privacy.hash_identifiers(result.profiles, physical))
    delivery = sink.deliver(result, dry_run=dry_run)
    if dropped:
        note = f"{dropped:,} members without {config.purpose} consent left out"
        delivery = attrs.evolve(delivery, skipped=delivery.skipped + dropped,
                                messages=(*delivery.messages, note))
    return delivery


def _contact_columns(prepared: Prepared, sink: Sink, columns: dict[str, Column]) -> dict[str, str]:
    """The profile columns (as the result names them) holding addresses, by kind: the
    sink's own and the project's ``[identifiers]``. A shared address needs every one of
    its profiles' consent."""
    named = dict(getattr(sink, "contact_columns", dict)())
    for kind, name in prepared.project.identifiers.items():
        named.setdefault(name, kind)
    return {columns[name].physical if name in columns else name: kind for name, kind in named.items()}
