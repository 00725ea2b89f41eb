"""The objects plugins provide and receive: sources, sinks, metrics and functions.

These are the stable extension points; a third-party plugin subclasses `Source` or `Sink`
or builds `Metric` and `Function` values, and returns them from its ``register_*`` hooks.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pyarrow as pa

from segmint.language.types import (  # noqa: F401 - the types plugins declare, public here
    BOOL, DATE, DURATION, NUMBER, STRING, TIMESTAMP, Kind, Type, list_of,
)
from segmint.semantics.asof import AsOf  # noqa: F401 - the run's as-of, as metrics receive it
from segmint.semantics.holdout import key_text  # noqa: F401 - keys as the text holdouts hash
# what metrics count with, shared with the report: duration literals, money as exact minor
# units, instants in the run's time zone
from segmint.semantics.durations import days, parse_duration  # noqa: F401
from segmint.semantics.instants import instants_us, local_instant, utc_instants  # noqa: F401
from segmint.semantics.money import from_minor_units, to_minor_units  # noqa: F401
# the one "did you mean", for plugins' own messages
from segmint.semantics.names import closest, did_you_mean, name_hint  # noqa: F401

PROFILES = "profiles"
EVENTS = "events"


@attrs.frozen
class NoOptions:
    """Options of a plugin that takes none."""


@attrs.frozen
class SourceSettings:
    """What a project file says of one source besides its plugin's options.

    segmint hands them to the source through its `PluginContext` (``context.source``) and
    `Source.__init__` takes them over, so nothing is set on a source after it is built.
    ``role`` and ``timestamp_column`` override the class's own when given; ``policy`` is the
    source's key policy (``key_normalize``, ``identity``, ``on_duplicate_keys``...) and
    ``columns`` its column options (``key``, ``booleans``), both as the project checked them.
    """

    role: str | None = None
    timestamp_column: str | None = None
    #: Where the source was declared, for messages: ``segmint.toml [sources.crm]``.
    origin: str | None = None
    on_bad_rows: str = "error"
    policy: Any = None
    columns: Any = None


NO_SETTINGS = SourceSettings()


@attrs.frozen
class PluginContext:
    """What a source or sink knows about the run it serves (and, building a source, what
    the project says of it: `source`)."""

    project_dir: Path
    key: str = "customer_id"
    as_of: dt.datetime | None = None
    timezone: str = "UTC"
    state_dir: Path | None = None
    source: SourceSettings = NO_SETTINGS


@attrs.frozen
class BadRow:
    """A row a source left out under ``on_bad_rows = "skip"``: where it was, why, its text.

    ``line`` is the file's line the row starts on (a CSV header is line 1); ``row`` the row
    of a source that has no lines."""

    reason: str
    row: int | None = None
    column: str | None = None
    file: str | None = None
    text: str = ""
    line: int | None = None


class Source:
    """A place customer data comes from, read as Arrow.

    Subclasses set ``name`` (the plugin name used in a project file), ``description``,
    ``Options`` (an attrs class; its fields are the options), ``role`` and ``extensions``
    (file name endings such as ``".csv"`` that ``--source NAME=PATH`` picks this source
    for), and implement `schema` (cheaply, without reading all the data) and `read`.
    A project file may set ``role`` per source; the instance takes it from its context.
    A subclass that defines ``__init__`` calls ``super().__init__(source_name, options,
    context)`` first: that is where the project's settings of the source arrive.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    role: ClassVar[str] = PROFILES
    extensions: ClassVar[tuple[str, ...]] = ()
    #: Of an event source: the column saying when each event happened (a date or a
    #: timestamp), which aggregates' windows and as_of apply to. A project may name another
    #: per source with ``timestamp_column = "..."``; the instance takes it from its context.
    timestamp_column: ClassVar[str] = "timestamp"
    #: Whether the source can leave bad rows out (``on_bad_rows = "skip"``) via `bad_row`.
    skips_bad_rows: ClassVar[bool] = False
    #: The option that sets a column's type (a table of column = "int", "date"...), when the
    #: source has one: the checker's hint for a text column compared with a number names it.
    types_option: ClassVar[str | None] = None
    #: "error" or "skip": the source's ``on_bad_rows`` option, from its context.
    on_bad_rows: str = "error"

    def __init__(self, source_name: str, options: Any, context: PluginContext) -> None:
        self.source_name = source_name
        self.options = options
        self.context = context
        self.skipped_rows: list[BadRow] = []
        settings = context.source
        if settings.role is not None:
            self.role = settings.role  # type: ignore[misc]
        if settings.timestamp_column is not None:
            self.timestamp_column = settings.timestamp_column  # type: ignore[misc]
        self.on_bad_rows = settings.on_bad_rows
        self.origin = settings.origin or f"[sources.{source_name}]"
        self.policy = settings.policy
        self.project_columns = settings.columns

    def bad_row(self, error: Any, text: str = "") -> None:
        """Report a bad row (a `segmint.DataError`): raise it, or under ``on_bad_rows =
        "skip"`` record it (segmint writes it to the quarantine file) and go on."""
        if self.on_bad_rows != "skip":
            raise error
        if not hasattr(self, "skipped_rows"):
            self.skipped_rows = []
        self.skipped_rows.append(BadRow(
            reason=getattr(error, "reason", str(error)), row=getattr(error, "row", None),
            column=getattr(error, "column", None), file=getattr(error, "file", None), text=text,
            line=getattr(error, "line", None),
        ))

    def schema(self) -> pa.Schema:
        raise NotImplementedError

    def read(self, columns: Sequence[str] | None = None) -> pa.Table | pa.RecordBatchReader:
        """Read the data, only `columns` when given (the key column is always included)."""
        raise NotImplementedError

    def scan(self, columns: Sequence[str]) -> Any:
        """The files an engine may read itself instead of `read` (a `segmint.engines.base.Scan`
        of the key and `columns`), or None (the default) when the data must come through
        `read`. The run asks only when its engine reads such files and nothing of the
        project's key or column options has to change the rows."""
        return None


