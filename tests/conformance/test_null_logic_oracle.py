"""Property test, on every engine: segmint's membership equals DuckDB's `WHERE` for the
same condition.

Hypothesis draws a profile table (value pools per column, rows picked from the pools by a
seeded generator, so values repeat and literals hit them) and a small rule file: two
segments (the second may use the first), each with its negation, and a segmentation. Every
condition is built as a tree and rendered twice: as segmint rule text and as the
equivalent DuckDB SQL. The language promises SQL three-valued logic, so `segment s: C` must
hold exactly the rows of `SELECT key FROM t WHERE C`, and `segment s_not: not (C)` those of
`WHERE NOT C`; a row in neither is null.

DuckDB is given the same data with NaN turned into NULL (segmint reads NaN as null); segmint
may get some columns in another Arrow type holding the same values (dictionary, large
string, string view, float32, date64, timestamps in other units and zones). The
segmint-only constructs are translated to plain SQL: `in top/bottom N%` to a comparison
with the k-th value (k = ceil(n * N / 100), computed exactly), `within` to a BETWEEN around
the fixed as_of, division to `a / NULLIF(b, 0)`, durations to second intervals.

Integer overflow: segmint must raise `EvaluationError` where DuckDB raises, unless it
skipped a part that cannot change the result (Arrow folds `X or true`); then its result
must be DuckDB's with every overflowing integer operation as NULL (TRY), so a value that
wrapped around silently shows. segmint may also raise where DuckDB does not (DuckDB skips
rows an AND/OR has already decided), but only when DuckDB confirms that one of the integer
sub-expressions overflows on its own.

The explicit examples are the engine bugs this test found, kept as regressions.
"""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from segmint.errors import EvaluationError, RuleError

AS_OF = dt.datetime(2024, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
TODAY = AS_OF.date()
KEY = "customer_id"
T, F, N = True, False, None

INT_EXTREMES = [2**63 - 1, -(2**63 - 1), -(2**63), 0, 1, -1, 2, 2**62, -(2**62), 3_037_000_500, 2**31]
STRINGS = ["", "a", "ab", "abc", "b", "ba", "Ab", "ABC", "é", "É", "ñ", "x y", "10", "9",
           "a%b", "a_b", "it's", 'q"t', "back\\slash", " a", "a "]
PATTERNS = ["", "a", "b", "c", "A", "é", "%", "_", "'", '"', "\\", " ", "ab", "ba", "x y"]
REGEXES = ["^a", "b$", "a.c", "[ab]+", "^$", "x|y", "^A", "(?i)^a", "\\d", "é", "^.{2}$", "a*", "^[^a]"]
ELEMENTS = ["a", "b", "c", None]
PERCENTS = ["0", "0.5", "1", "10", "12.5", "25", "33.3", "50", "99.9", "100"]
DURATIONS = [("1d", 86400), ("7d", 7 * 86400), ("30d", 30 * 86400), ("12h", 12 * 3600),
             ("36h", 36 * 3600), ("2w", 14 * 86400), ("1mo", 30 * 86400), ("1y", 365 * 86400)]
COMPARISONS = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

NUM = ("int", "float")
TEMPORAL = ("date", "ts")


# data ------------------------------------------------------------------------------------

def _floats() -> st.SearchStrategy[float]:
    positive = st.floats(1e-6, 1e6)
    moderate = st.one_of(positive, positive.map(lambda x: -x))
    special = st.sampled_from([0.0, -0.0, 0.5, 1.0, -1.5, 1e-3, 2.0, math.nan])
    return st.one_of(special, moderate, st.integers(-1000, 1000).map(float))


def _dates() -> st.SearchStrategy[dt.date]:
    return st.integers(-400, 3).map(lambda d: TODAY + dt.timedelta(days=d))


def _timestamps() -> st.SearchStrategy[dt.datetime]:
    return st.integers(-400 * 24, 24).map(lambda h: AS_OF + dt.timedelta(hours=h))


POOLS: dict[str, tuple[str, st.SearchStrategy[Any]]] = {
    "i1": ("int", st.one_of(st.sampled_from(INT_EXTREMES), st.integers(-1000, 1000))),
    "i2": ("int", st.one_of(st.sampled_from(INT_EXTREMES), st.integers(-20, 20))),
    "f1": ("float", _floats()),
    "f2": ("float", _floats()),
    "s1": ("str", st.sampled_from(STRINGS)),
    "s2": ("str", st.sampled_from(STRINGS)),
    "b1": ("bool", st.booleans()),
    "d1": ("date", _dates()),
    "t1": ("ts", _timestamps()),
    "l1": ("list", st.lists(st.sampled_from(ELEMENTS), max_size=3)),
}
ARROW_TYPES = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_(),
               "date": pa.date32(), "ts": pa.timestamp("us", tz="UTC"), "list": pa.list_(pa.string())}


