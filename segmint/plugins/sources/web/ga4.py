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
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import pyarrow.parquet as pq

from segmint.plugins.sources.web.events import EventFileSource, column_name, flatten, identifier, link

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_RECORDS = ("device", "geo", "traffic_source", "app_info", "ecommerce", "collected_traffic_source")
_SKIPPED = {"event_params", "user_properties", "event_timestamp", "event_name", "user_id",
            "user_pseudo_id", "items", *_RECORDS}


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

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        parquet = self.options.format == "parquet" or (
            self.options.format is None and self.path.suffix.lower() == ".parquet")
        if not parquet:
            yield from self.json_lines()
            return
        self._check_file()
        try:
            file = pq.ParquetFile(self.path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds for a bad file
            raise self.error(f"not a Parquet file (or a damaged one): {exc}") from None
        number = 0
        for batch in file.iter_batches(batch_size=10_000):
            for row in batch.to_pylist():
                number += 1
                yield number, row

    def events(self, limit: int | None = None) -> list[tuple[int, dict[str, Any]]]:
        users: dict[str, tuple[int, str]] = {}
        found: list[tuple[int, dict[str, Any], str | None, str | None]] = []
        for number, row in self.records():
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
            link(users, pseudo, user, micros)
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
        return self.keyed(found, users)


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