class SegmentKind(enum.StrEnum):
    """What an output column of a run is (a `str`: ``"segment"``...)."""

    SEGMENT = "segment"
    HOLDOUT = "holdout"
    SEGMENTATION = "segmentation"


@attrs.frozen
class SegmentInfo:
    """What a sink needs to know of one output column of a run."""

    name: str
    kind: SegmentKind = attrs.field(converter=SegmentKind)
    description: str | None = None
    #: Of a segmentation: its labels in the order its rule lists them (as they are shown).
    labels: tuple[str, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen
class RunResult:
    """A finished evaluation: membership plus the profile columns sinks may need."""

    membership: pa.Table
    profiles: pa.Table
    key: str
    as_of: dt.datetime
    segments: tuple[SegmentInfo, ...] = ()
    #: The stored run's id (``segmint run`` stores a snapshot first); None in a dry run.
    run_id: str | None = None
    #: The stored run's membership file and the table it holds (see `stored_parquet`).
    stored_membership: StoredTable | None = attrs.field(default=None, eq=False, repr=False)

    def stored_parquet(self, table: pa.Table) -> Path | None:
        """The stored run's Parquet file holding `table`, when `table` is the membership
        table the run stored (not one filtered since, as for consent): a sink writing it as
        Parquet may copy that file rather than encode the table again. None otherwise."""
        stored = self.stored_membership
        return stored.path if stored is not None and stored.table is table else None


@attrs.frozen
class StoredTable:
    """A table of a run as its snapshot holds it: a Parquet file that
    `pyarrow.parquet.write_table` wrote with its default options, so a copy of the file has
    the bytes writing the table again would give."""

    table: pa.Table = attrs.field(eq=False, repr=False)
    path: Path


@attrs.frozen
class Delivery:
    """What a sink sent (or, in a dry run, would send)."""

    sink: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    skipped: int = 0
    target: str = ""
    dry_run: bool = False
    #: Notes for the user, printed after the counts (members left out for lack of consent…).
    messages: tuple[str, ...] = ()


class Sink:
    """A destination for a run's result.

    Subclasses set ``name``, ``description``, ``Options`` and ``extensions`` (file name
    endings that ``--out PATH`` picks this sink for) and implement `deliver`, which
    must leave the destination as it was when it fails (write atomically or resumably).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    extensions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, sink_name: str, options: Any, context: PluginContext) -> None:
        self.sink_name = sink_name
        self.options = options
        self.context = context

    def deliver(self, result: RunResult, *, dry_run: bool = False) -> Delivery:
        raise NotImplementedError

    def profile_columns(self) -> Sequence[str]:
        """Profile columns the sink sends; segmint reads them even when no rule uses them."""
        return ()

    def contact_columns(self) -> Mapping[str, str]:
        """The profile columns holding the addresses the sink sends to, by kind ("email" or
        "phone"). With a consent ``purpose``, an address shared by several profiles is sent
        only if every one of them consents."""
        return {}


@attrs.frozen
class MetricColumn:
    name: str
    type: pa.DataType
    description: str = ""


@attrs.frozen
class MetricContext:
    """Inputs of a metric's computation: event tables by role, the run's instant, options.

    ``as_of`` is the exact instant (timezone-aware UTC); when the run's as_of was given as a
    date, ``as_of_date`` is that date: the whole day is observed, and durations are counted
    in days to it.
    """

    events: Mapping[str, pa.Table]
    key: str
    as_of: dt.datetime
    timezone: str = "UTC"
    as_of_date: dt.date | None = None
    columns: frozenset[str] = frozenset()
    options: Mapping[str, Any] = attrs.field(factory=dict)


#: The key of a builder for the SQL engines (duckdb, spark, `segmint sql`) in
#: `Metric.builders`: one builder serves every dialect, the context says which.
SQL = "sql"


@attrs.frozen
class SqlTable:
    """An event source as a SQL engine holds it, for a metric's SQL builder.

    ``relation`` is a sqlglot expression to select from (its columns as the source has
    them, described by ``schema``). The engine's representation of time is its own, so it
    hands over three sqlglot builders: ``instant(column)`` gives a date or timestamp
    column (by name) as the engine's timestamp value of its instant (dates and naive
    timestamps read in the run's time zone), orderable and usable in MIN/MAX;
    ``micros(value)`` that instant as BIGINT microseconds since the epoch;
    ``local_day(value)`` its calendar day in the run's time zone as BIGINT days since
    1970-01-01. ``byte_order(value)`` gives a text value that MIN/MAX, comparisons and
    joins order by its UTF-8 bytes, as Arrow does (PostgreSQL: ``COLLATE "C"``); by
    default the value itself, for engines that compare text so already.
    """

    relation: Any
    schema: pa.Schema
    instant: Callable[[str], Any]
    micros: Callable[[Any], Any]
    local_day: Callable[[Any], Any]
    byte_order: Callable[[Any], Any] = lambda value: value


@attrs.frozen
class SqlRefusal:
    """Rows of an event source a metric's ``compute`` refuses (a `DataError`), as an engine
    running its SQL builder finds them: the rows of ``relation`` (a `SqlTable`'s) where
    ``condition`` (a sqlglot boolean over its columns) holds. The engine counts them before
    the metric's query, and one or more is the `DataError` ``message`` (``{count}`` in it:
    the number of rows) naming ``source`` and ``column``, as ``compute`` raises it: a row
    the SQL would leave out is never dropped silently."""

    relation: Any
    condition: Any
    message: str
    source: str
    column: str


@attrs.frozen
class Metric:
    """A group of customer measures computed together from event data.

    ``compute`` gives the columns as Arrow (the arrow engine). ``builders`` gives them on
    other engines, keyed by engine family (`SQL` for the SQL engines): a builder receives a
    `MetricContext` whose ``events`` are `SqlTable` values and returns a sqlglot query
    with the key and the asked columns, one row per customer, the same values as
    ``compute`` (durations as BIGINT microseconds, timestamps as ``instant`` gives them).
    """

    name: str
    columns: tuple[MetricColumn, ...]
    compute: Callable[[MetricContext], pa.Table]
    requires: tuple[str, ...] = ()
    description: str = ""
    #: The columns under the project's ``[metrics]`` options, when they depend on them
    #: (CLV horizons, say); ``columns`` is what it declares without options.
    columns_for: Callable[[Mapping[str, Any]], Sequence[MetricColumn]] | None = None
    builders: Mapping[str, Callable[[MetricContext], Any]] = attrs.field(factory=dict)
    #: The columns it reads of its required sources under the project's ``[metrics]``
    #: options, as ``{source: {option: column}}``: `segmint validate` (every command's
    #: prepare step) checks that each exists before any data is read.
    reads_for: Callable[[Mapping[str, Any]], Mapping[str, Mapping[str, str]]] | None = None
    #: The sources it reads besides ``requires`` under the project's ``[metrics]`` options,
    #: as ``{option: source}``: sources the user names (a profile source or an event
    #: source), read like ``requires`` (keys normalised as the source says) and handed in
    #: ``MetricContext.events`` under their names. `segmint validate` checks each exists.
    requires_for: Callable[[Mapping[str, Any]], Mapping[str, str]] | None = None
    #: The columns it reads of its required sources, given the project's ``[metrics]``
    #: options, the sources' schemas (by source name) and the customer key column, as
    #: ``{source: [column, ...]}``: only these (and the key) are read, so a wide orders
    #: export costs only the columns used. A source it does not list is read whole.
    reads_columns: Callable[[Mapping[str, Any], Mapping[str, pa.Schema], str],
                            Mapping[str, Sequence[str]]] | None = None
    #: The rows its SQL builder's query would leave out that ``compute`` refuses, given
    #: the builder's `MetricContext` (`SqlRefusal` values, checked in order): an engine
    #: computing the metric in SQL gives the same error.
    sql_refusals: Callable[[MetricContext], Sequence[SqlRefusal]] | None = None


@attrs.frozen
class CallArgs:
    """What a function's builder gets: the argument expressions (of the engine it builds
    for: `pyarrow.compute.Expression` for arrow, sqlglot expressions for the SQL engines),
    their types, their syntax nodes, and the run's time zone."""

    args: tuple[Any, ...]
    types: tuple[Type, ...]
    nodes: tuple[Any, ...]
    timezone: str = "UTC"


