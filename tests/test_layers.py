"""The layering of docs/architecture.md holds: import-linter's contracts in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept(capsys, monkeypatch):
    from importlinter.cli import lint_imports  # in the test extra, so CI always has it

    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True)
    output = capsys.readouterr().out
    assert status == 0, output
    assert "0 broken" in output


def test_there_are_at_least_three_contracts():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert len(config["tool"]["importlinter"]["contracts"]) >= 3
