"""What a metric needs of a project before any data is read: the columns it provides under
the ``[metrics]`` options, the sources it reads (``requires`` and the ones its options
name, `Metric.requires_for`), and the columns of those sources it reads, each checked so
that `segmint validate` finds a misspelt option, not the run."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from segmint.errors import ConfigError
from segmint.plugin.api import Metric, MetricColumn
from segmint.plugin.host import calling_plugin
from segmint.project.config import Project
from segmint.semantics.names import did_you_mean


def metric_columns(metric: Metric, project: Project) -> tuple[MetricColumn, ...]:
    """The columns a metric provides under the project's ``[metrics]`` options."""
    if metric.columns_for is None:
        return metric.columns
    with calling_plugin(f"metric '{metric.name}' failed to declare its columns"):
        return tuple(metric.columns_for(project.metrics))


def named_sources(metric: Metric, project: Project) -> dict[str, str]:
    """The sources the metric reads besides ``requires`` under the ``[metrics]`` options,
    as ``{source: option}`` (`Metric.requires_for`), none of ``requires`` among them."""
    if metric.requires_for is None:
        return {}
    with calling_plugin(f"metric '{metric.name}' failed to name the sources it reads"):
        named = dict(metric.requires_for(project.metrics))
    return {source: option for option, source in named.items() if source not in metric.requires}


def metric_sources(metric: Metric, project: Project) -> tuple[str, ...]:
    """Every source the metric reads: ``requires``, then those its options name."""
    return (*metric.requires, *named_sources(metric, project))


def check_metric_sources(metric: Metric, project: Project, sources: Mapping[str, object]) -> None:
    """Every source the metric's options name is one of the project's `sources`."""
    for source, option in named_sources(metric, project).items():
        if source not in sources:
            known = sorted(sources)
            raise ConfigError(
                f"the {metric.name} metric reads source '{source}' (option {option}), which the"
                f" project does not have{did_you_mean(source, known)} (sources:"
                f" {', '.join(known) or 'none'})", file=project.label, key=f"metrics.{option}")


def check_metric_columns(metric: Metric, project: Project, schemas: Mapping[str, pa.Schema]) -> None:
    """Every column a metric the rules use reads under the ``[metrics]`` options exists in
    its source (a misspelt ``amount_column = "totl"`` is found by `segmint validate`, not
    at run time)."""
    if metric.reads_for is None:
        return
    for source_name, wanted in metric.reads_for(project.metrics).items():
        if source_name not in schemas:
            continue
        names = schemas[source_name].names
        for option, column in wanted.items():
            if column not in names:
                raise ConfigError(
                    f"the {metric.name} metric reads column '{column}' of source '{source_name}',"
                    f" which has no such column{did_you_mean(column, names)} (columns: "
                    f"{', '.join(names[:20])}{', ...' if len(names) > 20 else ''})",
                    file=project.label, key=f"metrics.{option}")
