"""Daily statistics: GB 3095 / HJ 663 validity is applied, never an average of too few hours."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from ecocloud.builds.air_stage import ParsedDay, parse_and_score
from ecocloud.simulator.air import Quirks, generate_day, station_list_csv
from ecocloud.simulator.province import national_stations
from ingest.air.parse import parse_day_file, parse_station_list
from schemas.air import city_daily_ranking as ranking_table
from schemas.air import station_daily as daily_table
from schemas.air import station_list as station_list_table
from schemas.aqi_standard import HJ633_2012, HJ633_2026
from transforms.air_daily import (
    _HourGrid,
    city_daily_ranking,
    city_daily_ranking_sql,
    day_hours,
    days_begun,
    station_daily,
    station_daily_sql,
)
from warehouse.fs import LocalLake

DAY = dt.date(2023, 1, 20)
BEIJING = dt.timezone(dt.timedelta(hours=8))


def hourly(station: str, hours: range, **values: float | None) -> dict[str, list]:
    """Station-hours of DAY: hour h is h:00–h+1:00, stamped as the release does, by its end."""
    base: dict[str, float | None] = {
        "pm25_ugm3": 50.0,
        "pm10_ugm3": 80.0,
        "so2_ugm3": 10.0,
        "no2_ugm3": 30.0,
        "co_mgm3": 1.0,
        "o3_ugm3": 60.0,
    }
    base.update(values)
    cols: dict[str, list] = {"station_code": [], "date": [], "observed_at": [], **{k: [] for k in base}}
    for h in hours:
        cols["station_code"].append(station)
        cols["date"].append(DAY)
        end = dt.datetime.combine(DAY, dt.time(), BEIJING) + dt.timedelta(hours=h + 1)
        cols["observed_at"].append(end.astimezone(dt.UTC))
        for k, v in base.items():
            cols[k].append(v)
    return cols


def table(*parts: dict[str, list]) -> pa.Table:
    merged = {k: [v for p in parts for v in p[k]] for k in parts[0]}
    t = pa.table(merged)
    return t.set_column(t.schema.get_field_index("date"), "date", pa.array(merged["date"], pa.date32()))


def test_twenty_hours_make_a_valid_day_nineteen_do_not() -> None:
    out = station_daily(table(hourly("A", range(20)), hourly("B", range(19))))
    rows = {r["station_code"]: r for r in daily_table.conform(out).to_pylist()}
    assert (
        rows["A"]["pm25_valid"] is True and rows["A"]["pm25_ugm3"] == 50.0 and rows["A"]["pm25_hours"] == 20
    )
    assert (
        rows["B"]["pm25_valid"] is False and rows["B"]["pm25_ugm3"] is None and rows["B"]["pm25_hours"] == 19
    )
    assert rows["A"]["aqi"] is not None and rows["A"]["missing_indicators"] is None
    # 19 hours still give 14 valid O3 8-hour windows: O3's 8-hour maximum is valid, and a day scored
    # on O3 alone (IAQI 30, 优) would hide whatever the five invalid ones were: no AQI. Under HJ
    # 633-2012 the day's O3 IAQI also takes the maximum 1-hour value, which needs 20 hours: O3 too
    # is unscored
    assert rows["B"]["valid_indicators"] == 1 and rows["B"]["o3_valid"] is True
    assert rows["B"]["o3_8h_max_ugm3"] == 60.0 and rows["B"]["o3_1h_max_ugm3"] is None
    assert rows["B"]["missing_indicators"] == "PM2.5,PM10,SO2,NO2,CO,O3"
    assert (rows["B"]["aqi"], rows["B"]["aqi_category"], rows["B"]["primary_pollutants"]) == (
        None,
        None,
        None,
    )


def test_a_station_with_failed_pm_monitors_has_no_daily_aqi() -> None:
    failed = table(
        hourly("A", range(19), pm25_ugm3=300.0, pm10_ugm3=300.0),
        hourly("A", range(19, 24), pm25_ugm3=None, pm10_ugm3=None),  # PM monitors down 5 hours
    )
    for out in (station_daily(failed), station_daily_sql(failed)):
        (row,) = daily_table.conform(out).to_pylist()
        assert (row["pm25_hours"], row["pm25_valid"], row["so2_valid"], row["valid_indicators"]) == (
            19,
            False,
            True,
            4,
        )
        assert row["so2_ugm3"] == 10.0 and row["missing_indicators"] == "PM2.5,PM10"
        assert row["aqi"] is None and row["aqi_category"] is None


def test_a_city_without_valid_pm_is_not_ranked_above_complete_cities() -> None:
    # the reviewer's case: 甲市's PM monitors read 300 µg/m³ for 19 hours, then failed; scored on
    # its valid gases alone it came 1st, AQI 30 (优), above 乙市 at PM2.5 50 (良)
    daily = station_daily(
        table(
            hourly("A1", range(19), pm25_ugm3=300.0, pm10_ugm3=300.0),
            hourly("A1", range(19, 24), pm25_ugm3=None, pm10_ugm3=None),
            hourly("B1", range(24)),
            hourly("C1", range(24), pm25_ugm3=None),  # PM2.5 never reported
        )
    )
    stations = pa.table(
        {
            "station_code": ["A1", "B1", "C1"],
            "city": ["甲市", "乙市", "丙市"],
            "is_control_point": [False] * 3,
        }
    )
    conformed = daily_table.conform(daily)
    fast = city_daily_ranking(conformed, stations)
    assert fast.equals(city_daily_ranking_sql(conformed, stations))
    rows = [
        (r["city"], r["rank"], r["aqi"], r["aqi_category"], r["missing_indicators"])
        for r in ranking_table.conform(fast).to_pylist()
    ]
    # ranked cities first, in rank order; the unranked after them, with what they lack
    assert rows == [
        ("乙市", 1, 69, "良", None),  # PM2.5 50 µg/m³ -> IAQI 68.75
        ("丙市", None, None, None, "PM2.5"),
        ("甲市", None, None, None, "PM2.5,PM10"),
    ]
    jia = ranking_table.conform(fast).to_pylist()[2]
    assert jia["pm25_ugm3"] is None and jia["so2_ugm3"] == 10.0 and jia["o3_8h_max_ugm3"] == 60.0


def test_a_city_is_complete_when_each_indicator_is_valid_at_some_station() -> None:
    # PM2.5 valid at A1 only, SO2 valid at A2 only: the city means are of the valid statistics
    daily = station_daily(
        table(
            hourly("A1", range(24), so2_ugm3=None),
            hourly("A2", range(24), pm25_ugm3=None, so2_ugm3=20.0),
            hourly("B1", range(24), pm25_ugm3=100.0),
        )
    )
    stations = pa.table(
        {
            "station_code": ["A1", "A2", "B1"],
            "city": ["甲市", "甲市", "乙市"],
            "is_control_point": [False] * 3,
        }
    )
    ranked = city_daily_ranking(daily_table.conform(daily), stations).to_pylist()
    assert [(r["city"], r["rank"], r["missing_indicators"]) for r in ranked] == [
        ("甲市", 1, None),
        ("乙市", 2, None),
    ]
    assert ranked[0]["pm25_ugm3"] == 50.0 and ranked[0]["so2_ugm3"] == 20.0


def test_o3_daily_max_8h_needs_fourteen_valid_windows() -> None:
    # hours 0..20 present (00:00–21:00): of the windows of hours 0–7 … 16–23 (ending 08:00 … 24:00)
    # those with >= 6 hours are the first 16 -> valid
    ok = station_daily(table(hourly("A", range(21))))
    assert ok.column("o3_8h_windows").to_pylist() == [16]
    assert ok.column("o3_valid").to_pylist() == [True]
    assert ok.column("o3_8h_max_ugm3").to_pylist() == [60.0]
    # hours 0..13: the windows of hours 0–7 … 8–15 hold >= 6 of them (9–16 holds 9..13 = 5) -> 9 < 14
    short = station_daily(table(hourly("B", range(14))))
    assert short.column("o3_8h_windows").to_pylist() == [9]
    assert short.column("o3_valid").to_pylist() == [False]
    assert short.column("o3_8h_max_ugm3").to_pylist() == [None]


def test_city_ranking_excludes_control_points_and_unlisted_stations() -> None:
    daily = station_daily(
        table(
            hourly("A1", range(24), pm25_ugm3=100.0),
            hourly("A2", range(24), pm25_ugm3=20.0),  # control point: left out
            hourly("B1", range(24), pm25_ugm3=30.0),
            hourly("X9", range(24), pm25_ugm3=900.0),  # not in the station list: no city
        )
    )
    # typed as the registry's station list, which is what the daily build passes
    stations = station_list_table.conform(
        pa.table(
            {
                "station_code": ["A1", "A2", "B1"],
                "station_name": ["一", "对照", "二"],
                "city": ["甲市", "甲市", "乙市"],
                "longitude": [None] * 3,
                "latitude": [None] * 3,
                "is_control_point": [False, True, False],
            }
        )
    )
    ranked = ranking_table.conform(city_daily_ranking(daily_table.conform(daily), stations)).to_pylist()
    assert [(r["city"], r["rank"], r["stations"]) for r in ranked] == [("乙市", 1, 1), ("甲市", 2, 1)]
    assert ranked[1]["pm25_ugm3"] == 100.0  # A2's 20 µg/m³ is not in 甲市's mean
    assert ranked[1]["aqi"] > ranked[0]["aqi"]


# -- the numpy daily statistics agree row for row with the reference SQL --------------------------
def simulated_hourly(day: dt.date, quirks: Quirks) -> pa.Table:
    """The station-hours of a simulated national day (300 stations) as the daily build takes them:
    its own day file and the next day's (whose hour 0 ended at its 24:00), parsed, then picked."""
    files = []
    for file_day in (day, day + dt.timedelta(days=1)):
        data = generate_day(file_day, national_stations(300, seed=3), seed=3, quirks=quirks)
        files.append(parse_day_file(data, raw_file="sim.csv", file_date=file_day).hourly)
    return day_hours(pa.concat_tables(files), day)


