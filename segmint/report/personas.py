"""Who is in each segment: the attributes that set it apart from the whole base.

Numeric columns (and dates, as days before as_of) are compared by median, mean and the
standardized mean difference (mean_s - mean_base) / sqrt((var_s + var_base) / 2).
Categorical columns (text with few distinct values, booleans, lists of text) are compared
level by level: lift = share in the segment / share in the base, with the segment share's
95% Wilson interval divided by the base share; a level is a trait only where that interval
excludes 1. Identifier, e-mail and free-text columns are left out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import ConfigError
from segmint.report.audiences import Audience, Audiences
from segmint.report.model import LevelTrait, NumericTrait, Persona
from segmint.report.options import ReportOptions
from segmint.report.overlap import and_counts
from segmint.report.stats import standardized_mean_difference, wilson

US_PER_DAY = 86_400_000_000
CARD_SMD = 0.2  # a numeric trait a card names differs by at least a small effect


@attrs.frozen(eq=False)
class Numeric:
    column: str
    values: np.ndarray  # float64, NaN for null, in the run's row order


@attrs.frozen(eq=False)
class Categorical:
    column: str
    levels: tuple[str, ...]
    masks: np.ndarray  # (customers × levels) bool


def features(profiles: pa.Table, found: Audiences, *, key: str, as_of: dt.datetime,
             excluded: Sequence[str], options: ReportOptions,
             value: Mapping[str, np.ndarray] | None = None, label: str | None = None
             ) -> list[Numeric | Categorical]:
    """The columns personas describe, aligned on the run's rows."""
    rows = found.positions(profiles.column(key))
    names = [n for n in profiles.column_names if n != key]
    if options.persona_columns is not None:
        unknown = [n for n in options.persona_columns if n not in names and n not in (value or {})]
        if unknown:
            raise ConfigError(f"persona column '{unknown[0]}' is not in the run's profiles "
                              f"(they have: {', '.join(names) or 'none'})",
                              file=f"{label} [report]" if label else "[report]", key="persona_columns")
        names = [n for n in options.persona_columns if n in names]
    found_features: list[Numeric | Categorical] = []
    for name in names:
        if options.persona_columns is None and (name in excluded or _identifier_like(name)):
            continue
        column = profiles.column(name).combine_chunks()
        feature = _feature(name, column, as_of, options.max_levels,
                           chosen=options.persona_columns is not None)
        if feature is not None:
            found_features.append(_aligned(feature, rows, found.customers))
    have = {f.column for f in found_features}
    for name, values in (value or {}).items():
        if name in have:
            continue
        if options.persona_columns is None or name in options.persona_columns:
            found_features.append(Numeric(name, values))
    return found_features


def _identifier_like(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("email", "e_mail", "phone", "address", "name", "_id"))


