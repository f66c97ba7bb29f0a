"""A day's air statistics are over its natural day: the release labels an hour by its end, so the hour
ending 24:00 is hour 0 of the next day's file, and a day is complete once that file has landed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from conftest import serving_rows

from ecocloud.builds import air
from ecocloud.runner.report import RunReport
from ecocloud.settings import Settings
from ecocloud.simulator.air import day_file_name, generate_day, station_list_csv
from ecocloud.simulator.province import national_stations
from ingest.air.fetch import STATION_LIST_NAME

DAY = dt.date(2023, 3, 1)
NEXT = DAY + dt.timedelta(days=1)

# the daily means of DAY from the station-hours themselves: the hours ending after 00:00 and by 24:00
_FROM_HOURS = """
SELECT station_code, count(pm25_ugm3) AS hours, avg(pm25_ugm3) AS pm25
FROM core_air__station_hourly
WHERE observed_at > TIMESTAMPTZ '2023-03-01 00:00:00+08' AND observed_at <= TIMESTAMPTZ '2023-03-02 00:00:00+08'
GROUP BY ALL ORDER BY ALL
"""
_DAILY = "SELECT station_code, pm25_hours, pm25_ugm3 FROM core_air__station_daily WHERE date = ? ORDER BY ALL"


def _agree_with_the_hours(settings: Settings) -> int:
    """DAY's daily PM2.5 hours and means are those of its natural day's station-hours; the most hours."""
    daily = serving_rows(settings, _DAILY, DAY)
    from_hours = serving_rows(settings, _FROM_HOURS)
    assert [(c, h) for c, h, _ in daily] == [(c, h) for c, h, _ in from_hours]
    for (_, hours, mean), (_, _, expected) in zip(daily, from_hours, strict=True):
        if hours >= 20:  # type: ignore[operator]
            assert abs(mean - expected) < 1e-9  # type: ignore[operator]
        else:
            assert mean is None  # GB 3095: too few hours, no daily mean
    return max(h for _, h, _ in daily)  # type: ignore[type-var]


def test_a_day_is_completed_by_the_next_days_file(
    settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport]
) -> None:
    stations = national_stations(40, seed=5)
    listed = tmp_path / STATION_LIST_NAME
    listed.write_bytes(station_list_csv(stations))
    for day in (DAY, NEXT):
        (tmp_path / day_file_name(day)).write_bytes(generate_day(day, stations, seed=5))

    first = ingest("air", lambda s, led: air.land(s, led, [str(listed), str(tmp_path / day_file_name(DAY))]))
    assert [(r.unit, r.status) for r in first.of("daily")] == [("2023-03-01", "published")]
    # its own file has the hours ending 01:00 … 23:00; its hour 0 ended at midnight the day before
    assert _agree_with_the_hours(settings) == 23

    # the next day's file as published at 02:00, then grown: the day is built again when its hour 0
    # arrives, not each time the next file grows
    early, later = tmp_path / "early", tmp_path / "later"
    for folder, hours in ((early, range(3)), (later, range(6))):
        folder.mkdir()
        (folder / day_file_name(NEXT)).write_bytes(generate_day(NEXT, stations, seed=5, hours=hours))
    second = ingest("air", lambda s, led: air.land(s, led, [str(early / day_file_name(NEXT))]))
    assert [(r.unit, r.status) for r in second.of("daily")] == [
        ("2023-03-01", "published"),  # the hour ending 24:00 arrived: built again
        ("2023-03-02", "published"),
    ]
    assert _agree_with_the_hours(settings) == 24
    assert len(serving_rows(settings, _DAILY, DAY)) == len(stations)
    grown = ingest("air", lambda s, led: air.land(s, led, [str(later / day_file_name(NEXT))]))
    assert [(r.unit, r.status) for r in grown.of("hourly") if r.status != "skipped"] == [
        ("2023-03-02", "published")
    ]
    assert [(r.unit, r.status) for r in grown.of("daily") if r.status != "skipped"] == [
        ("2023-03-02", "published")
    ]

    whole = ingest("air", lambda s, led: air.land(s, led, [str(tmp_path / day_file_name(NEXT))]))
    assert [(r.unit, r.status) for r in whole.of("daily") if r.status != "skipped"] == [
        ("2023-03-02", "published")
    ]
    again = ingest("air", lambda s, led: air.land(s, led, [str(tmp_path / day_file_name(NEXT))]))
    assert {r.status for r in again.units} == {"skipped"}