#: Other Arrow types segmint reads the same values from (the column as segmint gets it).
RETYPES: dict[str, list[pa.DataType]] = {
    "s1": [pa.large_string(), pa.dictionary(pa.int32(), pa.string())],
    "s2": [pa.string_view()],
    "f2": [pa.float32()],  # the pool's float32 values, given to DuckDB as the same doubles
    "d1": [pa.date64()],
    "t1": [pa.timestamp("ns", tz="UTC"), pa.timestamp("ms", tz="Asia/Kolkata"), pa.timestamp("us")],
    "l1": [pa.large_list(pa.string())],
}


class Data:
    """A drawn profile table: per column a pool of values, a share of nulls, and for some
    columns another Arrow type that holds the same values."""

    def __init__(self, n: int, seed: int, pools: dict[str, list[Any]], nulls: dict[str, float],
                 retypes: dict[str, pa.DataType]):
        self.n, self.seed, self.pools, self.nulls, self.retypes = n, seed, pools, nulls, retypes
        if "f2" in retypes:  # values a float32 holds exactly, so both sides see the same
            self.pools["f2"] = [float(np.float32(v)) for v in pools["f2"]]

    def columns_of(self, kind: str) -> list[str]:
        return [name for name, (k, _) in POOLS.items() if k == kind]

    def values_of(self, kind: str) -> list[Any]:
        return [v for name in self.columns_of(kind) for v in self.pools[name]]

    def tables(self) -> tuple[pa.Table, pa.Table]:
        """The table segmint reads (NaN kept) and the one DuckDB reads (NaN as NULL)."""
        rng = np.random.default_rng(self.seed)
        columns: dict[str, pa.Array] = {KEY: pa.array(rng.permutation(self.n), pa.int64())}
        for name, (kind, _) in POOLS.items():
            pool = self.pools[name]
            picks = rng.integers(len(pool), size=self.n)
            absent = rng.random(self.n) < self.nulls[name]
            values = [None if gone else pool[i] for i, gone in zip(picks, absent)]
            columns[name] = pa.array(values, ARROW_TYPES[kind], from_pandas=False)
        plain = pa.table(columns)
        ours = plain
        for name, arrow_type in self.retypes.items():
            ours = ours.set_column(ours.schema.get_field_index(name), name, plain[name].cast(arrow_type))
        theirs = plain
        for name in ("f1", "f2"):
            theirs = theirs.set_column(theirs.schema.get_field_index(name), name, _nan_to_null(plain[name]))
        # DuckDB gets naive UTC timestamps and compares them with naive literals.
        theirs = theirs.set_column(theirs.schema.get_field_index("t1"), "t1",
                                   plain["t1"].cast(pa.timestamp("us")))
        return ours, theirs


def _nan_to_null(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values)


@st.composite
def datasets(draw: st.DrawFn) -> Data:
    n = draw(st.integers(0, 4)) if draw(st.integers(0, 9)) == 0 else draw(st.integers(30, 200))
    seed = draw(st.integers(0, 2**32 - 1))
    pools = {name: draw(st.lists(strategy, min_size=1, max_size=6))
             for name, (_, strategy) in POOLS.items()}
    nulls = {name: draw(st.sampled_from([0.0, 0.0, 0.2, 0.5])) for name in POOLS}
    retypes = {name: draw(st.sampled_from(types)) for name, types in RETYPES.items() if draw(st.booleans())}
    return Data(n, seed, pools, nulls, retypes)


# expression trees -----------------------------------------------------------------------
# A node is a tuple (tag, type, *parts); `type` is one of int float str bool date ts list null.

def _num_type(*types: str) -> str:
    real = [t for t in types if t != "null"]
    if not real:
        return "null"
    return "float" if "float" in real else "int"


@st.composite
def literal(draw: st.DrawFn, data: Data, kind: str) -> tuple:
    if draw(st.integers(0, 14)) == 0:
        return ("lit", "null", None, kind)  # a null, typed for DuckDB by where it stands
    if kind == "int":
        value = draw(st.one_of(st.sampled_from([v for v in data.values_of("int") if v != -(2**63)] or [0]),
                               st.sampled_from(INT_EXTREMES[:2] + [0, 1, 2, 3, -7, 100]),
                               st.integers(-1000, 1000)))
        return ("lit", "int", value)
    if kind == "float":
        pool = [v for v in data.values_of("float") if not math.isnan(v)] or [0.5]
        value = draw(st.one_of(st.sampled_from(pool), _floats()).filter(lambda v: not math.isnan(v)))
        return ("lit", "float", value)
    if kind == "str":
        return ("lit", "str", draw(st.sampled_from(data.values_of("str") + STRINGS)))
    if kind == "bool":
        return ("lit", "bool", draw(st.booleans()))
    if kind == "date":
        return ("lit", "date", draw(st.one_of(st.sampled_from(data.values_of("date")), _dates())))
    if kind == "ts":
        return ("lit", "ts", draw(st.one_of(st.sampled_from(data.values_of("ts")), _timestamps())))
    raise AssertionError(kind)


