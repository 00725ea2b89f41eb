"""What a SQL engine counts of an event source it reads itself, for the run's data report
(`segmint.engines.base.KeyCounts`): one query per source, over the same relation the
membership query reads, so the source's rows never come into Arrow for it.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from segmint.engines.sql.compiler import column, identifier

UNMATCHED = "unmatched"


def unmatched_keys(events: exp.Expression, profiles: exp.Expression, key: str) -> exp.Select:
    """The query of `KeyCounts.unmatched`: the distinct non-null keys of `events` that no
    row of `profiles` has (one row, one column ``unmatched``). Keys are compared with
    ``=``, as the membership query joins an event source's aggregates to the profiles;
    the profiles' keys are never null (`check_keys`), so a row the left join found no
    profile for has a null profile key. (The anti join first, then the distinct keys of
    what is left: 20M events of 1M customers, 0.9 s in DuckDB, where distinct keys first
    take 1.2 s.)"""
    found = exp.EQ(this=column(key, "p"), expression=column(key, "e"))
    count = exp.Count(this=exp.Distinct(expressions=[column(key, "e")]))
    return (exp.select(exp.alias_(count, identifier(UNMATCHED)))
            .from_(exp.alias_(events, identifier("e"), table=True))
            .join(exp.alias_(profiles, identifier("p"), table=True), on=found, join_type="left")
            .where(exp.Is(this=column(key, "p"), expression=exp.Null())))
