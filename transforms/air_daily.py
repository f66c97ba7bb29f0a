"""Daily statistics from station-hours (GB 3095 validity) and the city daily ranking.

The release labels an hour by its end: hour ``h`` of day file D is the hour ending D h:00 Beijing, so
its hour 0 is the last hour of the day before (the release's own 24-hour means at D 00:00 are the
means of the day before's labels 1–23 and D's label 0: checked on the real files, 100 % of stations).
A day's statistics are over its natural day, 00:00–24:00 (GB 3095): the hours ending 01:00 … 24:00,
picked by ``day_hours`` from the station-hours of its own file and the next one.

The daily statistics of one day's station-hours are computed with numpy on a (hour × station) grid
(``station_daily``); ``_DAILY_SQL`` is the reference they must agree with row for row (agreement
tests on simulated and real days), and the path taken for input that does not fit a grid (two rows
for one station-hour, NaN values).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from transforms.aqi import DAILY_INPUT_COLUMNS, DAILY_OPTIONAL_COLUMNS, daily_aqi, missing_indicators
from transforms.arrow_sql import query_arrow

# the hour of the day an hour stands for: the Beijing hour in which it began (its end is the label)
_HOUR_OF_DAY_SQL = "CAST((epoch(observed_at)::BIGINT // 3600 - 1 + 8) % 24 AS INTEGER)"
_BEIJING_H = 8
_US_PER_H = 3_600_000_000
# GB 3095-2012/2026 table 4: a daily mean needs >= 20 hourly values.
MIN_HOURS_DAILY = 20
# HJ 663: an 8-hour mean needs >= 6 hourly values; the daily maximum needs >= 14 valid 8-hour means.
MIN_HOURS_8H = 6
MIN_WINDOWS_8H = 14

_DAILY_SQL = f"""
WITH rows AS (
    SELECT station_code, date,
           {_HOUR_OF_DAY_SQL} AS hr,
           pm25_ugm3, pm10_ugm3, so2_ugm3, no2_ugm3, co_mgm3, o3_ugm3
    FROM hourly
),
h AS (   -- one row per station-hour: two rows of one hour are one hour (their mean), not two
    SELECT station_code, any_value(date) AS date, hr,
           avg(pm25_ugm3) AS pm25_ugm3, avg(pm10_ugm3) AS pm10_ugm3, avg(so2_ugm3) AS so2_ugm3,
           avg(no2_ugm3) AS no2_ugm3, avg(co_mgm3) AS co_mgm3, avg(o3_ugm3) AS o3_ugm3
    FROM rows GROUP BY station_code, hr
),
windows AS (   -- 8-hour moving means ending at 08:00 … 24:00 of the day (hours 0–7 … 16–23)
    SELECT h.station_code, w.end_hr, avg(h.o3_ugm3 ORDER BY h.hr) AS o3_8h, count(h.o3_ugm3) AS n
    FROM h JOIN range(7, 24) AS w(end_hr) ON h.hr BETWEEN w.end_hr - 7 AND w.end_hr
    GROUP BY ALL
),
o3 AS (
    SELECT station_code,
           max(o3_8h) FILTER (WHERE n >= {MIN_HOURS_8H}) AS o3_8h_max,
           count(*) FILTER (WHERE n >= {MIN_HOURS_8H}) AS o3_8h_windows
    FROM windows GROUP BY ALL
),
d AS (
    SELECT station_code, any_value(date) AS date,   -- summed in hour order, as the numpy path
           avg(pm25_ugm3 ORDER BY hr) AS pm25, count(pm25_ugm3) AS pm25_hours,
           avg(pm10_ugm3 ORDER BY hr) AS pm10, count(pm10_ugm3) AS pm10_hours,
           avg(so2_ugm3 ORDER BY hr) AS so2, count(so2_ugm3) AS so2_hours,
           avg(no2_ugm3 ORDER BY hr) AS no2, count(no2_ugm3) AS no2_hours,
           avg(co_mgm3 ORDER BY hr) AS co, count(co_mgm3) AS co_hours,
           max(o3_ugm3) AS o3_1h_max, count(o3_ugm3) AS o3_hours
    FROM h GROUP BY station_code
)
SELECT d.date, d.station_code,
       CASE WHEN pm25_hours >= {MIN_HOURS_DAILY} THEN pm25 END AS pm25_ugm3,
       pm25_hours::TINYINT AS pm25_hours, pm25_hours >= {MIN_HOURS_DAILY} AS pm25_valid,
       CASE WHEN pm10_hours >= {MIN_HOURS_DAILY} THEN pm10 END AS pm10_ugm3,
       pm10_hours::TINYINT AS pm10_hours, pm10_hours >= {MIN_HOURS_DAILY} AS pm10_valid,
       CASE WHEN so2_hours >= {MIN_HOURS_DAILY} THEN so2 END AS so2_ugm3,
       so2_hours::TINYINT AS so2_hours, so2_hours >= {MIN_HOURS_DAILY} AS so2_valid,
       CASE WHEN no2_hours >= {MIN_HOURS_DAILY} THEN no2 END AS no2_ugm3,
       no2_hours::TINYINT AS no2_hours, no2_hours >= {MIN_HOURS_DAILY} AS no2_valid,
       CASE WHEN co_hours >= {MIN_HOURS_DAILY} THEN co END AS co_mgm3,
       co_hours::TINYINT AS co_hours, co_hours >= {MIN_HOURS_DAILY} AS co_valid,
       CASE WHEN o3_hours >= {MIN_HOURS_DAILY} THEN o3_1h_max END AS o3_1h_max_ugm3,
       CASE WHEN coalesce(o3_8h_windows, 0) >= {MIN_WINDOWS_8H} THEN o3_8h_max END AS o3_8h_max_ugm3,
       coalesce(o3_8h_windows, 0)::TINYINT AS o3_8h_windows,
       coalesce(o3_8h_windows, 0) >= {MIN_WINDOWS_8H} AS o3_valid
