"""The membership query: one SELECT, built of CTEs, computing every segment of a rule set.

    base            the key and every profile column the rules use, in canonical types
    events:S ...    per event source S, its events cut to what aggregates see, and their
    aggregates:S    GROUP BY of the customer key (see aggregates.py)
    joined          base with every aggregate, empty values filled in
    layer:1 ...     the statements of each dependency layer, as member / label columns
    holdouts        the holdout draw of every member of a segment with a holdout
    (final)         the key, then per statement its output columns in file order

A long chain of dependency layers is computed in stages when asked (`stage_every`): each
run of that many layers is its own statement, materialised as a table (`Stage`) that keeps
only what comes after needs (the key, the row order, the profile columns and aggregates,
the member columns later layers refer to, and its own statements' columns), and the next
stage reads that table; the final query joins the stage tables on the row order. One
statement over N nested layer CTEs, each a column wider, costs the database's binder time
quadratic in N; stages keep every statement bounded, so the whole is linear. Asked to
(`join_every`), the stage tables are joined that many at a time, each join a table of its
own, until no more than that many are left for the final query (Spark runs a join of tens
of tables in time superlinear in their number).

A segment's member flag is its condition with null as false; a segmentation is a CASE over
its labels in order; a holdout is the first 16 hex digits of SHA-256 of
``salt:segment:key`` compared with the bound ceil(N/100 * 2^64) written in hex, exactly as
`segmint.semantics.holdout` defines it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa
import sqlglot.expressions as exp

from segmint.engines.sql.aggregates import by_source, event_column, source_aggregates
from segmint.engines.sql.columns import canonical
from segmint.engines.sql.compiler import (
    Inexpressible, SqlContext, and_, case, column, float_type, identifier, named, not_, string,
)
from segmint.engines.sql.dialects import SqlDialect
from segmint.engines.sql.plan import layers
from segmint.errors import Diagnostic, RuleError
from segmint.language import ast
from segmint.language.checker import CheckedRules
from segmint.language.types import Kind
from segmint.semantics.asof import AsOf
from segmint.semantics.holdout import threshold

Expr = exp.Expression

HOLDOUT_SUFFIX = "__holdout"
BASE, JOINED, HOLDOUTS, STAGES = "base", "joined", "holdouts", "stages"
#: Layers per stage on the duckdb engine (a chain of 1,000 links staged by hand in DuckDB,
#: stages of 25 layers: 1.07 s, 50: 0.91 s, 100: 1.19 s; one statement: 20 s).
STAGE_LAYERS = 50


def segment_name(name: str) -> str:
    return f"segment:{name}"


@attrs.frozen
class Relations:
    """Where the query reads: the profiles (one row per customer, columns under their
    physical names) and each event source the rules aggregate over, as the source holds
    them. `types` gives a profile column's Arrow type where it differs from the catalog's;
    `order` names a profile column the result is sorted by (else the key); `canonical` names
    the profile columns the relation already holds in the canonical representation (a
    metric's SQL: durations as BIGINT microseconds, timestamps as the UTC wall clock), which
    are taken as they are."""

    profiles: Expr
    events: Mapping[str, Expr] = attrs.field(factory=dict)
    types: Mapping[str, pa.DataType] = attrs.field(factory=dict)
    order: str | None = None
    canonical: frozenset[str] = frozenset()


@attrs.frozen
class Stage:
    """A statement of a staged query: `select` computes the table called `name`, which
    the statements after it read (the layers of a stage, or a join of stage tables)."""

    name: str
    select: exp.Select


@attrs.frozen
class MembershipQuery:
    """The membership query, and what probing it needs: its CTEs by name, the layer CTE
    holding each statement, and the integer arithmetic each statement computes (whose
    overflow must be an error wherever it happens, whatever AND/OR could skip).

    A staged query runs its `stages` in order (each made a table under its name), then
    `select`; `starts` gives the index in `ctes` where each of those statements' CTEs
    begin (one entry, 0, when there are no stages; a join of stage tables has no CTEs)."""

    select: exp.Select
    ctes: tuple[tuple[str, exp.Select], ...]
    layer_of: Mapping[str, str]
    #: statement -> (relation, value) of each integer operation ("" : the statement's layer)
    checks: Mapping[str, tuple[tuple[str, Expr], ...]]
    stages: tuple[Stage, ...] = ()
    starts: tuple[int, ...] = (0,)

    def part_of(self, relation: str) -> int:
        """Which statement computes the CTE `relation`: the stage's index, or
        ``len(stages)`` for the final query."""
        names = [name for name, _ in self.ctes]
        return bisect_right(self.starts, names.index(relation)) - 1

    def integer_operations(self, statements: Sequence[ast.Statement]) -> list[tuple[ast.Statement, str, Expr]]:
        """(statement, relation, value) of every integer operation the query computes, in
        the order of `statements` (file order): what an engine computes over all rows to
        find an overflow AND/OR would skip, and to name the first statement it is in."""
        return [(statement, relation or self.layer_of[statement.name], value)
                for statement in statements for relation, value in self.checks.get(statement.name, ())]

    @staticmethod
    def by_relation(operations: list[tuple[ast.Statement, str, Expr]]) -> dict[str, list[Expr]]:
        """`integer_operations`' values grouped by the relation each is computed over."""
        grouped: dict[str, list[Expr]] = {}
        for _, relation, value in operations:
            grouped.setdefault(relation, []).append(value)
        return grouped

    @property
    def longest(self) -> int:
        """The most CTEs one of the query's statements has."""
        ends = (*self.starts[1:], len(self.ctes))
        return max(end - start for start, end in zip(self.starts, ends, strict=True))

    def probe(self, items: list[Expr], relation: str) -> exp.Select:
        """A query computing `items` over the CTE `relation` (with the CTEs before it in
        its statement; the tables of the stages before it must exist)."""
        names = [name for name, _ in self.ctes]
        index = names.index(relation)
        start = self.starts[bisect_right(self.starts, index) - 1]
        return with_ctes(exp.select(*items).from_(identifier(relation)),
                         [(name, cte.copy()) for name, cte in self.ctes[start:index + 1]])


def with_ctes(query: exp.Select, ctes: list[tuple[str, exp.Select]]) -> exp.Select:
    """`query` with `ctes` as its WITH clause, built at once: sqlglot's `with_` copies the
    whole query per call, which made a chain of N layer CTEs cost N^2."""
    query.set("with_", exp.With(expressions=[
        exp.CTE(this=cte, alias=exp.TableAlias(this=identifier(name))) for name, cte in ctes]))
    return query


def membership_query(checked: CheckedRules, relations: Relations, *, dialect: SqlDialect,
                     as_of: AsOf, key: str, holdout_salt: str = "",
                     key_type: pa.DataType | None = None, stage_every: int | None = None,
                     stage_prefix: str = "stage:", join_every: int | None = None) -> MembershipQuery:
    """The query computing the membership table; raise RuleError naming every rule the
    dialect cannot compute exactly as the language defines it.

    With `stage_every`, a rule set of more dependency layers than that is computed in
    stages of that many layers, tables named `stage_prefix` and a number (see above);
    without it, or for fewer layers, the query is one statement. With `join_every` (at
    least 2), more stage tables than that are joined in stages of that many tables, named
    `stage_prefix`, "join", the round and a number, until the final query joins no more
    than `join_every`; without it the final query joins every stage table."""
    ctx = SqlContext(checked, as_of, dialect)
    builder = _Builder(ctx, relations, key, holdout_salt, key_type, stage_every, stage_prefix,
                       join_every)
    select = builder.build()
    return MembershipQuery(select, tuple(builder.ctes), builder.layer_of,
                           {name: tuple(found) for name, found in builder.checks.items()},
                           tuple(builder.stages), tuple(builder.starts))


class _Builder:
    def __init__(self, ctx: SqlContext, relations: Relations, key: str, salt: str,
                 key_type: pa.DataType | None, stage_every: int | None = None,
                 stage_prefix: str = "stage:", join_every: int | None = None) -> None:
        if join_every is not None and join_every < 2:
            raise ValueError(f"join_every must be at least 2, not {join_every}")
        self.ctx, self.relations, self.key, self.salt = ctx, relations, key, salt
        self.key_type = key_type
        self.checked = ctx.checked
        self.stage_every, self.stage_prefix, self.join_every = stage_every, stage_prefix, join_every
        self.ctes: list[tuple[str, exp.Select]] = []
        self.problems: list[Diagnostic] = []
        self.layer_of: dict[str, str] = {}
        self.checks: dict[str, list[tuple[str, Expr]]] = {}
        #: the columns of base / joined that every stage table keeps
        self.kept: list[str] = []
        self.stages: list[Stage] = []
        self.starts: list[int] = [0]
        #: statement -> the index of the stage computing it (staged queries only)
        self.stage_of: dict[str, int] = {}

    def build(self) -> exp.Select:
        self.base()
        previous = self.aggregates()
        grouped = layers(self.checked)
        every = self.stage_every
        chunks = [grouped] if every is None or len(grouped) <= every else [
            grouped[i:i + every] for i in range(0, len(grouped), every)]
        if len(chunks) > 1:
            self.stage_of = {name: i for i, chunk in enumerate(chunks) for layer in chunk for name in layer}
        number = 0
        for chunk in chunks:
            for layer in chunk:
                number += 1
                items = [item for name in layer for item in self.statement(name)]
                if items:
                    name = f"layer:{number}"
                    self.layer_of.update(dict.fromkeys(layer, name))
                    self.ctes.append((name, exp.select(exp.Star(), *items).from_(identifier(previous))))
                    previous = name
            if len(chunks) > 1:
                previous = self.stage(len(self.stages), previous)
        if self.problems:
            raise RuleError(sorted(self.problems, key=lambda d: (d.filename, d.line, d.column)))
        if self.stages:
            previous = self.joined_stages()
        previous = self.holdouts(previous)
        return self.final(previous)

    # stages ---------------------------------------------------------------------------
    def stage(self, index: int, previous: str) -> str:
        """Stage `index` (its layers' CTEs are the last ones added) as a table keeping what
        the stages after it and the final query need; the table's name."""
        stage_of = self.stage_of
        later = {d for name, i in stage_of.items() if i > index for d in self.checked.depends.get(name, ())}
        members = [segment_name(name) for name in self.checked.order
                   if stage_of[name] == index or (stage_of[name] < index and name in later)]
        kept = list(dict.fromkeys([*self.kept, *members]))
        table = f"{self.stage_prefix}{index + 1}"
        select = exp.select(*[column(name) for name in kept]).from_(identifier(previous))
        self.stages.append(Stage(table, with_ctes(select, self.ctes[self.starts[-1]:])))
        self.starts.append(len(self.ctes))
        return table

    def joined_stages(self) -> str:
        """The CTE joining the stage tables on the row order: the key, the order, and
        every statement's column from the stage that computed it. With `join_every`, the
        tables are first joined that many at a time into tables of their own (stages
        without CTEs), round after round, until no more than `join_every` are left."""
        tables = [(stage.name, [name for name in self.checked.order if self.stage_of[name] == index])
                  for index, stage in enumerate(self.stages)]
        every, round_ = self.join_every, 0
        while every is not None and len(tables) > every:
            round_ += 1
            merged: list[tuple[str, list[str]]] = []
            for start in range(0, len(tables), every):
                group = tables[start:start + every]
                if len(group) == 1:
                    merged.append(group[0])
                    continue
                name = f"{self.stage_prefix}join{round_}_{len(merged) + 1}"
                self.stages.append(Stage(name, self.join(group)))
                self.starts.append(len(self.ctes))
                merged.append((name, [statement for _, names in group for statement in names]))
            tables = merged
        self.ctes.append((STAGES, self.join(tables)))
        return STAGES

    def join(self, tables: list[tuple[str, list[str]]]) -> exp.Select:
        """The join of `tables` (name, the statements whose columns it holds) on the row
        order: the key, the order, and each statement's column, in file order."""
        on = self.relations.order or self.key
        first = tables[0][0]
        joined = exp.select().from_(identifier(first))
        for name, _ in tables[1:]:
            joined = joined.join(identifier(name), on=exp.EQ(
                this=column(on, first), expression=column(on, name)), join_type="inner")
        items: list[Expr] = [exp.alias_(column(name, first), identifier(name))
                             for name in dict.fromkeys([self.key, on])]
        made = {statement: table for table, names in tables for statement in names}
        for name in self.checked.order:
            if name in made:
                items.append(exp.alias_(column(segment_name(name), made[name]),
                                        identifier(segment_name(name))))
        return joined.select(*items)

    # profiles -------------------------------------------------------------------------
    def base(self) -> None:
        ctx, dialect = self.ctx, self.ctx.dialect
        items: list[Expr] = [column(self.key)]
        if self.relations.order is not None:
            items.append(column(self.relations.order))
        for found in self.checked.columns_used:
            arrow_type = self.relations.types.get(found.physical, found.arrow_type)
            ctx.floats[found.physical] = float_type(arrow_type)
            value = column(found.physical) if found.physical in self.relations.canonical else \
                canonical(column(found.physical), arrow_type, found.type, dialect, ctx.zone)
            items.append(named(value, found.physical))
            ctx.columns[found.physical] = column(found.physical)
        self.ctes.append((BASE, exp.select(*items).from_(self.relations.profiles)))
        self.kept = list(dict.fromkeys(item.alias_or_name for item in items))

    def aggregates(self) -> str:
        """The CTEs computing the aggregates, joined to the profiles; the relation to go on from."""
        if not self.checked.aggregates:
            return BASE
        items: list[Expr] = [exp.Column(this=exp.Star(), table=identifier(BASE))]
        joined = exp.select().from_(identifier(BASE))
        for source, aggregates in by_source(self.checked).items():
            spec = self.checked.catalog.event_source(source)
            assert spec is not None  # the checker made sure
            relation = self.relations.events.get(source)
            if relation is None:
                relation = exp.Table(this=identifier(source))
            try:
                found = source_aggregates(self.ctx, spec, aggregates, relation, self.key)
            except Inexpressible as error:
                self.refuse(error, f"an aggregate over '{source}'")
                continue
            self.ctes.extend(found.ctes)
            joined = joined.join(identifier(found.table), on=exp.EQ(
                this=column(self.key, BASE), expression=column(self.key, found.table)), join_type="left")
            for index, aggregate in aggregates:
                name = f"aggregate:{index}"
                items.append(exp.alias_(found.values[aggregate], identifier(name)))
                self.ctx.aggregates[aggregate] = column(name)
                self.kept.append(name)
        self.ctes.append((JOINED, joined.select(*items)))
        return JOINED

    # statements -----------------------------------------------------------------------
    def statement(self, name: str) -> list[Expr]:
        statement = self.checked.rules.get(name)
        assert statement is not None
        self.ctx.statement = name
        try:
            value = self.condition(statement)
            self.checks[name] = [(relation, self.check_value(relation, node)) for relation, node
                                 in integer_arithmetic(self.checked, statement, self.ctx)]
        except Inexpressible as error:
            what = "segment" if isinstance(statement, ast.Segment) else "segmentation"
            self.refuse(error, f"{what} '{name}'", statement)
            value = exp.Null()
        self.ctx.segments[name] = column(segment_name(name))
        return [exp.alias_(value, identifier(segment_name(name)))]

    def check_value(self, relation: str, node: Any) -> Expr:
        """An integer operation's value over its relation (a `where`'s over the events)."""
        if not relation.startswith("events:"):
            return self.ctx.compile(node)
        spec = self.checked.catalog.event_source(relation.removeprefix("events:"))
        assert spec is not None
        names = {c.name: column(event_column(c.name)) for c in spec.columns}
        return attrs.evolve(self.ctx, events=names).compile(node)

    def condition(self, statement: ast.Statement) -> Expr:
        ctx = self.ctx
        if isinstance(statement, ast.Segment):
            return exp.Coalesce(this=ctx.compile(statement.condition), expressions=[exp.false()])
        ifs, default = [], None
        for arm in statement.arms:
            if arm.condition is None:
                default = string(arm.label)
                break
            test = ctx.compile(arm.condition)
            if isinstance(test, exp.Null):  # a bare NULL arm is VOID to Spark, not a boolean
                test = ctx.dialect.cast(test, "BOOLEAN")
            ifs.append(exp.If(this=test, true=string(arm.label)))
        if not ifs:
            return default if default is not None else ctx.dialect.cast(exp.Null(), ctx.dialect.text)
        return exp.Case(ifs=ifs, default=default)

    def refuse(self, error: Inexpressible, what: str, statement: Any = None) -> None:
        node = error.node if error.node is not None else statement
        span = node.span if node is not None else ast.NO_SPAN
        line = self.checked.rules.source_line(span)
        width = span.end_column - span.column if span.end_line == span.line else len(line) - span.column + 1
        self.problems.append(Diagnostic(span.filename, span.line, span.column, f"{what}: {error.message}",
                                        line, max(width, 1), "run these rules on an engine that can "
                                        "(the arrow or duckdb engine), or rewrite the rule"))

    # outputs --------------------------------------------------------------------------
    def holdouts(self, previous: str) -> str:
        items = []
        for statement in self.checked.rules.statements:
            if isinstance(statement, ast.Segment) and statement.holdout is not None:
                member = column(segment_name(statement.name))
                held = case(member, self.held_out(statement.name, statement.holdout), exp.false())
                items.append(exp.alias_(held, identifier(f"holdout:{statement.name}")))
        if not items:
            return previous
        self.ctes.append((HOLDOUTS, exp.select(exp.Star(), *items).from_(identifier(previous))))
        return HOLDOUTS

    def held_out(self, segment: str, percent: float) -> Expr:
        """u < ceil(N/100 * 2^64), u the first 8 bytes of SHA-256 of salt:segment:key."""
        dialect = self.ctx.dialect
        bound = threshold(percent)
        if bound <= 0:
            return exp.false()
        if bound >= 2**64:
            return exp.true()
        key = column(self.key)
        if self.key_type is not None and pa.types.is_floating(self.key_type):
            key = dialect.float_key_text(key)
        elif self.key_type is None or not (pa.types.is_string(self.key_type) or pa.types.is_large_string(self.key_type)):
            key = dialect.to_text(key)
        text = exp.DPipe(this=string(f"{self.salt}:{segment}:"), expression=key, safe=True)
        digits = exp.Left(this=dialect.sha256_hex(text), expression=exp.Literal.number(16))
        return exp.LT(this=dialect.byte_order(digits), expression=string(f"{bound:016x}"))

    def final(self, previous: str) -> exp.Select:
        items: list[Expr] = [column(self.key)]
        for statement in self.checked.rules.statements:
            member = column(segment_name(statement.name))
            if isinstance(statement, ast.Segment) and statement.holdout is not None:
                held = column(f"holdout:{statement.name}")
                items.append(exp.alias_(and_(member, not_(held)), identifier(statement.name)))
                items.append(exp.alias_(and_(member.copy(), held.copy()),
                                        identifier(statement.name + HOLDOUT_SUFFIX)))
            else:
                items.append(exp.alias_(member, identifier(statement.name)))
        order = column(self.relations.order or self.key)
        query = exp.select(*items).from_(identifier(previous)).order_by(order)
        return with_ctes(query, self.ctes[self.starts[-1]:])


def integer_arithmetic(checked: CheckedRules, statement: ast.Statement,
                       ctx: SqlContext) -> list[tuple[str, Any]]:
    """Every integer operation of a statement that can overflow, with the relation it is
    computed over: the statement's layer, or the events of the source a `where` reads."""
    found: list[tuple[str, Any]] = []
    stack: list[tuple[Any, str]] = [(statement, "")]
    while stack:
        node, relation = stack.pop()
        if isinstance(node, ast.Aggregate):
            if node.where is not None:
                stack.append((node.where, f"events:{node.source}"))
            continue
        overflows = isinstance(node, (ast.Arithmetic, ast.Negate)) or (
            isinstance(node, ast.Call) and node.function in ("abs", "round"))
        if overflows and checked.type_of(node).kind is Kind.NUMBER and not ctx.is_float(node) \
                and not (isinstance(node, ast.Arithmetic) and node.op == "/"):
            found.append((relation, node))
        stack.extend((child, relation) for child in ast.children(node))
    return found


def to_sql(query: exp.Expression, dialect: SqlDialect, *, pretty: bool = True) -> str:
    """The query's text in the dialect."""
    return query.sql(dialect=dialect.sqlglot, pretty=pretty)
