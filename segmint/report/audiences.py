"""A stored run's membership as boolean masks: one per segment and per label.

Segments with a holdout keep their targeted members under their name and the control group
apart (`Audiences.holdouts`); labels of a segmentation are audiences of their own, named
``SEGMENTATION=LABEL`` as ``segmint history`` counts them. Everything is aligned on the
run's row order, and `positions` maps other tables' keys onto it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.semantics.labels import in_rule_order

HOLDOUT_SUFFIX = "__holdout"
NO_LABEL = "(none)"


@attrs.frozen
class Audience:
    id: str
    name: str
    segmentation: str | None
    mask: np.ndarray = attrs.field(eq=False, repr=False)
    description: str | None = None

    @property
    def members(self) -> int:
        return int(self.mask.sum())


@attrs.frozen
class Audiences:
    keys: pa.Array = attrs.field(eq=False, repr=False)
    items: tuple[Audience, ...]
    holdouts: Mapping[str, np.ndarray] = attrs.field(eq=False, repr=False)
    labels: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    @property
    def customers(self) -> int:
        return len(self.keys)

    def positions(self, keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Row of each of `keys` in this run, -1 where the run does not have it."""
        keys = keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys
        if keys.type != self.keys.type:
            keys = keys.cast(self.keys.type)
        found = pc.index_in(keys, value_set=self.keys)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)

    def get(self, id: str) -> Audience:
        return next(a for a in self.items if a.id == id)

    def matrix(self) -> np.ndarray:
        """Membership as an (audiences × customers) bool matrix."""
        if not self.items:
            return np.zeros((0, self.customers), dtype=bool)
        return np.vstack([a.mask for a in self.items])


def audiences(membership: pa.Table, key: str, segments: Sequence[Mapping[str, Any]] = (),
              label_order: Mapping[str, Sequence[str]] | None = None) -> Audiences:
    """The audiences of a membership table (`segments`: run.json's kinds and descriptions;
    `label_order`: each segmentation's labels in the order its rule lists them)."""
    described = {s.get("name"): s.get("description") for s in segments}
    keys = membership.column(key).combine_chunks()
    items: list[Audience] = []
    holdouts: dict[str, np.ndarray] = {}
    labels: dict[str, tuple[str, ...]] = {}
    names = membership.column_names
    for name in names:
        if name == key:
            continue
        column = membership.column(name).combine_chunks()
        if pa.types.is_boolean(column.type):
            mask = column.fill_null(False).to_numpy(zero_copy_only=False)
            if name.endswith(HOLDOUT_SUFFIX) and name[: -len(HOLDOUT_SUFFIX)] in names:
                holdouts[name[: -len(HOLDOUT_SUFFIX)]] = mask
            else:
                items.append(Audience(name, name, None, mask, described.get(name)))
            continue
        text = column.cast(pa.string()).fill_null(NO_LABEL)
        found = _label_order(text, (label_order or {}).get(name, ()))
        labels[name] = tuple(found)
        for label in found:
            mask = pc.equal(text, label).to_numpy(zero_copy_only=False)
            items.append(Audience(f"{name}={label}", label, name, mask, described.get(name)))
    return Audiences(keys, tuple(items), holdouts, labels)


def _label_order(text: pa.Array, declared: Sequence[str]) -> list[str]:
    """Labels in the rule's order, then any others as they first appear, "(none)" last."""
    unique = [None if u == NO_LABEL else u for u in pc.unique(text).to_pylist()]
    return [NO_LABEL if u is None else u for u in in_rule_order(unique, declared)]