@pytest.mark.parametrize(
    ("day", "quirks"),
    [
        (dt.date(2023, 1, 20), Quirks()),  # winter, the release's usual gaps and quirks
        (dt.date(2023, 7, 15), Quirks.always()),  # summer O3, every quirk and gap at once
        (dt.date(2026, 3, 1), Quirks()),  # first day of HJ 633-2026
    ],
)
def test_numpy_daily_statistics_agree_with_the_sql_on_simulated_days(day: dt.date, quirks: Quirks) -> None:
    hourly_rows = simulated_hourly(day, quirks)
    assert _HourGrid.of(hourly_rows) is not None  # the numpy path, not the fallback
    fast, reference = station_daily(hourly_rows), station_daily_sql(hourly_rows)
    assert fast.num_rows == len(set(hourly_rows.column("station_code").to_pylist())) > 250
    assert fast.equals(reference)  # same schema, same rows in the same order, same values


def test_rows_that_do_not_fit_a_grid_take_the_sql_path_with_the_same_result() -> None:
    twice = table(hourly("A", range(24)), hourly("A", range(3), pm25_ugm3=500.0), hourly("B", range(24)))
    assert _HourGrid.of(twice) is None
    assert station_daily(twice).equals(station_daily_sql(twice))
    rows = {r["station_code"]: r for r in daily_table.conform(station_daily(twice)).to_pylist()}
    # two rows of one station-hour are one hour (the registry allows at most 24), weighed once:
    # hours 0..2 hold 50 and 500 -> 275 each, the other 21 hours 50
    assert rows["A"]["pm25_hours"] == 24 and rows["A"]["so2_hours"] == 24
    assert rows["A"]["pm25_ugm3"] == pytest.approx((21 * 50.0 + 3 * 275.0) / 24)
    assert rows["B"]["pm25_hours"] == 24 and rows["B"]["pm25_ugm3"] == 50.0


