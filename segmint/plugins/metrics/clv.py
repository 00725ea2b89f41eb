"""Predictive customer lifetime value: BG/NBD for purchases, Gamma-Gamma for spend.

The API a command line or notebook uses (scipy required: ``pip install 'segmint[clv]'``)::

    from segmint.plugins.metrics import fit_clv, purchase_summary

    fit = fit_clv(orders, dt.date(1997, 9, 30), time_unit="week")   # -> ClvFit
    print(fit.format())                # parameters, log-likelihoods, counts
    json.dumps(fit.to_dict())          # {"bgnbd": {...}, "gamma_gamma": {...}, ...}
    summary = purchase_summary(orders, dt.date(1997, 9, 30))        # x, t_x, T, zbar
    fit.p_alive(summary); fit.expected_orders(summary, horizon); fit.clv(summary, horizon)

`orders` is an Arrow table (or anything Arrow can read) with the columns `MetricOptions`
names; `as_of` a `datetime.date` (the whole day observed) or `datetime.datetime` (exact).
Fitting needs at least ``min_repeat_customers`` customers who bought on two or more days
(`InsufficientDataError`) and a converging fit (`FitError`); it never returns parameters
it could not determine. Orders with no visible dropout fit BG/NBD's limit without dropout
(``fit.bgnbd.model.no_dropout``): a `ClvWarning` says so, and ``fit.notes`` keeps it.

``clv_<horizon>`` is the discounted expected gross margin over the horizon: expected
purchases in each 30-day step (from BG/NBD), times expected value per purchase (from
Gamma-Gamma), times the margin rate, discounted at the yearly ``discount_rate`` to the end
of each step.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping
from typing import Any

import attrs
import numpy as np

from segmint.plugins.metrics.asof import AsOf
from segmint.plugins.metrics.bgnbd import BgNbd
from segmint.plugin.api import days
from segmint.plugins.metrics.errors import ClvWarning, InsufficientDataError
from segmint.plugins.metrics.fitting import scipy_modules
from segmint.plugins.metrics.gamma_gamma import GammaGamma
from segmint.plugins.metrics.options import TIME_UNITS, MetricOptions
from segmint.plugins.metrics.orders import Orders, read_orders
from segmint.plugins.metrics.summary import PurchaseDays, PurchaseSummary, summarize

#: Discounting and expected purchases are accumulated in steps of this many days.
STEP_DAYS = 30
#: Fewest repeat customers any fit needs, whatever option min_repeat_customers says: the
#: two models have 4 and 3 parameters, and Gamma-Gamma is fitted on repeat customers only.
MIN_REPEAT_CUSTOMERS = 5
NO_DROPOUT = (
    "BG/NBD: the data shows almost no dropout, so the fit is the model's limit without"
    " dropout (a = 0): p_alive is 1 for everyone, and expected orders follow each"
    " customer's own purchase rate"
)


@attrs.frozen
class ModelFit:
    """One fitted model with its diagnostics."""

    model: BgNbd | GammaGamma
    log_likelihood: float
    customers: int
    iterations: int
    converged: bool = True


@attrs.frozen
class ClvFit:
    """Fitted BG/NBD and Gamma-Gamma models, with what they were fitted on."""

    bgnbd: ModelFit
    gamma_gamma: ModelFit
    customers: int
    repeat_customers: int
    time_unit: str
    as_of: dt.date
    penalizer: float = 0.0

    @property
    def unit_days(self) -> int:
        return TIME_UNITS[self.time_unit]

    @property
    def notes(self) -> tuple[str, ...]:
        """What a user should know about a fit that succeeded at a boundary of a model."""
        return (NO_DROPOUT,) if self.bgnbd.model.no_dropout else ()

    def to_dict(self) -> dict[str, Any]:
        """The fit as ``segmint clv fit --json`` prints it."""
        bg, gg = self.bgnbd.model, self.gamma_gamma.model
        return {
            "bgnbd": {
                "r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b,
                "log_likelihood": self.bgnbd.log_likelihood,
            },
            "gamma_gamma": {"p": gg.p, "q": gg.q, "v": gg.v},
            "customers": self.customers,
            "repeat_customers": self.repeat_customers,
            "time_unit": self.time_unit,
            "notes": list(self.notes),
        }

    def format(self) -> str:
        """A few lines for a terminal."""
        bg, gg = self.bgnbd.model, self.gamma_gamma.model
        return "\n".join([
            f"CLV models as of {self.as_of}, time unit {self.time_unit},"
            f" {self.customers} customers ({self.repeat_customers} repeat)",
            f"BG/NBD       r={bg.r:.4g} alpha={bg.alpha:.4g} a={bg.a:.4g} b={bg.b:.4g}"
            f"  log-likelihood {self.bgnbd.log_likelihood:.1f}"
            f"  ({self.bgnbd.iterations} iterations)",
            f"Gamma-Gamma  p={gg.p:.4g} q={gg.q:.4g} v={gg.v:.4g}"
            f"  log-likelihood {self.gamma_gamma.log_likelihood:.1f}"
            f"  ({self.gamma_gamma.customers} customers, {self.gamma_gamma.iterations} iterations)",
            *(f"note: {note}" for note in self.notes),
        ])

    def p_alive(self, summary: PurchaseSummary) -> np.ndarray:
        """Probability that each customer of `summary` is still a customer."""
        return self.bgnbd.model.p_alive(summary.x, summary.t_x, summary.T)

    def expected_orders(self, summary: PurchaseSummary, horizon: dt.timedelta) -> np.ndarray:
        """Expected purchase days of each customer within `horizon` after as_of."""
        t = days(horizon) / self.unit_days
        return self.bgnbd.model.expected_orders(t, summary.x, summary.t_x, summary.T)

    def expected_spend(self, summary: PurchaseSummary) -> np.ndarray:
        """Expected value of each customer's future purchases (Gamma-Gamma)."""
        return self.gamma_gamma.model.expected_spend(summary.x, summary.zbar)

    def clv(
        self,
        summary: PurchaseSummary,
        horizon: dt.timedelta,
        *,
        discount_rate: float = 0.10,
        margin_rate: float = 1.0,
    ) -> np.ndarray:
        """Discounted expected margin of each customer within `horizon` (see module doc)."""
        total_days = days(horizon)
        steps = int(np.ceil(total_days / STEP_DAYS))
        ends = [min(k * STEP_DAYS, total_days) for k in range(1, steps + 1)]
        discounted = np.zeros(len(summary.x))
        before = np.zeros(len(summary.x))
        for end in ends:
            upto = self.expected_orders(summary, dt.timedelta(days=end))
            discounted += (upto - before) / (1 + discount_rate) ** (end / 365)
            before = upto
        return discounted * self.expected_spend(summary) * margin_rate


