"""CLV on data that does not look like the textbook: no dropout, heavy dropout, one purchase.

The fit without dropout is checked against an independent maximum-likelihood fit of the
NBD model with scipy's negative binomial distribution (`scipy.stats.nbinom`), which is
the BG/NBD model's limit as the dropout probability goes to 0.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pyarrow as pa
import pytest

from segmint.plugins.metrics import (
    BgNbd,
    ClvWarning,
    FitError,
    InsufficientDataError,
    fit_clv,
    purchase_summary,
)

scipy = pytest.importorskip("scipy")
from scipy import optimize, stats  # noqa: E402

AS_OF = dt.date(2023, 12, 31)
YEARS = 4


def orders_without_dropout(seed: int, customers: int = 1500, *, same_rate: bool = False,
                           dropout: float = 0.0) -> pa.Table:
    """Orders over four years: customers arrive in the first two and buy at a steady rate
    (Gamma-distributed across customers, or the same for all); after each purchase a
    customer leaves with their own probability, Beta-distributed with mean `dropout`
    (0: nobody ever leaves; 1: nobody comes back)."""
    rng = np.random.default_rng(seed)
    span = YEARS * 365
    rate = np.full(customers, 1 / 20) if same_rate else rng.gamma(2.0, 1 / 40, customers)
    leave = (rng.beta(4 * dropout, 4 * (1 - dropout), customers) if 0 < dropout < 1
             else np.full(customers, dropout))
    keys, days = [], []
    for customer in range(customers):
        day = float(rng.integers(0, span // 2))
        while day <= span:
            keys.append(customer)
            days.append(int(day))
            if rng.random() < leave[customer]:
                break
            day += rng.exponential(1 / rate[customer])
    start = AS_OF - dt.timedelta(days=span)
    return pa.table({
        "customer_id": pa.array(keys, pa.int64()),
        "timestamp": pa.array([start + dt.timedelta(days=d) for d in days], pa.date32()),
        "amount": pa.array(np.round(rng.gamma(3.0, rng.gamma(3.0, 10.0, customers))[keys], 2)),
    })


def nbd_oracle(x: np.ndarray, T: np.ndarray) -> tuple[float, float]:
    """r and α maximising scipy's negative binomial likelihood of x given T."""
    def negative(log_params: np.ndarray) -> float:
        r, alpha = np.exp(log_params)
        return -float(stats.nbinom.logpmf(x, r, alpha / (alpha + T)).sum())
    result = optimize.minimize(negative, x0=np.zeros(2), method="Nelder-Mead",
                               options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 10_000})
    return tuple(float(v) for v in np.exp(result.x))


@pytest.mark.parametrize("same_rate", [False, True], ids=["rates-differ", "one-rate"])
def test_no_dropout_is_a_boundary_solution_with_a_warning(same_rate):
    orders = orders_without_dropout(3, same_rate=same_rate)
    options = {"penalizer": 0.0} if not same_rate else {"penalizer": 0.01}
    with pytest.warns(ClvWarning, match="the data shows almost no dropout"):
        fit = fit_clv(orders, AS_OF, **options)
    model = fit.bgnbd.model
    assert model.no_dropout and model.a == 0
    assert fit.notes and "p_alive is 1 for everyone" in fit.notes[0]
    assert fit.to_dict()["notes"] == list(fit.notes)
    assert "note: BG/NBD: the data shows almost no dropout" in fit.format()
    summary = purchase_summary(orders, AS_OF)
    if not same_rate:  # unpenalised: the maximum-likelihood NBD fit, by an independent oracle
        r, alpha = nbd_oracle(summary.x, summary.T)
        assert model.r == pytest.approx(r, rel=1e-3)
        assert model.alpha == pytest.approx(alpha, rel=1e-3)
    horizon = dt.timedelta(days=360)
    np.testing.assert_array_equal(fit.p_alive(summary), 1.0)
    expected = fit.expected_orders(summary, horizon)
    clv = fit.clv(summary, horizon)
    assert np.isfinite(expected).all() and np.isfinite(clv).all() and (clv > 0).all()
    # The NBD conditional expectation; and a tiny dropout gives nearly the same (the limit).
    t = 360 / 7
    np.testing.assert_allclose(expected, (model.r + summary.x) * t / (model.alpha + summary.T))
    nearby = BgNbd(model.r, model.alpha, 1e-9, 1.0)
    np.testing.assert_allclose(nearby.expected_orders(t, summary.x, summary.t_x, summary.T),
                               expected, rtol=1e-5)
    # Steady buyers keep their pace: a year ahead, about their own yearly rate.
    total_rate = summary.x.sum() / summary.T.sum()
    assert expected.mean() == pytest.approx(total_rate * t, rel=0.1)


def test_no_dropout_with_one_rate_needs_the_penalizer_its_error_names():
    orders = orders_without_dropout(3, same_rate=True)
    with pytest.raises(FitError) as info:
        fit_clv(orders, AS_OF)
    assert "a penalizer (option penalizer, e.g. 0.01)" in str(info.value)


def test_no_dropout_through_a_project_rule_gives_finite_columns():
    from segmint.plugin.api import MetricContext
    from segmint.plugins.metrics.definitions import compute_clv

    orders = orders_without_dropout(4)
    ctx = MetricContext(events={"orders": orders}, as_of=dt.datetime(2023, 12, 31, 23, 59,
                        tzinfo=dt.UTC), columns=("p_alive", "clv_12mo"), key="customer_id")
    with pytest.warns(ClvWarning):
        table = compute_clv(ctx)
    assert table.num_rows == 1500
    assert set(table.column("p_alive").to_pylist()) == {1.0}
    assert all(np.isfinite(table.column("clv_12mo").to_numpy()))


def test_heavy_dropout_fits_without_a_note():
    orders = orders_without_dropout(5, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClvWarning)
        fit = fit_clv(orders, AS_OF)
    model = fit.bgnbd.model
    assert not model.no_dropout and fit.notes == ()
    # Half of the customers leave after each purchase: the fitted mean dropout says so.
    assert model.a / (model.a + model.b) == pytest.approx(0.5, abs=0.1)
    summary = purchase_summary(orders, AS_OF)
    p_alive = fit.p_alive(summary)
    assert p_alive.min() < 0.2 and p_alive.max() <= 1


def test_one_purchase_per_customer_is_refused_with_advice_that_applies():
    orders = orders_without_dropout(6, dropout=1.0)
    assert orders.num_rows == 1500
    for minimum in (20, 1):  # lowering the option cannot help: the message does not say to
        with pytest.raises(InsufficientDataError) as info:
            fit_clv(orders, AS_OF, min_repeat_customers=minimum)
        message = str(info.value)
        assert "1500 customers, 0 of them repeat customers" in message
        assert "Use a longer order history" in message
        assert "lower the option" not in message


def test_few_repeat_customers_name_a_minimum_that_then_fits():
    orders = orders_without_dropout(7, customers=60, dropout=0.3)
    with pytest.raises(InsufficientDataError, match=r"lower the option min_repeat_customers"
                                                    r" \(to (\d+)\)") as info:
        fit_clv(orders, AS_OF, min_repeat_customers=1000)
    named = int(str(info.value).split("(to ")[1].split(")")[0])
    fit = fit_clv(orders, AS_OF, min_repeat_customers=named, penalizer=0.01)
    assert fit.repeat_customers == named