@st.composite
def numbers(draw: st.DrawFn, data: Data, depth: int) -> tuple:
    choice = draw(st.integers(0, 12 if depth > 0 else 4))
    if choice <= 1:
        name = draw(st.sampled_from(data.columns_of("int") + data.columns_of("float")))
        return ("col", POOLS[name][0], name)
    if choice == 2:
        return draw(literal(data, draw(st.sampled_from(NUM))))
    if choice == 3:
        return ("call", "int", "length", draw(st.one_of(strings(data, 0), st.just(("col", "list", "l1")))))
    if choice == 4:
        unit = draw(st.sampled_from(["year", "month", "day_of_week"]))
        return ("call", "int", unit, draw(temporals(data, 0)))
    if choice <= 8:
        op = draw(st.sampled_from("+-*/"))
        a, b = draw(numbers(data, depth - 1)), draw(numbers(data, depth - 1))
        kind = "float" if op == "/" and "null" not in (a[1], b[1]) else _num_type(a[1], b[1])
        return ("arith", kind, op, a, b)
    if choice == 9:
        a = draw(numbers(data, depth - 1))
        return ("neg", a[1], a)
    if choice == 10:
        a = draw(numbers(data, depth - 1))
        return ("call", a[1], "abs", a)
    if choice == 11:
        args = draw(st.lists(numbers(data, depth - 1), min_size=1, max_size=3))
        return ("call", _num_type(*(a[1] for a in args)), "coalesce", *args)
    if draw(st.booleans()):
        a = draw(numbers(data, depth - 1))
        return ("round", a[1], a, draw(st.sampled_from([None, 0, 1, 2])))
    # not `null` here: the checker types `d1 - null` as a date (date minus a duration)
    a, b = (draw(temporals(data, 0).filter(lambda n: n[1] != "null")) for _ in range(2))
    return ("days", "float", a, b)


@st.composite
def strings(draw: st.DrawFn, data: Data, depth: int) -> tuple:
    choice = draw(st.integers(0, 5 if depth > 0 else 2))
    if choice <= 1:
        return ("col", "str", draw(st.sampled_from(data.columns_of("str"))))
    if choice == 2:
        return draw(literal(data, "str"))
    if choice <= 4:
        return ("call", "str", draw(st.sampled_from(["lower", "upper"])), draw(strings(data, depth - 1)))
    args = draw(st.lists(strings(data, depth - 1), min_size=1, max_size=3))
    return ("call", "str", "coalesce", *args)


@st.composite
def temporals(draw: st.DrawFn, data: Data, depth: int, kind: str | None = None) -> tuple:
    kind = kind or draw(st.sampled_from(TEMPORAL))
    choice = draw(st.integers(0, 4 if depth > 0 else 3))
    if choice <= 1:
        return ("col", kind, "d1" if kind == "date" else "t1")
    if choice == 2:
        return draw(literal(data, kind))
    if choice == 3:
        return ("builtin", kind, "today" if kind == "date" else "now")
    # date or timestamp plus or minus a duration is a timestamp
    # not `null` here: the checker types `null + 1d` as a duration
    base = draw(temporals(data, depth - 1).filter(lambda n: n[1] != "null"))
    text, seconds = draw(st.sampled_from(DURATIONS))
    return ("shift", "ts", draw(st.sampled_from("+-")), base, text, seconds)


def _typed(data: Data, kind: str, depth: int) -> st.SearchStrategy[tuple]:
    if kind in NUM:
        return numbers(data, depth)
    if kind == "str":
        return strings(data, depth)
    if kind in TEMPORAL:
        return temporals(data, depth)
    return st.one_of(st.just(("col", "bool", "b1")), literal(data, "bool"))