FROM d LEFT JOIN o3 USING (station_code)
ORDER BY d.station_code
"""

_VALID_FLAGS = ("pm25_valid", "pm10_valid", "so2_valid", "no2_valid", "co_valid", "o3_valid")


def day_hours(hourly: pa.Table, day: dt.date) -> pa.Table:
    """The station-hours of Beijing day ``day`` among ``hourly`` (its own file's and the next day's):
    those that began on it — the release's hours 1–23 of the day and hour 0 of the next (ending
    24:00) — with ``date`` set to ``day``."""
    rows = hourly.filter(pc.equal(days_begun(hourly.column("observed_at")), pa.scalar(day, pa.date32())))
    position = rows.schema.get_field_index("date")
    return rows.set_column(position, "date", pa.repeat(pa.scalar(day, pa.date32()), rows.num_rows))


def days_begun(observed_at: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The Beijing date each hour (stamped by its end) began on: the release's hour 0 of a day file is
    the day before's (the HJ 633 version of an hour goes by it)."""
    in_us = pc.cast(observed_at, pa.timestamp("us", tz="UTC"))
    ends_us = pc.cast(in_us, pa.int64()).to_numpy(zero_copy_only=False)
    days = (ends_us + (_BEIJING_H - 1) * _US_PER_H) // (24 * _US_PER_H)
    return pa.array(days.astype(np.int32), pa.int32()).cast(pa.date32())


def day_before_digest(hourly: pa.Table) -> str:
    """A digest of what a day file holds of the day before — its hour 0, the hour ending at its 00:00 —
    in the columns the daily statistics read: the day before's statistics depend on these rows only
    of the file, and need building again only when they change (not each time the file grows)."""
    before = pc.less(days_begun(hourly.column("observed_at")), hourly.column("date"))
    rows = hourly.filter(before).select(list(HOURLY_COLUMNS[1:])).combine_chunks()
    sink = pa.BufferOutputStream()  # the rows' Arrow bytes: equal rows from one parser, equal bytes
    with pa.ipc.new_stream(sink, rows.schema) as writer:
        writer.write_table(rows)
    return hashlib.sha256(sink.getvalue()).hexdigest()[:32]


