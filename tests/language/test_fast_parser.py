"""The hand-written fast parser builds exactly the tree lark builds, positions included.

Every statement below is parsed twice, by `parse_rules` (the fast path) and by lark alone
(the fast path switched off), and the trees must agree node for node, span for span. The
fast path must also have parsed each of them itself, not handed it to lark; and what it
hands to lark (errors, keywords where lark reads a name) is what lark explains — the
messages are pinned in test_syntax_errors.py.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import attrs
import pytest

from segmint.errors import RuleError
from segmint.language import parser
from segmint.language.builder import Builder
from segmint.language.fast_parser import NotFast, fast_parse

ACCEPTED = [
    "segment a: x > 1",
    "segment a: x == 1 and y != 2.5 or not z <= -3",
    "segment a 'described': x >= 1_000 holdout 12.5%",
    'segment a "with \\"escapes\\" \\u00e9": x < .5e3',
    "SEGMENT A: X > 1 AND Y IS NOT NULL OR z Is Null",
    "segment a: (x + 2) * 3 / y - -4 > (z)",
    "segment a: -(x) < - 2 and - x > 1",
    "segment a: x in (1, 2, 3) and y not in ('a', \"b\")",
    "segment a: x between 1 and 2 and y not between x + 1 and 10",
    "segment a: name starts with 'A' or name ends with 'z' or name matches '^a.*'",
    "segment a: tags contains 'vip' and tags contains any ('a', 'b') and tags contains all ('c')",
    "segment a: spend in top 10% or spend in bottom 0.5%",
    "segment a: last_seen within 30d and signup within 1.5mo and x within 2h",
    "segment a: d > 2026-01-31 and t < 2026-01-31T10:00 and u <= 2026-01-31T10:00:05.123+02:00",
    "segment a: t >= 2026-01-31T10:00:05Z and w > 2w and y > 1y",
    "segment a: flag == true or flag == FALSE or x is null or y == null",
    "segment a: orders.amount > 1 and orders.in > 2 and p.not is null",
    "segment a: round(x) > 1 and coalesce(x, 0, y) > lower('A') and now() > d",
    "segment a: count(orders) > 1 and sum(orders.amount, last 30d) > 10",
    "segment a: count(orders where amount > 10 and status == 'paid', since 2025-01-01) >= 2",
    "segment a: exists(orders where amount > 1, between 180d ago and 90d ago)",
    "segment a: max(orders.amount, between 2025-01-01 and 2025-12-31T00:00) > 3",
    "segment a: count(orders, since 2025-06-01T12:00) > 0",
    "segment a: other_segment and not (x > 1 or y > 2)",
    "segment a:\n    x > 1\n    # a comment\n    and y > 2  # another\n\n",
    "segment a:   x\t>\f1\r\n   and y > 2\n",
    "segmentation tiers: gold: x > 100\n  silver: x > 10\n  rest: otherwise",
    "segmentation tiers 'by spend':\n  gold: x > 100 and y in (1, 2)\n  bronze: otherwise\n",
    "segment a: ((((x))))",
    "segment a: x > 1 # trailing",
    # spans from token offsets: over several lines, around parentheses, chains
    "segment a:\n  (x\n   + 1) * -(y) > 2\n  and (z\n  or w)\n  and v not between (1) and 2 + (3)\n",
    "segment a: a - b - c * d / e > -(-(f)) and (g) is not null and (h) in top 5%",
    "segment a: (t) contains any ((1), 2) and u contains all ('a') and (v) within (30d)",
    "segment a: p.and > 1 and q.segment is null and (r.top) < 2",
    "segment a: count(orders where (amount) > 1, last 12h) > 0 and x in ((1))",
    "segment a: sum(orders.amount, between 2025-01-01T00:00 and 2025-12-31) > 1",
    "segment a:\n  exists(events\n    where name == 'x',\n    between 90d ago\n    and 30d ago)\n",
    "segmentation s 'described':\n  a: (x > 1)\n  b:\n    y < 2\n  c: otherwise\n",
]

GIVEN_TO_LARK = [
    "segment a: x >",  # syntax errors
    "segment a: x > 1 )",
    "segment a: x < y < z",
    "segment in: x > 1",  # keywords where lark reads a name: lark explains them
    "segment a: in > 1",
    "segment a: count(orders, in 30d)",
    "segment a: x > 1 holdout 120%",  # problems the builder raises
    "segment a: count(orders, last 2026-01-01)",
    "segment a: count(orders, between 90d ago and 180d ago)",
    "segment a: x é 1",  # nothing lexes it
    "segmentation s: a: x > 1 b: x < 1 c",
    "segment a: x in top 120%",
    "segment a: count(orders, lats 30d)",
    "segment a: count(orders, since 30d)",
    "segment a: count(orders, between 90d agoo and 10d ago)",
    "segment a: count(orders, between 2025-02-01 and 2025-01-01)",
    "segment a: lower(orders where x > 1) == 'a'",
    "segment a: x > 2026-02-30",
    "segment a: count(x + 1) > 1",
    "segmentation s: and: x > 1",
]


def test_fast_parser_hands_lark_nesting_deeper_than_the_stack() -> None:
    """Parentheses add no depth to the tree, so lark (whose stack is a list) parses what
    exhausts the recursive descent; the fast path gives that statement to lark."""
    text = "segment a: " + "(" * 400 + "x" + ")" * 400
    with pytest.raises(NotFast):
        fast_parse(text, Builder("rules.seg"))
    (segment,) = parser.parse_rules(text, "rules.seg").statements
    assert segment.condition.name == "x"
    assert segment.condition.span.column == 412


def _tree(node: Any) -> Any:
    """A node as nested tuples including every span (spans are left out of equality)."""
    if attrs.has(type(node)):
        return (type(node).__name__,) + tuple(
            (field.name, _tree(getattr(node, field.name))) for field in attrs.fields(type(node)))
    if isinstance(node, (tuple, list)):
        return tuple(_tree(item) for item in node)
    return node


def _by_lark(text: str, monkeypatch: pytest.MonkeyPatch, filename: str = "rules.seg") -> Any:
    def not_fast(*_: Any) -> Any:
        raise NotFast
    with monkeypatch.context() as patch:
        patch.setattr(parser, "fast_parse", not_fast)
        return parser.parse_rules(text, filename)


@pytest.mark.parametrize("text", ACCEPTED)
def test_fast_parser_builds_larks_tree(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    builder = Builder("rules.seg")
    assert fast_parse(text, builder) is not None  # parsed by the fast path itself
    fast = parser.parse_rules(text, "rules.seg")
    assert _tree(fast.statements) == _tree(_by_lark(text, monkeypatch).statements)


def test_fast_parser_positions_across_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    """Positions are the file's, in every statement of a multi-statement file."""
    text = "\n".join(ACCEPTED[:-1]) + "\n# the end\n"
    fast = parser.parse_rules(text, "rules.seg")
    assert len(fast.statements) == len(ACCEPTED) - 1
    assert _tree(fast.statements) == _tree(_by_lark(text, monkeypatch).statements)


