"""The built-in ``survey`` source: Typeform and Qualtrics CSV response exports as profiles.

One row per respondent: the latest response wins (by the submission time). An NPS question
(0-10) gives ``nps`` and ``nps_category`` (detractor 0-6, passive 7-8, promoter 9-10);
multi-select questions become list<string> columns (Typeform exports one column per choice,
Qualtrics one cell of comma-separated choices); Likert answers become numbers through a
configurable scale. Qualtrics' second and third header rows (question texts, import ids)
are recognised and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from segmint.plugin.hookspecs import hookimpl
from segmint.plugin.api import PluginContext, Source

from segmint.plugins.sources.exports import ExportFile, drop_rows
from segmint.plugins.sources.file_common import check_encoding

NPS_CATEGORIES = (("detractor", 0, 6), ("passive", 7, 8), ("promoter", 9, 10))
#: The default Likert scale (agreement, 5 points); labels compare case-insensitively.
LIKERT_AGREEMENT = {
    "strongly disagree": 1.0, "disagree": 2.0, "neither agree nor disagree": 3.0,
    "neutral": 3.0, "agree": 4.0, "strongly agree": 5.0,
}
_DEFAULTS = {
    "typeform": {"respondent": "email", "submitted_at": "Submit Date (UTC)", "separator": ","},
    "qualtrics": {"respondent": "RecipientEmail", "submitted_at": "RecordedDate", "separator": ","},
}
_LEADING_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")


@attrs.frozen
class SurveyOptions:
    """Options of the ``survey`` source."""

    path: Path = attrs.field(metadata={"help": "the responses export (CSV)"})
    flavor: Literal["typeform", "qualtrics"] = attrs.field(
        default="typeform", metadata={"help": "whose export it is: typeform or qualtrics"})
    respondent: str | None = attrs.field(
        default=None, metadata={"help": "the column identifying the respondent (the customer key)"})
    submitted_at: str | None = attrs.field(
        default=None, metadata={"help": "the submission time column; the latest response wins"})
    nps: str | None = attrs.field(
        default=None, metadata={"help": "the 0-10 'how likely to recommend' question's column"})
    multi_select: dict[str, list[str]] = attrs.field(
        factory=dict, metadata={"help": "list column → its choice columns (or one column of joined choices)"})
    choice_separator: str | None = attrs.field(
        default=None, metadata={"help": 'what separates choices in one cell (default ",")'})
    likert: dict[str, str] = attrs.field(
        factory=dict, metadata={"help": "number column → the Likert question's column"})
    likert_scale: dict[str, float] = attrs.field(
        factory=dict, metadata={"help": "answer label → number (default: 5-point agreement)"})
    columns: dict[str, str] = attrs.field(
        factory=dict, metadata={"help": "profile column → export column, kept as text"})
    encoding: str = attrs.field(default="utf-8", validator=check_encoding,
                                metadata={"help": "the export's text encoding"})


class SurveySource(Source):
    """Survey answers as profile columns, one row per respondent."""

    name = "survey"
    description = "Typeform or Qualtrics response exports (CSV)"
    Options = SurveyOptions
    skips_bad_rows = True

    def __init__(self, source_name: str, options: Any, context: PluginContext) -> None:
        super().__init__(source_name, options, context)
        defaults = _DEFAULTS[options.flavor]
        self.respondent = options.respondent or defaults["respondent"]
        self.submitted_at = options.submitted_at or defaults["submitted_at"]
        self.separator = options.choice_separator or defaults["separator"]
        scale = options.likert_scale or LIKERT_AGREEMENT
        self.scale = {label.strip().lower(): float(value) for label, value in scale.items()}
        self.file = ExportFile(self, options.path, self.respondent, encoding=options.encoding)

    def schema(self) -> pa.Schema:
        header = self.file.header()
        fields = [(self.context.key, pa.string())]
        wanted = [c for c in (self.submitted_at, self.options.nps) if c]
        wanted += [c for cols in self.options.multi_select.values() for c in cols]
        wanted += list(self.options.likert.values()) + list(self.options.columns.values())
        missing = [c for c in wanted if c not in header]
        if missing:
            raise self.file.error(f"no column '{missing[0]}' (columns: {', '.join(header)})")
        fields.append(("submitted_at", pa.timestamp("us")))
        if self.options.nps:
            fields += [("nps", pa.int64()), ("nps_category", pa.string())]
        fields += [(name, pa.list_(pa.string())) for name in self.options.multi_select]
        fields += [(name, pa.float64()) for name in self.options.likert]
        fields += [(name, pa.string()) for name in self.options.columns]
        names = [n for n, _ in fields]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise self.file.error(f"two options name the profile column '{duplicate}'")
        return pa.schema(fields)

    def read(self, columns: list[str] | None = None) -> pa.Table:
        schema = self.schema()
        raw, numbers = self.file.read()
        raw, numbers = _skip_qualtrics_headers(raw, numbers)
        bad: set[int] = set()
        out: dict[str, Any] = {self.context.key: raw.column(self.respondent)}
        out["submitted_at"], cells = self._timestamps(raw, numbers)
        bad |= cells
        if self.options.nps:
            out["nps"], cells = self._nps(raw, numbers)
            bad |= cells
            out["nps_category"] = _nps_category(out["nps"])
        for name, sources in self.options.multi_select.items():
            out[name] = self._choices(raw, sources)
        for name, column in self.options.likert.items():
            out[name], cells = self._likert(raw, column, numbers)
            bad |= cells
        for name, column in self.options.columns.items():
            out[name] = raw.column(column)
        table = pa.table(out, schema=schema)
        table, numbers = drop_rows(table, numbers, bad)
        table = _latest_per_respondent(table, self.context.key)
        if columns is not None:
            table = table.select(list(dict.fromkeys([self.context.key, *columns])))
        return table

    def _bad(self, message: str, row: int, column: str) -> None:
        self.bad_row(self.file.error(message, line=int(row), column=column))

    def _timestamps(self, raw: pa.Table, numbers: list[int]) -> tuple[pa.Array, set[int]]:
        """Submission times: ``2025-02-01 10:02:41``, ISO ``2025-02-01T10:02:41.000Z`` or
        without seconds; a cell that is none of these is a bad row."""
        text = pc.utf8_trim_whitespace(raw.column(self.submitted_at).combine_chunks())
        text = pc.replace_substring(pc.replace_substring(text, "T", " "), "Z", "")
        seconds = pc.strptime(pc.utf8_slice_codeunits(text, 0, 19), format="%Y-%m-%d %H:%M:%S",
                              unit="us", error_is_null=True)
        minutes = pc.strptime(pc.utf8_slice_codeunits(text, 0, 16), format="%Y-%m-%d %H:%M",
                              unit="us", error_is_null=True)
        result = pc.coalesce(seconds, minutes)
        unreadable = pc.and_(pc.is_null(result), pc.invert(pc.fill_null(pc.equal(text, ""), True)))
        bad = set(pc.indices_nonzero(unreadable).to_pylist())
        for i in sorted(bad):
            value = raw.column(self.submitted_at)[i].as_py()
            self._bad(f"cannot read '{value}' as a date and time", numbers[i], self.submitted_at)
        return result, bad

    def _nps(self, raw: pa.Table, numbers: list[int]) -> tuple[pa.Array, set[int]]:
        return self._answers(raw, self.options.nps, numbers, _nps_score, pa.int64(), lambda text: (
            f"an NPS answer must be a whole number from 0 to 10, got '{text}'"))

    def _choices(self, raw: pa.Table, sources: list[str]) -> pa.Array:
        """One list per row: the non-empty choice cells, or one cell split at the separator."""
        if not sources:
            return pa.array([], pa.list_(pa.string()))
        if len(sources) == 1:
            texts, codes = _distinct(raw.column(sources[0]))
            lists = [[] if t is None else [p.strip() for p in t.split(self.separator) if p.strip()]
                     for t in texts]
            return pa.array(lists, pa.list_(pa.string())).take(pa.array(codes))
        cells = []  # per choice column, each row's cell stripped; null where empty
        for column in sources:
            texts, codes = _distinct(raw.column(column))
            cells.append(pa.array([t.strip() if t is not None and t.strip() else None for t in texts],
                                  pa.string()).take(pa.array(codes)))
        rows, width = len(cells[0]), len(cells)
        flat = pa.concat_arrays(cells).take(pa.array(  # row by row, its cells in column order
            (np.arange(rows)[:, None] + rows * np.arange(width)[None, :]).ravel()))
        given = flat.is_valid().to_numpy(zero_copy_only=False)
        offsets = np.concatenate([[0], np.cumsum(given.reshape(rows, width).sum(axis=1))])
        return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), flat.filter(pa.array(given)))

    def _likert(self, raw: pa.Table, column: str, numbers: list[int]) -> tuple[pa.Array, set[int]]:
        known = ", ".join(f"'{k}'" for k in self.scale)
        return self._answers(raw, column, numbers, self._likert_value, pa.float64(), lambda text: (
            f"'{text}' is not on the Likert scale ({known}); set likert_scale"))

    def _likert_value(self, text: str | None) -> Any:
        label = (text or "").strip().lower()
        if not label:
            return None
        if label in self.scale:
            return self.scale[label]
        if number := _LEADING_NUMBER.match(label):
            return float(number.group(1))
        return _BAD

    def _answers(self, raw: pa.Table, column: str, numbers: list[int], read: Callable[[str | None], Any],
                 arrow_type: pa.DataType, message: Callable[[str | None], str]) -> tuple[pa.Array, set[int]]:
        """`read` of each cell of a column (once per distinct cell), and the rows where it
        gives `_BAD`, reported as bad rows (`message`) in row order."""
        texts, codes = _distinct(raw.column(column))
        values = [read(t) for t in texts]
        wrong = [k for k, v in enumerate(values) if v is _BAD]
        bad = set()
        for i in np.flatnonzero(np.isin(codes, wrong)).tolist():
            self._bad(message(texts[codes[i]]), numbers[i], column)
            bad.add(i)
        return pa.array([None if v is _BAD else v for v in values], arrow_type).take(pa.array(codes)), bad


#: What reading a cell gives where the cell is a bad row.
_BAD = object()


def _distinct(values: pa.ChunkedArray | pa.Array) -> tuple[list[str | None], np.ndarray]:
    """A text column's distinct cells (None last) and each row's index among them: a cell
    is read in Python once per distinct answer (a survey has few), not once per row."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    encoded = pc.dictionary_encode(values)
    texts = [*encoded.dictionary.to_pylist(), None]
    return texts, pc.fill_null(encoded.indices, len(texts) - 1).to_numpy().astype(np.int64)