def test_empty_hours_make_no_rows() -> None:
    empty = table(hourly("A", range(1)))
    assert station_daily(empty.slice(0, 0)).num_rows == 0


# -- the numpy city ranking agrees row for row with the reference SQL ------------------------------
@pytest.mark.parametrize(
    ("day", "quirks"), [(dt.date(2023, 1, 20), Quirks()), (dt.date(2023, 7, 15), Quirks.always())]
)
def test_numpy_city_ranking_agrees_with_the_sql_on_simulated_days(day: dt.date, quirks: Quirks) -> None:
    network = national_stations(300, seed=3)  # two stations missing from the list, bad coordinates
    listed = parse_station_list(station_list_csv(network)).table
    daily = daily_table.conform(station_daily(simulated_hourly(day, quirks)))
    fast, reference = city_daily_ranking(daily, listed), city_daily_ranking_sql(daily, listed)
    assert fast.num_rows > 20 and fast.column("rank").null_count < fast.num_rows
    assert fast.equals(reference)


def test_tied_cities_share_a_rank_as_in_the_sql() -> None:
    daily = station_daily(
        table(hourly("A1", range(24)), hourly("B1", range(24)), hourly("C1", range(24), pm25_ugm3=300.0))
    )
    stations = pa.table(
        {
            "station_code": ["A1", "B1", "C1"],
            "city": ["甲市", "乙市", "丙市"],
            "is_control_point": [False] * 3,
        }
    )
    fast = city_daily_ranking(daily_table.conform(daily), stations)
    assert [(r["city"], r["rank"]) for r in fast.to_pylist()] == [("乙市", 1), ("甲市", 1), ("丙市", 3)]
    assert fast.equals(city_daily_ranking_sql(daily_table.conform(daily), stations))


