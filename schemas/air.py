"""Ambient air quality (national real-time release): tables and the upstream-to-registry mapping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from schemas.registry import Column, Layer, PairEquality, Sharing, Table, register

OWNER = "生态环境监测处 (environmental monitoring division)"
SOURCE = "air"


@dataclass(frozen=True)
class Pollutant:
    """One concentration series of the release, renamed at the ingest boundary."""

    release_type: str  # the ``type`` value in the day file
    column: str
    unit: str
    description: str
    max: float  # physically impossible above this (catches unit mix-ups, not episodes)


# Order matters only for presentation. Limits are generous: dust storms push PM10 to ~10 000 µg/m³.
POLLUTANTS: tuple[Pollutant, ...] = (
    Pollutant("PM2.5", "pm25_ugm3", "µg/m³", "PM2.5, 1-hour mean", 5000),
    Pollutant("PM2.5_24h", "pm25_24h_ugm3", "µg/m³", "PM2.5, mean of the last 24 hours", 5000),
    Pollutant("PM10", "pm10_ugm3", "µg/m³", "PM10, 1-hour mean", 20000),
    Pollutant("PM10_24h", "pm10_24h_ugm3", "µg/m³", "PM10, mean of the last 24 hours", 20000),
    Pollutant("SO2", "so2_ugm3", "µg/m³", "SO2, 1-hour mean", 10000),
    Pollutant("SO2_24h", "so2_24h_ugm3", "µg/m³", "SO2, mean of the last 24 hours", 10000),
    Pollutant("NO2", "no2_ugm3", "µg/m³", "NO2, 1-hour mean", 5000),
    Pollutant("NO2_24h", "no2_24h_ugm3", "µg/m³", "NO2, mean of the last 24 hours", 5000),
    Pollutant("O3", "o3_ugm3", "µg/m³", "O3, 1-hour mean", 2000),
    Pollutant("O3_24h", "o3_24h_ugm3", "µg/m³", "O3, highest 1-hour mean of the last 24 hours", 2000),
    Pollutant("O3_8h", "o3_8h_ugm3", "µg/m³", "O3, 8-hour moving mean ending this hour", 2000),
    Pollutant("O3_8h_24h", "o3_8h_24h_ugm3", "µg/m³", "O3, highest 8-hour mean of the last 24 hours", 2000),
    Pollutant("CO", "co_mgm3", "mg/m³", "CO, 1-hour mean", 200),
    Pollutant("CO_24h", "co_24h_mgm3", "mg/m³", "CO, mean of the last 24 hours", 200),
)
AQI_RELEASE_TYPE = "AQI"
RELEASE_TYPES: tuple[str, ...] = (AQI_RELEASE_TYPE, *(p.release_type for p in POLLUTANTS))

AQI_CATEGORIES: tuple[str, ...] = ("优", "良", "轻度污染", "中度污染", "重度污染", "严重污染")
AQI_STANDARDS: tuple[str, ...] = ("HJ633-2012", "HJ633-2026")

_DATE = Column("date", "date", "Beijing local date of the observation (partition key)", nullable=False)
_STATION = Column("station_code", "string", "national station code (监测点编码), e.g. 1001A", nullable=False)


def _aqi_columns() -> tuple[Column, ...]:
    return (
        Column("aqi", "int16", "AQI computed by ecocloud (HJ 633, version in aqi_standard)", min=0, max=500),
        Column(
            "primary_pollutants",
            "string",
            "primary pollutant(s) when AQI > 50, comma-separated (ties: all), e.g. PM2.5,PM10",
        ),
        Column("aqi_category", "string", "AQI category (空气质量指数类别)", allowed=AQI_CATEGORIES),
        Column(
            "aqi_standard",
            "string",
            "AQI technical regulation applied, chosen by date",
            allowed=AQI_STANDARDS,
        ),
    )


station_hourly = Table(
    name="core_air__station_hourly",
    layer=Layer.CORE,
    source=SOURCE,
    title="Ambient air quality, station hourly (环境空气质量 站点小时数据)",
    description=(
        "One row per national air station and hour of the real-time release. Every pollutant is its "
        "own column in its unit. `aqi_published` is the release's AQI row; `aqi` is recomputed from "
        "the concentrations with HJ 633 (2012 before 2026-03-01, 2026 from then) and must agree "
        "with it on at least 99.9 % of station-hours."
    ),
    columns=(
        _DATE,
        _STATION,
        Column("observed_at", "timestamp", "time stamp of the hour as released (UTC)", nullable=False),
        *(Column(p.column, "float64", p.description, unit=p.unit, min=0, max=p.max) for p in POLLUTANTS),
        Column("aqi_published", "int16", "AQI as published in the release", min=0, max=500),
        *_aqi_columns(),
    ),
    primary_key=("station_code", "observed_at"),
    owner=OWNER,
    frequency="hourly",
    sharing=Sharing.UNCONDITIONAL,
    freshness_column="observed_at",
    freshness_tolerance=timedelta(hours=3),
    pair_checks=(
        PairEquality(
            "aqi",
            "aqi_published",
            mostly=0.999,
            description="computed AQI equals the published AQI on ≥ 99.9 % of station-hours that have one",
        ),
    ),
)

stations = Table(
    name="core_air__stations",
    layer=Layer.CORE,
    source=SOURCE,
    title="Ambient air monitoring stations (环境空气监测点位)",
    description=(
        "Every station in the national station list, plus stations that appear in day files but not "
        "in the list (`listed` = false; name, city and coordinates unknown until the list has them)."
    ),
    columns=(
        _STATION,
        Column("station_name", "string", "station name (监测点名称)"),
        Column("city", "string", "city (城市) as in the station list"),
        Column("longitude", "float64", "longitude (WGS-84 as published)", unit="°", min=73, max=136),
        Column("latitude", "float64", "latitude (WGS-84 as published)", unit="°", min=3, max=54),
        Column("is_control_point", "bool", "background / control point (对照点); excluded from city means"),
        Column("listed", "bool", "present in the station list", nullable=False),
        Column("first_seen_date", "date", "first date with data in the lake"),
        Column("last_seen_date", "date", "latest date with data in the lake"),
    ),
    primary_key=("station_code",),
    partition_by=None,
    owner=OWNER,
    frequency="on change",
    sharing=Sharing.UNCONDITIONAL,
)

_DAILY_POLLUTANTS = (
    ("pm25_ugm3", "µg/m³", "PM2.5"),
    ("pm10_ugm3", "µg/m³", "PM10"),
    ("so2_ugm3", "µg/m³", "SO2"),
    ("no2_ugm3", "µg/m³", "NO2"),
    ("co_mgm3", "mg/m³", "CO"),
)

station_daily = Table(
    name="core_air__station_daily",
    layer=Layer.CORE,
    source=SOURCE,
    title="Ambient air quality, station daily (站点日均值与日AQI)",
    description=(
        "Daily means per station on the Beijing day, with GB 3095 validity: a daily mean needs ≥ 20 "
        "hourly values, the O3 daily maximum 8-hour mean needs ≥ 14 valid 8-hour means (each ≥ 6 "
        "hours, HJ 663). An invalid statistic is NULL with its `*_valid` flag false — never an "
        "average of too few hours. Daily AQI uses the valid 24-hour statistics."
    ),
    columns=(
        _DATE,
        _STATION,
        *(
            col
            for name, unit, label in _DAILY_POLLUTANTS
            for col in (
                Column(name, "float64", f"{label} daily mean (NULL when invalid)", unit=unit, min=0),
                Column(
                    f"{name.rsplit('_', 1)[0]}_hours", "int8", f"hours with a {label} value", min=0, max=24
                ),
                Column(
                    f"{name.rsplit('_', 1)[0]}_valid", "bool", f"{label} daily mean meets GB 3095 validity"
                ),
            )
        ),
        Column("o3_1h_max_ugm3", "float64", "O3 highest 1-hour value of the day", unit="µg/m³", min=0),
        Column(
            "o3_8h_max_ugm3",
            "float64",
            "O3 daily maximum 8-hour mean (NULL when invalid)",
            unit="µg/m³",
            min=0,
        ),
        Column("o3_8h_windows", "int8", "valid 8-hour means in the day", min=0, max=24),
        Column("o3_valid", "bool", "O3 daily maximum 8-hour mean meets validity"),
        Column("valid_indicators", "int8", "how many of the daily AQI indicators are valid", min=0, max=6),
        *_aqi_columns(),
    ),
    primary_key=("station_code", "date"),
    owner=OWNER,
    frequency="daily",
    sharing=Sharing.UNCONDITIONAL,
)

city_daily_ranking = Table(
    name="mart_air__city_daily_ranking",
    layer=Layer.MART,
    source=SOURCE,
    title="City daily air quality ranking (城市空气质量日排名)",
    description=(
        "Cities ranked by daily AQI (1 = best air). City concentrations are the means of the city's "
        "non-control stations' valid daily statistics; stations missing from the station list have "
        "no city and are left out (they are listed in core_air__stations with listed = false)."
    ),
    columns=(
        _DATE,
        Column("city", "string", "city (城市)", nullable=False),
        Column("stations", "int16", "stations contributing", min=1),
        Column("pm25_ugm3", "float64", "PM2.5 city daily mean", unit="µg/m³", min=0),
        Column("pm10_ugm3", "float64", "PM10 city daily mean", unit="µg/m³", min=0),
        Column("so2_ugm3", "float64", "SO2 city daily mean", unit="µg/m³", min=0),
        Column("no2_ugm3", "float64", "NO2 city daily mean", unit="µg/m³", min=0),
        Column("co_mgm3", "float64", "CO city daily mean", unit="mg/m³", min=0),
        Column("o3_8h_max_ugm3", "float64", "O3 daily maximum 8-hour mean, city mean", unit="µg/m³", min=0),
        *_aqi_columns(),
        Column("rank", "int16", "rank among cities that day, 1 = best (ties share a rank)", min=1),
    ),
    primary_key=("date", "city"),
    owner=OWNER,
    frequency="daily",
    sharing=Sharing.UNCONDITIONAL,
)

quarantine = Table(
    name="quarantine_air__station_hourly",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="Air release rows that could not be typed",
    description=(
        "Lines or station-hours of a day file that could not be typed, with the reason and the raw "
        "location. Station-hours in = published + quarantined, always."
    ),
    columns=(
        _DATE,
        Column("raw_file", "string", "raw-zone path of the file (relative to the lake)", nullable=False),
        Column("line_no", "int32", "1-based line number in the file", nullable=False),
        Column("station_code", "string", "station column, NULL when the whole line is rejected"),
        Column("release_type", "string", "the line's `type` value"),
        Column("raw_value", "string", "the offending text"),
        Column("reason", "string", "why it was not published", nullable=False),
    ),
    primary_key=("raw_file", "line_no", "station_code"),
    owner=OWNER,
    frequency="hourly",
    sharing=Sharing.NOT_SHARED,
)

register(station_hourly, stations, station_daily, city_daily_ranking, quarantine)
