"""The duckdb engine: the rule set compiled to one SQL query, run in an in-process DuckDB."""

from __future__ import annotations

from pathlib import Path

import attrs

from segmint.engines.base import Engine, EngineResult, Job, MetricsWhere, metrics_option
from segmint.engines.duckdb.connection import Settings, default_memory, parse_size
from segmint.plugin.api import SQL


def _size(instance: object, attribute: attrs.Attribute, value: str | None) -> None:
    if value is not None:
        try:
            parse_size(value, key=None)
        except Exception as error:  # parse_size says what is wrong; the option is named by the caller
            raise ValueError(error.args[0]) from None


def _positive(instance: object, attribute: attrs.Attribute, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"threads must be 1 or more, got {value}")


@attrs.frozen
class DuckDBOptions:
    """The ``[engine]`` options of the duckdb engine."""

    memory_limit: str | None = attrs.field(default=None, validator=_size, metadata={
        "help": 'how much memory DuckDB may use, like "4GB" (default: half of the machine\'s)'})
    threads: int | None = attrs.field(default=None, validator=_positive, metadata={
        "help": "threads DuckDB runs on (default: one per core)"})
    temp_directory: str | None = attrs.field(default=None, metadata={
        "help": "where DuckDB spills what does not fit in memory (default: duckdb/ in the state directory)"})
    metrics: MetricsWhere = metrics_option(
        "python", "measured faster on one 2-core machine, docs/performance.md")


class DuckDBEngine(Engine):
    name = "duckdb"
    description = "in process, in DuckDB: data larger than memory, files read by DuckDB itself"
    family = SQL  # a plugin function's SQL builder serves it; its regexes are RE2's
    Options = DuckDBOptions
    reads_files = frozenset({"parquet"})  # scanned by DuckDB, with projection and filter pushdown

    @property
    def computes_metrics(self) -> bool:  # a metric's SQL builder over the orders DuckDB scans
        return self.options.metrics == "engine"

    def settings(self) -> Settings:
        options: DuckDBOptions = self.options
        spill = options.temp_directory
        if spill is None and self.state_dir is not None:
            spill = str(self.state_dir / "duckdb")
        return Settings(
            memory_limit=parse_size(options.memory_limit) if options.memory_limit else default_memory(),
            threads=options.threads,
            temp_directory=None if spill is None else Path(spill),
        )

    def evaluate(self, job: Job) -> EngineResult:
        from segmint.engines.duckdb.runner import evaluate  # duckdb is imported when it runs

        membership, counts, metrics = evaluate(
            job.checked, job.profiles, key=job.key, as_of=job.as_of,
            events={name: e.data for name, e in job.events.items()}, holdout_salt=job.holdout_salt,
            settings=self.settings(), count_keys=job.count_keys, keys_checked=job.keys_checked,
            metrics=job.metrics)
        return EngineResult(membership, key_counts=counts, metrics=metrics)
