"""Hostile rule files: each gives a segmint error or a result, in bounded memory.

Never a RecursionError, a hang or a crash. Nothing here asserts a duration; memory is
bounded with tracemalloc (or the peak RSS of a child process for the largest input).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import segmint
from segmint.api import check_rules
from segmint.language import ast
from segmint.errors import MAX_SHOWN, RuleError, SegmintError
from segmint.language.parser import MAX_DEPTH, MAX_FILE_BYTES, decode_rule_file, parse_rules
from segmint.project.pipeline import load_rules
from segmint.language.types import NUMBER

TABLE = pa.table({
    "customer_id": [1, 2, 3],
    "x": [5, -1, None],
    "name": ["a" * 40 + "b", "b", None],
})
MB = 1024 * 1024


@contextmanager
def memory_bound(limit: int) -> Iterator[None]:
    """Fail when the block allocates more than `limit` bytes at its peak."""
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit, f"peak {peak / MB:.1f} MB, bound {limit / MB:.1f} MB"


def rule_error(action: Callable[[], Any]) -> RuleError:
    """Run `action`, which must fail with a RuleError (and nothing else)."""
    with pytest.raises(RuleError) as excinfo:
        action()
    return excinfo.value


def first_line(error: SegmintError) -> str:
    return str(error).split("\n", 1)[0]


def test_ten_thousand_nested_parentheses_give_a_result() -> None:
    text = "segment s: " + "(" * 10_000 + "x > 1" + ")" * 10_000
    with memory_bound(64 * MB):
        rules = parse_rules(text)
    assert rules.statements[0].condition == ast.Compare(">", ast.Name("x"), ast.Literal(1, NUMBER))
    result = segmint.evaluate(rules, TABLE)
    assert result.column("s").to_pylist() == [True, False, False]


def test_ten_thousand_unclosed_parentheses_are_a_syntax_error() -> None:
    text = "segment s: " + "(" * 10_000 + "x > 1"
    with memory_bound(64 * MB):
        error = rule_error(lambda: parse_rules(text, "r.seg"))
    assert first_line(error) == f"r.seg:1:{len(text) + 1}: missing closing parenthesis"
    assert str(error).endswith(f"add ')' to close the '(' at line 1, column {10_000 + 11}")


@pytest.mark.parametrize(
    ("text", "column"),
    [
        pytest.param("segment s: " + "not " * 10_000 + "x", 4 * (10_000 - MAX_DEPTH) + 12,
                     id="not"),
        pytest.param("segment s: " + "not (" * 10_000 + "x" + ")" * 10_000,
                     5 * (10_000 - MAX_DEPTH) + 12, id="not-parenthesised"),
        pytest.param("segment s: " + "- " * 10_000 + "x > 1", 2 * (10_000 - MAX_DEPTH) + 12,
                     id="negation"),
        pytest.param("segment s: " + " + ".join(["x"] * 10_000) + " > 1", 12, id="sum"),
        pytest.param("segment s: " + "lower(" * 10_000 + "name" + ")" * 10_000 + " == 'a'",
                     6 * (10_000 - MAX_DEPTH) + 12, id="calls"),
    ],
)
def test_deep_nesting_is_refused_with_a_rule_error(text: str, column: int) -> None:
    with memory_bound(64 * MB):
        error = rule_error(lambda: parse_rules(text, "r.seg"))
    assert first_line(error) == (
        f"r.seg:1:{column}: expression nested more than {MAX_DEPTH} levels deep")
    assert str(error).endswith("split it into several segments that refer to each other")


def test_deep_nesting_below_the_limit_evaluates() -> None:
    depth = MAX_DEPTH - 2
    rules = parse_rules("segment s: " + "not " * depth + "x > 1")
    result = segmint.evaluate(rules, TABLE)
    assert result.column("s").to_pylist() == [True, False, False]  # an even number of nots


def test_ten_thousand_minus_signs_on_a_number_fold_into_it() -> None:
    rules = parse_rules("segment s: x > " + "-" * 10_000 + "1")
    assert rules.statements[0].condition.right.value == 1


def test_a_five_megabyte_rule_file_is_refused(tmp_path: Path) -> None:
    statement = "segment s: x > 1 and name == 'abcdefghijklmnopqrstuvwxyz'\n"
    text = statement * (5 * MB // len(statement) + 1)
    assert len(text) > 5 * MB > MAX_FILE_BYTES
    with memory_bound(16 * MB):
        error = rule_error(lambda: parse_rules(text, "big.seg"))
    assert str(error) == (
        "big.seg:1:1: rule file is 5.0 MB; the limit is 2 MB\n"
        "split the rules over several files"
    )
    path = tmp_path / "big.seg"
    path.write_text(text)
    error = rule_error(lambda: load_rules([path]))
    assert first_line(error) == f"{path}:1:1: rule file is 5.0 MB; the limit is 2 MB"


def test_thousands_of_syntax_errors_are_counted_and_the_first_shown() -> None:
    text = "".join(f"segment s{i}: x >\n" for i in range(5_000))
    with memory_bound(128 * MB):
        error = rule_error(lambda: parse_rules(text, "r.seg"))
    message = str(error)
    assert message.startswith(
        "r.seg:1:16: unexpected end of rule; expected a value after '>'\n")
    assert message.endswith(f"\n\n5000 errors ({5_000 - MAX_SHOWN} more not shown)")
    assert message.count("expected a value after '>'") == MAX_SHOWN


# A 100,000-term `or` chain: parse, check and evaluate in a child process, so that a crash in a
# native library is a test failure rather than the end of the test run.
CHAIN = textwrap.dedent("""
    import resource
    import pyarrow as pa
    import segmint
    from segmint.api import check_rules

    text = "segment big: " + " or ".join(f"x == {i}" for i in range(100_000))
    rules = segmint.parse_rules(text)
    print("parsed", len(rules.statements[0].condition.operands), flush=True)
    table = pa.table({"customer_id": [1, 2, 3], "x": [5, -1, None]})
    check_rules(rules, table.schema)
    print("checked", flush=True)
    # VmHWM: this process's own peak (ru_maxrss would keep the forking pytest's, which
    # Linux carries over exec, and grows with the test suite)
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
    peak = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("peak_kb", peak, flush=True)
    result = segmint.evaluate(rules, table)
    print("result", result.column("big").to_pylist(), flush=True)
