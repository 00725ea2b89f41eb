"""The report's tests share one project: the starter, run as of 1997-09-30 and 1998-03-31."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_helpers import segmint

from segmint.delivery.snapshots import list_snapshots


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starter with two stored runs; tests must not change it."""
    root = tmp_path_factory.mktemp("report") / "shop"
    assert segmint("init", root).exit_code == 0
    for as_of in ("1997-09-30", "1998-03-31"):
        result = segmint("run", "-p", root / "segmint.toml", "--as-of", as_of)
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="session")
def run_ids(shop: Path) -> tuple[str, str]:
    first, second = (s.run_id for s in list_snapshots(shop / ".segmint"))
    return first, second


@pytest.fixture(scope="session")
def report(shop: Path, run_ids: tuple[str, str]):
    from segmint.plugin.host import get_registry
    from segmint.project.config import load_project
    from segmint.report import ReportRequest, build_report

    project = load_project(shop / "segmint.toml")
    return build_report(project, get_registry(),
                        ReportRequest(compare=run_ids[0], outcomes="orders", window="90d"))