@st.composite
def conditions(draw: st.DrawFn, data: Data, depth: int, refs: tuple[str, ...] = ()) -> tuple:
    choice = draw(st.integers(0, 17 if depth > 0 else 14))
    family = draw(st.sampled_from(["num", "num", "str", "temporal", "bool"]))
    kind = {"num": "int", "str": "str", "temporal": "date", "bool": "bool"}[family]
    if choice <= 2:
        op = draw(st.sampled_from(list(COMPARISONS)))
        if family == "bool" and draw(st.booleans()) and depth > 0:
            a, b = draw(conditions(data, depth - 1, refs)), draw(conditions(data, depth - 1, refs))
        else:
            a, b = draw(_typed(data, kind, 2)), draw(_typed(data, kind, 2))
        return ("cmp", "bool", op, a, b)
    if choice == 3:
        operand = draw(_typed(data, kind, 1))
        item_kinds = {"num": NUM, "temporal": TEMPORAL}.get(family, (kind,))
        items = draw(st.lists(st.sampled_from(item_kinds).flatmap(lambda k: literal(data, k)),
                              min_size=1, max_size=4))
        if draw(st.integers(0, 3)) == 0:
            items.append(draw(_typed(data, kind, 0)))
        return ("in", "bool", draw(st.booleans()), operand, tuple(items))
    if choice == 4:
        family_kind = kind if family != "bool" else "int"
        parts = [draw(_typed(data, family_kind, 1)) for _ in range(3)]
        return ("between", "bool", draw(st.booleans()), *parts)
    if choice == 5:
        operand = draw(st.one_of(_typed(data, kind, 1), st.just(("col", "list", "l1")),
                                 st.just(("col", "float", "f1"))))
        return ("isnull", "bool", draw(st.booleans()), operand)
    if choice == 6:
        op = draw(st.sampled_from(["starts_with", "ends_with", "contains"]))
        pattern = draw(st.one_of(st.sampled_from(PATTERNS), st.sampled_from(data.values_of("str"))))
        if op == "contains" and draw(st.integers(0, 9)) == 0:
            pattern = None  # only `contains` takes a null (the other tests need a string)
        return ("strtest", "bool", op, draw(strings(data, 1)), pattern)
    if choice == 7:
        return ("strtest", "bool", "matches", draw(strings(data, 1)), draw(st.sampled_from(REGEXES)))
    if choice == 8:
        mode = draw(st.sampled_from(["any", "all"]))
        values = draw(st.lists(st.one_of(st.sampled_from(PATTERNS), st.none()), min_size=1, max_size=3))
        return ("strmulti", "bool", mode, draw(strings(data, 1)), tuple(values))
    if choice == 9:
        mode = draw(st.sampled_from(["one", "any", "all"]))
        pool = ["a", "b", "c", "z", None]
        size = (1, 1) if mode == "one" else (1, 3)
        values = draw(st.lists(st.sampled_from(pool), min_size=size[0], max_size=size[1]))
        return ("listc", "bool", mode, ("col", "list", "l1"), tuple(values))
    if choice == 10:
        operand = draw(st.one_of(numbers(data, 1), strings(data, 0), temporals(data, 0)))
        return ("rank", "bool", draw(st.booleans()), operand, draw(st.sampled_from(PERCENTS)))
    if choice == 11:
        text, seconds = draw(st.sampled_from(DURATIONS))
        return ("within", "bool", draw(temporals(data, 1)), text, seconds)
    if choice == 12:
        if refs:
            return ("ref", "bool", draw(st.sampled_from(refs)))
        return ("col", "bool", "b1")
    if choice == 13:
        return draw(st.one_of(st.just(("col", "bool", "b1")), literal(data, "bool")))
    if choice == 14:
        op = draw(st.sampled_from(list(COMPARISONS)))
        return ("cmp", "bool", op, ("call", "int", "length", ("col", "list", "l1")),
                draw(literal(data, "int")))
    if choice == 15:
        return ("not", "bool", draw(conditions(data, depth - 1, refs)))
    tag = "and" if choice == 16 else "or"
    parts = draw(st.lists(conditions(data, depth - 1, refs), min_size=2, max_size=3))
    return (tag, "bool", *parts)


@st.composite
def rule_sets(draw: st.DrawFn, data: Data) -> list[tuple]:
    """Segments seg0, seg1 (which may use seg0) and a segmentation grp (which may use both).

    Each segment comes with its negation (segN_not: not C), so the comparison sees the full
    three-valued result: true (in segN), false (in segN_not) or null (in neither).
    """
    first = draw(conditions(data, 3))
    second = draw(conditions(data, 2, ("seg0",)))
    arms = draw(st.lists(conditions(data, 1, ("seg0", "seg1")), min_size=1, max_size=3))
    otherwise = draw(st.booleans())
    return [("segment", "seg0", first), ("segment", "seg0_not", ("not", "bool", first)),
            ("segment", "seg1", second), ("segment", "seg1_not", ("not", "bool", second)),
            ("segmentation", "grp", arms, otherwise)]