def station_daily(hourly: pa.Table) -> pa.Table:
    """One row per station with daily statistics, validity flags and daily AQI (core_air__station_daily),
    from the station-hours of one day (``day_hours``)."""
    began = days_begun(hourly.column("observed_at"))
    if hourly.num_rows and not pc.all(pc.equal(began, hourly.column("date"))).as_py():
        raise ValueError("station_daily takes the hours that began on their date: day_hours picks them")
    grid = _HourGrid.of(hourly)
    stats = _daily_stats_sql(hourly) if grid is None else _daily_stats_numpy(hourly, grid)
    return _with_validity_and_aqi(stats)


def station_daily_sql(hourly: pa.Table) -> pa.Table:
    """``station_daily`` with the statistics from the reference SQL (for agreement tests)."""
    return _with_validity_and_aqi(_daily_stats_sql(hourly))


def _daily_stats_sql(hourly: pa.Table) -> pa.Table:
    return query_arrow(_DAILY_SQL, hourly=hourly)


def _with_validity_and_aqi(stats: pa.Table) -> pa.Table:
    valid = sum(stats.column(f).to_numpy(zero_copy_only=False).astype("int8") for f in _VALID_FLAGS)
    stats = stats.append_column(
        "valid_indicators", pa.array(valid, pa.int8()) if stats.num_rows else pa.array([], pa.int8())
    )
    return _with_aqi(stats)


_MEANS = (
    ("pm25_ugm3", "pm25"),
    ("pm10_ugm3", "pm10"),
    ("so2_ugm3", "so2"),
    ("no2_ugm3", "no2"),
    ("co_mgm3", "co"),
)
# the station-hour columns the daily statistics read (numpy and SQL alike)
HOURLY_COLUMNS = ("date", "station_code", "observed_at", *(c for c, _ in _MEANS), "o3_ugm3")
_HOURS_8H = 8
_FIRST_8H_END = 7  # the 8-hour windows of a day: hours 0–7 … 16–23, ending at 08:00 … 24:00


class _HourGrid:
    """Where each station-hour row goes in a (24 hours × stations) grid, stations in code order."""

    def __init__(self, codes: pa.Array, station: np.ndarray, hour: np.ndarray):
        self.codes, self.station, self.hour = codes, station, hour

    @classmethod
    def of(cls, hourly: pa.Table) -> _HourGrid | None:
        """The grid, or None when rows do not fit one (a station-hour twice, a NaN value)."""
        if any(pc.any(pc.is_nan(hourly.column(c))).as_py() for c, _ in (*_MEANS, ("o3_ugm3", "o3"))):
            return None
        if hourly.num_rows == 0 or pc.count_distinct(hourly.column("date")).as_py() != 1:
            return None  # one day's rows only (the SQL takes any one date per station)
        code_column = hourly.column("station_code")
        codes = pc.unique(code_column)
        codes = codes.take(pc.array_sort_indices(codes))  # SQL's ORDER BY: by code point
        station = pc.index_in(code_column, value_set=codes).to_numpy(zero_copy_only=False)
        utc_hours = hourly.column("observed_at").to_numpy().astype("datetime64[h]").astype(np.int64)
        hour = (utc_hours - 1 + _BEIJING_H) % 24  # the Beijing hour it began in (its label is its end)
        rows_per_slot = np.bincount(station.astype(np.int64) * 24 + hour, minlength=24 * len(codes))
        if rows_per_slot.max(initial=0) > 1:
            return None
        return cls(codes, station, hour)

    def values(self, column: pa.ChunkedArray) -> np.ndarray:
        """The column on the grid, NaN where a station has no row or a NULL value."""
        grid = np.full((24, len(self.codes)), np.nan)
        grid[self.hour, self.station] = column.to_numpy(zero_copy_only=False).astype(np.float64)
        return grid


