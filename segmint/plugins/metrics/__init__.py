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

from segmint.engine.hookspecs import hookimpl
from segmint.engine.plugin_api import Metric

from .asof import AsOf
from .bgnbd import BgNbd
from .clv import ClvFit, ModelFit, fit_clv, purchase_summary
from .definitions import FIT_METADATA, METRICS
from .errors import ClvError, FitError, InsufficientDataError, MissingDependencyError
from .gamma_gamma import GammaGamma
from .options import DEFAULT_HORIZONS, MetricOptions
from .summary import PurchaseSummary
from .validation import CalibrationReport, CalibrationRow, validate_clv

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
