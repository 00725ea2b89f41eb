"""A run, as data flows through it: load, parse, check, plan, read, compute, evaluate, deliver.

`prepare` does everything that needs no data (so `validate` and every user error about
rules, names, types, plugins and options happen before a byte is read); `execute` reads the
sources the rules use, computes the metrics they use, joins one profile table on the key and
evaluates; `store_snapshot` keeps the run; `deliver` hands the result to sinks.
`run_project` does all of it in one call (what `segmint run` and a Python user call).
The reading of sources is `reading` (side by side: `prefetch`), what a metric needs of the
project `metric_needs`, the handing to sinks `delivering`; this module decides what a run
reads and computes, in which order.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from segmint.delivery.snapshots import (
    MEMBERSHIP_FILE, Snapshot, run_metadata, segment_counts, write_snapshot,
)
from segmint.engines.arrow.engine import ArrowEngine
from segmint.engines.base import Engine, EngineResult, EventInput, Job, MetricInput, Scan
from segmint.errors import DataError, RuleError, SegmintError
from segmint.language import ast
from segmint.language.catalog import Catalog, Column
from segmint.language.checker import CheckedRules, check
from segmint.language.parser import decode_rule_file, parse_rules
from segmint.plugin.api import (
    PROFILES, Delivery, Metric, MetricContext, RunResult, SegmentInfo, SegmentKind, Sink, Source,
    StoredTable,
)
from segmint.plugin.engines import AutoChoice, auto_engine
from segmint.plugin.host import PluginRegistry, calling_plugin, get_registry, provenance
from segmint.project.config import (
    Project, expand_rule_files, instantiate_sinks, instantiate_sources, load_project,
)
from segmint.project.data_report import DataReport
from segmint.project.delivering import deliver, delivery_columns
from segmint.project.engine_choice import checked_on, project_engine, scanned_rows
from segmint.project.identity import Keys
from segmint.project.joins import join_profiles, key_ordered, profile_keys
from segmint.project.metric_needs import (
    check_metric_columns, check_metric_sources, metric_columns, metric_sources,
)
from segmint.project.prefetch import NO_PREFETCH, Prefetch, read_workers
from segmint.project.reading import (
    _metric_source, _read_profiles, key_policy, metric_reads, planned_reads, read_events,
    source_schema,
)
from segmint.semantics.asof import AsOf
from segmint.semantics.events import event_columns
from segmint.semantics.holdout import HOLDOUT_SUFFIX
from segmint.version import __version__

Progress = Callable[[str], None]


@attrs.frozen
class Prepared:
    """A project whose rules parsed and checked against its sources' schemas."""

    project: Project
    registry: PluginRegistry
    as_of: AsOf
    checked: CheckedRules
    profile_sources: dict[str, Source]
    event_sources: dict[str, Source]
    metrics: dict[str, Metric]  # the metrics whose event sources the project has
    sinks: dict[str, Sink]
    #: The engine that evaluates (the project's ``engine``, or ``--engine``).
    engine: Engine = attrs.field(factory=ArrowEngine)
    #: What ``engine = "auto"`` picked and why; None when the project named its engine.
    engine_choice: AutoChoice | None = None

    @property
    def rules(self) -> ast.RuleSet:
        return self.checked.rules


@attrs.frozen
class Outcome:
    result: RunResult
    #: The engine's answer; the arrow engine's (an `Evaluation`) also holds what explain needs.
    evaluation: EngineResult
    #: What the run found in its data: duplicates, unmatched keys, quarantined rows.
    report: DataReport = attrs.field(factory=DataReport)


def load_rules(files: Sequence[Path]) -> ast.RuleSet:
    """Parse every rule file; report the errors of all files together."""
    rules = ast.RuleSet(())
    diagnostics = []
    for path in files:
        try:
            text = decode_rule_file(path.read_bytes(), display_path(path))
            rules = rules + parse_rules(text, display_path(path))
        except RuleError as error:
            diagnostics.extend(error.diagnostics)
        except OSError as error:
            raise DataError(f"cannot read rule file: {error.strerror}", file=str(path)) from None
    if diagnostics:
        raise RuleError(diagnostics)
    return rules


