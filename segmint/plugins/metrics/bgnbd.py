"""The BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive, a customer buys at Poisson rate λ ~ Gamma(r, α); after each purchase they drop
out with probability p ~ Beta(a, b). A customer is summarised by x (repeat purchases), t_x
(time of the last purchase since the first) and T (time from the first purchase to the end
of observation), all in one time unit. Formulas follow the paper, in log space where
powers would overflow; `expected_orders` uses Euler's transformation of the Gauss
hypergeometric function so it stays finite for customers with many purchases.

Orders with no visible dropout drive the maximum-likelihood dropout probability to 0
(a → 0, or b → ∞): the likelihood's supremum is the model's limit without dropout, the
NBD model (Gamma-Poisson purchases, everyone alive). `fit` then returns that limit as
``a = 0`` (b has no effect there): p_alive is 1 for everyone and expected orders are
(r + x) t / (α + T), as lifetimes' fit at the boundary gives, but exactly.
"""

from __future__ import annotations

import attrs
import numpy as np

from segmint.plugins.metrics.fitting import (
    Optimum,
    distinct_rows,
    maximize,
    require_determined,
    scipy_modules,
)

NAMES = ("r", "alpha", "a", "b")
#: How much lower (in total log-likelihood) the no-dropout limit may be than the boundary
#: point the full fit stopped at and still be its limit (the two differ by rounding).
LIMIT_TOLERANCE = 0.05


@attrs.frozen
class BgNbd:
    """BG/NBD parameters; methods take numpy arrays of x, t_x, T in the fit's time unit."""

    r: float
    alpha: float
    a: float
    b: float

    @property
    def no_dropout(self) -> bool:
        """The boundary solution without dropout (a = 0): everyone stays a customer."""
        return self.a == 0

    def log_likelihood(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Log-likelihood of each customer's (x, t_x, T)."""
        _, special = scipy_modules()
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x = np.asarray(x, dtype=np.float64)
        repeat = x > 0
        head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        alive = -(r + x) * np.log(alpha + T)
        if self.no_dropout:
            return head + alive
        head = head + special.betaln(a, b + x) - special.betaln(a, b)
        dropped = np.where(repeat, self._log_dropout_odds(x, t_x, T) + alive, -np.inf)
        return head + np.logaddexp(alive, dropped)

    def gradient(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Derivatives of each customer's log-likelihood by r, alpha, a, b (4 × n).

        The likelihood mixes "alive at T" and "dropped out after the last purchase" with
        weights p_alive and 1 - p_alive, which is how those two terms enter each derivative.
        """
        _, special = scipy_modules()
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x = np.asarray(x, dtype=np.float64)
        dropped = 1.0 - self.p_alive(x, t_x, T)
        psi = special.digamma
        purchases = [
            psi(r + x) - psi(r) + np.log(alpha)
            - (1 - dropped) * np.log(alpha + T) - dropped * np.log(alpha + t_x),
            r / alpha - (r + x) * ((1 - dropped) / (alpha + T) + dropped / (alpha + t_x)),
        ]
        if self.no_dropout:  # a and b are not parameters of the limit
            return np.stack(purchases)
        return np.stack(purchases + [
            psi(a + b) - psi(a + b + x) + dropped / a,
            psi(b + x) - psi(a + b + x) - psi(b) + psi(a + b)
            - dropped / (b + np.maximum(x, 1) - 1),
        ])

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """Probability that each customer is still alive at T."""
        _, special = scipy_modules()
        x = np.asarray(x, dtype=np.float64)
        if self.no_dropout:
            return np.ones(len(x))
        return np.where(x > 0, special.expit(-self._log_dropout_odds(x, t_x, T)), 1.0)

    def expected_orders(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """Expected purchases in the next `t` time units, given each customer's history."""
        _, special = scipy_modules()
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x = np.asarray(x, dtype=np.float64)
        if self.no_dropout:  # the limit a → 0 of the expression below
            return (r + x) * t / (alpha + np.asarray(T, dtype=np.float64))
        z = t / (alpha + T + t)
        # (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)
        tail = (1 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        return (a + b + x - 1) / (a - 1) * (1 - tail) * self.p_alive(x, t_x, T)

    def _log_dropout_odds(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """log of a/(b+x-1) * ((α+T)/(α+t_x))^(r+x): odds of having dropped out (x > 0)."""
        x = np.maximum(x, 1)
        return (
            np.log(self.a) - np.log(self.b + x - 1)
            + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x))
        )

    @classmethod
    def fit(
        cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, penalizer: float = 0.0
    ) -> tuple[BgNbd, int]:
        """Maximum-likelihood parameters and the optimiser's iteration count.

        Times are rescaled so the longest T is 10 (α scales with time, r, a, b do not),
        which keeps the search well conditioned whatever the time unit; the penalty
        applies in that scale. When the full fit stops at an edge of the search and the
        model without dropout fits the data as well, that limit is the answer (a = 0).
        """
        (x, t_x, T), weights = distinct_rows(x, t_x, T)
        scale = 10.0 / max(float(T.max()), 1e-12)
        t_x, T = t_x * scale, T * scale
        full = _maximize(cls, NAMES, x, t_x, T, weights, penalizer)
        if not full.determined:
            limit = _maximize(cls, NAMES[:2], x, t_x, T, weights, penalizer)
            if limit.determined and _total(cls, limit, x, t_x, T, weights) >= _total(
                    cls, full, x, t_x, T, weights) - LIMIT_TOLERANCE:
                r, alpha = limit.params
                return cls(r, alpha / scale, 0.0, 1.0), full.iterations + limit.iterations
            if not limit.determined:
                require_determined(limit, "BG/NBD (without dropout, which it tends to)")
        r, alpha, a, b = require_determined(full, "BG/NBD").params
        return cls(r, alpha / scale, a, b), full.iterations


def _model(cls: type[BgNbd], params: tuple[float, ...] | np.ndarray) -> BgNbd:
    """The model of `params`: (r, α, a, b), or (r, α) for the limit without dropout."""
    return cls(*params) if len(params) == 4 else cls(params[0], params[1], 0.0, 1.0)


def _maximize(cls: type[BgNbd], names: tuple[str, ...], x: np.ndarray, t_x: np.ndarray,
              T: np.ndarray, weights: np.ndarray, penalizer: float) -> Optimum:
    total = weights.sum()

    def mean_log_likelihood(params: np.ndarray) -> tuple[float, np.ndarray]:
        model = _model(cls, params)
        value = np.dot(weights, model.log_likelihood(x, t_x, T)) / total
        return float(value), model.gradient(x, t_x, T) @ weights / total

    return maximize(mean_log_likelihood, names, model="BG/NBD", observations=total,
                    penalizer=penalizer)


def _total(cls: type[BgNbd], optimum: Optimum, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
           weights: np.ndarray) -> float:
    """The total (unpenalised) log-likelihood at an optimum."""
    with np.errstate(all="ignore"):
        return float(np.dot(weights, _model(cls, optimum.params).log_likelihood(x, t_x, T)))