# rendering as segmint rule text ---------------------------------------------------------------

def seg_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def seg_literal(kind: str, value: Any) -> str:
    if value is None:
        return "null"
    if kind == "int":
        return f"({value})" if value < 0 else str(value)
    if kind == "float":
        text = repr(float(abs(value)))
        return f"(-{text})" if math.copysign(1, value) < 0 else text
    if kind == "str":
        return seg_string(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "date":
        return value.isoformat()
    if kind == "ts":
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise AssertionError(kind)


def seg(node: tuple) -> str:
    tag = node[0]
    if tag == "col":
        return node[2]
    if tag == "lit":
        return seg_literal(node[1], node[2])
    if tag == "builtin":
        return node[2]
    if tag == "ref":
        return node[2]
    if tag == "arith":
        return f"({seg(node[3])} {node[2]} {seg(node[4])})"
    if tag == "neg":
        return f"(-{seg(node[2])})"
    if tag == "call":
        return f"{node[2]}({', '.join(seg(a) for a in node[3:])})"
    if tag == "round":
        return f"round({seg(node[2])})" if node[3] is None else f"round({seg(node[2])}, {node[3]})"
    if tag == "days":
        return f"days({seg(node[2])} - {seg(node[3])})"
    if tag == "shift":
        return f"({seg(node[3])} {node[2]} {node[4]})"
    if tag == "cmp":
        return f"({seg(node[3])} {node[2]} {seg(node[4])})"
    if tag == "in":
        word = "not in" if node[2] else "in"
        return f"({seg(node[3])} {word} ({', '.join(seg(i) for i in node[4])}))"
    if tag == "between":
        word = "not between" if node[2] else "between"
        return f"({seg(node[3])} {word} {seg(node[4])} and {seg(node[5])})"
    if tag == "isnull":
        return f"({seg(node[3])} is {'not ' if node[2] else ''}null)"
    if tag == "strtest":
        word = node[2].replace("_", " ")
        pattern = "null" if node[4] is None else seg_string(node[4])
        return f"({seg(node[3])} {word} {pattern})"
    if tag == "strmulti" or (tag == "listc" and node[2] != "one"):
        items = ", ".join("null" if v is None else seg_string(v) for v in node[4])
        return f"({seg(node[3])} contains {node[2]} ({items}))"
    if tag == "listc":
        value = node[4][0]
        return f"({seg(node[3])} contains {'null' if value is None else seg_string(value)})"
    if tag == "rank":
        return f"({seg(node[3])} in {'top' if node[2] else 'bottom'} {node[4]}%)"
    if tag == "within":
        return f"({seg(node[2])} within {node[3]})"
    if tag == "not":
        return f"(not {seg(node[2])})"
    if tag in ("and", "or"):
        return "(" + f" {tag} ".join(seg(p) for p in node[2:]) + ")"
    raise AssertionError(tag)


def rule_text(statements: list[tuple]) -> str:
    lines = []
    for statement in statements:
        if statement[0] == "segment":
            lines.append(f"segment {statement[1]}: {seg(statement[2])}")
        else:
            lines.append(f"segmentation {statement[1]}:")
            lines += [f"    l{i}: {seg(arm)}" for i, arm in enumerate(statement[2])]
            if statement[3]:
                lines.append("    rest: otherwise")
    return "\n".join(lines) + "\n"


# rendering as DuckDB SQL ----------------------------------------------------------------------

SQL_TYPES = {"int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR", "bool": "BOOLEAN",
             "date": "DATE", "ts": "TIMESTAMP", "null": "BOOLEAN"}


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_literal(kind: str, value: Any, null_type: str = "bool") -> str:
    if value is None:
        return f"CAST(NULL AS {SQL_TYPES[null_type]})"
    if kind == "int":
        return f"CAST({value} AS BIGINT)"
    if kind == "float":
        return f"CAST('{value!r}' AS DOUBLE)"
    if kind == "str":
        return sql_string(value)
    if kind == "bool":
        return "TRUE" if value else "FALSE"
    if kind == "date":
        return f"DATE '{value.isoformat()}'"
    if kind == "ts":
        return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S')}'"
    raise AssertionError(kind)


def _epoch_us(node: tuple, con: Any, refs: dict[str, str], tolerant: bool) -> str:
    return f"epoch_us(CAST({sql(node, con, refs, tolerant)} AS TIMESTAMP))"


def sql(node: tuple, con: Any, refs: dict[str, str], tolerant: bool = False) -> str:
    """The node as DuckDB SQL; `top/bottom N%` asks `con` for the count of values.

    `tolerant` wraps integer arithmetic in TRY(), so an overflow gives NULL, not an error.
    """
    text = _sql(node, con, refs, tolerant)
    if tolerant and _integer_arithmetic(node):
        return f"TRY({text})"
    return text


def _integer_arithmetic(node: tuple) -> bool:
    return node[1] == "int" and (node[0] in ("arith", "neg") or node[:3] == ("call", "int", "abs"))


def _sql(node: tuple, con: Any, refs: dict[str, str], tolerant: bool) -> str:
    tag = node[0]
    r = lambda n: sql(n, con, refs, tolerant)  # noqa: E731
    if tag == "col":
        return node[2]
    if tag == "lit":
        return sql_literal(node[1], node[2], node[3] if len(node) > 3 else "bool")
    if tag == "builtin":
        return sql_literal("date", TODAY) if node[2] == "today" else sql_literal("ts", AS_OF)
    if tag == "ref":
        return refs[node[2]]
    if tag == "arith":
        a, b = r(node[3]), r(node[4])
        if node[2] == "/":
            return f"(CAST({a} AS DOUBLE) / NULLIF(CAST({b} AS DOUBLE), 0))"
        return f"({a} {node[2]} {b})"
    if tag == "neg":
        return f"(-{r(node[2])})"
    if tag == "call":
        name = node[2]
        args = [r(a) for a in node[3:]]
        if name == "length" and node[3][1] == "list":
            return f"CAST(len({args[0]}) AS BIGINT)"
        if name == "day_of_week":
            return f"isodow({args[0]})"
        if name == "coalesce" and node[1] == "float":
            args = [f"CAST({a} AS DOUBLE)" for a in args]
        return f"{name}({', '.join(args)})"
    if tag == "round":
        return f"round({r(node[2])}, {node[3] or 0})"
    if tag == "days":
        micros = f"{_epoch_us(node[2], con, refs, tolerant)} - {_epoch_us(node[3], con, refs, tolerant)}"
        return f"(CAST({micros} AS DOUBLE) / 86400000000.0)"
    if tag == "shift":
        return f"(CAST({r(node[3])} AS TIMESTAMP) {node[2]} INTERVAL '{node[5]} seconds')"
    if tag == "cmp":
        return f"({r(node[3])} {COMPARISONS[node[2]]} {r(node[4])})"
    # DuckDB's IN and BETWEEN cast all their operands to one type, so a big integer
    # compared with an integer and a float is compared as a double with both. segmint's
    # (documented) meaning is item by item: `x in (a, b)` is `x == a or x == b`, `x between
    # a and b` is `x >= a and x <= b`. Literal lists keep IN: segmint, like DuckDB, compares
    # them in one type.
    if tag == "in":
        operand, items = r(node[3]), node[4]
        if all(item[0] == "lit" for item in items):
            word = "NOT IN" if node[2] else "IN"
            return f"({operand} {word} ({', '.join(r(i) for i in items)}))"
        any_equal = " OR ".join(f"{operand} = {r(i)}" for i in items)
        return f"({'NOT ' if node[2] else ''}({any_equal}))"
    if tag == "between":
        inside = f"({r(node[3])} >= {r(node[4])} AND {r(node[3])} <= {r(node[5])})"
        return f"(NOT {inside})" if node[2] else inside
    if tag == "isnull":
        return f"({r(node[3])} IS {'NOT ' if node[2] else ''}NULL)"
    if tag == "strtest":
        if node[2] == "matches":
            return f"regexp_matches({r(node[3])}, {sql_string(node[4])})"
        pattern = "CAST(NULL AS VARCHAR)" if node[4] is None else sql_string(node[4])
        return f"{node[2]}({r(node[3])}, {pattern})"
    if tag == "strmulti":
        parts = [f"contains({r(node[3])}, {'CAST(NULL AS VARCHAR)' if v is None else sql_string(v)})"
                 for v in node[4]]
        return "(" + (" AND " if node[2] == "all" else " OR ").join(parts) + ")"
    if tag == "listc":
        items = ", ".join("NULL" if v is None else sql_string(v) for v in node[4])
        if node[2] == "one":
            return f"list_contains({r(node[3])}, CAST({items} AS VARCHAR))"
        function = "list_has_any" if node[2] == "any" else "list_has_all"
        return f"{function}({r(node[3])}, CAST([{items}] AS VARCHAR[]))"
    if tag == "rank":
        return rank_sql(r(node[3]), node[2], node[4], con)
    if tag == "within":
        operand = r(node[2])
        if node[2][1] == "date":
            days = node[4] // 86400
            return f"({operand} BETWEEN DATE '{TODAY - dt.timedelta(days=days)}' AND DATE '{TODAY}')"
        low = AS_OF - dt.timedelta(seconds=node[4])
        return f"({operand} BETWEEN {sql_literal('ts', low)} AND {sql_literal('ts', AS_OF)})"
    if tag == "not":
        return f"(NOT {r(node[2])})"
    if tag in ("and", "or"):
        return "(" + f" {tag.upper()} ".join(r(p) for p in node[2:]) + ")"
    raise AssertionError(tag)


def rank_sql(operand: str, top: bool, percent: str, con: Any) -> str:
    """`x in top P%` as SQL: x >= the k-th largest non-null x, k = ceil(n * P / 100)."""
    [(n,)] = con.sql(f"SELECT count({operand}) FROM t").fetchall()
    k = math.ceil(Fraction(n) * Fraction(percent) / 100)
    if k == 0:
        return f"(CASE WHEN ({operand}) IS NULL THEN NULL ELSE FALSE END)"
    order, op = ("DESC", ">=") if top else ("ASC", "<=")
    cut = f"(SELECT {operand} FROM t WHERE ({operand}) IS NOT NULL ORDER BY 1 {order} LIMIT 1 OFFSET {k - 1})"
    return f"({operand} {op} {cut})"


def statements_sql(statements: list[tuple], con: Any, tolerant: bool = False) -> str:
    refs: dict[str, str] = {}
    selects = [KEY]
    for statement in statements:
        if statement[0] == "segment":
            condition = f"(({sql(statement[2], con, refs, tolerant)}) IS TRUE)"
            refs[statement[1]] = condition
            selects.append(f"{condition} AS {statement[1]}")
        else:
            arms = " ".join(f"WHEN {sql(arm, con, refs, tolerant)} THEN 'l{i}'"
                            for i, arm in enumerate(statement[2]))
            rest = "'rest'" if statement[3] else "NULL"
            selects.append(f"CASE {arms} ELSE {rest} END AS {statement[1]}")
    return f"SELECT {', '.join(selects)} FROM t ORDER BY {KEY}"


TAGS = {"col", "lit", "builtin", "ref", "arith", "neg", "call", "round", "days", "shift", "cmp", "in",
        "between", "isnull", "strtest", "strmulti", "listc", "rank", "within", "not", "and", "or",
        "segment", "segmentation"}


def integer_probes(node: Any, con: Any, found: list[str]) -> list[str]:
    """The SQL of every integer +, -, *, negation and abs in a tree: what can overflow."""
    if isinstance(node, tuple) and len(node) > 1 and isinstance(node[0], str) and node[0] in TAGS:
        if _integer_arithmetic(node):
            found.append(sql(node, con, {}))
        for part in node[2:]:
            integer_probes(part, con, found)
    elif isinstance(node, (list, tuple)):
        for part in node:
            integer_probes(part, con, found)
    return found


# the property ----------------------------------------------------------------------------

@st.composite
def cases(draw: st.DrawFn) -> tuple[Data, list[tuple]]:
    data = draw(datasets())
    return data, draw(rule_sets(data))


def found(n: int, seed: int, first: tuple, second: tuple = ("col", "bool", "b1"), **pools: list) -> tuple:
    """A case written by hand: default pools, the given ones, and two segments."""
    defaults = {"i1": [2**63 - 1, 1], "i2": [0, -5], "f1": [0.5, math.nan], "f2": [-0.0, 2.0],
                "s1": ["a", ""], "s2": ["b"], "b1": [True, False], "d1": [TODAY], "t1": [AS_OF],
                "l1": [["a", "b"], []]}
    data = Data(n, seed, {**defaults, **pools}, dict.fromkeys(POOLS, 0.2), {})
    statements = [("segment", "seg0", first), ("segment", "seg0_not", ("not", "bool", first)),
                  ("segment", "seg1", second), ("segment", "seg1_not", ("not", "bool", second)),
                  ("segmentation", "grp", [("ref", "bool", "seg0")], True)]
    return data, statements


FLOAT_VS_BIG_INT = ("cmp", "bool", "==", ("col", "float", "f1"), ("lit", "int", 2**63 - 1))
MINUS_ZERO_IN = ("in", "bool", False, ("col", "float", "f2"), (("lit", "float", 0.0),))
REPEATED_ALL = ("listc", "bool", "all", ("col", "list", "l1"), ("a", "a", "b"))
NULL_ARGUMENT = ("cmp", "bool", "==", ("col", "int", "i1"),
                 ("call", "int", "length", ("lit", "null", None, "str")))
NULL_OPERAND = ("in", "bool", True, ("lit", "null", None, "date"), (("lit", "date", TODAY),))
OVERFLOW_IN_NULL = ("in", "bool", False, ("arith", "int", "+", ("col", "int", "i1"), ("col", "int", "i1")),
                    (("lit", "null", None, "int"),))
#: `[] contains null`: false in DuckDB (an empty list holds nothing), null for other lists.
EMPTY_CONTAINS_NULL = ("listc", "bool", "one", ("col", "list", "l1"), (None,))
ALL_OF_NULL = ("listc", "bool", "all", ("col", "list", "l1"), (None,))
FOLDED_OVERFLOW = ("or", "bool", ("cmp", "bool", "==", ("col", "int", "i1"),
                                  ("arith", "int", "+", ("col", "int", "i1"), ("col", "int", "i1"))),
                   ("rank", "bool", False, ("call", "int", "year", ("builtin", "date", "today")), "0.5"))


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
@example(found(50, 1, FLOAT_VS_BIG_INT, ("cmp", "bool", ">", ("col", "int", "i1"), ("lit", "float", 1.5)),
                f1=[2.0**63, math.nan]))
@example(found(50, 2, MINUS_ZERO_IN, REPEATED_ALL))
@example(found(50, 3, NULL_ARGUMENT, NULL_OPERAND))
@example(found(50, 4, OVERFLOW_IN_NULL))
@example(found(50, 5, FOLDED_OVERFLOW))
@example(found(50, 6, EMPTY_CONTAINS_NULL, ALL_OF_NULL, l1=[[], ["a"], ["a", None]]))
def test_membership_matches_duckdb_where(evaluate: Callable[..., pa.Table],
                                         case: tuple[Data, list[tuple]]) -> None:
    data, statements = case
    ours, theirs = data.tables()
    rules = rule_text(statements)
    note(f"rules:\n{rules}")
    con = duckdb.connect()
    con.register("t", theirs)
    query = ""
    try:
        query = statements_sql(statements, con)
        note(f"sql:\n{query}")
        expected: Any = con.sql(query).fetchall()
    except (duckdb.OutOfRangeException, duckdb.ConversionException) as error:
        expected = error
    note(f"duckdb: {expected!r}" if isinstance(expected, Exception) else "duckdb: rows")

    try:
        result = evaluate(rules, ours, as_of=AS_OF)
    except RuleError as error:
        # An engine refuses, before reading data, a pattern its regex dialect cannot match
        # as RE2 does (Spark's Java regex and the `(?i)` flags); the arrow engine never may.
        assert getattr(evaluate, "keywords", {}).get("engine", "arrow") != "arrow", f"{error}\nrules:\n{rules}"
        assert "cannot match it as RE2 does" in str(error), f"{error}\nrules:\n{rules}"
        event("engine refused a pattern")
        return
    except EvaluationError as error:
        event("segmint raised")
        assert "overflow" in str(error), f"{error}\nrules:\n{rules}"
        if isinstance(expected, Exception):
            return
        probes = integer_probes(statements, con, [])
        confirmed = False
        for probe in probes:
            try:
                con.sql(f"SELECT min({probe}) FROM t").fetchall()
            except (duckdb.OutOfRangeException, duckdb.ConversionException):
                confirmed = True
                break
        assert confirmed, (f"segmint raised but no integer sub-expression overflows in DuckDB:\n"
                           f"{error}\nrules:\n{rules}\nsql:\n{query}")
        return

    names = [s[1] for s in statements]
    got = sorted(zip(result[KEY].to_pylist(), *(result[n].to_pylist() for n in names)))
    if isinstance(expected, Exception):
        # segmint may skip a part whose value cannot change the result (Arrow folds
        # `X or true` to true; on no rows nothing is computed). It must then give the
        # result DuckDB gives with every overflowing integer operation as NULL; a value
        # that wrapped around silently would show here.
        query = statements_sql(statements, con, tolerant=True)
        note(f"tolerant sql:\n{query}")
        expected = con.sql(query).fetchall()
        event("segmint skipped an overflow")
    else:
        _tally(names, expected)
    if got != expected:
        differ = [(g, e) for g, e in zip(got, expected) if g != e][:5]
        pytest.fail(f"segmint and DuckDB disagree\nrules:\n{rules}\nsql:\n{query}\n"
                    f"(key, {', '.join(names)}) segmint vs duckdb:\n"
                    + "\n".join(f"  {g}\n  {e}" for g, e in differ))


def _tally(names: list[str], expected: list[tuple]) -> None:
    for i in (1, 3):  # seg0 and seg1: how many rows are true, false, null
        values = {T if row[i] else F if row[i + 1] else N for row in expected}
        event(f"{names[i - 1]}: " + "/".join(sorted(str(v) for v in values)))