def display_path(path: Path) -> str:
    """A path as messages show it: relative to the current directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def prepare(project: Project, registry: PluginRegistry, *, require_rules: bool = True) -> Prepared:
    """Parse, resolve and type-check the project's rules using schemas only."""
    as_of = AsOf.resolve(project.as_of, project.timezone)
    files = expand_rule_files(project)
    if not files and require_rules:
        raise SegmintError("no rule files: name some on the command line or in segmint.toml 'rules'")
    rules = load_rules(files)
    context = project.context(as_of.instant)
    sources = instantiate_sources(project, registry, context)
    profiles = {n: s for n, s in sources.items() if s.role == PROFILES}
    events = {n: s for n, s in sources.items() if s.role != PROFILES}
    engine, choice = project_engine(project, registry, events, aggregated_sources(rules), source_schema)
    metrics = {
        name: metric for name, metric in registry.metrics.items()
        if all(need in events for need in metric.requires)
    }
    schemas: dict[str, pa.Schema] = {}

    def schema_of(name: str) -> pa.Schema:  # once per source: a CSV's means typing its first block
        if name not in schemas:
            schemas[name] = source_schema(sources[name], project.key)
        return schemas[name]

    parts = [(name, schema_of(name), None) for name in profiles]
    for name, metric in metrics.items():
        schema = pa.schema([(c.name, c.type) for c in metric_columns(metric, project)])
        home = metric.requires[0] if metric.requires else name
        parts.append((home, schema, f"metric {name}"))
    catalog = Catalog.from_parts(parts, key=project.key).with_events({
        name: (schema_of(name), events[name].timestamp_column)
        for name in aggregated_sources(rules) if name in events
    }, key=project.key)
    catalog = attrs.evolve(catalog, type_options={
        name: source.types_option for name, source in sources.items()
        if getattr(source, "types_option", None)})
    checked, engine, choice = checked_on(
        engine, choice, lambda on: check(rules, catalog, registry.functions, engine=on),
        lambda done: auto_engine(registry, scanned_rows(project, events, event_columns(done), source_schema)))
    used = {c.via for c in checked.columns_used}
    for name, metric in metrics.items():
        if f"metric {name}" in used:  # a metric no rule uses reads nothing
            check_metric_sources(metric, project, sources)
            check_metric_columns(metric, project,
                                 {n: schema_of(n) for n in metric_sources(metric, project)})
    sinks = instantiate_sinks(project, registry, context)
    prepared = Prepared(project, registry, as_of, checked, profiles, events, metrics, sinks, engine,
                        choice)
    delivery_columns(prepared)  # consent and identifier columns must exist before data is read
    return prepared


def aggregated_sources(rules: ast.RuleSet) -> list[str]:
    """The sources the rules aggregate over (`count(orders, last 30d)`), in order."""
    found: dict[str, None] = {}
    for statement in rules.statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Aggregate):
                found.setdefault(node.source, None)
    return list(found)


def read_aggregated_events(prepared: Prepared, keys: Keys | None = None,
                           prefetch: Prefetch = NO_PREFETCH) -> dict[str, Any]:
    """Each event source the rules aggregate over, read with only the columns they use."""
    return {name: read_events(prepared, name, keys, columns, prefetch=prefetch)
            for name, columns in event_columns(prepared.checked).items()}


