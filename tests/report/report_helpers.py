"""What the report's tests share besides fixtures: running the command line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from segmint.cli import cli


def segmint(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="segmint")