def _mean_and_hours(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per station: the mean of the present hours (summed in hour order, as the SQL does) and their count."""
    present = ~np.isnan(grid)
    hours = present.sum(axis=0)
    total = np.where(present, grid, 0.0).sum(axis=0)  # axis 0 of a C-ordered grid: sequential in hour
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / hours, hours


def _o3_8h(o3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per station: the highest valid 8-hour O3 mean of the day and how many of the 17 windows are valid."""
    present = ~np.isnan(o3)
    filled = np.where(present, o3, 0.0)
    windows = 24 - _FIRST_8H_END
    total = sum(filled[k : k + windows] for k in range(_HOURS_8H))  # 8 shifted slices, hour order
    count = sum(present[k : k + windows].astype(np.int64) for k in range(_HOURS_8H))
    valid = count >= MIN_HOURS_8H
    with np.errstate(invalid="ignore", divide="ignore"):
        best = np.where(valid, total / count, -np.inf).max(axis=0)
    return best, valid.sum(axis=0)


def _daily_stats_numpy(hourly: pa.Table, grid: _HourGrid) -> pa.Table:
    """The columns of ``_DAILY_SQL``, from the grid; same types, same order (station code)."""
    out: dict[str, pa.Array] = {
        "date": pa.repeat(hourly.column("date")[0], len(grid.codes)),
        "station_code": grid.codes,
    }
    for column, prefix in _MEANS:
        mean, hours = _mean_and_hours(grid.values(hourly.column(column)))
        valid = hours >= MIN_HOURS_DAILY
        out[column] = pa.array(mean, pa.float64(), mask=~valid)
        out[f"{prefix}_hours"] = pa.array(hours.astype(np.int8), pa.int8())
        out[f"{prefix}_valid"] = pa.array(valid, pa.bool_())
    o3 = grid.values(hourly.column("o3_ugm3"))
    o3_hours = (~np.isnan(o3)).sum(axis=0)
    o3_max = np.where(np.isnan(o3), -np.inf, o3).max(axis=0)
    o3_8h_max, windows = _o3_8h(o3)
    out["o3_1h_max_ugm3"] = pa.array(o3_max, pa.float64(), mask=o3_hours < MIN_HOURS_DAILY)
    out["o3_8h_max_ugm3"] = pa.array(o3_8h_max, pa.float64(), mask=windows < MIN_WINDOWS_8H)
    out["o3_8h_windows"] = pa.array(windows.astype(np.int8), pa.int8())
    out["o3_valid"] = pa.array(windows >= MIN_WINDOWS_8H, pa.bool_())
    return pa.table(out)


def _with_aqi(stats: pa.Table) -> pa.Table:
    """The daily AQI columns, and which indicators lack a valid statistic.

    A station's or city's daily AQI is the highest IAQI of all six indicators; with one invalid the
    highest is unknown (a failed PM monitor left a day scored on O3 alone, 优, ranked first), so
    the AQI is NULL unless all six are valid (DOMAIN.md §3: invalid periods are reported as
    invalid, never silently averaged). The valid statistics stay in the row."""
    stats = stats.append_column("missing_indicators", missing_indicators(stats))
    aqi = daily_aqi(stats, all_indicators=True)
    for name in aqi.column_names:
        stats = stats.append_column(name, aqi.column(name))
    return stats


_CITY_SQL = """
SELECT d.date, s.city, count(*)::SMALLINT AS stations,
       avg(d.pm25_ugm3) AS pm25_ugm3, avg(d.pm10_ugm3) AS pm10_ugm3, avg(d.so2_ugm3) AS so2_ugm3,
       avg(d.no2_ugm3) AS no2_ugm3, avg(d.co_mgm3) AS co_mgm3,
       avg(d.o3_8h_max_ugm3) AS o3_8h_max_ugm3, avg(d.o3_1h_max_ugm3) AS o3_1h_max_ugm3
FROM daily d JOIN stations s USING (station_code)
WHERE s.city IS NOT NULL AND NOT coalesce(s.is_control_point, false)
GROUP BY d.date, s.city
ORDER BY s.city
"""


# a city's daily statistics: the means of what the daily AQI scores
_CITY_MEANS = (*DAILY_INPUT_COLUMNS[1:], *DAILY_OPTIONAL_COLUMNS)


def city_daily_ranking(daily: pa.Table, stations: pa.Table) -> pa.Table:
    """City means of valid station statistics, city daily AQI and rank (1 = best air).

    A city with an indicator that no station has valid has no AQI and so no rank: its row is kept
    (the valid means, ``missing_indicators``) after the ranked ones.

    With numpy for one day's rows and a station list without repeated codes; else (and in the
    agreement tests) with the reference SQL (``city_daily_ranking_sql``)."""
    codes = stations.column("station_code")
    if daily.num_rows == 0 or pc.count_distinct(daily.column("date")).as_py() != 1:
        return city_daily_ranking_sql(daily, stations)
    if pc.count_distinct(codes).as_py() != len(codes) or codes.null_count:
        return city_daily_ranking_sql(daily, stations)
    city = _with_aqi(_city_means(daily, stations)).drop_columns(["o3_1h_max_ugm3"])
    aqi = city.column("aqi").to_numpy(zero_copy_only=False).astype(np.float64)  # NaN = NULL
    ranked_aqi = np.sort(aqi[~np.isnan(aqi)])
    rank = np.searchsorted(ranked_aqi, aqi, side="left") + 1  # SQL rank(): ties share the lowest
    city = city.append_column("rank", pa.array(rank.astype(np.int16), pa.int16(), mask=np.isnan(aqi)))
    order = pc.sort_indices(city, [("aqi", "ascending", "at_end"), ("city", "ascending", "at_end")])
    return city.take(order)


def _city_means(daily: pa.Table, stations: pa.Table) -> pa.Table:
    """The columns of ``_CITY_SQL``: per listed city, the mean of its non-control stations' values,
    each summed in the daily rows' order (as the SQL's join and aggregate do)."""
    listed = pc.index_in(daily.column("station_code"), value_set=stations.column("station_code"))
    listed_np = listed.to_numpy(zero_copy_only=False)
    known = ~np.isnan(listed_np.astype(np.float64))
    row = np.flatnonzero(known)
    station = listed_np[known].astype(np.int64)
    station_city = stations.column("city").take(pa.array(station))
    control = stations.column("is_control_point").take(pa.array(station)).fill_null(False)
    counted = pc.and_(pc.is_valid(station_city), pc.invert(control)).to_numpy(zero_copy_only=False)
    row, station_city = row[counted], station_city.filter(pa.array(counted))
    cities = pc.unique(station_city)
    cities = cities.take(pc.array_sort_indices(cities))
    city = pc.index_in(station_city, value_set=cities).to_numpy(zero_copy_only=False)
    out: dict[str, pa.Array] = {
        "date": pa.repeat(daily.column("date")[0], len(cities)),
        "city": cities,
        "stations": pa.array(np.bincount(city, minlength=len(cities)).astype(np.int16), pa.int16()),
    }
    for name in _CITY_MEANS:
        values = daily.column(name).to_numpy(zero_copy_only=False).astype(np.float64)[row]
        present = ~np.isnan(values)
        total = np.bincount(city, weights=np.where(present, values, 0.0), minlength=len(cities))
        count = np.bincount(city, weights=present, minlength=len(cities))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = pa.array(total / count, pa.float64(), mask=count == 0)
    return pa.table(out)


def city_daily_ranking_sql(daily: pa.Table, stations: pa.Table) -> pa.Table:
    """``city_daily_ranking`` in DuckDB SQL: the reference (and the path for unusual input)."""
    city = _with_aqi(query_arrow(_CITY_SQL, daily=daily, stations=stations)).drop_columns(["o3_1h_max_ugm3"])
    return query_arrow(
        "SELECT *, CASE WHEN aqi IS NOT NULL THEN rank() OVER (ORDER BY aqi NULLS LAST)::SMALLINT END AS rank "
        "FROM city ORDER BY aqi NULLS LAST, city",
        city=city,
    )
