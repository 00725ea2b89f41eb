"""The ``ga4`` source: Google Analytics 4 events as BigQuery exports them (``events_*``
tables), from JSON Lines or Parquet.

Each row has ``event_name``, ``event_timestamp`` (microseconds since the epoch, UTC; JSON
exports write it as text), ``user_id`` and ``user_pseudo_id``, and nested records:
``event_params`` (a list of ``{key, value: {string_value, int_value, float_value,
double_value}}``) becomes one column per key, ``user_properties`` the same with ``user_`` in
front, and ``device``, ``geo``, ``traffic_source`` become ``device_category``,
``geo_country``... A ``user_pseudo_id`` seen with a ``user_id`` gets that user's key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from segmint.plugins.sources.web.columnar import Block, Fallback, parse
from segmint.plugins.sources.web.events import Calls, EventFileSource, Scan, column_name, flatten, identifier
from segmint.plugins.sources.web.ga4_columns import RECORDS as _RECORDS, SKIPPED as _SKIPPED, ga4_calls

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Rows of a Parquet export read at once.
BATCH_ROWS = 65_536


@attrs.frozen
class Ga4Options:
    """Options of the ``ga4`` source."""

    path: Path = attrs.field(metadata={"help": "a JSON Lines or Parquet export of GA4 events"})
    format: Literal["jsonl", "parquet"] | None = attrs.field(
        default=None, metadata={"help": "jsonl or parquet; by default from the extension"})
    anonymous: Literal["drop", "keep"] = attrs.field(
        default="drop", metadata={"help": "events of visitors never identified: drop, or keep keyed by user_pseudo_id"})


class Ga4Source(EventFileSource):
    """Web and app events from a GA4 BigQuery export."""

    name = "ga4"
    description = "GA4 BigQuery-export events (JSON Lines or Parquet)"
    Options = Ga4Options

    at_type = pa.int64()  # microseconds since 1970, as the export writes them

    def _parquet(self) -> bool:
        return self.options.format == "parquet" or (
            self.options.format is None and self.path.suffix.lower() == ".parquet")

    def _parquet_file(self) -> pq.ParquetFile:
        self._check_file()
        try:
            return pq.ParquetFile(self.path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a bad file
            raise self.error(f"not a Parquet file (or a damaged one): {exc}") from None

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        if not self._parquet():
            yield from self.json_lines()
            return
        number = 0
        for batch in self._parquet_file().iter_batches(batch_size=10_000):
            for row in batch.to_pylist():
                number += 1
                yield number, row

    def blocks(self) -> Iterator[tuple[Block | None, pa.Table | None]]:
        if not self._parquet():
            yield from super().blocks()
            return
        first = 1
        for batch in self._parquet_file().iter_batches(batch_size=BATCH_ROWS):
            yield None, pa.Table.from_batches([batch]).append_column(
                "__row", pa.array(np.arange(first, first + batch.num_rows)))
            first += batch.num_rows

    def fast_calls(self, block: Block | None, table: pa.Table | None, links_only: bool) -> Calls:
        fixed = (self.context.key, "timestamp", "name", "user_pseudo_id")
        if block is not None:
            parsed = parse(block)
            return ga4_calls(parsed, _checked_lines(block, parsed.num_rows), links_only=links_only,
                             fixed=fixed)
        assert table is not None
        rows = table["__row"].to_numpy()
        return ga4_calls(table.drop_columns(["__row"]), lambda: rows, links_only=links_only, fixed=fixed)

    def table_records(self, table: pa.Table | None) -> Iterator[tuple[int, dict[str, Any]]]:
        assert table is not None
        for row in table.to_pylist():
            yield row.pop("__row"), row

    def scan(self, records: Iterable[tuple[int, dict[str, Any]]], limit: int | None = None) -> Scan:
        found: list[tuple[int, dict[str, Any], str | None, str | None]] = []
        links: list[tuple[str, str, Any]] = []
        for number, row in records:
            try:
                micros = int(row.get("event_timestamp"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                self.bad_row(self.error(f"event_timestamp must be microseconds since 1970, got "
                                        f"{row.get('event_timestamp')!r}", row=number, column="event_timestamp"))
                continue
            name = row.get("event_name")
            if not name:
                self.bad_row(self.error("no event_name", row=number, column="event_name"))
                continue
            user, pseudo = identifier(row.get("user_id")), identifier(row.get("user_pseudo_id"))
            if user is not None and pseudo is not None:
                links.append((pseudo, user, micros))
            event: dict[str, Any] = {
                "timestamp": _EPOCH + dt.timedelta(microseconds=micros), "name": str(name),
                "user_pseudo_id": pseudo,
            }
            for k, v in _params(row.get("event_params")).items():
                event.setdefault(column_name(k), v)
            for k, v in _params(row.get("user_properties")).items():
                event.setdefault(column_name("user", k), v)
            flat: dict[str, Any] = {}
            for record in _RECORDS:
                if isinstance(row.get(record), dict):
                    flatten(row[record], record, flat)
            for k, v in row.items():
                if k not in _SKIPPED and not isinstance(v, (dict, list)):
                    flat.setdefault(column_name(k), v)
            for k, v in flat.items():
                event.setdefault(k, v)
            found.append((number, event, user, pseudo))
            if limit is not None and len(found) >= limit:
                break
        return found, links, []


def _checked_lines(block: Block, rows: int) -> Callable[[], np.ndarray]:
    def lines() -> np.ndarray:
        numbers = block.row_lines()
        if len(numbers) != rows:
            raise Fallback
        return numbers
    return lines


def _params(params: Any) -> dict[str, Any]:
    """``[{key, value: {string_value, int_value, ...}}]`` as ``{key: the value set}``."""
    out: dict[str, Any] = {}
    for param in params or ():
        if not isinstance(param, dict) or not param.get("key"):
            continue
        value = param.get("value") or {}
        if value.get("string_value") is not None:
            out[param["key"]] = value["string_value"]
        elif value.get("int_value") is not None:
            out[param["key"]] = _number(value["int_value"], int)  # JSON exports write INT64 as text
        elif value.get("double_value") is not None or value.get("float_value") is not None:
            raw = value.get("double_value")
            out[param["key"]] = _number(raw if raw is not None else value["float_value"], float)
        else:
            out[param["key"]] = None
    return out


def _number(value: Any, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        return value
