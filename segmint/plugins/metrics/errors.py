"""Errors of the metrics plugin: predictive CLV that cannot be fitted or is not installed.

Bad options raise `ConfigError` and bad order data `DataError` (both from the engine);
these subclasses cover what only CLV fitting can go wrong with.
"""

from __future__ import annotations

from segmint.errors import SegmintError, SegmintWarning


class ClvError(SegmintError):
    """Predictive CLV could not be computed."""


class MissingDependencyError(ClvError):
    """scipy, which predictive CLV needs, is not installed."""


class InsufficientDataError(ClvError):
    """Too little purchase history to fit the CLV models; says what is missing."""


class FitError(ClvError):
    """A CLV model fit that did not converge, or converged to unusable parameters."""


class ClvWarning(SegmintWarning):
    """A fit that succeeded at a boundary of the model (no dropout): usable, but say so."""
