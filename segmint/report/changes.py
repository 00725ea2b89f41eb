"""How segments changed: growth and label migration against a compared run, and the size
of every segment in every stored run."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from segmint.delivery.snapshots import list_snapshots
from segmint.report.audiences import Audiences
from segmint.report.model import Growth, HistoryPoint, Migration

ABSENT = "(absent)"


def growth(now: Audiences, before: Audiences) -> dict[str, Growth]:
    """Entered, exited and the size before, per audience of this run (by customer key)."""
    rows = before.positions(now.keys)  # each current customer's row in the compared run
    known = rows >= 0
    result = {}
    previous = {a.id: a.mask for a in before.items}
    for audience in now.items:
        was = previous.get(audience.id)
        if was is None:
            was_now = np.zeros(now.customers, dtype=bool)
            before_count = 0
        else:
            was_now = np.zeros(now.customers, dtype=bool)
            was_now[known] = was[rows[known]]
            before_count = int(was.sum())
        entered = int((audience.mask & ~was_now).sum())
        stayed = int((audience.mask & was_now).sum())
        result[audience.id] = Growth(before_count, entered, before_count - stayed)
    return result


def migrations(now: Audiences, before: Audiences) -> tuple[Migration, ...]:
    """Per segmentation of this run: customers by label in the compared run (rows) and in
    this one (columns); customers of only one run are ``(absent)`` in the other."""
    keys = pa.concat_arrays([now.keys, before.keys.cast(now.keys.type)]).unique()
    rows_now, rows_before = now.positions(keys), before.positions(keys)
    result = []
    for name, labels_now in now.labels.items():
        labels_before = before.labels.get(name, ())
        order_to = (*labels_now, ABSENT)
        order_from = (*labels_before, ABSENT)
        to = _codes(now, name, order_to, rows_now)
        came = _codes(before, name, order_from, rows_before)
        counts = np.bincount(came * len(order_to) + to, minlength=len(order_from) * len(order_to))
        counts = counts.reshape(len(order_from), len(order_to))
        keep_from = [i for i, label in enumerate(order_from) if label != ABSENT or counts[i].any()]
        keep_to = [j for j, label in enumerate(order_to) if label != ABSENT or counts[:, j].any()]
        result.append(Migration(name, tuple(order_from[i] for i in keep_from),
                                tuple(order_to[j] for j in keep_to),
                                tuple(tuple(int(counts[i, j]) for j in keep_to) for i in keep_from)))
    return tuple(result)


def _codes(found: Audiences, segmentation: str, order: tuple[str, ...], rows: np.ndarray) -> np.ndarray:
    """Each key's label as its index in `order` (the last, ABSENT, where the run lacks it)."""
    per_row = np.full(found.customers, len(order) - 1, dtype=np.int64)
    for audience in found.items:
        if audience.segmentation == segmentation:
            per_row[audience.mask] = order.index(audience.name)
    return np.where(rows >= 0, per_row[np.maximum(rows, 0)], len(order) - 1)


def history(state_dir: str | os.PathLike[str]) -> tuple[HistoryPoint, ...]:
    """Members per segment (and ``NAME=LABEL``) in every stored run, oldest first."""
    points = []
    for info in list_snapshots(state_dir):
        counts = {n: int(c) for n, c in info.counts.items() if not n.endswith("__holdout")}
        points.append(HistoryPoint(info.run_id, info.created_at, info.as_of, counts))
    return tuple(points)
