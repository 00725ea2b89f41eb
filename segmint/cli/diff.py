"""`segmint diff RUN_A RUN_B`: who entered and who left each segment between two runs."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from segmint.errors import SegmintError
from segmint.delivery.snapshots import Snapshot, load_run
from segmint.delivery.sync import audiences, changes
from segmint.cli.common import stdout_console
from segmint.cli.history import picks, project_option, show_instant, state_path


@click.command("diff")
@project_option
@click.argument("run_a")
@click.argument("run_b")
@click.option("--segment", help="Only this segment (or NAME=LABEL of a segmentation).")
@click.option("--show-keys", is_flag=True, help="List the keys that entered and left (needs --segment).")
def command(project_file: str | None, run_a: str, run_b: str, segment: str | None,
            show_keys: bool) -> None:
    """Compare two stored runs (ids, unique prefixes, 'latest' or 'previous')."""
    if show_keys and segment is None:
        raise click.UsageError("--show-keys needs --segment")
    state = state_path(project_file)
    a, b = _load(state, run_a), _load(state, run_b)
    before = audiences(a.membership, a.key, infos=a.segments)
    after = audiences(b.membership, b.key, infos=b.segments)
    if segment is not None:
        names = [n for n in dict.fromkeys([*before, *after]) if picks(n, segment)]
        if not names:
            known = ", ".join(dict.fromkeys([*before, *after])) or "none"
            raise SegmintError(f"no segment '{segment}' in either run; they have: {known}")
        before = {n: k for n, k in before.items() if n in names}
        after = {n: k for n, k in after.items() if n in names}
    found = changes(before, after)
    console = stdout_console()
    console.print(f"from {a.run_id} (as of {show_instant(str(a.metadata.get('as_of', '?')))}) "
                  f"to {b.run_id} (as of {show_instant(str(b.metadata.get('as_of', '?')))})")
    table = Table()
    for column in ("segment", "before", "after", "entered", "left"):
        table.add_column(column, justify="left" if column == "segment" else "right")
    for name in found.segments:
        stayed = len(found.unchanged[name])
        table.add_row(name, f"{stayed + len(found.removed[name]):,}", f"{stayed + len(found.added[name]):,}",
                      f"{len(found.added[name]):,}", f"{len(found.removed[name]):,}")
    console.print(table)
    if show_keys:
        for name in found.segments:
            for key in found.added[name].to_pylist():
                console.print(f"+ {name} {key}")
            for key in found.removed[name].to_pylist():
                console.print(f"- {name} {key}")


def _load(state: Path, run: str) -> Snapshot:
    """A run by id or prefix, ``latest``, or ``previous`` (the one before the latest)."""
    return load_run(state, run)
