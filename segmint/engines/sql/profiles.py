"""The customers as SQL: every profile source's rows joined on the key.

Each source's key is normalised where SQL can do it exactly as segmint does (`email`: trim
and lowercase, an empty key is no key); the sources are joined with a full outer join, so
a customer of any source is a customer of the run, as the Arrow pipeline joins them.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import sqlglot.expressions as exp

from segmint.engines.sql.compiler import column, identifier, named
from segmint.engines.sql.dialects import SqlDialect, string

Expr = exp.Expression


@attrs.frozen
class ProfileSource:
    """One profile source: where its rows are, its columns (name as the source has it ->
    physical name in the profile), how its keys are normalised (None or "email") and the
    column holding its keys when it is not named like the project's key."""

    name: str
    relation: Expr
    columns: tuple[tuple[str, str], ...] = ()
    normalize: str | None = None
    key_column: str | None = None


def normalized_key(key: Expr, how: str | None, dialect: SqlDialect) -> Expr:
    """A source's key as segmint normalises it: an email trimmed and in lower case, an
    empty one null."""
    if how is None:
        return key
    if how != "email":
        raise ValueError(f"keys normalised as {how} cannot be normalised in SQL")
    cleaned = exp.Lower(this=exp.Trim(this=dialect.to_text(key)))
    return exp.Nullif(this=cleaned, expression=string(""))


def profile_join(sources: Sequence[ProfileSource], key: str, dialect: SqlDialect) -> exp.Select:
    """One row per customer of any source: the key, then each source's columns."""
    parts = []
    for source in sources:
        own = column(source.key_column or key)
        items = [named(normalized_key(own, source.normalize, dialect), key)]
        items += [named(column(name), physical) for name, physical in source.columns]
        parts.append((source.name, exp.select(*items).from_(source.relation)))
    first_name, first = parts[0]
    if len(parts) == 1:
        return first
    query = exp.select().from_(exp.alias_(exp.Subquery(this=first), identifier(first_name)))
    keys: list[Expr] = [column(key, first_name)]
    for name, part in parts[1:]:
        joined_key = keys[0] if len(keys) == 1 else exp.Coalesce(this=keys[0], expressions=keys[1:])
        query = query.join(exp.alias_(exp.Subquery(this=part), identifier(name)), on=exp.EQ(
            this=joined_key.copy(), expression=column(key, name)), join_type="full")
        keys.append(column(key, name))
    merged = keys[0] if len(keys) == 1 else exp.Coalesce(this=keys[0], expressions=keys[1:])
    items = [exp.alias_(merged, identifier(key))]
    for source in sources:
        items += [column(physical, source.name) for _, physical in source.columns]
    return query.select(*items)