def test_an_hour_belongs_to_the_day_it_began_on() -> None:
    """The release stamps an hour by its end: hour 0 of a day file ended at midnight and is the day
    before's last hour (its 24:00); the day's statistics take it from the next day's file."""
    own = hourly("A", range(23))  # hours 00:00–01:00 … 22:00–23:00, stamped 01:00 … 23:00
    late = hourly("A", range(23, 24))  # 23:00–24:00: stamped 00:00 of the next day, in its file
    late["date"] = [DAY + dt.timedelta(days=1)]
    before = hourly("A", range(-1, 0))  # the day before's 23:00–24:00: hour 0 of DAY's file
    rows = table(before, own, late)
    assert days_begun(rows.column("observed_at")).to_pylist() == [
        DAY - dt.timedelta(days=1),
        *[DAY] * 24,
    ]
    picked = day_hours(rows, DAY)
    assert picked.num_rows == 24 and set(picked.column("date").to_pylist()) == {DAY}
    with pytest.raises(ValueError, match="day_hours picks them"):  # a day file as it is: hour 0 too
        station_daily(table(before, own))
    assert picked.column("observed_at").to_pylist() == rows.column("observed_at").to_pylist()[1:]


def test_the_hour_ending_at_the_2026_switch_is_scored_under_hj_633_2012(tmp_path: Path) -> None:
    """HJ 633-2026 applies from 2026-03-01: the hour ending at its 00:00 is an hour of 2026-02-28."""
    day = dt.date(2026, 3, 1)
    stations = national_stations(3, seed=2)
    path = "raw/air/china_sites_20260301.csv"
    lake = LocalLake(tmp_path)
    lake.write_bytes(path, generate_day(day, stations, seed=2, hours=range(3)))
    scored = parse_and_score(lake, path, day)
    assert isinstance(scored, ParsedDay)
    by_hour = {
        (r["observed_at"].astimezone(BEIJING).hour, r["aqi_standard"]) for r in scored.hourly.to_pylist()
    }
    assert by_hour == {(0, HJ633_2012), (1, HJ633_2026), (2, HJ633_2026)}
    assert set(scored.hourly.column("date").to_pylist()) == {day}  # the file's partition, as before
    assert scored.counts["aqi_agreement_pct"] == 100.0  # the simulated release scores hours alike
