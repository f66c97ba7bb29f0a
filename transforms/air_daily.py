"""Daily statistics from station-hours (GB 3095 validity) and the city daily ranking, in DuckDB SQL."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from transforms.aqi import daily_aqi

# GB 3095-2012/2026 table 4: a daily mean needs >= 20 hourly values.
MIN_HOURS_DAILY = 20
# HJ 663: an 8-hour mean needs >= 6 hourly values; the daily maximum needs >= 14 valid 8-hour means.
MIN_HOURS_8H = 6
MIN_WINDOWS_8H = 14

_DAILY_SQL = f"""
WITH h AS (
    SELECT station_code, date,
           CAST((epoch(observed_at)::BIGINT // 3600 + 8) % 24 AS INTEGER) AS hr,
           pm25_ugm3, pm10_ugm3, so2_ugm3, no2_ugm3, co_mgm3, o3_ugm3
    FROM hourly
),
windows AS (   -- 8-hour moving means ending at 07:00 … 23:00 of the day
    SELECT h.station_code, w.end_hr, avg(h.o3_ugm3) AS o3_8h, count(h.o3_ugm3) AS n
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
    SELECT station_code, any_value(date) AS date,
           avg(pm25_ugm3) AS pm25, count(pm25_ugm3) AS pm25_hours,
           avg(pm10_ugm3) AS pm10, count(pm10_ugm3) AS pm10_hours,
           avg(so2_ugm3) AS so2, count(so2_ugm3) AS so2_hours,
           avg(no2_ugm3) AS no2, count(no2_ugm3) AS no2_hours,
           avg(co_mgm3) AS co, count(co_mgm3) AS co_hours,
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


def station_daily(hourly: pa.Table) -> pa.Table:
    """One row per station with daily statistics, validity flags and daily AQI (core_air__station_daily)."""
    con = duckdb.connect()
    con.register("hourly", hourly)
    stats = con.sql(_DAILY_SQL).to_arrow_table()
    con.close()
    valid = sum(stats.column(f).to_numpy(zero_copy_only=False).astype("int8") for f in _VALID_FLAGS)
    stats = stats.append_column(
        "valid_indicators", pa.array(valid, pa.int8()) if stats.num_rows else pa.array([], pa.int8())
    )
    return _with_aqi(stats)


def _with_aqi(stats: pa.Table) -> pa.Table:
    aqi = daily_aqi(stats)
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


def city_daily_ranking(daily: pa.Table, stations: pa.Table) -> pa.Table:
    """City means of valid station statistics, city daily AQI and rank (1 = best air)."""
    con = duckdb.connect()
    con.register("daily", daily)
    con.register("stations", stations)
    city = con.sql(_CITY_SQL).to_arrow_table()
    city = _with_aqi(city).drop_columns(["o3_1h_max_ugm3"])
    con.register("city", city)
    ranked = con.sql(
        "SELECT *, CASE WHEN aqi IS NOT NULL THEN rank() OVER (ORDER BY aqi NULLS LAST)::SMALLINT END AS rank "
        "FROM city ORDER BY aqi NULLS LAST, city"
    ).to_arrow_table()
    con.close()
    return ranked
