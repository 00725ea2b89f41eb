"""The docs stay true: every rule example parses, and every hook is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import segmint
from segmint.plugin import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs"
SEG_BLOCK = re.compile(r"```seg\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    found = []
    for path in sorted(DOCS.glob("*.md")):
        for index, block in enumerate(SEG_BLOCK.findall(path.read_text("utf-8"))):
            found.append((f"{path.name}#{index + 1}", block))
    return found


def test_docs_have_rule_examples() -> None:
    assert len(_examples()) >= 10


@pytest.mark.parametrize(("where", "text"), _examples(), ids=[w for w, _ in _examples()])
def test_rule_example_parses(where: str, text: str) -> None:
    segmint.parse_rules(text, filename=where)


def _hooks() -> list[str]:
    return [name for name in dir(hookspecs) if name.startswith("register_")]


def test_there_are_hooks() -> None:
    assert set(_hooks()) >= {"register_sources", "register_metrics", "register_sinks", "register_functions"}


@pytest.mark.parametrize("hook", _hooks())
def test_hook_is_documented(hook: str) -> None:
    text = (DOCS / "writing-a-plugin.md").read_text("utf-8")
    assert re.search(rf"^#+ .*\b{hook}\b", text, re.MULTILINE), f"{hook} has no section in writing-a-plugin.md"