def execute(prepared: Prepared, progress: Progress | None = None) -> Outcome:
    """Read what the rules need, build the profile table, evaluate."""
    say = progress or (lambda _: None)
    key = prepared.project.key
    used = list(prepared.checked.columns_used)
    used += [c for c in delivery_columns(prepared).values() if c not in used]
    report = DataReport()
    keys = key_policy(prepared, report)
    with Prefetch.start(planned_reads(prepared, used, keys)) as prefetch:
        read = _read_profile_table(prepared, used, say, report, keys=keys, in_engine=True,
                                   prefetch=prefetch)
        profiles = read.table
        say("evaluating segments")
        data = read_aggregated_events(prepared, keys, prefetch)
    data.update(read.scans)  # the orders the engine's metrics read (and the aggregates')
    events = {name: EventInput(name, found, prepared.event_sources[name].timestamp_column,
                               prepared.event_sources[name].role)
              for name, found in data.items()}
    # the keys with no profile of events the engine reads itself are counted by the engine
    job = Job(prepared.checked, profiles, key, prepared.as_of, events, prepared.project.holdout_salt,
              count_keys=keys.scanned & set(events) if prepared.profile_sources else frozenset(),
              keys_checked=read.keys_checked, metrics=read.metrics)
    with _matching_ahead(prepared, keys, data):
        evaluation = prepared.engine.evaluate(job)
    keys.count_unmatched(list(prepared.profile_sources), list(prepared.event_sources),
                         counted={name: c.unmatched for name, c in evaluation.key_counts.items()})
    result = RunResult(
        membership=evaluation.membership, profiles=read.with_metrics(evaluation.metrics), key=key,
        as_of=prepared.as_of.instant, segments=segment_infos(prepared.rules),
    )
    return Outcome(result, evaluation, report)


@contextlib.contextmanager
def _matching_ahead(prepared: Prepared, keys: Keys, data: Mapping[str, Any]) -> Iterator[None]:
    """While the engine evaluates, find on another thread the distinct keys the unmatched
    count will match (`Keys.find_keysets`; Arrow's hashing releases the GIL): the profile
    sources' and those of the event tables held whole, not the streams the engine is still
    reading (`data`) nor the files it reads itself. Their errors, if any, are raised after."""
    names = [*prepared.profile_sources]
    names += [n for n in prepared.event_sources
              if not isinstance(data.get(n), pa.RecordBatchReader) and n not in keys.scanned]
    if not prepared.profile_sources or not names or read_workers() < 2:
        yield
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="segmint-keys") as pool:
        found = pool.submit(keys.find_keysets, names)
        yield
        found.result()


@attrs.frozen
class ProfileTable:
    """The profile table a run evaluates over, and whether its keys were all checked as
    read (`check_keys`: the profile sources' tables, of one key type, joined; no metric's
    table among them)."""

    table: pa.Table
    keys_checked: bool
    #: Metrics the engine computes itself (their columns are not in the table), and the
    #: scans of the sources they require, by name.
    metrics: tuple[MetricInput, ...] = ()
    scans: Mapping[str, Scan] = attrs.field(factory=dict)
    #: The columns of the profile table with the metrics' columns, in order.
    columns: tuple[str, ...] = ()

    def with_metrics(self, computed: pa.Table | None) -> pa.Table:
        """The table with the metric columns the engine computed (`EngineResult.metrics`),
        columns in the order segmint's own join of the metrics gives."""
        if computed is None:
            return self.table
        table = self.table
        for name in computed.column_names:
            table = table.append_column(name, computed.column(name))
        return table.select(list(self.columns))


def read_profile(prepared: Prepared, used: Sequence[Column], say: Progress,
                 report: DataReport | None = None, *, keys: Keys | None = None) -> pa.Table:
    """One row per customer: the key, the profile columns and metric columns asked for.

    Keys are normalised, mapped and de-duplicated per source (`identity`); what that found
    is counted into `report`; the keys matching nothing too, unless the caller gave `keys`
    (`execute` counts them once, after the event sources are read as well)."""
    policy = keys or key_policy(prepared, report)
    with Prefetch.start(planned_reads(prepared, used, policy, aggregates=False)) as prefetch:
        return _read_profile_table(prepared, used, say, report, keys=keys, policy=policy,
                                   prefetch=prefetch).table


