"""The order statements are evaluated in, the same on every engine.

Statements are grouped in dependency layers: every statement of a layer refers only to
statements of earlier layers, so an engine evaluates a layer in one pass (one projection,
one SELECT) and its results are there for the next.
"""

from __future__ import annotations

from segmint.language.checker import CheckedRules


def layers(checked: CheckedRules) -> list[list[str]]:
    """Statement names grouped so each group depends only on earlier groups; within a
    group, in the checker's order (file order, moved after what they refer to)."""
    depth: dict[str, int] = {}
    for name in checked.order:
        depth[name] = 1 + max((depth[d] for d in checked.depends.get(name, ())), default=-1)
    grouped: dict[int, list[str]] = {}
    for name in checked.order:
        grouped.setdefault(depth[name], []).append(name)
    return [grouped[level] for level in sorted(grouped)]
