"""Landing air day files: several at once, and the version received last is the one built."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ecocloud.builds import air
from ecocloud.runner.engine import ledger
from ecocloud.settings import Settings
from ecocloud.simulator.air import day_file_name, generate_day, station_list_csv
from ecocloud.simulator.province import national_stations
from ingest.air.fetch import STATION_LIST_NAME

DAY = dt.date(2023, 3, 1)


def _versions(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The day file as published at noon and at midnight (same name, other bytes), and a station list."""
    stations = national_stations(40, seed=5)
    noon, night = tmp_path / "noon", tmp_path / "night"
    noon.mkdir()
    night.mkdir()
    (noon / day_file_name(DAY)).write_bytes(generate_day(DAY, stations, seed=5, hours=range(12)))
    (night / day_file_name(DAY)).write_bytes(generate_day(DAY, stations, seed=5))
    (tmp_path / STATION_LIST_NAME).write_bytes(station_list_csv(stations))
    return noon / day_file_name(DAY), night / day_file_name(DAY), tmp_path / STATION_LIST_NAME


@pytest.mark.parametrize("newest_last", [True, False])
def test_the_location_given_last_wins_when_landed_together(
    settings: Settings, tmp_path: Path, newest_last: bool
) -> None:
    noon, night, station_list = _versions(tmp_path)
    more = []
    for offset in range(1, 9):  # enough files that the landing threads interleave
        day = DAY + dt.timedelta(days=offset)
        path = tmp_path / day_file_name(day)
        path.write_bytes(generate_day(day, national_stations(40, seed=5), seed=offset, hours=range(3)))
        more.append(str(path))
    order = [noon, night] if newest_last else [night, noon]
    locations = [*more[:4], str(order[0]), *more[4:], str(station_list), str(order[1])]

    led = ledger(settings)
    try:
        landed = air.land(settings, led, locations)
        assert [o.origin for o in landed] == [str(Path(p).resolve()) for p in locations]
        received = [o.received_at for o in landed]
        assert received == sorted(received) and len(set(received)) == len(received)
        newest = air.newest_day_files(led)[DAY]
        assert newest.origin == str(order[1].resolve())
        assert set(air.newest_day_files(led)) == {DAY + dt.timedelta(days=i) for i in range(9)}
    finally:
        led.close()


def test_a_missing_file_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    noon, _, _ = _versions(tmp_path)
    led = ledger(settings)
    try:
        with pytest.raises(FileNotFoundError, match="no such file"):
            air.land(settings, led, [str(noon), str(tmp_path / "china_sites_20230302.csv")])
    finally:
        led.close()