def purchase_summary(
    orders: Any,
    as_of: dt.date | dt.datetime,
    *,
    time_unit: str | None = None,
    key: str = "customer_id",
    timezone: str = "UTC",
    options: MetricOptions | Mapping[str, Any] | None = None,
) -> PurchaseSummary:
    """The x, t_x, T, zbar summary of an orders table as of `as_of` (see `summary`)."""
    options = resolve_options(options, time_unit=time_unit)
    prepared = prepare_orders(orders, as_of, options, key, timezone)
    return summarize_orders(prepared, options)


def fit_clv(
    orders: Any,
    as_of: dt.date | dt.datetime,
    *,
    time_unit: str | None = None,
    penalizer: float | None = None,
    min_repeat_customers: int | None = None,
    key: str = "customer_id",
    timezone: str = "UTC",
    options: MetricOptions | Mapping[str, Any] | None = None,
) -> ClvFit:
    """Fit BG/NBD and Gamma-Gamma on the orders as of `as_of`.

    Keyword arguments override the same-named `MetricOptions` fields.
    """
    options = resolve_options(
        options, time_unit=time_unit, penalizer=penalizer,
        min_repeat_customers=min_repeat_customers,
    )
    prepared = prepare_orders(orders, as_of, options, key, timezone)
    return fit_summary(summarize_orders(prepared, options), options, prepared.as_of.date)


def summarize_orders(orders: Orders, options: MetricOptions) -> PurchaseSummary:
    """The summary of prepared orders as of their as-of date."""
    return summarize(
        PurchaseDays.of(orders), orders, orders.as_of.day, options.time_unit, options.unit_days
    )


def fit_summary(summary: PurchaseSummary, options: MetricOptions, as_of: dt.date) -> ClvFit:
    """Fit both models on a summary, refusing one with too few repeat customers."""
    scipy_modules()
    repeat = int(summary.repeat.sum())
    needed = max(options.min_repeat_customers, MIN_REPEAT_CUSTOMERS)
    if repeat < needed:
        advice = (
            f"Use a longer order history or lower the option min_repeat_customers (to {repeat})."
            if repeat >= MIN_REPEAT_CUSTOMERS else
            f"Use a longer order history: a fit needs at least {MIN_REPEAT_CUSTOMERS}"
            " customers who came back, whatever min_repeat_customers says."
        )
        raise InsufficientDataError(
            f"predictive CLV needs at least {needed} repeat customers"
            f" (customers who bought on two or more days) as of {as_of}; the orders have"
            f" {len(summary.x)} customers, {repeat} of them repeat customers. {advice}"
        )
    bgnbd, bg_iterations = BgNbd.fit(
        summary.x, summary.t_x, summary.T, penalizer=options.penalizer
    )
    if bgnbd.no_dropout:
        warnings.warn(NO_DROPOUT, ClvWarning, stacklevel=2)
    spenders = summary.repeat & (summary.zbar > 0)
    gamma_gamma, gg_iterations = GammaGamma.fit(
        summary.x[spenders], summary.zbar[spenders], penalizer=options.penalizer
    )
    return ClvFit(
        bgnbd=ModelFit(
            bgnbd,
            float(bgnbd.log_likelihood(summary.x, summary.t_x, summary.T).sum()),
            len(summary.x),
            bg_iterations,
        ),
        gamma_gamma=ModelFit(
            gamma_gamma,
            float(gamma_gamma.log_likelihood(summary.x[spenders], summary.zbar[spenders]).sum()),
            int(spenders.sum()),
            gg_iterations,
        ),
        customers=len(summary.x),
        repeat_customers=repeat,
        time_unit=options.time_unit,
        as_of=as_of,
        penalizer=options.penalizer,
    )


def resolve_options(
    options: MetricOptions | Mapping[str, Any] | None, **overrides: Any
) -> MetricOptions:
    """`options` (or the defaults) with the overrides that are not None, all validated."""
    if not isinstance(options, MetricOptions):
        options = MetricOptions.from_mapping(options)
    given = {k: v for k, v in overrides.items() if v is not None}
    return MetricOptions.from_mapping({**attrs.asdict(options, recurse=False), **given})


def prepare_orders(
    orders: Any, as_of: dt.date | dt.datetime, options: MetricOptions, key: str, timezone: str
) -> Orders:
    """An orders table read as of `as_of` (a date observes the whole day)."""
    point = AsOf.of(as_of, timezone, options.as_of_granularity)
    return read_orders(orders, point, options, key)

