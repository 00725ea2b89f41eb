"""The dependency layers the SQL compiler follows (moving to `segmint.semantics` with the
engine seam; the same definition as the Arrow engine's until then)."""

from __future__ import annotations

from segmint.language.checker import CheckedRules


def layers(checked: CheckedRules) -> list[list[str]]:
    """Statements grouped so each group depends only on earlier groups."""
    depth: dict[str, int] = {}
    for name in checked.order:
        depth[name] = 1 + max((depth[d] for d in checked.depends.get(name, ())), default=-1)
    grouped: dict[int, list[str]] = {}
    for name in checked.order:
        grouped.setdefault(depth[name], []).append(name)
    return [grouped[level] for level in sorted(grouped)]
