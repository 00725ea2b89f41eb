"""segmint's built-in metrics plugin: customer value measures from an order history.

Registered through the ``segmint`` entry-point group as ``metrics``. It provides four
metrics (see `definitions` and docs/metrics.md):

- ``purchase``: recency, frequency, monetary, aov, first_order_at, last_order_at, tenure,
  orders_per_month, days_between_orders, churned, clv_historical;
- ``rfm``: rfm_r, rfm_f, rfm_m, rfm_score, rfm_segment;
- ``clv``: p_alive, expected_orders_<horizon>, clv_<horizon> (needs ``segmint[clv]``);
- ``acquisition``: acquisition_cost, clv_to_cac (needs a ``spend`` event source).

For commands and notebooks it also exports the CLV API: `fit_clv` (-> `ClvFit`, with
``format()`` and ``to_dict()`` for ``segmint clv fit [--json]``), `validate_clv`
(-> `CalibrationReport` for ``segmint clv validate``) and `purchase_summary`.
"""

from __future__ import annotations

from segmint.plugin.hookspecs import hookimpl
from segmint.plugin.api import Metric

from segmint.plugins.metrics.asof import AsOf
from segmint.plugins.metrics.bgnbd import BgNbd
from segmint.plugins.metrics.clv import ClvFit, ModelFit, fit_clv, purchase_summary
from segmint.plugins.metrics.definitions import FIT_METADATA, METRICS
from segmint.plugins.metrics.errors import (
    ClvError,
    ClvWarning,
    FitError,
    InsufficientDataError,
    MissingDependencyError,
)
from segmint.plugins.metrics.gamma_gamma import GammaGamma
from segmint.plugins.metrics.options import DEFAULT_HORIZONS, MetricOptions
from segmint.plugins.metrics.summary import PurchaseSummary
from segmint.plugins.metrics.validation import CalibrationReport, CalibrationRow, validate_clv

__all__ = [
    "DEFAULT_HORIZONS",
    "FIT_METADATA",
    "METRICS",
    "AsOf",
    "BgNbd",
    "CalibrationReport",
    "CalibrationRow",
    "ClvError",
    "ClvFit",
    "ClvWarning",
    "FitError",
    "GammaGamma",
    "InsufficientDataError",
    "MetricOptions",
    "MissingDependencyError",
    "ModelFit",
    "PurchaseSummary",
    "fit_clv",
    "purchase_summary",
    "register_metrics",
    "validate_clv",
]


@hookimpl
def register_metrics() -> list[Metric]:
    """The built-in metrics."""
    return list(METRICS)
