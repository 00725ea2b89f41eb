"""Maximum-likelihood fitting shared by the CLV models, and the lazy import of scipy.

Both models are fitted the way lifetimes fits them: minimise the negative mean
log-likelihood over the logarithms of the (positive) parameters, plus an optional L2
penalty ``penalizer * sum(params ** 2)`` that pulls extreme parameters back when data are
thin. A fit that fails to converge, or runs a parameter off to the edge of the search
space, or leaves a parameter undetermined (a flat likelihood: standard error of its
logarithm above `STANDARD_ERROR_LIMIT`), is a `FitError` rather than a number nobody
should trust.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import attrs
import numpy as np

from segmint.plugins.metrics.errors import FitError, MissingDependencyError

#: Search bounds of each log-parameter: parameters between e^-20 and e^20.
LOG_BOUND = 20.0
_AT_BOUND = LOG_BOUND - 1e-3
#: Largest gradient of the mean log-likelihood (by log-parameters) taken as an optimum.
GRADIENT_TOLERANCE = 1e-6
#: Largest standard error of a log-parameter a fit may leave: beyond it the parameter is
#: uncertain by a factor of e^5 ≈ 150 and the likelihood is, for practical purposes, flat.
STANDARD_ERROR_LIMIT = 5.0


def scipy_modules() -> tuple[ModuleType, ModuleType]:
    """``scipy.optimize`` and ``scipy.special``, or a `MissingDependencyError`."""
    try:
        from scipy import optimize, special
    except ImportError:
        raise MissingDependencyError(
            "predictive CLV (p_alive, expected_orders_*, clv_*) needs scipy;"
            " install it with: pip install 'segmint[clv]'"
        ) from None
    return optimize, special


@attrs.frozen
class Optimum:
    """Parameters that maximise a (penalised) log-likelihood, and how they were found."""

    params: tuple[float, ...]
    iterations: int
    converged: bool
    #: Standard errors of the logarithms of the parameters (0.1: known to about ±10 %).
    log_standard_errors: tuple[float, ...] = ()


def maximize(
    mean_log_likelihood: Callable[[np.ndarray], tuple[float, np.ndarray]],
    names: tuple[str, ...],
    *,
    model: str,
    observations: float,
    penalizer: float = 0.0,
) -> Optimum:
    """Maximise a mean log-likelihood over positive parameters called `names`.

    `mean_log_likelihood(params)` returns the value and its gradient by the parameters;
    `observations` is how many customers the mean is over, which sets the standard errors.
    """
    optimize, _ = scipy_modules()

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(log_params)
        with np.errstate(all="ignore"):  # extreme trial points; judged by isfinite below
            value, gradient = mean_log_likelihood(params)
        value = -value + penalizer * float(np.sum(params**2))
        # d/d(log θ) = θ d/dθ
        gradient = params * (-np.asarray(gradient) + 2 * penalizer * params)
        if not (np.isfinite(value) and np.isfinite(gradient).all()):
            return 1e12, np.zeros_like(params)
        return value, gradient

    result = optimize.minimize(
        objective,
        x0=np.zeros(len(names)),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-LOG_BOUND, LOG_BOUND)] * len(names),
        options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9},
    )
    # Near the optimum the line search can run out of floating-point precision before the
    # tolerances are met; a vanishing gradient means the optimum was reached all the same.
    stationary = np.max(np.abs(result.jac)) < GRADIENT_TOLERANCE
    if not (result.success or stationary):
        raise FitError(
            f"{model} fit did not converge after {result.nit} iterations ({result.message});"
            " more history or a penalizer (option penalizer, e.g. 0.001) may help"
        )
    shown = ", ".join(f"{n}={np.exp(v):.3g}" for n, v in zip(names, result.x))
    stuck = [name for name, value in zip(names, result.x) if abs(value) >= _AT_BOUND]
    if stuck:
        raise FitError(
            f"{model} fit ran parameter {', '.join(stuck)} off to an extreme ({shown}):"
            " the history does not determine the model; use more history or a penalizer"
            " (option penalizer, e.g. 0.001)"
        )
    errors = log_standard_errors(lambda p: objective(p)[1], result.x, observations)
    vague = [n for n, e in zip(names, errors) if not e <= STANDARD_ERROR_LIMIT]
    if vague:
        raise FitError(
            f"{model} fit leaves parameter {', '.join(vague)} undetermined ({shown}): the"
            " likelihood is flat in that direction, as when customers do not differ enough"
            " or hardly drop out; use more history or a penalizer (option penalizer,"
            " e.g. 0.001)"
        )
    return Optimum(tuple(float(p) for p in np.exp(result.x)), int(result.nit), True, errors)


def log_standard_errors(
    gradient: Callable[[np.ndarray], np.ndarray], at: np.ndarray, observations: float
) -> tuple[float, ...]:
    """Asymptotic standard errors of the log-parameters at a maximum (inf where flat).

    From the curvature of the (penalised) log-likelihood of all `observations`: central
    differences of the mean gradient give the Hessian; its inverse, the covariance.
    """
    step = 1e-4
    columns = []
    for i in range(len(at)):
        shift = np.zeros(len(at))
        shift[i] = step
        columns.append((gradient(at + shift) - gradient(at - shift)) / (2 * step))
    hessian = np.array(columns) * observations
    hessian = (hessian + hessian.T) / 2
    if not np.isfinite(hessian).all() or np.linalg.eigvalsh(hessian).min() <= 0:
        return tuple(float("inf") for _ in at)
    return tuple(float(e) for e in np.sqrt(np.diag(np.linalg.inv(hessian))))


def distinct_rows(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The distinct rows of equal-length columns (sorted) and how often each occurs.

    Likelihoods are sums over customers; summing over distinct rows with weights gives the
    same value faster, and in an order that does not depend on the input's.
    """
    stacked = np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return tuple(unique.T), counts
