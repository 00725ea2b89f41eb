"""The engine seam: what an execution engine receives, and what it must give back.

An engine evaluates a checked rule set over the run's data. segmint chooses it by name
(``engine = "arrow"`` in segmint.toml, ``--engine``, ``segmint.evaluate(engine=...)``)
from the engines plugins register through the ``register_engines`` hook; the built-in
ones (``arrow``, later ``duckdb`` and ``spark``) come through the same ``segmint``
entry-point group as a third party's would (a warehouse, say).

An engine is a subclass of `Engine` with a ``name``, the method that does the work and
two the checker asks at check time (so what the engine refuses is a `segmint.RuleError`
with its position, before any data is read):

- `Engine.evaluate(job)`: the membership for a `Job` (the checked rules, the profile table,
  the event sources, key, as_of and holdout salt), as an `EngineResult`; for the event
  sources the job names in ``count_keys`` (files the engine reads itself), also their
  `KeyCounts`, which an engine may leave out (the caller then counts from Arrow data); for
  the `MetricInput` metrics of the job (a SQL engine's), their columns.
- `Engine.pattern_error(pattern)`: why the engine refuses a ``matches`` pattern, or None
  (by default RE2, the language's syntax, is asked).
- `Engine.supports(function)`: whether it can build a call of a function (by default: the
  built-in ones, and a plugin's that has a builder for the engine's name or ``family``).

The membership is the same on every engine, byte for byte: a `pyarrow.Table` with the key
column as given, then per statement in file order a non-null bool column per segment
(followed by a ``NAME__holdout`` column for a segment with a holdout) and a string label
column per segmentation. The meaning engines must share (dependency layers, window
bounds, the top/bottom tie rule, the holdout hash, empty aggregates, first/last ties) is
written once in `segmint.semantics`; tests/conformance runs the same suite on every
engine.

A plugin function works on an engine when it has a builder for it
(`segmint.Function.builders`, keyed by engine name or family); a rule calling a function
the chosen engine has no builder for is refused at check time, naming both.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from segmint.engines.regex import regex_error
from segmint.errors import DataError
from segmint.language.checker import CheckedRules
from segmint.language.functions import is_builtin
from segmint.plugin.api import Function
from segmint.semantics.asof import AsOf

#: The engine a run uses unless the project, the command line or the caller names another.
DEFAULT_ENGINE = "arrow"


def installed(*modules: str) -> bool:
    """Whether every one of `modules` can be imported (an engine's extra is installed): an
    engine's plugin registers it only then, so naming it otherwise is the clear "not
    installed; pip install ..." error and ``auto`` never picks it, rather than an import
    failing in the middle of a run."""
    return all(importlib.util.find_spec(name) is not None for name in modules)


@attrs.frozen
class Scan:
    """A source an engine may read itself rather than receive as Arrow data.

    ``format`` is the file format (``"parquet"``, ``"csv"``, ``"jsonl"``), ``paths`` the
    files, ``columns`` the columns wanted (None: all), ``options`` the reader's options as
    the source was configured. An engine that cannot read a scan asks for its ``arrow``
    data: a callable returning a `pyarrow.RecordBatchReader` (or table).
    """

    format: str
    paths: tuple[str, ...]
    columns: tuple[str, ...] | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict)
    arrow: Any = attrs.field(default=None, eq=False, repr=False)
    #: How many rows the files hold, where the format says without reading them (Parquet).
    rows: int | None = None


@attrs.frozen
class EventInput:
    """One event source the rules aggregate over.

    ``data`` is a `pyarrow.Table`, a `pyarrow.RecordBatchReader` (read once, batch by
    batch), a `pyarrow.dataset.Dataset`, or a `Scan`. It holds the key column, the
    ``timestamp`` column (a date or a timestamp) and the columns the aggregates read.
    ``role`` is what the source holds (``"events"``, or a role a metric needs such as
    ``"orders"``).
    """

    name: str
    data: Any
    timestamp: str = "timestamp"
    role: str = "events"


@attrs.frozen
class MetricInput:
    """A metric a SQL engine computes itself, over event sources it reads itself (`Scan`
    data of the job's ``events``), instead of segmint computing it in Python.

    ``columns`` are the columns wanted, each as (the name the query gives it, its physical
    name in the profiles, its Arrow type). ``build(dialect, relations)`` gives the metric's
    query (a sqlglot expression) in the engine's SQL dialect over the relations of the
    event sources it ``requires`` (by source name, each as the engine reads the source):
    the key and those columns, one row per customer of the events, durations as BIGINT
    microseconds and timestamps as the UTC wall clock (the SQL engines' canonical values).
    The engine LEFT JOINs the columns onto the profiles on the key (events never add
    customers) before the membership query, and hands them back (`EngineResult.metrics`).
    """

    name: str
    columns: tuple[tuple[str, str, pa.DataType], ...]
    build: Callable[[Any, Mapping[str, Any]], Any] = attrs.field(eq=False, repr=False)
    requires: tuple[str, ...] = ()
    #: ``refusals(dialect, relations)``: the rows the metric refuses (`SqlRefusal`), which
    #: the engine counts before the query (`engines.sql.metrics.check_refusals`).
    refusals: Callable[[Any, Mapping[str, Any]], Sequence[Any]] = attrs.field(
        default=lambda dialect, relations: (), eq=False, repr=False)


@attrs.frozen
class Job:
    """Everything an engine needs to evaluate one rule set.

    ``profiles`` has one row per customer: the key column and every column the rules use,
    profile and metric columns alike, under their physical names (`Column.physical` of the
    checked rules' catalog; a metric's columns are those whose ``via`` names the metric).
    ``events`` holds the event sources by name. ``as_of`` is the run's instant and time
    zone; ``holdout_salt`` goes into the holdout hash.
    """

    checked: CheckedRules
    profiles: pa.Table
    key: str
    as_of: AsOf
    events: Mapping[str, EventInput] = attrs.field(factory=dict)
    holdout_salt: str = ""
    #: Event sources (`Scan` data: the rows never come into Arrow) whose `KeyCounts` the
    #: caller asks for; an engine that reads the scan counts them as it has the files open.
    count_keys: frozenset[str] = frozenset()
    #: Whether the caller already refused null and duplicate keys in ``profiles``
    #: (`check_keys`), so the engine need not hash every key again.
    keys_checked: bool = False
    #: Metrics the engine computes itself (SQL engines only; see `MetricInput`): their
    #: columns are not in ``profiles``, and the sources they require are in ``events``.
    metrics: tuple[MetricInput, ...] = ()


@attrs.frozen
class KeyCounts:
    """What an engine counted of the keys of an event source it read itself (one a `Job`
    names in ``count_keys``), for the run's data report.

    ``unmatched`` is the number of distinct keys of the source, nulls left out, that no
    row of the job's profiles has (keys compared as the engine joins events to profiles).
    It is what `segmint.project.identity.Keys.count_unmatched` finds from Arrow data for a
    source segmint read itself; SQL engines count it with `segmint.engines.sql.counts`.
    """

    unmatched: int


@attrs.frozen
class EngineResult:
    """An engine's answer: the membership table (see the module docstring for its shape)
    and the `KeyCounts` of the event sources the job asked for, by source name (an engine
    that did not count a source leaves it out)."""

    membership: pa.Table
    key_counts: Mapping[str, KeyCounts] = attrs.field(factory=dict, kw_only=True)
    #: The columns of the job's `MetricInput` metrics under their physical names, one row
    #: per profile in the profiles' order, of the Arrow types the metrics declare; None
    #: when the job had none.
    metrics: pa.Table | None = attrs.field(default=None, kw_only=True)


MetricsWhere = Literal["python", "engine"]


def metrics_option(default: MetricsWhere, why: str) -> Any:
    """The ``metrics`` option of a SQL engine's ``[engine]`` table: whether `segmint run`
    computes the metrics with a SQL builder in Python ("python") or inside the engine
    ("engine", over the Parquet orders the engine reads itself); `why` the default's reason."""
    return attrs.field(default=default, metadata={
        "help": f'where segmint run computes the purchase and rfm metrics over Parquet orders: '
                f'"python" or "engine" (default: "{default}", {why})'})


@attrs.frozen
class NoEngineOptions:
    """Options of an engine that takes none."""


class Engine:
    """An execution engine. Subclass it, set ``name`` and ``description``, implement
    `evaluate` (and `pattern_error` or `supports` where the defaults do not fit), and
    return the class from a plugin's ``register_engines`` hook.

    ``Options`` (an attrs class) are what the project's ``[engine]`` table may set besides
    ``name`` (a Spark master, a DuckDB memory limit); segmint builds them, reporting a bad
    option by name, and passes them to the constructor (``self.options``).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: The family whose function builders also serve this engine (`segmint.SQL` for the
    #: SQL engines), or None.
    family: ClassVar[str | None] = None
    Options: ClassVar[type] = NoEngineOptions
    #: File formats the engine reads itself: an event source of such files reaches it as
    #: a `Scan` (see `Source.scan`) rather than as Arrow data read by segmint.
    reads_files: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: Any = None, *, state_dir: Path | None = None) -> None:
        """`state_dir` is the project's state directory, where an engine may keep files
        (DuckDB spills there); None outside a project."""
        self.options = self.Options() if options is None else options
        self.state_dir = state_dir

    @property
    def computes_metrics(self) -> bool:
        """Whether the engine computes `Job.metrics` itself (`MetricInput`: a SQL engine
        whose ``[engine] metrics`` is "engine", `metrics_option`); an engine that does not
        gets every metric column computed, in ``Job.profiles``."""
        return False

    def pattern_error(self, pattern: str) -> str | None:
        """Why this engine's regular expressions refuse `pattern`, or None if they accept it.
        The language's patterns are RE2's; by default RE2 itself is asked."""
        return regex_error(pattern)

    def supports(self, function: Function) -> bool:
        """Whether the engine can build a call of `function`: every engine builds the
        built-in functions; a plugin's needs a builder for the engine (or its family)."""
        return is_builtin(function) or function.builder(self.name, self.family) is not None

    def evaluate(self, job: Job) -> EngineResult:
        raise NotImplementedError


def _increasing(keys: pa.ChunkedArray | pa.Array) -> bool:
    """Whether the keys are strictly increasing, so distinct without hashing them: a
    run's profiles come sorted by the key (one comparison pass, where hashing 1M keys
    costs 50-100 ms). Unordered keys are hashed (`pc.unique`: 3x faster than
    count_distinct)."""
    if len(keys) < 2:
        return True
    try:
        ordered = pc.less(keys.slice(0, len(keys) - 1), keys.slice(1))
    except pa.ArrowNotImplementedError:  # a key type with no order
        return False
    return bool(pc.all(ordered).as_py())


def check_keys(table: pa.Table, key: str, source: str = "profiles",
               lines: pa.ChunkedArray | pa.Array | None = None) -> None:
    """Refuse a missing key column, null keys and duplicate keys, naming the row (or, given
    `lines`, each row's line in the source's file): what every engine checks of the
    profiles (one row per customer)."""
    if key not in table.column_names:
        raise DataError(f"no key column '{key}' (columns: {', '.join(table.column_names)})", source=source)
    keys = table.column(key)
    if pa.types.is_dictionary(keys.type):
        keys = keys.cast(keys.type.value_type)

    def where(index: int) -> int:
        return index + 1 if lines is None else lines[index].as_py()

    word = "row" if lines is None else "line"
    if keys.null_count:
        index = pc.index(pc.is_null(keys), True).as_py()
        raise DataError("the customer key is empty", source=source, column=key,
                        **{word: where(index)})
    if not _increasing(keys) and len(pc.unique(keys)) != len(keys):  # no nulls here
        counts = pc.value_counts(keys)
        duplicate = counts.filter(pc.greater(counts.field("counts"), 1))[0]["values"]
        rows = pc.indices_nonzero(pc.equal(keys, duplicate)).to_pylist()[:2]
        raise DataError(
            f"duplicate customer key {duplicate.as_py()!r} ({word}s {where(rows[0])} and {where(rows[1])})",
            source=source, column=key,
        )
