"""Segment-quality warnings, each with a code, the segments it names and what to do.

| code | when |
|---|---|
| ``empty`` | a segment (or label) has no members |
| ``everyone`` | every customer is in it |
| ``small`` | fewer than ``min_members`` members or less than ``min_share`` of the customers |
| ``near-duplicate`` | two segments with a Jaccard index of at least ``near_duplicate`` |
| ``subset`` | every member of one segment is in another |
| ``indistinguishable`` | two siblings (labels of one segmentation, or two segments) whose
  every value metric differs by a standardized mean difference below ``min_smd`` |
| ``holdout-too-small`` | the holdout cannot detect a ``min_lift`` lift with ``power`` |
| ``too-many-segments`` | fewer than ``customers_per_segment`` customers per segment |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from segmint.report import stats
from segmint.report.audiences import Audiences
from segmint.report.model import Overlap, Warning
from segmint.report.options import ReportOptions


def size_warnings(found: Audiences, options: ReportOptions) -> list[Warning]:
    result = []
    n = found.customers
    for audience in found.items:
        members = audience.members
        if members == 0:
            result.append(Warning("empty", (audience.id,), f"{audience.id} has no members: check "
                                  "its rule against the data, or remove it."))
        elif members == n:
            result.append(Warning("everyone", (audience.id,), f"every customer is in {audience.id}: "
                                  "it does not segment anything; narrow its rule or remove it."))
        elif members < options.min_members or members < options.min_share * n:
            result.append(Warning("small", (audience.id,), (
                f"{audience.id} has {members:,} members ({members / n:.1%}), below the floor of "
                f"{options.min_members:,} members or {options.min_share:.1%}: its numbers are "
                "noisy; widen it or merge it with a neighbour.")))
    segments = len(found.items)
    if segments and n / segments < options.customers_per_segment:
        result.append(Warning("too-many-segments", (), (
            f"{segments} segments and labels for {n:,} customers ({n / segments:,.0f} each, fewer "
            f"than {options.customers_per_segment:,}): merge or drop some so each is big "
            "enough to act on and to measure.")))
    return result


def overlap_warnings(pairs: Sequence[Overlap], options: ReportOptions) -> list[Warning]:
    """Near-duplicates and subsets among the overlapping pairs (`overlap.overlaps`)."""
    result = []
    for pair in pairs:
        if not pair.both:
            continue
        if pair.jaccard is not None and pair.jaccard >= options.near_duplicate:
            result.append(Warning("near-duplicate", (pair.a, pair.b), (
                f"{pair.a} and {pair.b} share {pair.jaccard:.0%} of their members (Jaccard index): "
                "keep one, or tell them apart with another condition.")))
        elif pair.a_in_b == 1 or pair.b_in_a == 1:
            inner, outer = (pair.a, pair.b) if pair.a_in_b == 1 else (pair.b, pair.a)
            result.append(Warning("subset", (inner, outer), (
                f"every member of {inner} is in {outer}: if that is not by design, "
                f"exclude {outer} from {inner} or treat {inner} as a part of it.")))
    return result


def sibling_warnings(found: Audiences, metrics: Mapping[str, np.ndarray],
                     options: ReportOptions) -> list[Warning]:
    """Labels of one segmentation, and pairs of segments, no value metric tells apart."""
    if not metrics:
        return []
    summaries = {a.id: [_moments(values[a.mask]) for values in metrics.values()] for a in found.items}
    result = []
    items = [a for a in found.items if a.members >= 2]
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            if (a.segmentation is None) != (b.segmentation is None):
                continue
            if a.segmentation is not None and a.segmentation != b.segmentation:
                continue
            smds = [stats.standardized_mean_difference(ma, va, mb, vb)
                    for (ma, va), (mb, vb) in zip(summaries[a.id], summaries[b.id], strict=True)
                    if ma is not None and mb is not None]
            if smds and all(s is None or abs(s) < options.min_smd for s in smds):
                result.append(Warning("indistinguishable", (a.id, b.id), (
                    f"{a.id} and {b.id} do not differ on {', '.join(metrics)} (every standardized "
                    f"mean difference below {options.min_smd}): they will behave alike; merge them "
                    "or split on something that matters for value.")))
    return result


def _moments(values: np.ndarray) -> tuple[float | None, float]:
    valid = values[~np.isnan(values)]
    return (float(valid.mean()), float(valid.var())) if len(valid) else (None, 0.0)


def holdout_warnings(found: Audiences, options: ReportOptions,
                     rates: Mapping[str, float | None] | None = None) -> list[Warning]:
    """Holdouts too small to detect a ``min_lift`` lift with ``power`` (at the holdout's
    observed rate when outcomes say it, else at ``baseline_rate``)."""
    result = []
    for name, held in found.holdouts.items():
        treated = found.get(name).members if any(a.id == name for a in found.items) else 0
        n_held = int(held.sum())
        rate = (rates or {}).get(name)
        rate = rate if rate not in (None, 0.0, 1.0) else options.baseline_rate
        achieved = stats.power(rate, options.min_lift, treated, n_held, confidence=options.confidence)
        if achieved >= options.power:
            continue
        needed = stats.group_size(rate, options.min_lift, power_wanted=options.power,
                                  confidence=options.confidence)
        result.append(Warning("holdout-too-small", (name,), (
            f"{name}'s holdout has {n_held:,} members (and {treated:,} targeted): a "
            f"{options.min_lift * 100:.0f}-point lift over a {rate:.0%} conversion rate would be "
            f"detected with only {achieved:.0%} power; about {needed:,} members in each group "
            f"give {options.power:.0%}. Raise the holdout share or target a bigger segment "
            "before the campaign.")))
    return result


def by_segment(warnings: list[Warning]) -> dict[str, tuple[str, ...]]:
    """The codes of the warnings that name each segment, in order, each once."""
    found: dict[str, dict[str, None]] = {}
    for warning in warnings:
        for name in warning.segments:
            found.setdefault(name, {})[warning.code] = None
    return {name: tuple(codes) for name, codes in found.items()}