def _feature(name: str, column: pa.Array, as_of: dt.datetime, max_levels: int, *,
             chosen: bool) -> Numeric | Categorical | None:
    t = column.type
    if pa.types.is_dictionary(t):
        column, t = column.cast(t.value_type), t.value_type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return Numeric(name, column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    if pa.types.is_duration(t):
        days = column.cast(pa.int64()).cast(pa.float64()).to_numpy(zero_copy_only=False) / US_PER_DAY
        return Numeric(name + " (days)", days)
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        at = column.cast(pa.timestamp("us", tz="UTC")) if pa.types.is_date(t) else column
        micros = at.cast(pa.int64()).cast(pa.float64()).to_numpy(zero_copy_only=False)
        now = as_of.timestamp() * 1e6
        return Numeric(name + " (days ago)", (now - micros) / US_PER_DAY)
    if pa.types.is_boolean(t):
        valid = column.is_valid().to_numpy(zero_copy_only=False)
        true = column.fill_null(False).to_numpy(zero_copy_only=False)
        return Categorical(name, ("true", "false"), np.column_stack([true, valid & ~true]))
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        values = column.drop_null()
        levels = sorted(pc.unique(values).to_pylist())
        if not levels or (not chosen and (len(levels) > max_levels or _emails(values))):
            return None
        return Categorical(name, tuple(levels),
                           np.column_stack([pc.equal(column, v).fill_null(False).to_numpy(zero_copy_only=False)
                                            for v in levels]))
    if (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_string(t.value_type):
        flat = pc.list_flatten(column)
        parents = pc.list_parent_indices(column).to_numpy(zero_copy_only=False)
        levels = sorted(pc.unique(flat.drop_null()).to_pylist())
        if not levels or (not chosen and len(levels) > max_levels):
            return None
        masks = np.zeros((len(column), len(levels)), dtype=bool)
        index = {v: i for i, v in enumerate(levels)}
        for parent, item in zip(parents, flat.to_pylist(), strict=True):
            if item is not None:
                masks[parent, index[item]] = True
        return Categorical(name, tuple(levels), masks)
    return None


def _emails(values: pa.Array) -> bool:
    """Most values contain an @: addresses, never a category."""
    sample = values.slice(0, 1000)
    return len(sample) > 0 and pc.sum(pc.match_substring(sample, "@")).as_py() > len(sample) / 2


def _aligned(feature: Numeric | Categorical, rows: np.ndarray, n: int) -> Numeric | Categorical:
    keep = rows >= 0
    if isinstance(feature, Numeric):
        values = np.full(n, np.nan)
        values[rows[keep]] = feature.values[keep]
        return attrs.evolve(feature, values=values)
    masks = np.zeros((n, len(feature.levels)), dtype=bool)
    masks[rows[keep]] = feature.masks[keep]
    return attrs.evolve(feature, masks=masks)


def personas(found: Audiences, features_: Sequence[Numeric | Categorical],
             options: ReportOptions) -> dict[str, Persona]:
    """A persona per audience, traits ranked (strongest first, then by column and level)."""
    matrix = found.matrix()
    categorical = [f for f in features_ if isinstance(f, Categorical)]
    counts = [and_counts(matrix, f.masks.T) for f in categorical]
    base_counts = [f.masks.sum(axis=0) for f in categorical]
    n = found.customers
    numeric_base = [_summary(f.values) for f in features_ if isinstance(f, Numeric)]
    numeric = [f for f in features_ if isinstance(f, Numeric)]
    result = {}
    for i, audience in enumerate(found.items):
        members = audience.members
        traits = []
        for feature, base in zip(numeric, numeric_base, strict=True):
            traits.append(_numeric(feature, audience, base))
        levels = []
        for feature, seg_counts, base in zip(categorical, counts, base_counts, strict=True):
            for j, level in enumerate(feature.levels):
                trait = _level(feature.column, level, int(seg_counts[i, j]), members,
                               int(base[j]), n, options.confidence)
                if trait is not None:
                    levels.append(trait)
        traits.sort(key=lambda t: (-abs(t.smd) if t.smd is not None else 0.0, t.column))
        levels.sort(key=lambda t: (-abs(math.log(t.lift)) if t.lift > 0 else -math.inf,
                                   t.column, t.level))
        result[audience.id] = Persona(tuple(traits), tuple(levels),
                                      card(audience, n, traits, levels, options.card_traits))
    return result


def _summary(values: np.ndarray) -> tuple[float | None, float | None, float]:
    valid = values[~np.isnan(values)]
    if not len(valid):
        return None, None, math.nan
    return float(np.median(valid)), float(valid.mean()), float(valid.var())


def _numeric(feature: Numeric, audience: Audience, base: tuple[float | None, float | None, float]) -> NumericTrait:
    median, mean, var = _summary(feature.values[audience.mask])
    base_median, base_mean, base_var = base
    smd = None
    if mean is not None and base_mean is not None:
        smd = standardized_mean_difference(mean, var, base_mean, base_var)
    return NumericTrait(feature.column, median, base_median, mean, base_mean, smd)


def _level(column: str, level: str, count: int, members: int, base_count: int, n: int,
           confidence: float) -> LevelTrait | None:
    if not members or not base_count:
        return None
    base_share = base_count / n
    low, high = wilson(count, members, confidence)
    lift_low, lift_high = low / base_share, high / base_share
    if lift_low <= 1 <= lift_high:
        return None
    return LevelTrait(column, level, count / members, base_share, count / members / base_share,
                      lift_low, lift_high)


def card(audience: Audience, customers: int, numeric: Sequence[NumericTrait],
         levels: Sequence[LevelTrait], most: int) -> str:
    """"champions — 96 customers, 4.1%: median orders 7 vs 1; 2.3× as likely: country DE"."""
    share = audience.members / customers if customers else 0.0
    head = f"{audience.id} — {audience.members:,} customers, {share:.1%}"
    strong = [t for t in numeric if t.smd is not None and abs(t.smd) >= CARD_SMD]
    picked: list[tuple[float, str]] = []
    for t in strong:
        picked.append((abs(t.smd or 0.0), f"median {t.column} {number(t.median)} vs {number(t.base_median)}"))
    for t in levels:
        if t.lift > 0:
            picked.append((abs(math.log(t.lift)), f"{t.lift:.1f}× as likely to have {t.column} {t.level}"))
    picked.sort(key=lambda p: -p[0])
    traits = [text for _, text in picked[:most]]
    return head + (": " + "; ".join(traits) if traits else ": close to the base on every column")


def number(value: float | None) -> str:
    """A number as a card shows it: whole numbers plainly, others with 3 significant digits."""
    if value is None:
        return "n/a"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
