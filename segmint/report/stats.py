"""The statistics of the report, each delegated to statsmodels or scipy (``segmint[report]``).

Imported lazily: a report without intervals (no holdout, no CLV) needs neither package.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np

from segmint.errors import SegmintError

INSTALL = "pip install 'segmint[report]'"


def _need(module: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise SegmintError(f"the report's statistics need {module.split('.')[0]}: {INSTALL}") from None


def wilson(count: int, nobs: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    proportion = _need("statsmodels.stats.proportion")
    low, high = proportion.proportion_confint(count, nobs, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def difference_interval(c1: int, n1: int, c2: int, n2: int,
                        confidence: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid score interval of p1 - p2 (statsmodels' method "newcomb")."""
    proportion = _need("statsmodels.stats.proportion")
    low, high = proportion.confint_proportions_2indep(
        c1, n1, c2, n2, method="newcomb", compare="diff", alpha=1 - confidence)
    return float(low), float(high)


def ratio_interval(c1: int, n1: int, c2: int, n2: int,
                   confidence: float = 0.95) -> tuple[float, float] | None:
    """Score interval of p1 / p2 (Koopman / Miettinen-Nurminen); None where p2 is 0."""
    if c2 == 0 or c1 == 0:
        return None
    proportion = _need("statsmodels.stats.proportion")
    low, high = proportion.confint_proportions_2indep(
        c1, n1, c2, n2, method="score", compare="ratio", alpha=1 - confidence)
    return float(low), float(high)


def z_test(c1: int, n1: int, c2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when it is undefined."""
    if (c1 + c2) in (0, n1 + n2):
        return None
    proportion = _need("statsmodels.stats.proportion")
    _, p_value = proportion.proportions_ztest([c1, c2], [n1, n2])
    return float(p_value)


def _effect(rate: float, lift: float) -> float:
    """Cohen's h between `rate + lift` and `rate`."""
    proportion = _need("statsmodels.stats.proportion")
    return float(proportion.proportion_effectsize(rate + lift, rate))


def power(rate: float, lift: float, n1: int, n2: int, *, confidence: float = 0.95) -> float:
    """Power of the two-sided z-test to detect `lift` over `rate` with n1 and n2 members."""
    if n1 == 0 or n2 == 0 or not 0 < rate + lift < 1:
        return 0.0
    smp = _need("statsmodels.stats.power")
    return float(smp.NormalIndPower().power(effect_size=_effect(rate, lift), nobs1=n1,
                                            ratio=n2 / n1, alpha=1 - confidence))


def group_size(rate: float, lift: float, *, power_wanted: float = 0.8,
               confidence: float = 0.95) -> int:
    """Members needed in each of two equal groups to detect `lift` over `rate`."""
    smp = _need("statsmodels.stats.power")
    n = smp.NormalIndPower().solve_power(effect_size=_effect(rate, lift), nobs1=None, ratio=1.0,
                                         alpha=1 - confidence, power=power_wanted)
    return int(math.ceil(float(n)))


def minimum_detectable_effect(rate: float, n1: int, n2: int, *, power_wanted: float = 0.8,
                              confidence: float = 0.95) -> float | None:
    """The smallest lift over `rate` detected with `power_wanted`: Cohen's h solved by
    statsmodels, turned back into a difference of proportions."""
    if n1 < 2 or n2 < 2:
        return None
    smp = _need("statsmodels.stats.power")
    h = float(smp.NormalIndPower().solve_power(effect_size=None, nobs1=n1, ratio=n2 / n1,
                                               alpha=1 - confidence, power=power_wanted))
    angle = math.asin(math.sqrt(rate)) + h / 2
    if angle >= math.pi / 2:
        return None
    return math.sin(angle) ** 2 - rate


def bootstrap_mean(values: np.ndarray, *, name: str, seed: int, resamples: int,
                   confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (scipy), seeded per segment name so a
    report is reproducible and one segment's interval does not depend on the others."""
    if len(values) < 2 or np.all(values == values[0]):
        return float(values.mean()), float(values.mean())
    scipy_stats = _need("scipy.stats")
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    batch = max(1, int(2e7 // len(values)))
    result = scipy_stats.bootstrap((values,), np.mean, n_resamples=resamples, batch=batch,
                                   confidence_level=confidence, method="percentile", rng=rng,
                                   vectorized=True)
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def standardized_mean_difference(mean1: float, var1: float, mean2: float, var2: float) -> float | None:
    """(mean1 - mean2) / sqrt((var1 + var2) / 2); None where both variances are 0."""
    spread = math.sqrt((var1 + var2) / 2)
    if not spread or math.isnan(spread):
        return None
    return (mean1 - mean2) / spread
