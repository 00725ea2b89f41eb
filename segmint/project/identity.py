"""Identity: making the keys of several sources meet.

Every source may set, besides its plugin's options, the engine's key options
(`SourcePolicy`): normalise its keys (``key_normalize = "email"`` or ``"phone"``), map them
through an identity table (``identity = "ids.csv"``, ``identity_from``, ``identity_to``),
resolve duplicate keys (``on_duplicate_keys``, ``latest_by``) and skip bad rows
(``on_bad_rows``). `Keys` applies them to what a source read and counts what it did into the
run's `DataReport`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.errors import ConfigError, DataError
from segmint.phone import normalize_phone
from segmint.plugin.host import PluginRegistry, source_for_path
from segmint.plugin.options import build_options
from segmint.plugin.api import EVENTS, PROFILES, BadRow, PluginContext, Source
from segmint.project.data_report import DataReport, SourceReport


def _digits(instance: Any, attribute: attrs.Attribute, value: str | None) -> None:
    if value is not None and not value.lstrip("+").isdigit():
        raise ValueError(f"must be a country calling code such as \"49\" or \"+1\", got {value!r}",
                         attribute)


def _latest_by_given(instance: Any, attribute: attrs.Attribute, value: str | None) -> None:
    if instance is not None and instance.on_duplicate_keys == "latest" and not value:
        raise ValueError('on_duplicate_keys = "latest" needs latest_by = "<timestamp column>"',
                         attribute)


@attrs.frozen
class SourcePolicy:
    """The options every source takes, whatever its plugin: keys and bad rows."""

    key_normalize: Literal["email", "phone"] | None = attrs.field(
        default=None, metadata={"help": 'normalise keys: "email" (trim, lowercase) or "phone" (E.164)'})
    phone_country_code: str | None = attrs.field(
        default=None, validator=_digits,
        metadata={"help": "country calling code for phone numbers written without + or 00"})
    identity: Path | None = attrs.field(
        default=None, metadata={"help": "an identity table file mapping this source's keys to the key"})
    identity_from: str | None = attrs.field(
        default=None, metadata={"help": "the identity table's column holding this source's keys"})
    identity_to: str | None = attrs.field(
        default=None, metadata={"help": "its column holding the customer key (default: the key)"})
    identity_normalize: Literal["email", "phone"] | None = attrs.field(
        default=None, metadata={"help": "how to normalise the identity table's customer keys"})
    on_duplicate_keys: Literal["error", "latest"] = attrs.field(
        default="error", metadata={"help": '"error", or "latest": keep the row latest by latest_by'})
    latest_by: str | None = attrs.field(
        default=None, validator=_latest_by_given,
        metadata={"help": "the timestamp column that decides which duplicate is latest"})
    on_bad_rows: Literal["error", "skip"] = attrs.field(
        default="error", metadata={"help": '"error", or "skip": quarantine bad rows and go on'})

    def __attrs_post_init__(self) -> None:
        if self.identity is not None and not self.identity_from:
            raise ValueError("identity needs identity_from, the column holding this source's keys")


#: The option names `SourcePolicy` takes away from a source's table before its plugin's.
POLICY_OPTIONS = frozenset(f.alias for f in attrs.fields(SourcePolicy))
#: A column the run adds to a file source's rows while keys are applied: each row's line.
LINE_COLUMN = "__segmint_line"
DEFAULT_POLICY = SourcePolicy()


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A source table's options as (the engine's policy options, the plugin's options)."""
    policy = {k: v for k, v in options.items() if k in POLICY_OPTIONS}
    plugin = {k: v for k, v in options.items() if k not in POLICY_OPTIONS}
    return policy, plugin


def build_policy(options: Mapping[str, Any], source: type[Source], *, plugin: str, where: str,
                 role: str = PROFILES) -> SourcePolicy:
    """The checked policy of one source; ``on_bad_rows = "skip"`` only where the plugin can."""
    policy = build_options(SourcePolicy, options, plugin=plugin, where=where)
    if role != PROFILES and policy.on_duplicate_keys != "error":
        raise ConfigError("on_duplicate_keys applies to profile sources (an event source repeats"
                          " keys by nature); leave it out", file=where)
    if policy.on_bad_rows == "skip" and not source.skips_bad_rows:
        raise ConfigError(f"plugin '{plugin}' cannot skip bad rows; leave on_bad_rows out", file=where)
    return policy


def policy_of(source: Source) -> SourcePolicy:
    """The key policy the project gave `source` (the default for one built without it)."""
    policy = getattr(source, "policy", None)
    return DEFAULT_POLICY if policy is None else policy


