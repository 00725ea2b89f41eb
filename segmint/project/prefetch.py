"""Reading a run's sources side by side.

A run reads several sources (a CRM export, the orders, a survey, web events) and, read one
after the other, most of that time runs on one core: parsing a CSV or JSON Lines file is
Arrow's work in C++, which releases the GIL. `Prefetch` starts the reads a run will make,
planned before the first one (`PlannedRead`: a source, the columns asked of it), on a few
threads; the run then takes each read's result where it would have read the source, in
the same order as before. So what follows a read (key normalisation, the data report's
counts, the metrics) stays on the calling thread, in the same order, and a failing read is
the same error at the same point: the first source that fails in the run's order is the one
reported, whatever finished first. A read the plan did not foresee (other columns) is made
where it is asked, as before.

Only a source's own ``read`` (and reading its stream whole when the run would) runs on a
worker thread; a source is touched by one thread at a time: the run waits for a source's
planned read (`settle`) before asking it anything else (its schema, say). Reads that stream
(event aggregates over Parquet) are started, not read ahead, so memory stays bounded as
before. The number of threads is ``SEGMINT_READ_THREADS`` (``1`` reads one source at a time,
as before, with the lower peak memory of that), by default up to `MAX_WORKERS`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import attrs
import pyarrow as pa

from segmint.errors import ConfigError

#: The variable that sets how many sources are read at once.
THREADS_VAR = "SEGMINT_READ_THREADS"
#: At most this many reads at once by default: each holds its table until the run takes it.
MAX_WORKERS = 4
_LIMIT = 64


def read_workers() -> int:
    """How many sources are read at once: ``SEGMINT_READ_THREADS``, or the machine's cores
    up to `MAX_WORKERS`."""
    text = os.environ.get(THREADS_VAR, "").strip()
    if not text:
        return max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= _LIMIT:
        raise ConfigError(f"{THREADS_VAR} must be a whole number from 1 to {_LIMIT}, got '{text}'"
                          " (1 reads one source at a time)")
    return value


@attrs.frozen
class PlannedRead:
    """A read a run will make: source `name` asked for `columns` (None: all), and whether
    the run reads a stream it gives whole (`whole`) — then the worker reads it whole too."""

    name: str
    columns: tuple[str, ...] | None
    whole: bool
    read: Callable[[], Any] = attrs.field(eq=False, repr=False)

    @property
    def ask(self) -> tuple[str, tuple[str, ...] | None]:
        return (self.name, self.columns)


def _perform(planned: PlannedRead) -> Any:
    data = planned.read()
    if planned.whole and isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    return data


class Prefetch:
    """The planned reads of a run, under way on worker threads (`start`); `take` gives one's
    result where the run reads it. A context manager: leaving it drops the reads not taken
    (those not started are cancelled, those running are waited for, so no thread outlives
    the run)."""

    def __init__(self, futures: dict[tuple[str, tuple[str, ...] | None], Future[Any]],
                 pool: ThreadPoolExecutor | None) -> None:
        self._futures = futures
        self._pool = pool

    @classmethod
    def start(cls, reads: Iterable[PlannedRead], workers: int | None = None) -> Prefetch:
        """Start `reads` (the first one planned for each source; later ones are read where
        asked) on `workers` threads (`read_workers` when not given); with one thread, or
        fewer than two reads, nothing is started and every read is made where asked."""
        planned: dict[str, PlannedRead] = {}
        for read in reads:
            planned.setdefault(read.name, read)
        workers = read_workers() if workers is None else workers
        if workers < 2 or len(planned) < 2:
            return NO_PREFETCH
        pool = ThreadPoolExecutor(max_workers=min(workers, len(planned)),
                                  thread_name_prefix="segmint-read")
        return cls({read.ask: pool.submit(_perform, read) for read in planned.values()}, pool)

    def take(self, name: str, columns: Sequence[str] | None, read: Callable[[], Any]) -> Any:
        """What source `name` gives for `columns`: the planned read's result (its error
        raised here, as if read now) when one was planned with these columns, else `read()`."""
        ask = (name, None if columns is None else tuple(columns))
        future = self._futures.pop(ask, None)
        if future is None:
            self.settle([name])  # one thread at a time on a source
            return read()
        return future.result()

    def settle(self, names: Iterable[str]) -> None:
        """Wait until the planned reads of sources `names` are done (their results stay to
        be taken; an error is raised where they are taken), so the run may use the sources."""
        wanted = set(names)
        for (name, _), future in list(self._futures.items()):
            if name in wanted:
                future.exception()  # waits; the error, if any, is for `take`

    def close(self) -> None:
        """Drop what was not taken: cancel what has not started, wait for what runs."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._futures.clear()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Nothing read ahead: every read is made where the run asks for it.
NO_PREFETCH = Prefetch({}, None)
