"""What the project tests share (imported as `project_files`, as tests/serve does
serve_helpers): a project of Parquet sources written to a folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path



def write_project(directory: Path, rules: str, *, as_of: str, profiles: Sequence[str] = ("people",),
                  orders: str = "orders", timestamp_column: str | None = None,
                  extra: str = "") -> Path:
    """``rules.seg`` and a ``segmint.toml`` keyed by ``customer_id``: a Parquet profile
    source per name of `profiles` (``NAME.parquet``), the Parquet event source ``orders``
    at `orders` (a file or a folder), then `extra` TOML (the orders' options first, as it
    follows their table). The data files are the caller's."""
    lines = ['rules = ["rules.seg"]', 'key = "customer_id"', f'as_of = "{as_of}"']
    for name in profiles:
        lines += [f"[sources.{name}]", 'plugin = "parquet"', f'path = "{name}.parquet"']
    lines += ["[sources.orders]", 'plugin = "parquet"', f'path = "{orders}"', 'role = "events"']
    if timestamp_column is not None:
        lines.append(f'timestamp_column = "{timestamp_column}"')
    (directory / "rules.seg").write_text(rules)
    (directory / "segmint.toml").write_text("\n".join(lines) + "\n" + extra)
    return directory / "segmint.toml"

