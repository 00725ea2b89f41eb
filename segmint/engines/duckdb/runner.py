"""Running the membership query in an in-process DuckDB.

The profile table is handed over as Arrow (with its row numbers, so the result keeps its
order); an event source is handed over as Arrow too (a table, a record batch reader, a
dataset: DuckDB scans datasets with projection and filter pushdown), or, when the source
describes itself as a scan of Parquet, CSV or JSON Lines files, read by DuckDB itself. The
result comes back as an Arrow table.

Integer overflow is an error wherever an integer operation overflows for some customer
(or event), as on the Arrow engine, even where SQL's AND/OR would have skipped the row: a
check query computes every integer operation of the rules over all rows first, and names
the first statement whose operation overflows.

For an event source DuckDB reads from its files, the run's data report's count of keys
with no profile is counted here too (`KeyCounts`), by a query over the same files.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot.expressions as exp

from segmint.engines.base import KeyCounts, MetricInput, check_keys
from segmint.engines.duckdb.connection import Settings, connect, memory_error
from segmint.engines.sql.compiler import column, identifier
from segmint.engines.sql.counts import UNMATCHED, unmatched_keys
from segmint.engines.sql.dialects import DuckDBDialect, call, string
from segmint.engines.sql.handover import adapt
from segmint.engines.sql.metrics import (
    canonical_columns, computed_columns, input_columns, input_queries, join_metrics, metric_columns,
    with_metric_table,
)
from segmint.engines.sql.query import STAGE_LAYERS, MembershipQuery, Relations, membership_query, to_sql
from segmint.errors import DataError, EvaluationError
from segmint.language import ast
from segmint.language.checker import CheckedRules
from segmint.semantics.asof import AsOf

ROW = "__segmint_row"
#: The table of the metrics DuckDB computes (`MetricInput`), by the profiles' row numbers.
METRICS = "metrics"
DIALECT = DuckDBDialect()
#: DuckDB's errors that an overflowing computation raises.
_OVERFLOW = (duckdb.OutOfRangeException, duckdb.ConversionException)


def evaluate(checked: CheckedRules, profiles: pa.Table, *, key: str, as_of: AsOf,
             events: Mapping[str, Any], holdout_salt: str = "",
             settings: Settings | None = None, count_keys: Collection[str] = (),
             keys_checked: bool = False,
             metrics: Sequence[MetricInput] = ()) -> tuple[pa.Table, dict[str, KeyCounts], pa.Table | None]:
    """The membership table of `checked` over `profiles` and `events`, computed in DuckDB,
    the `KeyCounts` of the sources named in `count_keys` that DuckDB reads from files, and
    the columns of `metrics` (computed here, over their sources in `events`; None without).

    `events` maps an event source's name to its data: an Arrow table, record batch reader
    or dataset, or a `Scan`-like object with ``format`` and ``paths``. `keys_checked`: the
    caller already refused null and duplicate profile keys."""
    con = connect(settings or Settings())
    try:
        run = _Run(con, checked, profiles, key, as_of, events, holdout_salt)
        membership = run.run(keys_checked, metrics)
        return membership, run.key_counts(count_keys), run.metric_columns(metrics)
    except duckdb.OutOfMemoryException as error:  # in any of the run's queries
        raise memory_error(error) from None
    except duckdb.Error as error:
        named = _source_of_file(error, events)
        if named is None:
            raise  # not a file of the run's: segmint's own query failed
        raise DataError(f"DuckDB could not read its files: {str(error).splitlines()[0]}",
                        source=named) from None
    finally:
        con.close()


def _source_of_file(error: Exception, events: Mapping[str, Any]) -> str | None:
    """The event source whose file DuckDB's error names (one damaged or gone since the run
    looked at it), or None."""
    for name, data in events.items():
        if any(str(path) in str(error) for path in getattr(data, "paths", None) or ()):
            return name
    return None


class _Run:
    def __init__(self, con: duckdb.DuckDBPyConnection, checked: CheckedRules, profiles: pa.Table,
                 key: str, as_of: AsOf, events: Mapping[str, Any], salt: str) -> None:
        self.con, self.checked, self.key, self.as_of, self.salt = con, checked, key, as_of, salt
        self.profiles = profiles
        self.events = events
        self.relations: dict[str, exp.Expression] = {}  # each event source's, as read

    def run(self, keys_checked: bool = False, metrics: Sequence[MetricInput] = ()) -> pa.Table:
        if not keys_checked:
            check_keys(self.profiles, self.key)  # every engine's check, in engines/base
        table = adapt(self.profiles, "profiles", [self.key])
        numbered = table.append_column(ROW, pa.array(np.arange(table.num_rows, dtype=np.int64)))
        self.con.register("profiles", numbered)
        needed = [*self._aggregated(), *(name for m in metrics for name in m.requires)]
        self.relations.update((name, self.event_relation(name)) for name in dict.fromkeys(needed))
        profiles: exp.Expression = exp.Table(this=identifier("profiles"))
        canonical: frozenset[str] = frozenset()
        if metrics:
            profiles, canonical = self.metric_table(metrics)
        relations = Relations(
            profiles=profiles,
            events=self.relations,
            types={name: table.schema.field(name).type for name in table.column_names},
            order=ROW,
            canonical=canonical,
        )
        query = membership_query(self.checked, relations, dialect=DIALECT, as_of=self.as_of,
                                 key=self.key, holdout_salt=self.salt,
                                 key_type=table.schema.field(self.key).type,
                                 stage_every=STAGE_LAYERS)
        # each layer CTE reads the one before, so the binder nests one level per CTE (a
        # stage holds at most STAGE_LAYERS layers; DuckDB's default limit is 1000)
        self.con.execute(f"SET max_expression_depth TO {max(1000, 2 * query.longest + 100)}")
        for part, stage in enumerate(query.stages):  # a long chain: one table per stage
            self.check_overflow(query, part)
            create = exp.Create(this=exp.Table(this=identifier(stage.name)), kind="TABLE",
                                expression=stage.select,
                                properties=exp.Properties(expressions=[exp.TemporaryProperty()]))
            try:
                self.con.execute(to_sql(create, DIALECT, pretty=False))
            except _OVERFLOW as error:
                raise self.culprit(query, error, part) from None
        final = len(query.stages)
        self.check_overflow(query, final)
        try:
            result = self.fetch(query.select)
        except _OVERFLOW as error:
            raise self.culprit(query, error, final) from None
        return result.set_column(0, self.key, self.profiles.column(self.key))

    def metric_table(self, metrics: Sequence[MetricInput]) -> tuple[exp.Expression, frozenset[str]]:
        """Compute the metrics once, into a table of the profiles' row numbers and the
        metrics' columns (`METRICS`); the profiles with those columns for the membership
        query, and the metric columns it takes as they are (canonical values)."""
        queries = input_queries(metrics, DIALECT, self.relations, self.fetch)
        select = join_metrics(exp.Table(this=identifier("profiles")), [column(ROW, "profiles")],
                              queries, self.key)
        create = exp.Create(this=exp.Table(this=identifier(METRICS)), kind="TABLE", expression=select,
                            properties=exp.Properties(expressions=[exp.TemporaryProperty()]))
        self.con.execute(to_sql(create, DIALECT, pretty=False))
        columns = input_columns(metrics)
        profiles = with_metric_table(exp.Table(this=identifier("profiles")), exp.Table(this=identifier(METRICS)),
                                     [physical for _, physical, _ in columns], ROW)
        return profiles, canonical_columns(columns)

    def metric_columns(self, metrics: Sequence[MetricInput]) -> pa.Table | None:
        """The metrics' columns computed for `metric_table`, in the profiles' order."""
        if not metrics:
            return None
        select = computed_columns(exp.Table(this=identifier(METRICS)), metrics, ROW)
        return metric_columns(self.fetch(select), input_columns(metrics))

    def key_counts(self, names: Collection[str]) -> dict[str, KeyCounts]:
        """The `KeyCounts` of each source of `names` the query read from its files (others
        came as Arrow data, which the caller counts)."""
        counts = {}
        for name in names:
            if name in self.relations and file_scan(self.events[name]) is not None:
                query = unmatched_keys(self.relations[name], exp.Table(this=identifier("profiles")), self.key)
                counts[name] = KeyCounts(unmatched=int(self.fetch(query).column(UNMATCHED)[0].as_py()))
        return counts

    def _aggregated(self) -> list[str]:
        return list(dict.fromkeys(a.source for a in self.checked.aggregates))

    def event_relation(self, name: str) -> exp.Expression:
        """The event source as DuckDB reads it: a file scan, or Arrow data registered."""
        if name not in self.events:
            raise DataError(f"no data for the event source (rules aggregate over it); event data "
                            f"given: {', '.join(self.events) or 'none'}", source=name)
        data = self.events[name]
        scan = file_scan(data)
        if scan is not None:
            return scan
        if isinstance(data, pa.RecordBatchReader):
            data = data.read_all()  # the query reads the events more than once
        if isinstance(data, pa.Table):
            data = adapt(data, name, [self.key], key_type=self.profiles.schema.field(self.key).type)
        view = f"events_{len(self.con.execute('SHOW TABLES').fetchall())}"
        self.con.register(view, data)
        return exp.Table(this=identifier(view))

    def fetch(self, select: exp.Expression) -> pa.Table:
        text = to_sql(select, DIALECT, pretty=False)
        return self.con.sql(text).to_arrow_table()

    # integer overflow -----------------------------------------------------------------
    def check_overflow(self, query: MembershipQuery, part: int) -> None:
        """Compute every integer operation of the query's statement `part` (a stage's, or
        the final query's) over all rows; name the statement that overflows."""
        operations = query.integer_operations(self.checked.rules.statements)
        probes = [p for p in operations if query.part_of(p[1]) == part]
        if not probes:
            return
        try:
            for relation, items in query.by_relation(probes).items():
                self.fetch(query.probe([computed(item) for item in items], relation))
        except _OVERFLOW as error:
            raise self.culprit(query, error, part) from None

    def culprit(self, query: MembershipQuery, error: Exception, part: int) -> EvaluationError:
        """The error naming the first statement (in file order) whose computation fails,
        of those computed by the query's statements up to `part` (a staged query's later
        stages have no tables to read yet)."""
        operations = query.integer_operations(self.checked.rules.statements)
        for statement in self.checked.rules.statements:
            mine = [(relation, value) for own, relation, value in operations if own is statement]
            relation = query.layer_of.get(statement.name)
            if relation is None or query.part_of(relation) > part:
                continue
            mine.append((relation, column(f"segment:{statement.name}")))
            for where, value in mine:
                try:
                    self.fetch(query.probe([computed(value)], where))
                except _OVERFLOW as own:
                    return evaluation_error(statement, own)
        return evaluation_error(None, error)


