"""The CLV API a command uses: fit diagnostics, predictions, validation, and clear refusals."""

from __future__ import annotations

import datetime as dt
import json
import sys

import attrs
import duckdb
import numpy as np
import pyarrow as pa
import pytest

from segmint.errors import SegmintError
from segmint.plugin.api import MetricContext
from segmint.plugins.metrics import (
    FIT_METADATA,
    BgNbd,
    FitError,
    GammaGamma,
    InsufficientDataError,
    MissingDependencyError,
    fit_clv,
    purchase_summary,
    validate_clv,
)
from segmint.plugins.metrics.definitions import compute_clv

pytest.importorskip("scipy")

AS_OF = dt.date(1997, 9, 30)


@pytest.fixture(scope="module")
def fit(cdnow_orders):
    return fit_clv(cdnow_orders, AS_OF)


def test_json_diagnostics_have_the_documented_shape(fit):
    data = json.loads(json.dumps(fit.to_dict()))
    assert set(data) == {"bgnbd", "gamma_gamma", "customers", "repeat_customers", "time_unit",
                         "notes"}
    assert data["notes"] == []
    assert set(data["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(data["gamma_gamma"]) == {"p", "q", "v"}
    assert (data["customers"], data["repeat_customers"], data["time_unit"]) == (2357, 946, "week")


def test_text_diagnostics(fit):
    text = fit.format()
    assert text.splitlines()[0] == (
        "CLV models as of 1997-09-30, time unit week, 2357 customers (946 repeat)"
    )
    assert "r=0.2426 alpha=4.414 a=0.7929 b=2.426  log-likelihood -9582.4" in text
    assert "p=6.25 q=3.744 v=15.44" in text
    assert fit.bgnbd.converged and fit.gamma_gamma.converged


def test_clv_grows_with_horizon_and_falls_with_discounting(cdnow_orders, fit):
    summary = purchase_summary(cdnow_orders, AS_OF)
    year = fit.clv(summary, dt.timedelta(days=360))
    two_years = fit.clv(summary, dt.timedelta(days=720))
    undiscounted = fit.clv(summary, dt.timedelta(days=360), discount_rate=0.0)
    assert (two_years > year).all() and (undiscounted > year).all()
    expected = fit.expected_orders(summary, dt.timedelta(days=360)) * fit.expected_spend(summary)
    np.testing.assert_allclose(undiscounted, expected, rtol=1e-9)
    np.testing.assert_allclose(
        fit.clv(summary, dt.timedelta(days=360), margin_rate=0.3), 0.3 * year, rtol=1e-12
    )


def test_clv_metric_columns_and_fit_metadata(cdnow_orders):
    ctx = MetricContext(
        events={"orders": cdnow_orders}, key="customer_id",
        as_of=dt.datetime(1997, 9, 30, 23, 59, tzinfo=dt.UTC), as_of_date=AS_OF,
        columns=frozenset({"clv_12mo", "p_alive", "expected_orders_39w"}),
        options={"margin_rate": 0.5},
    )
    table = compute_clv(ctx)
    assert table.column_names == ["customer_id", "p_alive", "clv_12mo", "expected_orders_39w"]
    assert table.num_rows == 2357
    # 39 weeks ahead for the published example customer (id 1: x=2, t_x=30.43, T=38.86).
    assert round(table["expected_orders_39w"][0].as_py(), 2) == 1.23
    diagnostics = json.loads(table.schema.metadata[FIT_METADATA])
    assert diagnostics["repeat_customers"] == 946


def test_horizons_option_picks_the_columns_of_a_full_computation(cdnow_orders):
    ctx = MetricContext(
        events={"orders": cdnow_orders}, key="customer_id",
        as_of=dt.datetime(1997, 9, 30, tzinfo=dt.UTC), options={"horizons": ["90d"]},
    )
    assert compute_clv(ctx).column_names == [
        "customer_id", "p_alive", "expected_orders_90d", "clv_90d"
    ]


def test_validation_compares_holdout_purchases(cdnow_orders):
    report = validate_clv(cdnow_orders, AS_OF, dt.date(1998, 6, 30))
    assert report.customers == 2357
    assert report.holdout_length == pytest.approx(273 / 7)
    con = duckdb.connect()
    con.register("orders", cdnow_orders)
    actual = con.execute(
        "SELECT count(DISTINCT (customer_id, timestamp)) FROM orders"
        " WHERE timestamp > DATE '1997-09-30' AND timestamp <= DATE '1998-06-30'"
    ).fetchone()[0]
    assert report.actual_total == actual
    assert sum(r.customers for r in report.rows) == report.customers
    assert [r.repeat_purchases for r in report.rows] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    # The model tracks the holdout: within 15 % in total, ordered like the data by bucket.
    assert report.predicted_total == pytest.approx(report.actual_total, rel=0.15)
    predicted = [r.predicted for r in report.rows]
    assert predicted == sorted(predicted)
    assert report.table().column_names == ["repeat_purchases", "customers", "predicted", "actual"]
    assert json.loads(json.dumps(report.to_dict()))["calibration_end"] == "1997-09-30"
    assert "purchases in holdout: predicted" in report.format()


def test_validation_needs_the_calibration_before_the_holdout(cdnow_orders):
    with pytest.raises(SegmintError, match="must be before the holdout end"):
        validate_clv(cdnow_orders, dt.date(1998, 6, 30), dt.date(1998, 1, 1))


def few_customers() -> pa.Table:
    return pa.table({
        "customer_id": [1, 1, 2, 3],
        "timestamp": pa.array([dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 1, 5),
                               dt.date(2024, 1, 9)]),
        "amount": [10.0, 12.0, 5.0, 7.0],
    })


def test_too_little_history_says_what_is_missing():
    with pytest.raises(InsufficientDataError) as info:
        fit_clv(few_customers(), dt.date(2024, 6, 1))
    assert str(info.value) == (
        "predictive CLV needs at least 20 repeat customers (customers who bought on two or"
        " more days) as of 2024-06-01; the orders have 3 customers, 1 of them repeat"
        " customers. Use a longer order history: a fit needs at least 5 customers who came"
        " back, whatever min_repeat_customers says."
    )


def optimizer_result(success: bool, message: str, log_params: float, gradient: float):
    """What scipy's minimize returns, for as many parameters as it is asked about."""
    def minimize(objective, x0, **kwargs):
        return type("Result", (), {
            "success": success, "nit": 2000 if not success else 12, "message": message,
            "x": np.full(len(x0), log_params), "jac": np.full(len(x0), gradient)})()
    return minimize


@pytest.mark.parametrize(("minimize", "message"), [
    (optimizer_result(False, "ABNORMAL_TERMINATION_IN_LNSRCH", 0.0, 1e-3),
     "BG/NBD fit did not converge after 2000 iterations (ABNORMAL_TERMINATION_IN_LNSRCH)"),
    (optimizer_result(True, "", 20.0, 0.0),
     "BG/NBD (without dropout, which it tends to) fit ran parameter r, alpha off to an extreme"
     " (r=4.85e+08, alpha=4.85e+08): a penalizer keeps it finite"),
    (optimizer_result(False, "ABNORMAL", 20.0, 5e-6),
     "BG/NBD (without dropout, which it tends to) fit ran parameter r, alpha off to an extreme"),
], ids=["unconverged", "run-away", "gave-up-at-the-edge"])
def test_a_failed_fit_is_an_error_not_a_number(cdnow_orders, monkeypatch, minimize, message):
    import scipy.optimize

    monkeypatch.setattr(scipy.optimize, "minimize", minimize)
    with pytest.raises(FitError) as info:
        fit_clv(cdnow_orders, AS_OF)
    assert str(info.value).startswith(message)


def test_missing_scipy_is_a_clear_error(cdnow_orders, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'segmint\[clv\]'"):
        fit_clv(cdnow_orders, AS_OF)


def test_penalizer_shrinks_parameters(cdnow_orders, fit):
    penalized = fit_clv(cdnow_orders, AS_OF, penalizer=0.1)
    assert penalized.penalizer == 0.1
    model, free = penalized.bgnbd.model, fit.bgnbd.model
    assert penalized.bgnbd.log_likelihood < fit.bgnbd.log_likelihood
    assert model.b < free.b


@pytest.mark.parametrize(("model", "data"), [
    (BgNbd(0.24, 4.4, 0.79, 2.4), ([0.0, 2, 5], [0.0, 3, 20], [30.0, 30, 38])),
    (BgNbd(2.0, 0.5, 3.0, 0.7), ([1.0, 7, 40], [0.5, 9, 38], [1.0, 10, 39])),
    (GammaGamma(6.0, 3.7, 1.5), ([1.0, 2, 5], [10.0, 3, 20])),
    (GammaGamma(0.5, 12.0, 90.0), ([1.0, 30], [0.5, 200])),
], ids=["bgnbd-cdnow", "bgnbd-odd", "gamma-gamma-cdnow", "gamma-gamma-odd"])
def test_gradients_match_finite_differences(model, data):
    data = [np.array(d) for d in data]
    analytic = model.gradient(*data)
    for i, field in enumerate(attrs.fields(type(model))):
        value = getattr(model, field.name)
        step = 1e-6 * value
        up = attrs.evolve(model, **{field.name: value + step}).log_likelihood(*data)
        down = attrs.evolve(model, **{field.name: value - step}).log_likelihood(*data)
        np.testing.assert_allclose(analytic[i], (up - down) / (2 * step), rtol=1e-5, atol=1e-8)


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, seed: int = 0):
    """x, t_x, T of customers drawn from the BG/NBD story (first purchase at time 0)."""
    rng = np.random.default_rng(seed)
    rate, dropout = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    T = rng.uniform(27, 39, n)
    t, x, t_x = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        t = t + rng.exponential(1 / np.maximum(rate, 1e-12))
        bought = alive & (t <= T)
        x[bought] += 1
        t_x[bought] = t[bought]
        alive = bought & (rng.random(n) >= dropout)
    return x, t_x, T


def test_fit_recovers_simulated_parameters():
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 3.0}
    model, _ = BgNbd.fit(*simulate_bgnbd(20_000, **truth))
    for name, value in truth.items():
        assert getattr(model, name) == pytest.approx(value, rel=0.25), name


def identical_spenders(rng: np.random.Generator):
    x = rng.integers(1, 8, 500).astype(float)
    return x, np.array([rng.gamma(2.0, 40.0, int(k)).mean() for k in x])


def test_spend_without_heterogeneity_is_a_fit_error_whose_advice_works():
    """Without heterogeneity the likelihood has no maximum; the advice given then works."""
    values = identical_spenders(np.random.default_rng(5))
    with pytest.raises(FitError, match="Gamma-Gamma fit leaves parameter") as info:
        GammaGamma.fit(*values)
    assert "(option penalizer, e.g. 0.01)" in str(info.value)
    fitted, _ = GammaGamma.fit(*values, penalizer=0.01)
    assert all(np.isfinite(v) for v in attrs.astuple(fitted))
