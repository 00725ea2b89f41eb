"""`build_report`: a stored run (and optionally a compared one) made into a `Report`.

It reads the snapshots and, for value and outcomes, the project's sources as of the run's
as_of; it writes nothing, so a report never changes the project's state.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import attrs
import numpy as np

from segmint.delivery.snapshots import Snapshot, load_run
from segmint.errors import SegmintError
from segmint.plugin.host import PluginRegistry
from segmint.plugins.metrics.options import MetricOptions
from segmint.project.config import Project
from segmint.project.pipeline import Prepared, prepare, read_events
from segmint.report import changes, stats
from segmint.report.audiences import Audiences, audiences
from segmint.report.effectiveness import Outcomes, effectiveness, outcomes, parse_window
from segmint.report.model import (
    Churn, ClvPredicted, Money, Report, RunRef, SegmentReport,
)
from segmint.report.options import ReportOptions
from segmint.report.overlap import overlaps, pair_counts
from segmint.report.personas import features, personas
from segmint.report.value import ValueData, read_value
from segmint.report import warnings as checks


@attrs.frozen
class ReportRequest:
    """What `segmint report` was asked for."""

    run: str = "latest"
    compare: str | None = None
    outcomes: str | None = None
    window: str = "30d"


def build_report(project: Project, registry: PluginRegistry,
                 request: ReportRequest = ReportRequest()) -> Report:
    """The report of a stored run; every user mistake is a `SegmintError`."""
    options = ReportOptions.from_project(project.report, project.label)
    state = project.state_path
    if request.outcomes is not None:
        parse_window(request.window)
    run = load_run(state, request.run)
    before = None
    if request.compare is not None:
        before = load_run(state, request.compare)
        if before.run_id == run.run_id:
            raise SegmintError(f"--compare names the run being reported ({run.run_id}); "
                               "compare with another run ('segmint history' lists them)")
    as_of = _instant(run)
    prepared = prepare(attrs.evolve(project, rules=(), as_of=_as_of(as_of, project.timezone)),
                       registry, require_rules=False)
    if request.outcomes is not None and request.outcomes not in prepared.event_sources:
        events = ", ".join(prepared.event_sources) or "none"
        raise SegmintError(f"--outcomes: '{request.outcomes}' is not an event source of the project "
                           f"(event sources: {events})")
    # the labels' order the run stored (its rules then), else the project's rules now
    order = {**label_order(project), **{s.name: list(s.labels) for s in run.segments if s.labels}}
    found = audiences(run.membership, run.key, run.metadata.get("segments", ()), order)
    metric_options = MetricOptions.from_mapping(project.metrics)
    value = read_value(prepared, found, scale=metric_options.amount_scale,
                       clv_column=options.clv_column, average=metric_options.monetary == "average")
    data = None
    if request.outcomes is not None:
        data = _outcomes(prepared, found, request, as_of, options, metric_options.amount_scale)
    return assemble(run, before, found, value, data, options, prepared,
                    history=changes.history(state), label_order=order)


def assemble(run: Snapshot, before: Snapshot | None, found: Audiences, value: ValueData | None,
             data: Outcomes | None, options: ReportOptions, prepared: Prepared | None = None,
             history: tuple = (), label_order: dict[str, list[str]] | None = None) -> Report:
    """The report from its parts (the benchmark calls this with data it made)."""
    n = found.customers
    counts = pair_counts(found.matrix())
    growth, migration = {}, ()
    if before is not None:
        previous = audiences(before.membership, before.key, before.metadata.get("segments", ()),
                             label_order)
        growth = changes.growth(found, previous)
        migration = changes.migrations(found, previous)
    excluded = [] if prepared is None else list(prepared.project.identifiers.values())
    columns = features(run.profiles, found, key=run.key, as_of=_instant(run), excluded=excluded,
                       options=options, value=None if value is None else value.metrics(),
                       label=None if prepared is None else prepared.project.label)
    people = personas(found, columns, options)
    effects = {}
    if data is not None:
        for name, held in found.holdouts.items():
            treated = found.get(name).mask
            effects[name] = effectiveness(name, treated, held, data, options)
    rates = {name: e.holdout.rate for name, e in effects.items()}
    pairs = overlaps(found, counts)
    warnings = (checks.size_warnings(found, options) + checks.overlap_warnings(pairs, options)
                + checks.sibling_warnings(found, {} if value is None else value.metrics(), options)
                + checks.holdout_warnings(found, options, rates))
    tagged = checks.by_segment(warnings)
    total = None if value is None else int(value.revenue_minor.sum())
    segments = []
    for audience in found.items:
        segments.append(_segment(audience, n, value, total, options, growth.get(audience.id),
                                 people[audience.id], found, effects.get(audience.id),
                                 tagged.get(audience.id, ())))
    notes = () if value is not None else (
        "value is not shown: the project has no 'orders' event source for the metrics",)
    return Report(
        run=_ref(run), compare=None if before is None else _ref(before), customers=n,
        revenue=None if total is None else Money(total, value.scale),
        segments=tuple(segments), overlap=pairs, migration=migration,
        history=history, warnings=tuple(warnings),
        notes=notes + (() if value is None else value.notes),
    )


def _segment(audience, n: int, value: ValueData | None, total: int | None, options: ReportOptions,
             growth, persona, found: Audiences, effect, warnings) -> SegmentReport:
    mask = audience.mask
    members = audience.members
    held = found.holdouts.get(audience.id)
    base = dict(id=audience.id, name=audience.name, segmentation=audience.segmentation,
                description=audience.description, members=members, share=members / n if n else None,
                growth=growth, persona=persona, holdout=None if held is None else int(held.sum()),
                effectiveness=effect, warnings=warnings)
    if value is None:
        return SegmentReport(**base, revenue=None, revenue_share=None, orders=None,
                             clv_historical_total=None, clv_predicted=None, churn=None, cac=None,
                             clv_to_cac=None)
    revenue = int(value.revenue_minor[mask].sum())
    churned = value.churned[mask]
    churned = churned[~np.isnan(churned)]
    expected = None
    clv = None
    if value.p_alive is not None:
        alive = value.p_alive[mask]
        alive = alive[~np.isnan(alive)]
        expected = float((1 - alive).mean()) if len(alive) else None
    if value.clv is not None and value.clv_column is not None:
        predicted = value.clv[mask]
        predicted = predicted[~np.isnan(predicted)]
        if len(predicted):
            low, high = stats.bootstrap_mean(predicted, name=audience.id, seed=options.seed,
                                             resamples=options.bootstrap_resamples,
                                             confidence=options.confidence)
            clv = ClvPredicted(value.clv_column, float(predicted.mean()), low, high, len(predicted))
    return SegmentReport(
        **base, revenue=Money(revenue, value.scale),
        revenue_share=revenue / total if total else None,
        orders=int(value.orders[mask].sum()),
        clv_historical_total=float(np.sum(np.sort(value.clv_historical[mask]))),
        clv_predicted=clv,
        churn=Churn(float(churned.mean()) if len(churned) else None, expected),
        cac=_mean(value.cac, mask), clv_to_cac=_mean(value.clv_to_cac, mask),
    )


def _mean(values: np.ndarray | None, mask: np.ndarray) -> float | None:
    if values is None:
        return None
    picked = values[mask]
    picked = picked[~np.isnan(picked)]
    return float(picked.mean()) if len(picked) else None


def label_order(project: Project) -> dict[str, list[str]]:
    """Each segmentation's labels in the order the project's rules list them now (labels of
    a stored run that the rules no longer have come after them); nothing if they do not parse."""
    from segmint.language import ast
    from segmint.project.config import expand_rule_files
    from segmint.project.pipeline import load_rules

    try:
        rules = load_rules(expand_rule_files(project))
    except SegmintError:
        return {}
    return {s.name: [arm.label for arm in s.arms] for s in rules.statements
            if isinstance(s, ast.Segmentation)}


def _outcomes(prepared: Prepared, found: Audiences, request: ReportRequest, as_of: dt.datetime,
              options: ReportOptions, scale: int) -> Outcomes:
    name = request.outcomes
    assert name is not None
    source = prepared.event_sources[name]
    table = read_events(prepared, name)
    return outcomes(table, found, source=name, key=prepared.project.key,
                    timestamp=source.timestamp_column, as_of=as_of, window=request.window,
                    timezone=prepared.project.timezone, amount_column=options.amount_column,
                    scale=scale)


def _instant(run: Snapshot) -> dt.datetime:
    text = str(run.metadata.get("as_of", ""))
    try:
        instant = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SegmintError(f"run {run.run_id} has no readable as_of in its run.json: '{text}'") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=dt.timezone.utc)


def _as_of(instant: dt.datetime, timezone: str) -> dt.date | dt.datetime:
    """The run's as_of as the project would state it: a date when the run observed a whole
    day (its instant is that day's last microsecond), else the instant."""
    local = instant.astimezone(zoneinfo.ZoneInfo(timezone))
    if local.time() == dt.time(23, 59, 59, 999999):
        return local.date()
    return instant


def _ref(run: Snapshot) -> RunRef:
    return RunRef(run.run_id, str(run.metadata.get("as_of", "")), str(run.metadata.get("created_at", "")))


def holdout_check(prepared: Prepared) -> list:
    """`segmint validate --data`: evaluate the rules and warn of holdouts too small to
    measure a ``min_lift`` lift, so a team sizes its control group before the campaign."""
    from segmint.project.pipeline import execute

    options = ReportOptions.from_project(prepared.project.report, prepared.project.label)
    outcome = execute(prepared)
    found = audiences(outcome.result.membership, prepared.project.key)
    return checks.holdout_warnings(found, options)