def _read_profile_table(prepared: Prepared, used: Sequence[Column], say: Progress,
                        report: DataReport | None = None, *, keys: Keys | None = None,
                        in_engine: bool = False, policy: Keys | None = None,
                        prefetch: Prefetch = NO_PREFETCH) -> ProfileTable:
    """`read_profile`, saying whether every key of the table was checked as read; with
    `in_engine`, the metrics the run's engine computes itself left to it (`engine_metric`:
    with profile sources, which give the customers). `policy` is the key policy when the
    caller made it but counts the unmatched keys here (`keys` not given)."""
    key = prepared.project.key
    counts_unmatched = keys is None
    keys = keys or policy or key_policy(prepared, report)
    tables = []
    for name, source in prepared.profile_sources.items():
        say(f"reading {name}")
        wanted = [c for c in used if c.source == name and c.via is None]
        tables.append(_read_profiles(name, source, wanted, key, keys, prefetch))
        keys.checked(name)  # its keys passed check_keys: distinct as they are
    customers = profile_keys(tables, key)
    checked = len(tables)
    names = [key] + [c for t in tables for c in t.column_names if c != key]
    inputs, scans = [], {}
    for name, metric in prepared.metrics.items():
        wanted = [c for c in used if c.via == f"metric {name}"]
        if wanted:
            names += [c.physical for c in wanted]
            say(f"computing {name}")
            found = None if customers is None or not in_engine else \
                _engine_metric(prepared, metric, wanted, keys, customers.type)
            if found is not None:  # the engine computes it, reading the orders itself
                inputs.append(found.metric)
                scans = found.scans(scans)
                continue
            table = _compute_metric(prepared, metric, wanted, keys, prefetch)
            if customers is not None:  # a metric never adds customers to the profiles'
                table = table.filter(pc.is_in(table.column(key), value_set=customers))
            tables.append(table)
    if not tables:
        raise DataError("no profile data: add a source with --source NAME=PATH or in segmint.toml")
    if counts_unmatched:
        keys.count_unmatched(list(prepared.profile_sources), list(prepared.event_sources))
    say("joining profiles")
    # keys of one type (a cast in the join could make two keys one)
    same = len({t.schema.field(key).type for t in tables}) == 1
    joined = join_profiles(tables, key)
    if inputs and len(tables) == 1:  # in key order, as joined with the metrics' tables
        joined = key_ordered(joined, key)
    return ProfileTable(joined, keys_checked=checked == len(tables) and same,
                        metrics=tuple(inputs), scans=scans, columns=tuple(names))


def _engine_metric(prepared: Prepared, metric: Metric, wanted: list[Column], keys: Keys,
                   key_type: pa.DataType) -> Any:
    """`engine_metric`, asked only of an engine that computes metrics (SQL: sqlglot)."""
    if not prepared.engine.computes_metrics:
        return None
    from segmint.project.sql_sources import engine_metric

    return engine_metric(prepared, metric, wanted, keys, key_type)


def segment_infos(rules: ast.RuleSet) -> tuple[SegmentInfo, ...]:
    infos = []
    for statement in rules.statements:
        if isinstance(statement, ast.Segment):
            infos.append(SegmentInfo(statement.name, SegmentKind.SEGMENT, statement.description))
            if statement.holdout is not None:
                infos.append(SegmentInfo(statement.name + HOLDOUT_SUFFIX, SegmentKind.HOLDOUT,
                                         statement.description))
        else:
            infos.append(SegmentInfo(statement.name, SegmentKind.SEGMENTATION, statement.description,
                                     tuple(arm.label for arm in statement.arms)))
    return tuple(infos)


def _compute_metric(prepared: Prepared, metric: Metric, columns: list[Column],
                    keys: Keys | None = None, prefetch: Prefetch = NO_PREFETCH) -> pa.Table:
    keys = keys or key_policy(prepared)
    prefetch.settle(metric.requires)  # their schemas are asked next: one thread at a time
    reads = metric_reads(prepared, metric, keys)
    events = {role: read_events(prepared, role, keys, reads.get(role), whole=True,
                                prefetch=prefetch)
              for role in metric.requires}
    for name in metric_sources(metric, prepared.project)[len(metric.requires):]:
        events[name] = _metric_source(prepared, name, keys, prefetch)
    project = prepared.project
    context = metric_context(prepared, columns, events)
    with calling_plugin(lambda: f"metric '{metric.name}' "
                        f"({provenance(prepared.registry, 'metric', metric.name)}) failed"):
        table = metric.compute(context)
    return table.select([project.key] + [c.name for c in columns]).rename_columns(
        [project.key] + [c.physical for c in columns])


