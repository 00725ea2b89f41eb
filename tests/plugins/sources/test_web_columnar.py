"""The web event sources read by Arrow block by block give what reading every line in
Python gives (`events`, the reference), on generated messy Segment and GA4 files: nested and
clashing properties, type changes, lists, bad lines, ids of every kind, small blocks."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from segmint.plugin.api import PluginContext
from segmint.plugin.host import get_registry
from segmint.plugin.options import build_options


def _source(kind: str, directory: Path, *, mode: str, block: int, **options):
    cls = get_registry().sources[kind]
    source = cls("events", build_options(cls.Options, {"path": "e.jsonl", **options}, plugin=kind,
                                         where="test"), PluginContext(project_dir=directory))
    source.on_bad_rows = mode
    source.block_bytes, source.small_bytes = block, block // 4
    return source


def _when(rng: random.Random) -> object:
    day, hour = rng.randint(1, 28), rng.randint(0, 23)
    return rng.choice([
        f"2025-02-{day:02}T{hour:02}:00:00.000Z", f"2025-02-{day:02}T{hour:02}:30:00+01:00",
        f"2025-02-{day:02}T{hour:02}:00:00Z", f"2025-02-{day:02} {hour:02}:00:00",
        f"2025-02-{day:02}T{hour:02}:00:00",
    ] * 8 + ["yesterday", 1740000000, "", f"2025-02-{day:02}"])


def _segment_line(rng: random.Random, clean: bool) -> str:
    user = rng.choice([f"u-{rng.randint(1, 30)}", None, None] + ([] if clean else [rng.randint(1, 5), ""]))
    anonymous = rng.choice([f"a-{rng.randint(1, 40)}", None])
    if user is None and anonymous is None:
        anonymous = "a-0"
    kind = rng.choice(["track"] * 4 + ["page", "page", "screen", "identify", "identify", None])
    call: dict = {"type": kind, "timestamp": _when(rng) if not clean else "2025-02-10T10:00:00Z"}
    if kind is None:
        del call["type"]
        call["event"] = "Untyped"
    if user is not None:
        call["userId"] = user
    if anonymous is not None:
        call["anonymousId"] = anonymous
    if kind == "track":
        call["event"] = rng.choice(["Product Added", "cart_abandoned", "Order Completed", ""])
    if kind in ("page", "screen"):
        call["name"] = rng.choice(["Home", "", "Catalog"])
    if kind == "identify":
        call["traits"] = {"email": rng.choice([f"P{rng.randint(1, 30)}@X.com", None] + ([] if clean else [7]))}
    properties = {}
    for name in rng.sample(["price", "category", "url", "path", "meta", "tags", "count", "flag"], 4):
        properties[name] = {
            "price": rng.choice([39.9, 12, 7.5, None]),
            "category": rng.choice(["yoga", "run", None]),
            "url": rng.choice(["https://x/"] + ([] if clean else [None])),
            "path": "/p",
            "meta": {"depth": rng.randint(1, 3), "source": rng.choice(["ad", "mail"])},
            "tags": rng.choice([["a", "b"], []] + ([] if clean else [[1, 2]])),
            "count": rng.randint(0, 9),
            "flag": rng.choice([True, False]),
        }[name]
    if not clean and rng.random() < 0.1:
        properties[rng.choice(["Price", "meta_depth"])] = "clash"
    if not clean and rng.random() < 0.1:
        properties["price"] = rng.choice(["cheap", {"amount": 3}, [1.5]])
    if rng.random() < 0.8:
        call["properties"] = properties if properties or rng.random() < 0.5 else None
    if rng.random() < 0.4:
        call["context"] = {"page": {"url": "https://ctx/", "referrer": "https://google/",
                                    "title": rng.choice(["T", None])}}
    line = json.dumps(call)
    if not clean and rng.random() < 0.03:
        line = rng.choice(["{not json", "[1, 2]", '"text"', "   ", ""])
    return line


def _ga4_line(rng: random.Random, clean: bool) -> str:
    kinds = {"page_location": {"string_value": "x"}, "ga_session_id": {"int_value": str(rng.randint(1, 9))},
             "value": {"double_value": rng.choice([2.5, 3])}, "engagement_time_msec": {}}
    params = [{"key": k, "value": kinds[k] if clean else rng.choice(list(kinds.values()))}
              for k in rng.sample(sorted(kinds), 2)]
    row = {"event_timestamp": str(1740000000000000 + rng.randint(0, 10**9)),
           "event_name": rng.choice(["page_view", "purchase", "session_start"]),
           "event_params": params, "user_pseudo_id": f"p.{rng.randint(1, 20)}",
           "user_id": rng.choice([f"u-{rng.randint(1, 9)}", None]),
           "user_properties": [{"key": "tier", "value": {"string_value": rng.choice(["gold", "free"])}}],
           "device": {"category": rng.choice(["mobile", "desktop"])}, "geo": {"country": "Germany"},
           "event_date": "20250220"}
    if not clean and rng.random() < 0.05:
        row["event_timestamp"] = rng.choice(["soon", None])
    if not clean and rng.random() < 0.05:
        row["event_name"] = ""
    return json.dumps(row)


LINES = {"segment_events": _segment_line, "ga4": _ga4_line}
CASES = [
    ("segment_events", {}, True),
    ("segment_events", {}, False),
    ("segment_events", {"key_trait": "email"}, False),
    ("segment_events", {"key_trait": "email", "anonymous": "keep"}, False),
    ("segment_events", {"anonymous": "keep"}, True),
    ("ga4", {}, True),
    ("ga4", {"anonymous": "keep"}, False),
    ("ga4", {"anonymous": "keep"}, True),
]


@pytest.mark.parametrize(("kind", "options", "clean"), CASES)
@pytest.mark.parametrize("seed", [1, 2])
def test_block_by_block_reads_what_line_by_line_reads(tmp_path, kind, options, clean, seed):
    rng = random.Random(seed)
    (tmp_path / "e.jsonl").write_text("\n".join(LINES[kind](rng, clean) for _ in range(400)) + "\n")
    reference = _source(kind, tmp_path, mode="skip", block=1 << 20, **options)
    schema = reference.schema()
    expected = reference._table(reference.events(), schema)
    # keys looked up per group of blocks: the default (the whole file), 7 events (a group
    # as large as the id maps); the events kept between the passes (the default), none
    # (the file read twice), or some (keeping given up on part way through the file)
    keep = _source(kind, tmp_path, mode="skip", block=2048, **options).keep_bytes
    for block, lookup_events, keep_bytes in ((2048, 1 << 19, keep), (2048, 7, 0), (1 << 20, 1 << 19, keep),
                                             (2048, 1 << 19, 4096), (1 << 20, 7, 0)):
        source = _source(kind, tmp_path, mode="skip", block=block, **options)
        source.lookup_events, source.keep_bytes = lookup_events, keep_bytes
        slow = source._slow
        source._slow = lambda *args: (read_slowly.append(1), slow(*args))[1]
        read_slowly: list[int] = []
        table = source.read()
        if clean and block > 2048:
            assert not read_slowly  # clean data never meets Python per event
        assert table.schema == schema
        assert table.to_pylist() == expected.to_pylist()
        assert [(b.row, b.column, b.reason, b.text) for b in source.skipped_rows] == \
            [(b.row, b.column, b.reason, b.text) for b in reference.skipped_rows]
        streamed = source.read(["name", "timestamp"])
        assert isinstance(streamed, pa.RecordBatchReader)
        assert streamed.read_all().to_pylist() == expected.select(
            [source.context.key, "name", "timestamp"]).to_pylist()


def test_the_first_bad_line_is_the_error(tmp_path):
    rng = random.Random(5)
    lines = [_segment_line(rng, True) for _ in range(3000)]
    lines[2500] = '{"type": "track", "event": "x", "userId": "u", "timestamp": "soon"}'
    (tmp_path / "e.jsonl").write_text("\n".join(lines) + "\n")
    source = _source("segment_events", tmp_path, mode="error", block=8192)
    with pytest.raises(Exception, match="line 2501, column 'timestamp': no valid timestamp"):
        source.read()


@pytest.mark.parametrize("keep_bytes", [256 << 20, 0])
@pytest.mark.parametrize("lookup_events", [1 << 19, 50])
def test_a_misfit_before_a_bad_line_is_the_error(tmp_path, lookup_events, keep_bytes):
    """A cell not fitting its column in a block Arrow reads (reported once its group of
    blocks is keyed) comes before a bad line read line by line in a later block."""
    def call(i: int, count: object, timestamp: str = "2025-02-10T10:00:00Z") -> str:
        return json.dumps({"type": "track", "event": "x", "userId": f"u{i % 7}",
                           "timestamp": timestamp, "properties": {"count": count}})

    lines = [call(i, i) for i in range(3000)]
    lines[2400:2600] = [call(i, "many") for i in range(2400, 2600)]
    lines[2900] = call(2900, 1, "soon")
    (tmp_path / "e.jsonl").write_text("\n".join(lines) + "\n")
    source = _source("segment_events", tmp_path, mode="error", block=8192)
    source.lookup_events, source.keep_bytes = lookup_events, keep_bytes
    with pytest.raises(Exception, match=r"line 2401, column 'count'"):
        source.read()
    skipping = _source("segment_events", tmp_path, mode="skip", block=8192)
    skipping.lookup_events, skipping.keep_bytes = lookup_events, keep_bytes
    assert skipping.read().num_rows == 3000 - 200 - 1
    assert [b.line for b in skipping.skipped_rows] == [*range(2401, 2601), 2901]


def test_a_ga4_parquet_export_reads_as_its_rows_do(tmp_path):
    rng = random.Random(9)
    rows = [json.loads(_ga4_line(rng, True)) for _ in range(3000)]
    for row in rows:
        row["event_timestamp"] = int(row["event_timestamp"])
        for param in row["event_params"]:
            value = param["value"]
            param["value"] = {"string_value": value.get("string_value"),
                              "int_value": int(value["int_value"]) if "int_value" in value else None,
                              "double_value": value.get("double_value")}
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "e.parquet", row_group_size=500)
    cls = get_registry().sources["ga4"]
    source = cls("events", build_options(cls.Options, {"path": "e.parquet"}, plugin="ga4", where="test"),
                 PluginContext(project_dir=tmp_path))
    expected = source._table(source.events(), source.schema())
    slow = source._slow
    source._slow = lambda *args: (read_slowly.append(1), slow(*args))[1]
    read_slowly: list[int] = []
    assert source.read().to_pylist() == expected.to_pylist()
    assert not read_slowly