@attrs.frozen
class Function:
    """A function of the rules language: a signature, and one builder per engine.

    ``params`` are the parameter types (a tuple of types accepts any of them, ``None``
    accepts any type); with ``variadic`` the last parameter repeats, and ``min_args`` (by
    default the number of params) is the fewest arguments a call may pass. ``returns`` is
    the result type, or a callable from the argument types to it.

    ``builders`` maps an engine's name (or an engine family: `SQL` serves every SQL
    engine) to the function building the call on that engine: it receives a `CallArgs` and
    returns that engine's expression (``"arrow"``: a `pyarrow.compute.Expression`;
    `SQL`: a sqlglot expression). ``build`` is the arrow builder, as plugins wrote it
    before there were other engines; ``builders["arrow"]`` wins over it. A rule calling the
    function on an engine it has no builder for is refused at check time.
    """

    name: str
    params: tuple[Type | tuple[Type, ...] | None, ...]
    returns: Type | Callable[[Sequence[Type]], Type]
    build: Callable[..., Any] | None = None
    variadic: bool = False
    min_args: int | None = None
    description: str = ""
    builders: Mapping[str, Callable[..., Any]] = attrs.field(factory=dict)

    def builder(self, engine: str, family: str | None = None) -> Callable[..., Any] | None:
        """The builder for the engine called `engine` (or, failing that, for its `family`,
        such as `SQL`), or None when there is none."""
        found = self.builders.get(engine)
        if found is None and family is not None:
            found = self.builders.get(family)
        if found is None and engine == "arrow":
            return self.build
        return found

    @property
    def engines(self) -> tuple[str, ...]:
        """The engines (or engine families) the function has builders for."""
        names = dict.fromkeys(self.builders)
        if self.build is not None:
            names.setdefault("arrow", None)
        return tuple(sorted(names))
