"""Correctness gates on CDNOW: segmint reproduces the published summary and model fits."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from segmint.plugins.metrics import BgNbd, GammaGamma, fit_clv, purchase_summary

pytest.importorskip("scipy")

AS_OF = dt.date(1997, 9, 30)
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LL = -9582.4
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}


def three_significant(value: float) -> float:
    return float(f"{value:.3g}")


@pytest.fixture(scope="module")
def summary(cdnow_orders):
    return purchase_summary(cdnow_orders, AS_OF, time_unit="week")


@pytest.fixture(scope="module")
def fit(cdnow_orders):
    return fit_clv(cdnow_orders, AS_OF, time_unit="week")


def test_summary_equals_published_file_for_every_customer(summary, cdnow_published_summary):
    published = cdnow_published_summary
    assert len(summary.x) == published.num_rows == 2357
    assert summary.keys.to_pylist() == published["ID"].to_pylist()
    assert summary.x.tolist() == published["frequency"].to_pylist()
    # The file has two decimals (rounded half up); allow exactly that rounding.
    np.testing.assert_allclose(summary.t_x, published["recency"].to_numpy(), rtol=0, atol=0.005)
    np.testing.assert_allclose(summary.T, published["T"].to_numpy(), rtol=0, atol=0.005)


def test_mean_repeat_value_equals_published_zbar(summary, cdnow_summary):
    np.testing.assert_allclose(summary.zbar, cdnow_summary["zbar"].to_numpy(), atol=0.005 + 1e-9)


PUBLISHED = [("bgnbd", name, value) for name, value in PUBLISHED_BGNBD.items()] + [
    ("gamma_gamma", name, value) for name, value in PUBLISHED_GAMMA_GAMMA.items()
]


@pytest.mark.parametrize(("model", "name", "published"), PUBLISHED,
                         ids=[f"{m}-{n}" for m, n, _ in PUBLISHED])
def test_parameters_match_published(fit, model, name, published):
    value = getattr(getattr(fit, model).model, name)
    assert three_significant(value) == three_significant(published)
    assert value == pytest.approx(published, rel=2e-3)


def test_bgnbd_log_likelihood_matches_published(fit):
    assert fit.bgnbd.log_likelihood == pytest.approx(PUBLISHED_LL, abs=0.05)


def test_fit_counts(fit):
    assert (fit.customers, fit.repeat_customers, fit.gamma_gamma.customers) == (2357, 946, 946)


def test_conditional_expectation_of_published_example():
    model = BgNbd(**PUBLISHED_BGNBD)
    expected = model.expected_orders(39, np.array([2]), np.array([30.43]), np.array([38.86]))
    assert round(float(expected[0]), 3) == 1.226


def test_fit_on_published_summary_file_matches_too(cdnow_summary):
    x, t_x, T = (cdnow_summary[c].to_numpy() for c in ("x", "t_x", "T"))
    model, _ = BgNbd.fit(x, t_x, T)
    for name, published in PUBLISHED_BGNBD.items():
        assert three_significant(getattr(model, name)) == three_significant(published)
    spend, _ = GammaGamma.fit(x, cdnow_summary["zbar"].to_numpy())
    for name, published in PUBLISHED_GAMMA_GAMMA.items():
        assert three_significant(getattr(spend, name)) == three_significant(published)


def test_time_unit_does_not_change_predictions(cdnow_orders, fit, summary):
    daily = fit_clv(cdnow_orders, AS_OF, time_unit="day")
    assert daily.bgnbd.model.alpha == pytest.approx(7 * fit.bgnbd.model.alpha, rel=1e-3)
    daily_summary = purchase_summary(cdnow_orders, AS_OF, time_unit="day")
    horizon = dt.timedelta(days=273)
    np.testing.assert_allclose(
        daily.expected_orders(daily_summary, horizon),
        fit.expected_orders(summary, horizon),
        rtol=2e-3,
    )
    # The log-likelihood of times in days differs by the Jacobian: x * log(7) per customer.
    jacobian = float(summary.x.sum()) * math.log(7)
    assert daily.bgnbd.log_likelihood == pytest.approx(fit.bgnbd.log_likelihood - jacobian, abs=0.1)


def test_p_alive_is_one_without_repeat_purchases_and_falls_with_silence():
    model = BgNbd(**PUBLISHED_BGNBD)
    p = model.p_alive(np.array([0, 2, 2]), np.array([0.0, 30.0, 5.0]), np.array([38.86] * 3))
    assert p[0] == 1.0
    assert 0 < p[2] < p[1] < 1
