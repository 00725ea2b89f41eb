"""docs/sources.md stays true: every option of every source it describes, and of the options
every source takes, is documented, and its sample files exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from segmint.plugin.host import get_registry
from segmint.project.identity import SourcePolicy
from segmint.plugin.options import describe_options

ROOT = Path(__file__).parents[3]
DOC = (ROOT / "docs" / "sources.md").read_text("utf-8")


def _section(title: str) -> str:
    return DOC.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("plugin", ["crm", "survey", "segment_events", "ga4", "postgres"])
def test_every_option_is_documented(plugin):
    section = _section(f"`{plugin}`")
    options = describe_options(get_registry().sources[plugin].Options)
    assert [o.name for o in options if f"`{o.name}`" not in section] == []


def test_every_source_wide_option_is_documented():
    section = _section("Options every source takes")
    assert [o.name for o in describe_options(SourcePolicy) if f"`{o.name}`" not in section] == []


def test_sample_files_exist():
    named = re.findall(r"`((?:crm|survey|web)/[\w.]+)`", DOC)
    assert named
    assert [n for n in named if not (ROOT / "tests" / "data" / n).is_file()] == []