""")


@pytest.fixture(scope="module")
def or_chain() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", CHAIN], capture_output=True, text=True,
        timeout=600, env={**os.environ, "SEGMINT_PLUGINS": "segmint"},
    )


def _lines(process: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in process.stdout.splitlines() if " " in line)


def test_a_hundred_thousand_term_or_chain_parses_and_checks(
    or_chain: subprocess.CompletedProcess[str],
) -> None:
    lines = _lines(or_chain)
    assert lines.get("parsed") == "100000", or_chain.stderr[-3000:]
    assert "checked" in or_chain.stdout, or_chain.stderr[-3000:]
    assert int(lines["peak_kb"]) < 1024 * 1024  # under 1 GB for a 1.4 MB rule


def test_a_hundred_thousand_term_or_chain_evaluates(
    or_chain: subprocess.CompletedProcess[str],
) -> None:
    assert or_chain.returncode == 0, or_chain.stderr[-3000:]
    assert _lines(or_chain)["result"] == "[True, False, False]"


def test_a_long_in_list_evaluates() -> None:
    rules = parse_rules("segment s: x in (" + ", ".join(str(i) for i in range(20_000)) + ")")
    result = segmint.evaluate(rules, TABLE)
    assert result.column("s").to_pylist() == [True, False, False]


def test_a_regex_that_does_not_compile_is_a_rule_error() -> None:
    rules = parse_rules("segment s: name matches '(a+'", "r.seg")
    error = rule_error(lambda: check_rules(rules, TABLE.schema))
    assert str(error) == (
        "r.seg:1:25: invalid regular expression: missing ): (a+\n"
        "    segment s: name matches '(a+'\n"
        "                            ^^^^^\n"
        "patterns use RE2 syntax"
    )


@pytest.mark.parametrize("pattern", ["(?<=a)b", "(a)\\\\1", "a{1001}", "\\\\"])
def test_patterns_re2_refuses_are_rule_errors(pattern: str) -> None:
    rules = parse_rules(f"segment s: name matches '{pattern}'", "r.seg")
    error = rule_error(lambda: check_rules(rules, TABLE.schema))
    assert first_line(error).startswith("r.seg:1:25: invalid regular expression: ")


def test_a_backtracking_pattern_runs_in_linear_time() -> None:
    """`(a+)+$` takes exponential time in a backtracking engine; RE2 has none."""
    rules = parse_rules("segment s: name matches '^(a+)+$' or name matches '(x+x+)+y'")
    result = segmint.evaluate(rules, TABLE)
    assert result.column("s").to_pylist() == [False, False, False]


def test_non_utf8_bytes_are_a_rule_error(tmp_path: Path) -> None:
    error = rule_error(lambda: decode_rule_file(b"segment s: x > 1\n\xff\xfe", "r.seg"))
    assert str(error) == (
        "r.seg:2:1: rule files must be UTF-8; byte 0xff is not\n"
        "save the file as UTF-8"
    )
    path = tmp_path / "latin1.seg"
    path.write_bytes("segment s: name == 'caf\u00e9'\n".encode("latin-1"))
    error = rule_error(lambda: load_rules([path]))
    assert str(error) == (
        f"{path}:1:24: rule files must be UTF-8; byte 0xe9 is not\n"
        "    segment s: name == 'caf\n"
        "                           ^\n"
        "save the file as UTF-8"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("segment s: x > 1\x00", "r.seg:1:17: unexpected character '\\x00'"),
        ("segment s: x > 1 \u200b", "r.seg:1:18: unexpected character '\\u200b'"),
        ("segment s: x \u2265 1", "r.seg:1:14: unexpected character '\u2265'"),
        ("segment s: x > 1\x0c and x < 5", None),
    ],
)
def test_control_and_unusual_characters(text: str, message: str | None) -> None:
    if message is None:  # a form feed is whitespace
        assert len(parse_rules(text).statements) == 1
    else:
        assert first_line(rule_error(lambda: parse_rules(text, "r.seg"))) == message


def test_a_long_chain_of_segment_references_evaluates() -> None:
    text = "segment s0: x > 1\n" + "".join(
        f"segment s{i}: s{i - 1} and x > 0\n" for i in range(1, 300))
    result = segmint.evaluate(parse_rules(text), TABLE)
    assert result.column("s299").to_pylist() == [True, False, False]


def test_a_cycle_through_a_thousand_segments_is_named_briefly() -> None:
    text = "".join(f"segment s{i}: s{(i + 1) % 1000}\n" for i in range(1000))
    error = rule_error(lambda: check_rules(parse_rules(text, "r.seg"), TABLE.schema))
    assert str(error) == (
        "r.seg:1:9: segments refer to each other in a cycle: "
        "s0 -> s1 -> s2 -> s3 -> s4 -> s5 -> (992 more) -> s998 -> s999 -> s0\n"
        "    segment s0: s1\n"
        "            ^^\n"
        "a segment cannot depend on itself, directly or through others"
    )
