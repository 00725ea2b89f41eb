"""Options of the metrics plugin: defaults, conversions, and errors that name the option."""

from __future__ import annotations

import datetime as dt

import pytest

from segmint.errors import ConfigError
from segmint.plugins.metrics import MetricOptions
from segmint.semantics.durations import parse_duration


@pytest.mark.parametrize(("text", "days"), [
    ("365d", 365), ("2w", 14), ("12mo", 360), ("1y", 365), ("36h", 1.5),
])
def test_duration_literals(text, days):
    assert parse_duration(text) == dt.timedelta(days=days)


def test_defaults():
    options = MetricOptions.from_mapping(None)
    assert options == MetricOptions()
    assert (options.timestamp_column, options.amount_column, options.churn_window) == (
        "timestamp", "amount", dt.timedelta(days=365))
    assert (options.time_unit, options.unit_days, options.margin_rate) == ("week", 7, None)


def test_values_are_converted():
    options = MetricOptions.from_mapping(
        {"churn_window": "90d", "time_unit": "day", "horizons": ["90d", "1y"]}
    )
    assert options.churn_window == dt.timedelta(days=90)
    assert options.unit_days == 1
    assert options.horizons == ("90d", "1y")


@pytest.mark.parametrize(("mapping", "message"), [
    ({"churn_windw": "30d"}, "metrics.churn_windw: unknown option of plugin 'metrics';"
                             " did you mean 'churn_window'?"),
    ({"churn_window": "30 days"}, "metrics.churn_window: bad value '30 days':"
                                  " '30 days' is not a duration like 30d, 2w, 12mo or 1y"),
    ({"churn_window": "0d"}, "metrics.churn_window: bad value '0d': must be a positive"),
    ({"time_unit": "month"}, "metrics.time_unit: bad value 'month'"),
    ({"monetary": "median"}, "metrics.monetary: bad value 'median'"),
    ({"margin_rate": 1.5}, "metrics.margin_rate: bad value 1.5: must be between 0 and 1"),
    ({"margin_rate": "high"}, "metrics.margin_rate: bad value 'high'"),
    ({"amount_column": 3}, "metrics.amount_column: bad value 3"),
    ({"min_repeat_customers": 0}, "metrics.min_repeat_customers: bad value 0"),
    ({"penalizer": -1}, "metrics.penalizer: bad value -1"),
    ({"horizons": ["12mo", "2 years"]}, "metrics.horizons: bad value ['12mo', '2 years']:"
                                        " '2 years' is not a duration"),
    ({"as_of_granularity": "hour"}, "metrics.as_of_granularity: bad value 'hour'"),
])
def test_bad_options_name_the_option(mapping, message):
    with pytest.raises(ConfigError) as info:
        MetricOptions.from_mapping(mapping)
    assert str(info.value).startswith(message)
