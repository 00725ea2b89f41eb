"""`segmint init DIR`: write a runnable example project with sample data."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import click

from segmint.errors import SegmintError


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def command(directory: Path) -> None:
    """Create an example project (rules, sample data, segmint.toml) in DIRECTORY."""
    if (directory / "segmint.toml").exists():
        raise SegmintError(f"{directory} already holds a segmint project (segmint.toml); "
                           "choose an empty or new directory")
    if directory.exists() and not directory.is_dir():
        raise SegmintError(f"{directory} exists and is not a directory")
    starter = resources.files("segmint.examples").joinpath("starter")
    with resources.as_file(starter) as source:
        files = [item for item in sorted(Path(source).rglob("*"))
                 if item.is_file() and "__pycache__" not in item.parts]
        targets = [directory / item.relative_to(source) for item in files]
        existing = [target for target in targets if target.exists()]
        if existing:  # checked before writing anything, so a refusal leaves no half project
            raise SegmintError(f"{existing[0]} already exists; not overwriting it")
        for item, target in zip(files, targets):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item, target)
    click.echo(f"created a segmint project in {directory}\n"
               f"next: cd {directory} && segmint run")
