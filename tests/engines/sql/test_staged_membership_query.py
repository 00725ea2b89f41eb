"""A membership query in stages (`membership_query(..., stage_every=K)`): a rule set of more
than K dependency layers is cut into stages of K layers, each one statement made a table
that keeps only what comes after needs; fewer layers, or no `stage_every` (what `segmint
sql` prints), stay one statement."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlglot.expressions as exp

from segmint.api import check_rules
from segmint.engines.sql import compile_membership
from segmint.engines.sql.dialects import DuckDBDialect
from segmint.engines.sql.query import MembershipQuery, Relations, membership_query, to_sql
from segmint.semantics.asof import AsOf

SCHEMA = pa.schema([("customer_id", pa.int64()), ("x", pa.int64())])


def chain(links: int) -> str:
    return "\n".join(["segment s0: x > 10"] + [f"segment s{k}: s{k - 1} and x > {10 + k}"
                                                for k in range(1, links)])


def query(rules: str, every: int | None) -> MembershipQuery:
    checked = check_rules(rules, SCHEMA)
    relations = Relations(profiles=exp.Table(this=exp.to_identifier("profiles", quoted=True)))
    return membership_query(checked, relations, dialect=DuckDBDialect(), as_of=AsOf.resolve(None),
                            key="customer_id", stage_every=every)


@pytest.mark.parametrize(("links", "every", "stages"), [
    (120, None, 0),  # not asked
    (50, 50, 0),     # no more layers than a stage holds: one statement
    (51, 50, 2),
    (120, 50, 3),
    (7, 2, 4),
])
def test_a_chain_is_cut_into_stages_of_the_given_number_of_layers(links, every, stages):
    found = query(chain(links), every)
    assert len(found.stages) == stages
    assert [s.name for s in found.stages] == [f"stage:{i + 1}" for i in range(stages)]
    assert len(found.starts) == stages + 1
    layer_ctes = sum(1 for name, _ in found.ctes if name.startswith("layer:"))
    assert layer_ctes == links
    assert found.longest <= (every or links) + 2  # base (and the join of the stages) besides


def test_a_stage_table_keeps_only_what_later_stages_and_the_result_need():
    # s0..s5 a chain; far refers to s0 from the last stage, so s0 is carried through
    rules = chain(6) + "\nsegment far: s0 and s5\n"
    found = query(rules, 2)
    kept = [[e.alias_or_name for e in stage.select.selects] for stage in found.stages]
    assert kept == [
        ["customer_id", "x", "segment:s0", "segment:s1"],
        ["customer_id", "x", "segment:s0", "segment:s2", "segment:s3"],
        ["customer_id", "x", "segment:s0", "segment:s4", "segment:s5"],
        ["customer_id", "x", "segment:far"],
    ]
    text = to_sql(found.select, DuckDBDialect(), pretty=False)
    assert '"layer:' not in text  # the final query reads the stage tables only
    assert 'JOIN "stage:4"' in text


def test_segmint_sql_prints_a_long_chain_as_one_statement():
    checked = check_rules(chain(120), SCHEMA)
    text = compile_membership(checked, pretty=False)
    assert "stage:" not in text
    assert text.count('"layer:') == 2 * 120  # each defined, and read by the next (or the end)


def test_many_stage_tables_are_joined_join_every_at_a_time():
    checked = check_rules(chain(7) + "\nsegment far: s0 and s6\n", SCHEMA)  # 8 layers
    relations = Relations(profiles=exp.Table(this=exp.to_identifier("profiles", quoted=True)))
    found = membership_query(checked, relations, dialect=DuckDBDialect(), as_of=AsOf.resolve(None),
                             key="customer_id", stage_every=1, join_every=3)
    names = [s.name for s in found.stages]
    # 8 stage tables -> joined 3 at a time: 3 tables (the last of two) -> one final join of 3
    assert names == [f"stage:{i}" for i in range(1, 9)] + ["stage:join1_1", "stage:join1_2", "stage:join1_3"]
    assert len(found.starts) == len(found.stages) + 1
    joins = found.stages[8:]
    assert [[e.alias_or_name for e in j.select.selects] for j in joins] == [
        ["customer_id", "segment:s0", "segment:s1", "segment:s2"],
        ["customer_id", "segment:s3", "segment:s4", "segment:s5"],
        ["customer_id", "segment:s6", "segment:far"],
    ]
    text = to_sql(found.select, DuckDBDialect(), pretty=False)
    assert text.count("JOIN") == 2 and '"stage:join1_3"' in text and '"stage:8"' not in text
    # the final query's CTEs are its own, after every stage's
    assert found.part_of("stages") == len(found.stages)
    with pytest.raises(ValueError, match="join_every"):
        membership_query(checked, relations, dialect=DuckDBDialect(), as_of=AsOf.resolve(None),
                         key="customer_id", stage_every=1, join_every=1)