def _nps_score(text: str | None) -> Any:
    if not text or not text.strip():
        return None
    match = _LEADING_NUMBER.match(text)
    if match and float(match.group(1)).is_integer() and 0 <= float(match.group(1)) <= 10:
        return int(float(match.group(1)))
    return _BAD


def _skip_qualtrics_headers(raw: pa.Table, numbers: list[int]) -> tuple[pa.Table, list[int]]:
    """Qualtrics writes the question texts and an ``{"ImportId": ...}`` row under the header."""
    if raw.num_rows >= 2:
        second = [v for v in raw.slice(1, 1).to_pylist()[0].values() if v]
        if second and all(str(v).startswith('{"ImportId"') for v in second):
            return raw.slice(2), numbers[2:]
    return raw, numbers


def _nps_category(scores: pa.Array) -> pa.Array:
    conditions, labels = [], []
    for label, low, high in NPS_CATEGORIES:
        conditions.append(pc.and_(pc.greater_equal(scores, low), pc.less_equal(scores, high)))
        labels.append(pa.scalar(label))
    return pc.case_when(pc.make_struct(*conditions, field_names=[c for c, _, _ in NPS_CATEGORIES]), *labels)


def _latest_per_respondent(table: pa.Table, key: str) -> pa.Table:
    """One row per respondent: the latest submission (a later row on a tie, nulls oldest)."""
    indexed = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    ordered = indexed.sort_by([("submitted_at", "descending"), ("__row", "descending")])
    first = ordered.select([key, "__row"]).group_by(key, use_threads=False).aggregate([("__row", "first")])
    rows = first.column("__row_first")
    return table.take(rows.take(pc.sort_indices(rows)))


@hookimpl
def register_sources() -> list[type]:
    return [SurveySource]
