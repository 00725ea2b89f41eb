"""`segmint init DIR`: write a runnable example project with sample data."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import click

from ..engine.errors import SegmintError


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def command(directory: Path) -> None:
    """Create an example project (rules, sample data, segmint.toml) in DIRECTORY."""
    if (directory / "segmint.toml").exists():
        raise SegmintError(f"{directory} already holds a segmint project (segmint.toml); "
                           "choose an empty or new directory")
    starter = resources.files("segmint.examples").joinpath("starter")
    with resources.as_file(starter) as source:
        for item in sorted(Path(source).rglob("*")):
            if item.is_file() and "__pycache__" not in item.parts:
                target = directory / item.relative_to(source)
                if target.exists():
                    raise SegmintError(f"{target} already exists; not overwriting it")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(item, target)
    click.echo(f"created a segmint project in {directory}\n"
               f"next: cd {directory} && segmint run")
