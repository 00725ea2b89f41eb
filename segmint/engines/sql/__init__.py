"""The SQL engine family: a checked rule set compiled to one query (sqlglot expressions),
for the dialects duckdb, spark, postgres, bigquery and snowflake.

`compile_membership` gives the text of the query computing the membership table from
relations named after the sources (or the relations given); the duckdb and spark engines
run the same query; `segmint sql` prints it.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from segmint.engines.sql.dialects import DIALECTS, SqlDialect, dialect_named
from segmint.engines.sql.query import MembershipQuery, Relations, membership_query, to_sql
from segmint.errors import ConfigError
from segmint.language.checker import CheckedRules
from segmint.semantics.asof import AsOf

__all__ = ["DIALECTS", "MembershipQuery", "Relations", "SqlDialect", "compile_membership",
           "dialect_for", "membership_query", "to_sql"]


def dialect_for(name: str) -> SqlDialect:
    """The dialect called `name`; a ConfigError listing the dialects for any other."""
    try:
        return dialect_named(name)
    except KeyError as error:
        raise ConfigError(str(error.args[0]), key="--dialect") from None


def compile_membership(checked: CheckedRules, *, dialect: str = "duckdb", key: str = "customer_id",
                       as_of: AsOf | None = None, holdout_salt: str = "",
                       relations: Relations | None = None, pretty: bool = True) -> str:
    """The SQL text computing the membership table of `checked` in `dialect`, reading the
    profiles from a relation named ``profiles`` and each event source from one named after
    it, unless `relations` says otherwise."""
    chosen = dialect_for(dialect)
    relations = relations or Relations(profiles=exp.Table(this=exp.to_identifier("profiles", quoted=True)))
    query = membership_query(checked, relations, dialect=chosen, as_of=as_of or AsOf.resolve(None),
                             key=key, holdout_salt=holdout_salt)
    return to_sql(query.select, chosen, pretty=pretty)