def metric_context(prepared: Prepared, columns: Sequence[Column],
                   events: Mapping[str, Any]) -> MetricContext:
    """What a metric computing `columns` receives, its required sources as `events` (Arrow
    tables for `Metric.compute`, `SqlTable` values for a SQL builder): the run's key, as_of
    (a whole day when it was given as a date), time zone and ``[metrics]`` options."""
    project = prepared.project
    return MetricContext(
        events=events, key=project.key, as_of=prepared.as_of.instant, timezone=project.timezone,
        as_of_date=prepared.as_of.date if prepared.as_of.whole_day else None,
        columns=frozenset(c.name for c in columns),
        options=project.metrics,
    )


def sizes(membership: pa.Table, key: str, rules: ast.RuleSet) -> list[tuple[str, int]]:
    """Members per segment (and per label of a segmentation, in rule order)."""
    return list(segment_counts(membership, key, segment_infos(rules)).items())


@attrs.frozen
class ProjectRun:
    """What `run_project` did: the result (membership and the profile columns sinks use),
    the members per segment, the data report, the deliveries, and the stored run."""

    prepared: Prepared = attrs.field(repr=False)
    outcome: Outcome = attrs.field(repr=False)
    deliveries: tuple[Delivery, ...]
    #: The stored run; None for a dry run, which stores nothing.
    snapshot: Snapshot | None

    @property
    def result(self) -> RunResult:
        return self.outcome.result

    @property
    def membership(self) -> pa.Table:
        """The key, then one column per segment and segmentation, in file order."""
        return self.outcome.result.membership

    @property
    def as_of(self) -> dt.datetime:
        return self.prepared.as_of.instant

    @property
    def run_id(self) -> str | None:
        return self.snapshot.run_id if self.snapshot is not None else None

    @property
    def report(self) -> DataReport:
        """What the run found in its data: duplicate and unmatched keys, quarantined rows."""
        return self.outcome.report

    def sizes(self) -> list[tuple[str, int]]:
        """Members per segment (``NAME=LABEL`` per label of a segmentation), in file order."""
        return sizes(self.membership, self.prepared.project.key, self.prepared.rules)


def run_project(
    project: Project | str | os.PathLike[str] = "segmint.toml",
    *,
    as_of: str | dt.date | None = None,
    dry_run: bool = False,
    sinks: Sequence[str] = (),
    engine: str | None = None,
    registry: PluginRegistry | None = None,
    progress: Progress | None = None,
) -> ProjectRun:
    """Run a project: prepare (parse and check), execute, store the run, deliver.

    `project` is a project file's path or a loaded `Project`; `as_of` and `engine` override
    the project's; `sinks` names the sinks to deliver to (all by default). A dry run stores
    nothing and its sinks send nothing (they say what they would). `registry` is the
    plugins to use (the installed ones by default); `progress` is told each step's name.
    """
    say = progress or (lambda _: None)
    registry = registry if registry is not None else get_registry()
    if not isinstance(project, Project):
        project = load_project(project)
    if as_of is not None or engine is not None:
        project = project.with_overrides(as_of=as_of, engine=engine, registry=registry)
    say("checking rules")
    prepared = prepare(project, registry)
    unknown = [name for name in sinks if name not in prepared.sinks]
    if unknown:
        raise SegmintError(f"unknown sink '{unknown[0]}'; the project has: "
                           f"{', '.join(prepared.sinks) or 'none'}")
    outcome = execute(prepared, progress=say)
    snapshot = None
    if not dry_run:
        say("storing the run")
        snapshot = store_snapshot(prepared, outcome.result)
        stored = StoredTable(outcome.result.membership, snapshot.path / MEMBERSHIP_FILE)
        outcome = attrs.evolve(outcome, result=attrs.evolve(outcome.result, run_id=snapshot.run_id,
                                                            stored_membership=stored))
    say("delivering")
    deliveries = deliver(prepared, outcome, only=sinks, dry_run=dry_run)
    return ProjectRun(prepared, outcome, tuple(deliveries), snapshot)


def store_snapshot(prepared: Prepared, result: RunResult) -> Snapshot:
    """Store a run's result under its project's state directory, with the hash of its rules
    and the versions of segmint and the plugins."""
    plugins = {info.distribution: info.version for info in prepared.registry.plugins}
    metadata = run_metadata(expand_rule_files(prepared.project), plugins, __version__)
    return write_snapshot(prepared.project.state_path, result, metadata)
