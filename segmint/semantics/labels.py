"""The order a segmentation's labels are shown in: the order its rule lists them.

Run tables, `history`, `diff`, sinks and reports all list a segmentation's labels this way,
so the same segmentation reads the same everywhere; a label the rule does not list (one of
a stored run whose rules changed since) comes after the declared ones, and "no label"
(null) last.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def in_rule_order(labels: Iterable[str | None], declared: Sequence[str]) -> list[str | None]:
    """`labels` (each once) in the order of `declared`; others after them in the order given,
    None last."""
    rank = {label: i for i, label in enumerate(declared)}
    present = list(dict.fromkeys(labels))
    named = sorted((label for label in present if label is not None),
                   key=lambda label: rank.get(label, len(rank)))
    return [*named, *([None] if None in present else [])]
