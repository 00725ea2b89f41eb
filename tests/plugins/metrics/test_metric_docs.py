"""docs/metrics.md stays true: every column and option is documented, the RFM grid matches."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

import segmint.plugins.metrics as plugin
from segmint.plugins.metrics import MetricOptions
from segmint.plugins.metrics.rfm import GRID, SEGMENTS

DOC = (Path(__file__).parents[3] / "docs" / "metrics.md").read_text("utf-8")
HORIZON = re.compile(r"(expected_orders|clv)_\d+mo")


def declared_columns() -> list[str]:
    names = [c.name for m in plugin.register_metrics() for c in m.columns]
    return sorted({HORIZON.sub(r"\1_<horizon>", n) for n in names})


@pytest.mark.parametrize("column", declared_columns())
def test_every_column_has_a_row_with_its_formula(column):
    assert re.search(rf"^\| `{re.escape(column)}`.*\|", DOC, re.MULTILINE), column


@pytest.mark.parametrize("option", [f.name for f in attrs.fields(MetricOptions)])
def test_every_option_is_in_the_options_table(option):
    section = DOC.split("## All options", 1)[1].split("\n## ", 1)[0]
    assert f"| `{option}` |" in section


def test_the_rfm_grid_in_the_docs_is_the_one_in_the_code():
    rows = re.findall(r"^\| \*\*(\d)\*\* \| (.*) \|$", DOC, re.MULTILINE)
    documented = {int(r): tuple(cell.strip() for cell in cells.split("|")) for r, cells in rows}
    assert documented == {r + 1: row for r, row in enumerate(GRID)}
    assert {name for row in GRID for name in row} == set(SEGMENTS)
    assert all(f"**{name}**" in DOC for name in SEGMENTS)
