"""The arrow engine: rules evaluated in process with `pyarrow.compute`, event aggregates
over record batches. segmint's reference engine, and the default."""

from __future__ import annotations

from segmint.engines.arrow.evaluator import Evaluation, evaluate_checked
from segmint.engines.base import Engine, EventInput, Job, Scan


class ArrowEngine(Engine):
    name = "arrow"
    description = "in process, with pyarrow.compute (the default)"

    def evaluate(self, job: Job) -> Evaluation:
        events = {name: _arrow_data(source) for name, source in job.events.items()}
        return evaluate_checked(job.checked, job.profiles, key=job.key, as_of=job.as_of,
                                holdout_salt=job.holdout_salt, events=events)


def _arrow_data(source: EventInput) -> object:
    """An event source's Arrow data; a scan is read through the reader it carries."""
    return source.data.arrow() if isinstance(source.data, Scan) else source.data