@pytest.mark.parametrize("text", GIVEN_TO_LARK)
def test_fast_parser_hands_lark_what_it_cannot_vouch_for(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NotFast):
        fast_parse(text, Builder("rules.seg"))
    with pytest.raises(RuleError) as fast:
        parser.parse_rules(text, "rules.seg")
    with pytest.raises(RuleError) as by_lark:
        _by_lark(text, monkeypatch)
    assert str(fast.value) == str(by_lark.value)


def test_fast_parser_errors_across_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file with good and bad statements, and an under-indented line: the same messages
    (the bad statements are lark's; positions are the file's)."""
    text = "\n".join(["segment ok: x > 1", *GIVEN_TO_LARK, "segment b:\n  x > 1\nand y",
                      "segment c: y > 2\n"])
    with pytest.raises(RuleError) as fast:
        parser.parse_rules(text, "rules.seg")
    with pytest.raises(RuleError) as by_lark:
        _by_lark(text, monkeypatch)
    assert str(fast.value) == str(by_lark.value)


def test_shipped_rule_files_parse_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(str(resources.files("segmint"))).parent
    files = sorted(root.glob("segmint/examples/**/*.seg")) + sorted(root.glob("tests/**/*.seg"))
    assert files
    for path in files:
        text = path.read_text("utf-8")
        fast = parser.parse_rules(text, path.name)
        assert _tree(fast.statements) == _tree(_by_lark(text, monkeypatch, path.name).statements), path
