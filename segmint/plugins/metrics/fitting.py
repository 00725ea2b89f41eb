"""Maximum-likelihood fitting shared by the CLV models, and the lazy import of scipy.

Both models are fitted the way lifetimes fits them: minimise the negative mean
log-likelihood over the logarithms of the (positive) parameters, plus an optional L2
penalty ``penalizer * sum(params ** 2)`` that pulls large parameters back when data are
thin. A fit that fails to converge is a `FitError`. One that runs a parameter off to the
edge of the search space, or leaves a parameter undetermined (a flat likelihood: standard
error of its logarithm above `STANDARD_ERROR_LIMIT`), is reported in its `Optimum`: a
model whose likelihood has a known limit there (BG/NBD without dropout) fits that limit
instead, and `require_determined` turns any other into a `FitError` rather than a number
nobody should trust.
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
#: A search that gives up where the gradient is below this (a hundred times the tolerance)
#: has stopped on a plateau: where it stopped, flat or at an edge, is the diagnosis.
PLATEAU_GRADIENT = 1e-4
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
    names: tuple[str, ...] = ()
    #: Parameters at the search's lower or upper edge (e^-20, e^20).
    at_lower: tuple[str, ...] = ()
    at_upper: tuple[str, ...] = ()
    #: Parameters the likelihood leaves undetermined (standard error over the limit).
    vague: tuple[str, ...] = ()

    @property
    def determined(self) -> bool:
        return not (self.at_lower or self.at_upper or self.vague)

    def shown(self) -> str:
        return ", ".join(f"{n}={v:.3g}" for n, v in zip(self.names, self.params))


def require_determined(optimum: Optimum, model: str) -> Optimum:
    """`optimum` when every parameter is determined; else a `FitError` whose advice works.

    An L2 penalty pulls a parameter that ran off upwards back to a finite value, so it is
    the advice then; it cannot lift one that ran down to 0 (it pulls that way too), nor
    determine a parameter the likelihood is flat in: only more (or more varied) history can.
    """
    if optimum.determined:
        return optimum
    if optimum.at_lower or optimum.at_upper:
        stuck = optimum.at_lower + optimum.at_upper
        problem = f"ran parameter {', '.join(stuck)} off to an extreme ({optimum.shown()})"
    else:
        problem = (f"leaves parameter {', '.join(optimum.vague)} undetermined"
                   f" ({optimum.shown()}): the likelihood is flat in that direction")
    if optimum.at_upper and not optimum.at_lower:
        advice = ("a penalizer keeps it finite (option penalizer, e.g. 0.01; a larger one"
                  " if this persists)")
    elif not optimum.at_lower:
        advice = ("a penalizer (option penalizer, e.g. 0.01) pins down a parameter that"
                  " drifts to large values; otherwise the orders need a longer history")
    else:
        advice = ("a penalizer cannot fix this; the orders need a longer history or more"
                  " customers who differ in how often and how much they buy")
    raise FitError(f"{model} fit {problem}: {advice}")


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
    steepest = float(np.max(np.abs(result.jac)))
    converged = bool(result.success or steepest < GRADIENT_TOLERANCE)
    errors = log_standard_errors(lambda p: objective(p)[1], result.x, observations)
    optimum = Optimum(
        tuple(float(p) for p in np.exp(result.x)), int(result.nit), converged, errors,
        names=names,
        at_lower=tuple(n for n, v in zip(names, result.x) if v <= -_AT_BOUND),
        at_upper=tuple(n for n, v in zip(names, result.x) if v >= _AT_BOUND),
        vague=tuple(n for n, e in zip(names, errors) if not e <= STANDARD_ERROR_LIMIT),
    )
    # A search that stopped on a plateau, flat or at an edge (scipy 1.17's line search gives
    # up there: ABNORMAL), is returned undetermined: where it stopped is the diagnosis, and a
    # model with a known limit there fits that instead, as after a converged run-away.
    if not converged and (optimum.determined or steepest >= PLATEAU_GRADIENT):
        raise FitError(
            f"{model} fit did not converge after {result.nit} iterations ({result.message});"
            " a penalizer (option penalizer, e.g. 0.01) or a longer order history may help"
        )
    return optimum


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
