"""`segmint report` on the command line: its outputs, its user errors (exit 1, a clear
message, no traceback), and that a report changes nothing in the project."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from report_helpers import segmint


def user_error(*args: str | Path) -> str:
    result = segmint(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    return result.stderr.strip().splitlines()[-1].removeprefix("error: ")


def state(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_terminal_table(shop: Path, run_ids) -> None:
    result = segmint("report", "-p", shop / "segmint.toml", "--compare", "previous")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"segmint report: run {run_ids[1]}, as of 1998-03-31"
    assert lines[1].startswith("2,357 customers, revenue 226,111.40, compared with run")
    assert any(line.startswith("│ loyal ") for line in lines)
    assert "warning [holdout-too-small]: win_back's holdout has 18 members" in result.stdout


@pytest.mark.parametrize("suffix", [".json", ".md", ".html"])
def test_out_writes_each_flavour_and_changes_nothing_else(shop: Path, tmp_path: Path, suffix: str) -> None:
    before = state(shop)
    out = tmp_path / f"report{suffix}"
    result = segmint("report", "-p", shop / "segmint.toml", "--compare", "previous",
                     "--outcomes", "orders", "--window", "90d", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("wrote the report of run ")
    assert state(shop) == before
    if suffix == ".json":
        data = json.loads(out.read_text())
        assert data["customers"] == 2357
        assert {"name", "segmentation", "members", "share", "revenue", "orders", "aov",
                "clv_historical", "clv_predicted", "churn", "cac", "clv_to_cac", "growth",
                "persona", "warnings", "effectiveness"} <= set(data["segments"][0])
        assert set(data["overlap"][0]) == {"a", "b", "both", "jaccard", "a_in_b", "b_in_a"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "nope"], "'nope' is not a stored run; 'segmint history' lists the runs"),
        (["--compare", "latest"], "--compare names the run being reported ({latest}); compare "
                                  "with another run ('segmint history' lists them)"),
        (["--outcomes", "customers"], "--outcomes: 'customers' is not an event source of the "
                                      "project (event sources: orders)"),
        (["--outcomes", "orders", "--window", "monthly"],
         "--window: 'monthly' is not a duration like 30d, 2w, 3mo or 1y"),
        (["--out", "report.pdf"], "--out: a report is written as .html, .json, .md; 'report.pdf' "
                                  "ends in neither"),
    ],
)
def test_bad_input_is_a_clear_error(shop: Path, run_ids, args: list[str], message: str) -> None:
    before = state(shop)
    assert user_error("report", "-p", shop / "segmint.toml", *args) == message.format(latest=run_ids[1])
    assert state(shop) == before


def test_no_snapshot_yet(tmp_path: Path) -> None:
    assert segmint("init", tmp_path / "new").exit_code == 0
    assert user_error("report", "-p", tmp_path / "new" / "segmint.toml") == (
        f"no runs stored in {tmp_path / 'new' / '.segmint' / 'runs'} yet: run 'segmint run' first")
    assert not (tmp_path / "new" / ".segmint").exists()


def test_a_bad_report_option_names_it(shop: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(shop, copy)
    toml = copy / "segmint.toml"
    toml.write_text(toml.read_text().replace("[report.costs]", "[report]\nmin_member = 5\n\n[report.costs]"))
    message = user_error("report", "-p", toml)
    assert message.startswith(f"{toml} [report]: unknown option 'min_member'")
    assert "did you mean 'min_members'?" in message


def test_validate_data_warns_of_a_small_holdout(shop: Path) -> None:
    result = segmint("validate", "-p", shop / "segmint.toml", "--data")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 9 segment(s)")
    assert "warning [holdout-too-small]: win_back's holdout has 30 members" in result.stdout
    plain = segmint("validate", "-p", shop / "segmint.toml")
    assert "holdout" not in plain.stdout