def computed(value: exp.Expression) -> exp.Expression:
    """An aggregate that computes `value` on every row: MIN, not COUNT, which DuckDB answers
    as COUNT(*) without computing anything when a table's statistics say the value's
    inputs are never null (a stage's table has statistics; Arrow data has none)."""
    return exp.Min(this=value)


def evaluation_error(statement: ast.Statement | None, error: Exception) -> EvaluationError:
    """The error of a failed evaluation, worded as the Arrow engine words it."""
    text = str(error)
    overflow = "overflow" in text.lower() or "out of range" in text.lower()
    reason = "integer overflow" if overflow else text
    hint = " (the result does not fit a 64-bit integer; divide first or use smaller units)" if overflow else ""
    if statement is None:
        return EvaluationError(f"{reason} while evaluating{hint}")
    what = "segment" if isinstance(statement, ast.Segment) else "segmentation"
    span = statement.span
    return EvaluationError(f"{span.filename}:{span.line}: {what} '{statement.name}': {reason} "
                           f"while evaluating{hint}")


_READERS = {"parquet": "read_parquet", "csv": "read_csv", "jsonl": "read_json"}


def file_scan(data: Any) -> exp.Expression | None:
    """A scan DuckDB performs itself, when the data describes one of files it reads."""
    fmt, paths = getattr(data, "format", None), getattr(data, "paths", None)
    if not isinstance(fmt, str) or fmt not in _READERS or not paths:
        return None
    files = exp.Array(expressions=[string(str(p)) for p in paths])
    arguments: list[exp.Expression] = [files]
    if fmt == "parquet":
        arguments.append(exp.EQ(this=exp.var("hive_partitioning"), expression=exp.true()))
    if fmt == "jsonl":
        arguments.append(exp.EQ(this=exp.var("format"), expression=string("newline_delimited")))
    return exp.Table(this=call(_READERS[fmt], *arguments))
