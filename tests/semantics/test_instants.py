"""`utc_instants` and `local_instant`: zone-free times as instants where the clocks
change (shown twice: the second instant; skipped: the offset before the change), in every
unit, chunked or not, nulls kept; Python datetimes (literals, as_of) read the same way."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from segmint.semantics.asof import AsOf
from segmint.semantics.instants import instants_us, local_instant, utc_instants

UTC = dt.timezone.utc
WALLS = [  # the wall clock, and the instant it is (checked by hand against the tz database)
    ("Europe/Berlin", dt.datetime(2024, 3, 31, 2, 30), dt.datetime(2024, 3, 31, 1, 30, tzinfo=UTC)),
    ("Europe/Berlin", dt.datetime(2024, 10, 27, 2, 30), dt.datetime(2024, 10, 27, 1, 30, tzinfo=UTC)),
    ("Europe/Berlin", dt.datetime(2024, 7, 1, 12, 0), dt.datetime(2024, 7, 1, 10, 0, tzinfo=UTC)),
    ("Australia/Lord_Howe", dt.datetime(2024, 4, 7, 1, 45), dt.datetime(2024, 4, 6, 15, 15, tzinfo=UTC)),
    ("Australia/Lord_Howe", dt.datetime(2024, 10, 6, 2, 15), dt.datetime(2024, 10, 5, 15, 45, tzinfo=UTC)),
    ("America/Sao_Paulo", dt.datetime(2018, 11, 4, 0, 30), dt.datetime(2018, 11, 4, 3, 30, tzinfo=UTC)),
    ("America/Sao_Paulo", dt.datetime(2019, 2, 16, 23, 30), dt.datetime(2019, 2, 17, 2, 30, tzinfo=UTC)),
]
IDS = [f"{z}-{w:%Y%m%d-%H%M}" for z, w, _ in WALLS]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize(("zone", "wall", "instant"), WALLS, ids=IDS)
def test_a_wall_clock_column_is_one_instant(zone, wall, instant, unit):
    got = utc_instants(pa.array([wall, None], pa.timestamp(unit)), zone)
    assert got.type == pa.timestamp(unit, tz=zone)
    assert got.cast(pa.timestamp("us", tz="UTC")).to_pylist() == [instant, None]


@pytest.mark.parametrize(("zone", "wall", "instant"), WALLS, ids=IDS)
def test_a_python_wall_clock_time_is_the_same_instant(zone, wall, instant):
    assert local_instant(wall, ZoneInfo(zone)) == instant
    assert AsOf.resolve(wall, zone).instant == instant


def test_a_date_as_of_ends_before_a_skipped_midnight():
    """Sao Paulo skipped 2018-11-04 00:00-01:00: the day before ends at 01:00 local, 03:00 UTC."""
    as_of = AsOf.resolve(dt.date(2018, 11, 3), "America/Sao_Paulo")
    assert as_of.instant == dt.datetime(2018, 11, 4, 2, 59, 59, 999999, tzinfo=UTC)


def test_chunks_with_and_without_skipped_times():
    rows = [(w, i) for z, w, i in WALLS if z == "Europe/Berlin"]
    chunked = pa.chunked_array([pa.array([w for w, _ in rows[:1]], pa.timestamp("us")),
                                pa.array([w for w, _ in rows[1:]], pa.timestamp("us"))])
    got = utc_instants(chunked, "Europe/Berlin").cast(pa.timestamp("us", tz="UTC")).to_pylist()
    assert got == [i for _, i in rows]


def test_metrics_count_with_the_same_instants():
    zone, wall, instant = WALLS[0]
    micros = instants_us(pa.array([wall], pa.timestamp("us")), zone)
    assert int(micros[0]) == (instant - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)
