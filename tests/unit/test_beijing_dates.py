"""The Beijing date of an instant, as the HJ 212 batch parser (numpy µs) and the source build (Arrow
timestamps) date their rows: a day there starts at 16:00 UTC the day before."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from schemas.clock import BEIJING, beijing_dates, beijing_days

pytestmark = pytest.mark.unit

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)
# the last microsecond of 2026-11-20 in Beijing, its first of 2026-11-21, and a UTC midnight
INSTANTS = [
    dt.datetime(2026, 11, 20, 15, 59, 59, 999999, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 20, 16, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 21, 0, 0, tzinfo=dt.UTC),
    dt.datetime(1970, 1, 1, 0, 0, tzinfo=dt.UTC),
]
DATES = [dt.date(2026, 11, 20), dt.date(2026, 11, 21), dt.date(2026, 11, 21), dt.date(1970, 1, 1)]


def _days(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days


def test_the_beijing_day_of_microseconds_turns_at_16_utc() -> None:
    utc_us = np.array([(t - _EPOCH) // _US for t in INSTANTS], np.int64)
    days = beijing_days(utc_us)
    assert days.dtype == np.int64
    assert days.tolist() == [_days(d) for d in DATES]
    assert utc_us.tolist() == [(t - _EPOCH) // _US for t in INSTANTS]  # the input is left as it was
    # a single instant (the reference path's), the same
    assert [beijing_days(int(us)) for us in utc_us] == [_days(d) for d in DATES]
    # and what Python's own Beijing time says
    assert [t.astimezone(BEIJING).date() for t in INSTANTS] == DATES


@pytest.mark.parametrize("tz", ["UTC", None])
def test_the_beijing_date_of_an_arrow_timestamp_turns_at_16_utc(tz: str | None) -> None:
    """A zoneless timestamp is UTC, as the lake writes received_at; nulls stay null."""
    stamps = [t.replace(tzinfo=None) for t in INSTANTS] + [None]
    array = pa.array(stamps, pa.timestamp("us", tz=tz))
    assert beijing_dates(array).to_pylist() == [*DATES, None]
    chunked = pa.chunked_array([array[:2], array[2:]])
    dates = beijing_dates(chunked)
    assert dates.type == pa.date32() and dates.to_pylist() == [*DATES, None]
