"""The spark engine: the membership query in the spark dialect, run by Spark SQL.

The profiles go to Spark as Arrow (``createDataFrame``) with a row number, so the result
comes back, as Arrow, in the profiles' order and the key column is the one given, type
and all. Parquet event sources are read by Spark itself (``spark.read.parquet``: column
pruning and filter pushdown); other event data is handed over as Arrow. Each input is a
temporary view with a name of this run only, dropped afterwards.

What Spark does differently is handled in the spark dialect of the SQL compiler and in the
session's settings (see `session` and docs/engines.md): ANSI mode on (integer overflow is
an error, as the language says; division by zero is guarded in the SQL), the session time
zone UTC (the SQL applies the run's zone itself), Java regular expressions used only where
they match exactly what RE2 matches, ``sha2(x, 256)`` for the holdout hash.

Integer overflow is an error wherever an integer operation overflows for some customer (or
event), as on the arrow engine, even where AND/OR would skip the row: probe queries compute
every integer operation over all rows before the query that holds it runs.

A rule set of more than `STAGE_LAYERS` dependency layers (a chain of segments) runs in
stages (see `membership_query`'s `stage_every`): each stage's statement is checkpointed
(``localCheckpoint``, eagerly) and made a temporary view of the run that the next stage
reads, and more than `JOIN_STAGES` stage views are joined that many at a time, so that no
statement Spark analyses holds more than a stage; the checkpoints are freed at the end.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs
import pyarrow as pa
from pyarrow.fs import LocalFileSystem

from segmint.engines.base import (
    Engine, EngineResult, EventInput, Job, KeyCounts, MetricsWhere, Scan, check_keys, metrics_option,
)
from segmint.engines.spark.session import first_line, spark_session
from segmint.errors import DataError, EvaluationError
from segmint.language import ast
from segmint.plugin.api import SQL

ROW = "__segmint_row"
#: Dependency layers per stage: a rule set of more layers is computed in stages of this
#: many, each checkpointed and made a temporary view the next stage reads. Spark's
#: analyzer stops past ~30 nested layer CTEs in one statement ("Max iterations (100)
#: reached for batch Resolution"), and its analysis grows faster than the plan's depth
#: while each stage costs a job (a 1,000-link chain, local[2]: stages of 25 layers 44 s,
#: 15: 28 s, 10: 25-30 s); see docs/performance.md.
STAGE_LAYERS = 15
#: Stage views joined per statement: more are joined that many at a time, each join
#: checkpointed (one statement joining 40 views took 30 s of a 200-link chain's 40).
JOIN_STAGES = 8
_SEGMENT_ALIAS = re.compile(r"AS `segment:([^`]+)`")
_POSITION = re.compile(r"line (\d+), position (\d+)")
#: A Java exception in a Py4J error's text: its class and message, one per line.
_JAVA_CAUSE = re.compile(r"^(?:Caused by: |: )?((?:[a-z]\w*\.)+\w*(?:Exception|Error)): (.+)$", re.M)
#: What Spark says when a task or the driver runs out of memory.
_OUT_OF_MEMORY = re.compile(r"OutOfMemoryError|UNABLE_TO_ACQUIRE_MEMORY|SQLSTATE: 53200|Java heap space")


@attrs.frozen
class SparkOptions:
    """The ``[engine]`` options of the spark engine."""

    master: str | None = attrs.field(default=None, metadata={
        "help": 'the cluster, like "spark://host:7077", "yarn" or "k8s://https://host:6443"'
                " (default: the session spark-submit made, else local[*])"})
    metrics: MetricsWhere = metrics_option("engine", "on a cluster the orders stay off the driver")


class SparkEngine(Engine):
    name = "spark"
    description = "Spark SQL through PySpark: local mode, or a cluster ([engine] master)"
    family = SQL  # a plugin function's SQL builder serves it
    Options = SparkOptions
    reads_files = frozenset({"parquet"})  # read by Spark itself (its executors, on a cluster)

    @property
    def computes_metrics(self) -> bool:  # a metric's SQL builder over the orders Spark reads
        return self.options.metrics == "engine"

    @property
    def dialect(self) -> Any:
        """The spark dialect of the SQL compiler, imported when first used: registering
        the engine (every run finds the installed engines) should not import sqlglot."""
        return _dialect()

    def pattern_error(self, pattern: str) -> str | None:
        refused = super().pattern_error(pattern)  # RE2's own refusals first, as everywhere
        if refused is not None:
            return refused
        from segmint.engines.sql.regex import UnmatchableRegex, translate

        try:
            translate(pattern, self.dialect.regex)
        except UnmatchableRegex as error:
            return f"{error} (Spark's Java regular expressions cannot match it as RE2 does)"
        return None

    def evaluate(self, job: Job) -> EngineResult:
        from segmint.engines.sql.metrics import canonical_columns, input_columns
        from segmint.engines.sql.query import Relations, membership_query, to_sql

        if not job.keys_checked:
            check_keys(job.profiles, job.key)
        session = spark_session(self.options.master)
        rules = job.checked.rules
        with views(session) as view:
            profiles = spark_ready(job.profiles.append_column(
                ROW, pa.array(range(job.profiles.num_rows), pa.int64())), "profiles", job.key)
            events = {name: view(event_frame(session, source, job.key))
                      for name, source in job.events.items()}
            plain = view(session.createDataFrame(profiles))
            table, metrics = plain, None
            if job.metrics:
                table, metrics = self.metric_view(session, view, table, events, job)
            relations = Relations(
                profiles=table,
                events=events,
                types={f.name: f.type for f in profiles.schema},
                order=ROW,
                canonical=canonical_columns(input_columns(job.metrics)),
            )
            query = membership_query(job.checked, relations, dialect=self.dialect,
                                     as_of=job.as_of, key=job.key, holdout_salt=job.holdout_salt,
                                     key_type=job.profiles.schema.field(job.key).type,
                                     stage_every=STAGE_LAYERS, stage_prefix=view.prefix + "stage_",
                                     join_every=JOIN_STAGES)
            for part, stage in enumerate(query.stages):  # a long chain: a view per stage
                check_overflow(session, query, part, rules)
                # eager: the stage is computed here, and the next stage's plan reads the
                # checkpoint, not this stage's plan
                frame = run(session, to_sql(stage.select, self.dialect), rules,
                            lambda frame: frame.localCheckpoint(eager=True))
                view(frame, stage.name, checkpointed=True)
            check_overflow(session, query, len(query.stages), rules)
            result = run(session, to_sql(query.select, self.dialect), rules,
                         lambda frame: frame.toArrow())
            counts = {name: self.key_counts(session, events[name], plain, job)
                      for name in job.count_keys if name in job.events and scanned(job.events[name])}
            computed = None if metrics is None else self.metric_columns(session, metrics, job)
        return EngineResult(membership(result, job), key_counts=counts, metrics=computed)

    def metric_view(self, session: Any, view: _Views, profiles: Any, events: dict[str, Any],
                    job: Job) -> tuple[Any, Any]:
        """Compute the job's metrics once (`MetricInput`, over the event sources' views),
        checkpointed as a view of the profiles' row numbers and the metrics' columns; the
        profiles with those columns for the membership query, and that view."""
        from segmint.engines.sql.compiler import column
        from segmint.engines.sql.metrics import input_columns, input_queries, join_metrics, with_metric_table
        from segmint.engines.sql.query import to_sql

        queries = input_queries(job.metrics, self.dialect, events, lambda select: self.fetch(session, select, job))
        select = join_metrics(profiles, [column(ROW, "profiles")], queries, job.key)
        frame = run(session, to_sql(select, self.dialect), job.checked.rules,
                    lambda frame: frame.localCheckpoint(eager=True))
        metrics = view(frame, checkpointed=True)
        physical = [name for _, name, _ in input_columns(job.metrics)]
        return with_metric_table(profiles, metrics, physical, ROW), metrics

    def metric_columns(self, session: Any, metrics: Any, job: Job) -> pa.Table:
        """The metrics' columns of the view `metric_view` made, in the profiles' order."""
        from segmint.engines.sql.metrics import computed_columns, input_columns, metric_columns

        table = self.fetch(session, computed_columns(metrics, job.metrics, ROW), job)
        return metric_columns(table, input_columns(job.metrics))

    def fetch(self, session: Any, select: Any, job: Job) -> pa.Table:
        """The result of the query `select` (sqlglot), as Arrow."""
        from segmint.engines.sql.query import to_sql

        return run(session, to_sql(select, self.dialect), job.checked.rules, lambda frame: frame.toArrow())

    def key_counts(self, session: Any, events: Any, profiles: Any, job: Job) -> KeyCounts:
        """The `KeyCounts` of an event source Spark read from its files (`events`, its
        view), against the `profiles` relation."""
        from segmint.engines.sql.counts import UNMATCHED, unmatched_keys
        from segmint.engines.sql.query import to_sql

        query = unmatched_keys(events, profiles, job.key)
        row = run(session, to_sql(query, self.dialect), job.checked.rules, lambda frame: frame.collect())
        return KeyCounts(unmatched=int(row[0][UNMATCHED]))


def scanned(source: EventInput) -> bool:
    """Whether Spark reads the event source from its files itself (`event_frame`)."""
    return isinstance(source.data, Scan) and source.data.format == "parquet"


def run(session: Any, text: str, rules: ast.RuleSet, action: Callable[[Any], Any],
        statement: ast.Statement | None = None) -> Any:
    """`action` on the DataFrame of the SQL `text`; Spark's failure as segmint's error (an
    overflow naming `statement` when given, else the one Spark's error points at)."""
    try:
        return action(session.sql(text))
    except Exception as error:
        raise spark_error(error, text, rules, statement) from None


def check_overflow(session: Any, query: Any, part: int, rules: ast.RuleSet) -> None:
    """Compute every integer operation of the query's statement `part` (a stage's, or the
    final query's) over all rows, as the arrow engine does, even where AND/OR would skip
    it: each as ``MIN(value) AS `segment:name``` of its statement, so that an overflow
    names the statement (see `failing_segment`), one query per relation; after an overflow
    each operation alone in file order, so that the first statement's is named. The stages
    before `part` must be views."""
    from sqlglot import exp

    from segmint.engines.sql.compiler import identifier
    from segmint.engines.sql.query import segment_name, to_sql

    def named(statement: ast.Statement, value: Any) -> Any:
        return exp.alias_(exp.Min(this=value.copy()), identifier(segment_name(statement.name)))

    found = [(statement, relation, named(statement, value))
             for statement, relation, value in query.integer_operations(rules.statements)
             if query.part_of(relation) == part]
    for relation, items in query.by_relation(found).items():
        try:
            run(session, to_sql(query.probe(items, relation), _dialect()), rules,
                lambda frame: frame.collect())
        except EvaluationError:
            # which statement's operation overflows, the first in file order: each alone,
            # named by us (Spark's error can point at the wrong one of two alike, such as
            # x * 4 and y * 4: its generated code is reused)
            for statement, where, item in found:
                run(session, to_sql(query.probe([item.copy()], where), _dialect()), rules,
                    lambda frame: frame.collect(), statement)
            raise


@functools.cache
def _dialect() -> Any:
    from segmint.engines.sql.dialects import SparkDialect

    return SparkDialect()


def membership(result: pa.Table, job: Job) -> pa.Table:
    """The membership table: the profiles' own key column, then bools and labels as the
    arrow engine types them (nullable fields, plain strings)."""
    columns: dict[str, Any] = {job.key: job.profiles.column(job.key)}
    for statement in job.checked.rules.statements:
        names = [statement.name]
        if isinstance(statement, ast.Segment) and statement.holdout is not None:
            names.append(statement.name + "__holdout")
        kind = pa.bool_() if isinstance(statement, ast.Segment) else pa.string()
        for name in names:
            columns[name] = result.column(name).cast(kind).combine_chunks()
    return pa.table(columns)


class _Views:
    """Makes Spark DataFrames temporary views named for this run only (`prefix` and a
    number, or a name given that starts with `prefix`); `made` lists them, `checkpoints`
    the locally checkpointed frames among them."""

    def __init__(self) -> None:
        self.prefix = f"segmint_{uuid.uuid4().hex[:12]}_"
        self.made: list[str] = []
        self.checkpoints: list[Any] = []

    def __call__(self, frame: Any, name: str | None = None, *, checkpointed: bool = False) -> Any:
        """Make `frame` a temporary view, named `name` or numbered; a sqlglot table naming
        it. A `checkpointed` frame's data is released with the views."""
        from sqlglot import exp

        name = name or f"{self.prefix}{len(self.made)}"
        frame.createOrReplaceTempView(name)
        self.made.append(name)
        if checkpointed:
            self.checkpoints.append(frame)
        return exp.table_(name)


@contextmanager
def views(session: Any) -> Iterator[_Views]:
    """A maker of temporary views (see `_Views`); the views are dropped on the way out,
    and the blocks of the checkpoints among them freed (left to Spark's cleaner, a long
    session would hold a long chain's stages in executor memory and disk until the JVM
    collects them)."""
    made = _Views()
    try:
        yield made
    finally:
        for name in made.made:
            session.catalog.dropTempView(name)
        for frame in made.checkpoints:
            release(frame)


def release(frame: Any) -> None:
    """Free the blocks of a frame made by ``localCheckpoint`` (its plan: one LogicalRDD
    over the checkpointed RDD); best effort, a session without the JVM classes keeps them."""
    try:
        frame._jdf.queryExecution().logical().rdd().unpersist(False)
    except Exception:  # not classic PySpark: Spark's cleaner frees them
        pass


def event_frame(session: Any, source: EventInput, key: str) -> Any:
    """A Spark DataFrame of an event source: Parquet read by Spark, the rest as Arrow."""
    data = source.data
    if scanned(source):
        frame = session.read.parquet(*data.paths)
        return frame.select(*data.columns) if data.columns else frame
    if isinstance(data, Scan):
        data = data.arrow()
    import pyarrow.dataset as pa_dataset  # here, not at start-up: it brings in pandas

    if parquet_files(data):
        return session.read.parquet(*data.files)
    if isinstance(data, pa_dataset.Dataset):
        data = data.to_table()
    if isinstance(data, pa.RecordBatchReader):
        data = data.read_all()
    return session.createDataFrame(spark_ready(data, source.name, key))


def parquet_files(data: Any) -> bool:
    """Whether `data` is a dataset of plain local Parquet files (no partitioning by
    directory), which Spark reads itself."""
    import pyarrow.dataset as pa_dataset

    if not isinstance(data, pa_dataset.FileSystemDataset):
        return False
    partitioned = data.partitioning is not None and len(data.partitioning.schema) > 0
    return (isinstance(data.format, pa_dataset.ParquetFileFormat) and not partitioned
            and isinstance(data.filesystem, LocalFileSystem) and bool(data.files))


def spark_ready(table: pa.Table, source: str, key: str) -> pa.Table:
    """`table` in Arrow types Spark's conversion takes: first as every SQL engine reads it
    (`adapt`: microseconds, 256-bit decimals as float64, an out-of-range time an error
    naming `source` and the column), then dictionaries decoded, large and view types made
    plain, unsigned integers widened, date64 as date32."""
    from segmint.engines.sql.handover import adapt  # here: segmint.engines.sql brings sqlglot

    table = adapt(table, source, [key])
    fields = []
    for field in table.schema:
        fields.append(field.with_type(_spark_type(field.type)))
    schema = pa.schema(fields)
    if table.num_rows == 0:
        # PySpark converts timestamps chunk by chunk and fails on a column with none
        # ("cannot construct ChunkedArray from empty vector"): one empty chunk each.
        return schema.empty_table()
    return table if schema == table.schema else table.cast(schema)


def _spark_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(kind):
        return _spark_type(kind.value_type)
    if pa.types.is_large_string(kind) or getattr(pa.types, "is_string_view", bool)(kind):
        return pa.string()
    if pa.types.is_large_binary(kind):
        return pa.binary()
    if pa.types.is_large_list(kind) or pa.types.is_list(kind):
        return pa.list_(_spark_type(kind.value_type))
    if kind in (pa.uint8(), pa.uint16(), pa.uint32()):
        return pa.int64()
    if kind == pa.uint64():
        return pa.decimal128(20, 0)
    if pa.types.is_date64(kind):
        return pa.date32()
    if pa.types.is_timestamp(kind) and kind.unit == "ns":
        return pa.timestamp("us", kind.tz)
    return kind


def spark_error(error: Exception, text: str, rules: ast.RuleSet,
                statement: ast.Statement | None = None) -> Exception:
    """A Spark failure as segmint's error: overflow names the segment (`statement`, else the
    one Spark's error points at in `text`), else Spark's words."""
    message = first_line(error)
    if "ARITHMETIC_OVERFLOW" in message or "overflow" in message.lower():
        if statement is None:
            name = failing_segment(str(error), text)
            statement = rules.get(name) if name else None
        if statement is not None:
            name = statement.name
            span = statement.span
            what = "segment" if isinstance(statement, ast.Segment) else "segmentation"
            where = f"{span.filename}:{span.line}: {what} '{name}'"
        else:
            where = "a segment"
        return EvaluationError(
            f"{where}: integer overflow while evaluating (the result does not fit a 64-bit"
            " integer; divide first or use smaller units)")
    if _OUT_OF_MEMORY.search(str(error)):
        return DataError(
            f"Spark ran out of memory ({spark_reason(error)}); give it more: in local mode the"
            " driver's (SPARK_DRIVER_MEMORY=8g, or spark-submit --driver-memory 8g), on a cluster"
            " the executors' (spark.executor.memory), or more shuffle partitions"
            " (spark.sql.shuffle.partitions)", source="engine spark")
    return DataError(f"Spark failed: {spark_reason(error)}", source="engine spark")


def spark_reason(error: Exception) -> str:
    """What went wrong, in Spark's words: the first line of its error, or, where that is
    only Py4J's "An error occurred while calling o59.getResult.", the message of the Java
    exception at the root of the stack trace after it."""
    message = first_line(error)
    if not message.startswith("An error occurred while calling"):
        return message
    causes = _JAVA_CAUSE.findall(str(error))
    if not causes:
        return message
    kind, text = causes[-1]
    return f"{text.strip()} ({kind.rsplit('.', 1)[-1]})"


def failing_segment(message: str, text: str) -> str | None:
    """The segment whose expression Spark's error points at (its SQL line and position)."""
    found = _POSITION.search(message)
    if found is None:
        return None
    lines = text.splitlines()
    line = int(found[1]) - 1
    if not 0 <= line < len(lines):
        return None
    rest = "\n".join([lines[line][int(found[2]):], *lines[line + 1:]])
    alias = _SEGMENT_ALIAS.search(rest)
    return alias[1] if alias else None
