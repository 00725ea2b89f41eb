"""The Gamma-Gamma spend model (Fader, Hardie & Lee 2005; Hardie's note 025).

A customer's purchase values are Gamma(p, ν) around their own mean, with ν ~ Gamma(q, γ)
across customers (γ is called ``v`` here, as in lifetimes). It is fitted on repeat
customers from x (repeat purchases) and zbar (their mean value) and predicts each
customer's expected value per purchase, shrinking their own mean towards the population's.
"""

from __future__ import annotations

import attrs
import numpy as np

from segmint.plugins.metrics.errors import FitError
from segmint.plugins.metrics.fitting import (
    distinct_rows,
    maximize,
    require_determined,
    scipy_modules,
)

NAMES = ("p", "q", "v")


@attrs.frozen
class GammaGamma:
    """Gamma-Gamma parameters; methods take arrays of x (> 0) and zbar (> 0)."""

    p: float
    q: float
    v: float

    def log_likelihood(self, x: np.ndarray, zbar: np.ndarray) -> np.ndarray:
        """Log-likelihood of each repeat customer's mean purchase value."""
        _, special = scipy_modules()
        p, q, v = self.p, self.q, self.v
        px = p * np.asarray(x, dtype=np.float64)
        return (
            special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
            + q * np.log(v) + (px - 1) * np.log(zbar) + px * np.log(x)
            - (px + q) * np.log(x * zbar + v)
        )

    def gradient(self, x: np.ndarray, zbar: np.ndarray) -> np.ndarray:
        """Derivatives of each repeat customer's log-likelihood by p, q, v (3 × n)."""
        _, special = scipy_modules()
        p, q, v = self.p, self.q, self.v
        x = np.asarray(x, dtype=np.float64)
        psi_total = special.digamma(p * x + q)
        log_total = np.log(x * zbar + v)
        return np.stack([
            x * (psi_total - special.digamma(p * x) + np.log(zbar) + np.log(x) - log_total),
            psi_total - special.digamma(q) + np.log(v) - log_total,
            q / v - (p * x + q) / (x * zbar + v),
        ])

    @property
    def population_mean(self) -> float:
        """Mean purchase value of a customer about whom nothing is known: p v / (q - 1)."""
        return self.p * self.v / (self.q - 1)

    def expected_spend(self, x: np.ndarray, zbar: np.ndarray) -> np.ndarray:
        """Expected value per purchase: p (v + x zbar) / (p x + q - 1); x = 0 gets the mean."""
        x = np.asarray(x, dtype=np.float64)
        return self.p * (self.v + x * np.asarray(zbar)) / (self.p * x + self.q - 1)

    @classmethod
    def fit(
        cls, x: np.ndarray, zbar: np.ndarray, *, penalizer: float = 0.0
    ) -> tuple[GammaGamma, int]:
        """Maximum-likelihood parameters (on customers with x > 0 and zbar > 0).

        Values are rescaled to mean 1 for the search (v scales with money, p and q do
        not); the penalty applies in that scale.
        """
        keep = (np.asarray(x) > 0) & (np.asarray(zbar) > 0)
        (x, zbar), weights = distinct_rows(np.asarray(x)[keep], np.asarray(zbar)[keep])
        scale = float(weights.sum() / np.dot(weights, zbar))
        zbar = zbar * scale
        total = weights.sum()

        def mean_log_likelihood(params: np.ndarray) -> tuple[float, np.ndarray]:
            model = cls(*params)
            value = np.dot(weights, model.log_likelihood(x, zbar)) / total
            return float(value), model.gradient(x, zbar) @ weights / total

        optimum = require_determined(maximize(
            mean_log_likelihood, NAMES, model="Gamma-Gamma", observations=total,
            penalizer=penalizer,
        ), "Gamma-Gamma")
        p, q, v = optimum.params
        if q <= 1:
            advice = (f"the penalizer ({penalizer:g}) pulls q down: use a smaller one"
                      if penalizer else
                      "a penalizer pulls q down and cannot help; more repeat purchases can")
            raise FitError(
                f"Gamma-Gamma fit gave q = {q:.3g} <= 1, for which the mean purchase value is"
                f" undefined; {advice}"
            )
        return cls(p, q, v / scale), optimum.iterations