# Normalisation.


def normalize(keys: pa.ChunkedArray | pa.Array, how: str | None, country_code: str | None = None) -> pa.ChunkedArray:
    """Keys as text, normalised; a key that is empty (or not a phone number) becomes null."""
    if pa.types.is_dictionary(keys.type):
        keys = keys.cast(keys.type.value_type)
    keys = keys.cast(pa.string()) if keys.type != pa.string() else keys
    if how == "email":
        keys = pc.utf8_lower(pc.utf8_trim_whitespace(keys))
    elif how == "phone":
        keys = normalize_phone(keys, country_code)
    else:
        return keys
    return pc.if_else(pc.equal(keys, ""), pa.scalar(None, pa.string()), keys)


# Applying a policy to what a source read.


class Keys:
    """Applies each source's key policy to its data, counting into a `DataReport`."""

    def __init__(self, key: str, registry: PluginRegistry, context: PluginContext, report: DataReport) -> None:
        self.key = key
        self.registry = registry
        self.context = context
        self.report = report
        self._identity: dict[tuple[Path, str, str, str | None], pa.Table] = {}
        # each source's keys: its key column, or the distinct keys of each batch streamed
        self._keys: dict[str, list[pa.Array | pa.ChunkedArray]] = {}
        self._distinct: set[str] = set()  # sources whose _keys are one array of distinct keys
        # sources an engine reads itself (a `Scan`), with their key type: their keys come
        # into Arrow only if the engine does not count them (`count_unmatched`)
        self._scanned: dict[str, pa.DataType] = {}
        # event tables read whole (by name), or some columns of them (by name and columns),
        # read once per run
        self.events: dict[Any, pa.Table] = {}
        self._taken: dict[str, int] = {}  # how many of each source's skipped rows are reported
        self._counted: set[str] = set()  # event sources already read (and counted) once

    def extra_columns(self, source: Source) -> list[str]:
        """Columns the policy needs besides those the rules use (``latest_by``)."""
        policy = policy_of(source)
        return [policy.latest_by] if policy.on_duplicate_keys == "latest" and policy.latest_by else []

    def first_read(self, name: str) -> bool:
        """Whether this is the run's first read of a source (later reads are not counted again)."""
        first = name not in self._counted
        self._counted.add(name)
        return first

    def covering(self, name: str, source: Source, columns: list[str]) -> pa.Table | None:
        """A table of source `name` this run already read whole (`events`) that holds
        `columns`, when reading those columns again could give no other rows: the source
        has skipped no bad rows (a read of fewer columns might skip fewer); else None."""
        if getattr(source, "skipped_rows", None):
            return None
        for cached, table in self.events.items():
            if (cached == name or (isinstance(cached, tuple) and cached[0] == name)) and all(
                    c in table.column_names for c in columns):
                return table
        return None

    def apply_stream(self, name: str, source: Source, reader: pa.RecordBatchReader, *,
                     count: bool = True) -> pa.RecordBatchReader:
        """`apply` to each batch of an event stream, as it is read."""
        schema = self.apply(name, source, reader.schema.empty_table(), profiles=False, count=False).schema

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                table = self.apply(name, source, pa.Table.from_batches([batch]), profiles=False,
                                   accumulate=True, count=count)
                yield from table.cast(schema).to_batches()

        return pa.RecordBatchReader.from_batches(schema, batches())

    def apply(self, name: str, source: Source, table: pa.Table, *, profiles: bool,
              accumulate: bool = False, count: bool = True) -> pa.Table:
        """The table with normalised, mapped keys; duplicates resolved for profiles. What it
        finds is counted into the report unless `count` is false (a source read again)."""
        policy = policy_of(source)
        role = "profiles" if profiles else EVENTS
        report = self.report.source(name, role) if count else SourceReport(name, role)
        report.rows += table.num_rows
        skipped = getattr(source, "skipped_rows", [])
        report.bad_rows.extend(skipped[self._taken.get(name, 0):])
        self._taken[name] = len(skipped)
        if self.key not in table.column_names:
            return table  # the caller reports the missing key column
        keys = table.column(self.key)
        if policy.key_normalize or policy.identity is not None or pa.types.is_dictionary(keys.type):
            keys = normalize(keys, policy.key_normalize, policy.phone_country_code)
            table = table.set_column(table.column_names.index(self.key), self.key, keys)
        if policy.identity is not None:
            table = self._map(name, source, policy, table, report)
        if policy.on_bad_rows == "skip":
            table = self._drop_null_keys(name, source, table, report)
        if profiles and policy.on_duplicate_keys == "latest":
            table = self._latest(name, source, policy, table, report)
        keys = table.column(self.key)
        parts = self._keys.get(name, [])
        if accumulate:  # a streamed batch: its distinct keys now, as the batch is let go
            found = pc.drop_null(pc.unique(keys))
            if parts and parts[0].type == found.type:
                parts.append(found)  # merged once, when the keys are matched (not per batch)
            else:
                self._keys[name] = [found]
        else:  # a table kept by the run: its distinct keys only if they are matched
            self._keys[name] = [keys]
        self._distinct.discard(name)
        return table

    def take_scan(self, name: str, scan: Any, key_column: Callable[[], pa.ChunkedArray],
                  key_type: pa.DataType, *, count: bool = True) -> None:
        """Account for a source an engine reads itself (a `Scan`): its rows, from the
        files' metadata, and its keys (of `key_type`), read (the key column alone) only
        if matched and the engine does not count them itself."""
        report = self.report.source(name, EVENTS) if count else SourceReport(name, EVENTS)
        if scan.rows is not None:
            report.rows += scan.rows
        else:
            keys = key_column()
            report.rows += len(keys)
            key_column = lambda: keys  # noqa: E731 - read once
        self._keys[name] = [key_column]
        self._distinct.discard(name)
        self._scanned[name] = key_type

    @property
    def scanned(self) -> frozenset[str]:
        """The event sources an engine reads itself, whose `KeyCounts` it may count."""
        return frozenset(self._scanned)

    def checked(self, name: str) -> None:
        """Profile source `name`'s keys passed `check_keys` (none null, none twice): they
        are its distinct keys as they are, not hashed again when matched."""
        parts = self._keys.get(name, [])
        if name not in self._distinct and len(parts) == 1 and not callable(parts[0]):
            keys = parts[0]
            self._keys[name] = [keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys]
            self._distinct.add(name)

    def keyset(self, name: str) -> pa.Array:
        """The distinct keys source `name` read, found once when first asked for (a run
        with nothing to match them against, such as `segmint profile` of events alone,
        never pays for them)."""
        parts = self._keys[name]
        if name not in self._distinct:
            parts = [p() if callable(p) else p for p in parts]  # a scanned source's key column
            chunks = [c for p in parts for c in (p.chunks if isinstance(p, pa.ChunkedArray) else [p])]
            self._keys[name] = [pc.drop_null(pc.unique(pa.chunked_array(chunks, type=parts[0].type)))]
            self._distinct.add(name)
        return self._keys[name][0]

    def find_keysets(self, names: Iterable[str]) -> None:
        """Find the distinct keys of sources `names` now (`keyset`), so that a caller may
        do it on another thread while the engine evaluates: only for tables the run holds
        whole (a stream still adds its keys batch by batch as the engine reads it)."""
        for name in names:
            if name in self._keys:
                self.keyset(name)

    def _key_type(self, name: str) -> pa.DataType:
        """The type of source `name`'s keys, without reading a scanned source's."""
        part = self._keys[name][0]
        return self._scanned[name] if callable(part) else part.type

    @property
    def keysets(self) -> dict[str, pa.Array]:
        """The distinct keys each source read, for matching sources' keys."""
        return {name: self.keyset(name) for name in self._keys}

    def _map(self, name: str, source: Source, policy: SourcePolicy, table: pa.Table,
             report: SourceReport) -> pa.Table:
        mapping = self._identity_table(name, policy)
        keys = table.column(self.key)
        position = pc.index_in(keys, value_set=mapping.column(0))
        found = pc.is_valid(position)
        report.unmapped += len(keys) - (pc.sum(found).as_py() or 0)
        table = table.filter(found)
        mapped = mapping.column(1).take(position.filter(found))
        return table.set_column(table.column_names.index(self.key), self.key, mapped)

    def _identity_table(self, name: str, policy: SourcePolicy) -> pa.Table:
        """The identity table as (normalised source key, customer key), first entry winning."""
        assert policy.identity is not None and policy.identity_from is not None
        to = policy.identity_to or self.key
        path = policy.identity if policy.identity.is_absolute() else self.context.project_dir / policy.identity
        cache = (path, policy.identity_from, to, policy.key_normalize)
        if cache in self._identity:
            return self._identity[cache]
        where = f"identity table of source '{name}'"
        try:
            cls = source_for_path(self.registry, path)
        except ConfigError as error:
            raise ConfigError(error.message, key=where) from None
        options = build_options(cls.Options, {"path": str(path)}, plugin=cls.name, where=where)
        reader = cls(f"{name} identity", options, attrs.evolve(self.context, key=policy.identity_from))
        data = reader.read([to] if to != policy.identity_from else [])
        table = data.read_all() if isinstance(data, pa.RecordBatchReader) else data
        if to not in table.column_names:
            raise DataError(f"no column '{to}' (columns: {', '.join(table.column_names)})",
                            source=name, file=str(policy.identity))
        source_keys = normalize(table.column(policy.identity_from), policy.key_normalize, policy.phone_country_code)
        customer_keys = normalize(table.column(to), policy.identity_normalize, policy.phone_country_code)
        pairs = pa.table({"from": source_keys, "to": customer_keys}).filter(
            pc.and_(pc.is_valid(source_keys), pc.is_valid(customer_keys)))
        first = pairs.append_column("i", pa.array(range(pairs.num_rows), pa.int64()))
        first = first.group_by("from", use_threads=False).aggregate([("i", "min")])
        pairs = pairs.take(first.column("i_min").combine_chunks())
        result = pa.table({"from": pairs.column("from").combine_chunks(),
                           "to": pairs.column("to").combine_chunks()})
        self._identity[cache] = result
        return result

    def _drop_null_keys(self, name: str, source: Source, table: pa.Table, report: SourceReport) -> pa.Table:
        keys = table.column(self.key)
        if not keys.null_count:
            return table
        missing = pc.is_null(keys)
        for row in table.filter(missing).slice(0, 10_000).to_pylist():
            line = row.pop(LINE_COLUMN, None)
            text = ",".join("" if v is None else str(v) for v in row.values())
            report.bad_rows.append(BadRow("the customer key is empty (or not a valid key)",
                                          column=self.key, text=text, line=line))
        return table.filter(pc.invert(missing))

    def _latest(self, name: str, source: Source, policy: SourcePolicy, table: pa.Table,
                report: SourceReport) -> pa.Table:
        """One row per key: the one latest by ``latest_by`` (the later row on a tie)."""
        column = policy.latest_by
        assert column is not None
        if column not in table.column_names:
            raise DataError(f"latest_by names '{column}', which the source does not have", source=name)
        keys = table.column(self.key)
        distinct = len(pc.drop_null(pc.unique(keys)))  # count_distinct's count, 3x faster
        if distinct == table.num_rows:
            return table
        report.duplicates += table.num_rows - distinct
        indexed = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
        ordered = indexed.sort_by([(column, "descending"), ("__row", "descending")])
        first = ordered.select([self.key, "__row"]).group_by(self.key, use_threads=False).aggregate(
            [("__row", "first")])
        rows = pc.sort_indices(first.column("__row_first"))
        return table.take(first.column("__row_first").take(rows))

    def count_unmatched(self, profile_sources: list[str], event_sources: list[str],
                        counted: Mapping[str, int] | None = None) -> None:
        """Keys of each profile source found in no other one, and event keys with no profile
        (`KeyCounts.unmatched`: distinct keys, nulls left out). `counted` holds that count
        of event sources an engine read itself and counted (`EngineResult.key_counts`):
        their keys are not read here. Event keys of another type than the profiles' are
        not matched (the count stays None), counted or not."""
        counted = counted or {}
        sets = {n: self.keyset(n) for n in profile_sources if n in self._keys}  # distinct, no nulls
        if not sets or len({a.type for a in sets.values()}) != 1:
            return
        everyone = next(iter(sets.values()))
        if len(sets) > 1:  # one hash of every profile key: per key, how many sources have it
            encoded = pc.dictionary_encode(pa.chunked_array(list(sets.values())).combine_chunks())
            codes = encoded.indices.to_numpy()
            holders = np.bincount(codes, minlength=len(encoded.dictionary))
            start = 0
            for name, keys in sets.items():
                alone = holders[codes[start:start + len(keys)]] == 1
                self.report.source(name, "profiles").unmatched = int(alone.sum())
                start += len(keys)
            everyone = encoded.dictionary
        matched = []
        for name in event_sources:
            if name not in self._keys or self._key_type(name) != everyone.type:
                continue
            if name in counted:
                self.report.source(name, EVENTS).unmatched = counted[name]
            else:
                matched.append(name)
        if not matched:
            return
        # the event keys of every source in one probe of one hash of the profile keys
        probes = [self.keyset(n) for n in matched]
        hits = pc.is_in(pa.chunked_array(probes, type=everyone.type), value_set=everyone)
        start = 0
        for name, keys in zip(matched, probes, strict=True):
            found = pc.sum(hits.slice(start, len(keys))).as_py() or 0
            self.report.source(name, EVENTS).unmatched = len(keys) - found
            start += len(keys)
