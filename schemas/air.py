"""Ambient air quality (national real-time release): tables and the upstream-to-registry mapping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from schemas.fields import (
    DAILY,
    EVERY_RUN,
    HOURLY,
    MONITORING_DIVISION,
    ON_CHANGE,
    SHARED,
    STAGE_ONLY,
    WHEN_REJECTED,
)
from schemas.registry import Codes, Column, Fields, Layer, PairEquality, Sharing, Table, register

OWNER = MONITORING_DIVISION
SOURCE = "air"
UPSTREAM = "全国城市空气质量实时发布平台 (CNEMC national real-time air quality release)"
DERIVED = (
    "生态云 据全国城市空气质量实时发布平台数据计算 (computed by ecocloud from the CNEMC national release)"
)


@dataclass(frozen=True)
class Pollutant:
    """One concentration series of the release, renamed at the ingest boundary."""

    release_type: str  # the ``type`` value in the day file
    column: str
    unit: str
    description: str
    max: float  # physically impossible above this (catches unit mix-ups, not episodes)
    description_zh: str = ""


# Order matters only for presentation. Limits are generous: dust storms push PM10 to ~10 000 µg/m³.
POLLUTANTS: tuple[Pollutant, ...] = (
    Pollutant(
        "PM2.5", "pm25_ugm3", "µg/m³", "PM2.5, 1-hour mean", 5000, description_zh="PM2.5 1小时平均浓度"
    ),
    Pollutant(
        "PM2.5_24h",
        "pm25_24h_ugm3",
        "µg/m³",
        "PM2.5, mean of the last 24 hours",
        5000,
        description_zh="PM2.5 24小时滑动平均浓度",
    ),
    Pollutant("PM10", "pm10_ugm3", "µg/m³", "PM10, 1-hour mean", 20000, description_zh="PM10 1小时平均浓度"),
    Pollutant(
        "PM10_24h",
        "pm10_24h_ugm3",
        "µg/m³",
        "PM10, mean of the last 24 hours",
        20000,
        description_zh="PM10 24小时滑动平均浓度",
    ),
    Pollutant("SO2", "so2_ugm3", "µg/m³", "SO2, 1-hour mean", 10000, description_zh="SO2 1小时平均浓度"),
    Pollutant(
        "SO2_24h",
        "so2_24h_ugm3",
        "µg/m³",
        "SO2, mean of the last 24 hours",
        10000,
        description_zh="SO2 24小时滑动平均浓度",
    ),
    Pollutant("NO2", "no2_ugm3", "µg/m³", "NO2, 1-hour mean", 5000, description_zh="NO2 1小时平均浓度"),
    Pollutant(
        "NO2_24h",
        "no2_24h_ugm3",
        "µg/m³",
        "NO2, mean of the last 24 hours",
        5000,
        description_zh="NO2 24小时滑动平均浓度",
    ),
    Pollutant("O3", "o3_ugm3", "µg/m³", "O3, 1-hour mean", 2000, description_zh="O3 1小时平均浓度"),
    Pollutant(
        "O3_24h",
        "o3_24h_ugm3",
        "µg/m³",
        "O3, highest 1-hour mean of the last 24 hours",
        2000,
        description_zh="O3 最近24小时内的最大1小时平均浓度",
    ),
    Pollutant(
        "O3_8h",
        "o3_8h_ugm3",
        "µg/m³",
        "O3, 8-hour moving mean ending this hour",
        2000,
        description_zh="O3 截至本小时的8小时滑动平均浓度",
    ),
    Pollutant(
        "O3_8h_24h",
        "o3_8h_24h_ugm3",
        "µg/m³",
        "O3, highest 8-hour mean of the last 24 hours",
        2000,
        description_zh="O3 最近24小时内的最大8小时平均浓度",
    ),
    Pollutant("CO", "co_mgm3", "mg/m³", "CO, 1-hour mean", 200, description_zh="CO 1小时平均浓度"),
    Pollutant(
        "CO_24h",
        "co_24h_mgm3",
        "mg/m³",
        "CO, mean of the last 24 hours",
        200,
        description_zh="CO 24小时滑动平均浓度",
    ),
)
AQI_RELEASE_TYPE = "AQI"
RELEASE_TYPES: tuple[str, ...] = (AQI_RELEASE_TYPE, *(p.release_type for p in POLLUTANTS))

# HJ 633's categories (the data holds the Chinese) with the English names of its own English version
AQI_CATEGORIES = Codes(
    {
        "优": ("优", "excellent"),
        "良": ("良", "good"),
        "轻度污染": ("轻度污染", "lightly polluted"),
        "中度污染": ("中度污染", "moderately polluted"),
        "重度污染": ("重度污染", "heavily polluted"),
        "严重污染": ("严重污染", "severely polluted"),
    }
)
AQI_STANDARDS: tuple[str, ...] = ("HJ633-2012", "HJ633-2026")

# Why a file, a line or a station-hour is in quarantine_air__station_hourly (its ``reason``; the
# values themselves and every cause of a station-hour are in its ``detail``): the one declaration of
# the reasons the air code writes. ingest.air.parse fails at import on a reason it writes that is
# not labelled here in Chinese and English.
QUARANTINE_REASONS = Codes(
    {
        # the whole file (a row at line 1, no station)
        "unreadable_file": (
            "文件无法读取（压缩数据损坏或解压后过大）",
            "file unreadable (corrupt compressed data, or too large inflated)",
        ),
        "not_a_day_file": (
            "不是日数据文件（无表头、表头不是 UTF-8 或不以 date,hour,type 开头，或文件名和各行均无日期）",
            "not a day file (no header, a header not in UTF-8 or not starting date,hour,type, or no date "
            "in its name or lines)",
        ),
        # a whole line (no station)
        "malformed_line": ("该行字段数与表头不符", "the line's field count differs from the header's"),
        "wrong_date": ("该行日期不是文件的日期", "the line's date is not the file's"),
        "bad_hour": ("小时不在 0–23 之间", "the hour is not 0..23"),
        "unknown_type": ("未知的数据类型（type）", "unknown type"),
        "duplicate_line": ("同一小时、同一类型的第二行", "a second line for an hour and type"),
        "unnamed_column": ("表头无站点编码的列中有数值", "a value under a column without a station code"),
        # a station-hour (the cause of its first flagged type; detail names them all)
        "not_a_number": ("数值不是数字", "a value is not a number"),
        "duplicate_column_disagrees": ("重复的站点列数值不一致", "duplicated station columns disagree"),
        "impossible_value": ("不可能的数值（负数或无穷大）", "an impossible value (negative or infinite)"),
        "above_maximum": ("数值超过登记的最大值", "a value above the registry's maximum"),
        "aqi_not_integer": ("AQI 不是整数", "the AQI is not an integer"),
    }
)

F = Fields("air", parent=SHARED)
F.define(
    Column(
        "station_code",
        "string",
        "national station code (监测点编码), e.g. 1001A",
        description_zh="国控监测点编码，如 1001A",
        nullable=False,
    ),
    *(
        Column(
            p.column, "float64", p.description, description_zh=p.description_zh, unit=p.unit, min=0, max=p.max
        )
        for p in POLLUTANTS
    ),
    Column(
        "aqi_published",
        "int16",
        "AQI as published in the release",
        description_zh="实时发布数据中发布的AQI",
        unit="1",
        min=0,
        max=500,
    ),
    Column(
        "aqi",
        "int16",
        "AQI computed by ecocloud (HJ 633, version in aqi_standard)",
        description_zh="生态云计算的AQI（按 HJ 633，版本见 aqi_standard）",
        unit="1",
        min=0,
        max=500,
    ),
    Column(
        "primary_pollutants",
        "string",
        "primary pollutant(s) when AQI > 50, comma-separated (ties: all), e.g. PM2.5,PM10",
        description_zh="AQI大于50时的首要污染物，逗号分隔（并列时全部列出），如 PM2.5,PM10",
    ),
    Column(
        "aqi_category",
        "string",
        "AQI category (空气质量指数类别)",
        description_zh="空气质量指数类别",
        allowed=AQI_CATEGORIES,
    ),
    Column(
        "aqi_standard",
        "string",
        "AQI technical regulation applied, chosen by date",
        description_zh="所采用的AQI技术规定版本，按日期确定",
        allowed=AQI_STANDARDS,
    ),
    Column("station_name", "string", "station name (监测点名称)", description_zh="监测点名称"),
    Column("city", "string", "city (城市) as in the station list", description_zh="城市，按站点列表的写法"),
    Column(
        "is_control_point",
        "bool",
        "background / control point (对照点); excluded from city means",
        description_zh="是否为对照点（背景点）；对照点不参与城市均值计算",
    ),
    Column(
        "stations", "int16", "stations contributing", description_zh="参与计算的站点数", unit="count", min=1
    ),
    Column(
        "rank",
        "int16",
        "rank among cities that day, 1 = best (ties share a rank); NULL when the city has no AQI "
        "(an indicator without a valid statistic, see missing_indicators)",
        description_zh="当日在各城市中的排名，1为最好（并列者名次相同）；城市没有AQI"
        "（有指标无有效统计量，见 missing_indicators）时为 NULL",
        unit="1",
        min=1,
    ),
    Column("release_type", "string", "the line's `type` value", description_zh="该行 type 字段的值"),
    Column(
        "reason",
        "string",
        "why it was not published: the code of the first cause (labels: QUARANTINE_REASONS); every "
        "cause, with the values, is in `detail`",
        description_zh="未发布的原因：首个原因的代码（名称见 QUARANTINE_REASONS）；全部原因及数值见 `detail`",
        nullable=False,
        allowed=QUARANTINE_REASONS,
    ),
    Column(
        "detail",
        "string",
        "every cause, as people read it, with the values (e.g. PM2.5='abc' is not a number; CO: "
        "duplicated station column disagrees); NULL in rows written before the reason was a code",
        description_zh="全部原因的说明，附数值（如 PM2.5='abc' is not a number; CO: duplicated station column "
        "disagrees）；原因改为代码之前写入的行为 NULL",
    ),
)

_DAILY_POLLUTANTS = (
    ("pm25_ugm3", "µg/m³", "PM2.5"),
    ("pm10_ugm3", "µg/m³", "PM10"),
    ("so2_ugm3", "µg/m³", "SO2"),
    ("no2_ugm3", "µg/m³", "NO2"),
    ("co_mgm3", "mg/m³", "CO"),
)

# Daily statistics reuse the hourly column names with the daily meaning (and no upper bound).
DAILY_STATS = Fields("air.daily", parent=F)
DAILY_STATS.define(
    *(
        col
        for name, unit, label in _DAILY_POLLUTANTS
        for col in (
            Column(
                name,
                "float64",
                f"{label} daily mean (NULL when invalid)",
                description_zh=f"{label} 日均值（无效时为 NULL）",
                unit=unit,
                min=0,
            ),
            Column(
                f"{name.rsplit('_', 1)[0]}_hours",
                "int8",
                f"hours with a {label} value",
                description_zh=f"有 {label} 值的小时数",
                unit="h",
                min=0,
                max=24,
            ),
            Column(
                f"{name.rsplit('_', 1)[0]}_valid",
                "bool",
                f"{label} daily mean meets GB 3095 validity",
                description_zh=f"{label} 日均值是否符合 GB 3095 数据有效性规定",
            ),
        )
    ),
    Column(
        "o3_1h_max_ugm3",
        "float64",
        "O3 highest 1-hour value of the day",
        description_zh="O3 日最大1小时平均浓度",
        unit="µg/m³",
        min=0,
    ),
    Column(
        "o3_8h_max_ugm3",
        "float64",
        "O3 daily maximum 8-hour mean (NULL when invalid)",
        description_zh="O3 日最大8小时平均浓度（无效时为 NULL）",
        unit="µg/m³",
        min=0,
    ),
    Column(
        "o3_8h_windows",
        "int8",
        "valid 8-hour means in the day",
        description_zh="当日有效8小时平均值的个数",
        unit="count",
        min=0,
        max=24,
    ),
    Column(
        "o3_valid",
        "bool",
        "O3 daily maximum 8-hour mean meets validity",
        description_zh="O3 日最大8小时平均浓度是否符合数据有效性规定",
    ),
    Column(
        "valid_indicators",
        "int8",
        "how many of the daily AQI indicators are valid",
        description_zh="日AQI各项指标中有效的项数",
        unit="count",
        min=0,
        max=6,
    ),
    Column(
        "missing_indicators",
        "string",
        "daily AQI indicators without a valid statistic (of PM2.5, PM10, SO2, NO2, CO, O3), "
        "comma-separated; NULL when all six are valid. The daily AQI needs all six: with any "
        "missing it is NULL (a city then has no rank)",
        description_zh="日AQI六项指标（PM2.5、PM10、SO2、NO2、CO、O3）中没有有效统计量的指标，逗号分隔；"
        "六项均有效时为 NULL。日AQI需要六项指标均有效：任一缺失则日AQI为 NULL（城市因而没有排名）",
    ),
)

_DATE = SHARED.get(
    "date",
    description="Beijing local date of the observation (partition key)",
    description_zh="监测日期（北京时间，分区字段）",
)
_AQI = ("aqi", "primary_pollutants", "aqi_category", "aqi_standard")


station_hourly = Table(
    name="core_air__station_hourly",
    layer=Layer.CORE,
    source=SOURCE,
    title="Ambient air quality, station hourly",
    title_zh="环境空气质量 站点小时数据",
    description=(
        "One row per national air station and hour of the real-time release. Every pollutant is its "
        "own column in its unit. `aqi_published` is the release's AQI row; `aqi` is recomputed from "
        "the concentrations with HJ 633 (2012 before 2026-03-01, 2026 from then) and must agree "
        "with it on at least 99.9 % of station-hours."
    ),
    description_zh=(
        "全国城市空气质量实时发布数据，每个国控站点每小时一行，各污染物浓度按其单位分列。"
        "aqi_published 为发布的AQI；aqi 由生态云按 HJ 633 重新计算（2026年3月1日前用2012版，此后用2026版），"
        "与发布值的一致率须不低于99.9%。"
    ),
    columns=(
        SHARED.get(
            "date",
            description="Beijing date of the day file the hour is in (partition key): its hour 0 ended at midnight",
            description_zh="该小时所在日文件的日期（北京时间，分区字段）：日文件的0时是结束于当日0:00的那一小时",
        ),
        F.get("station_code"),
        F.get(
            "observed_at",
            description=(
                "the hour's end, as the release labels it (UTC): hour h of a day file is the hour ending "
                "h:00 Beijing time, so hour 0 is the last hour of the day before"
            ),
            description_zh=(
                "该小时的结束时刻，与发布数据的标注一致（UTC）：日文件的 h 时是北京时间 h:00 结束的那一小时，"
                "因此0时是前一日的最后一小时"
            ),
        ),
        *F(*(p.column for p in POLLUTANTS)),
        F.get("aqi_published"),
        *F(*_AQI),
    ),
    primary_key=("station_code", "observed_at"),
    owner=OWNER,
    frequency=HOURLY,
    sharing=Sharing.UNCONDITIONAL,
    source_system=UPSTREAM,
    freshness_column="observed_at",
    freshness_tolerance=timedelta(hours=3),
    # a day file grows during its day: a newer one with far fewer station-hours is a truncated copy
    max_shrink=0.1,
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
    title="Ambient air monitoring stations",
    title_zh="环境空气监测点位",
    description=(
        "Every station in the national station list, plus stations that appear in day files but not "
        "in the list (`listed` = false; name, city and coordinates unknown until the list has them)."
    ),
    description_zh=(
        "国家站点列表中的全部空气监测点位，以及在小时数据中出现但不在列表中的站点"
        "（listed 为 false，其名称、城市和坐标待列表补充）。"
    ),
    columns=(
        F.get("station_code"),
        *F("station_name", "city"),
        F.get(
            "longitude",
            description="longitude (WGS-84 as published)",
            description_zh="经度（WGS-84，按发布值）",
        ),
        F.get(
            "latitude",
            description="latitude (WGS-84 as published)",
            description_zh="纬度（WGS-84，按发布值）",
        ),
        F.get("is_control_point"),
        F.get("listed", description="present in the station list", description_zh="是否在站点列表中"),
        *F("first_seen_date", "last_seen_date"),
    ),
    primary_key=("station_code",),
    partition_by=None,
    owner=OWNER,
    frequency=ON_CHANGE,
    sharing=Sharing.UNCONDITIONAL,
    source_system=UPSTREAM,
)

station_daily = Table(
    name="core_air__station_daily",
    layer=Layer.CORE,
    source=SOURCE,
    title="Ambient air quality, station daily means and daily AQI",
    title_zh="站点日均值与日AQI",
    description=(
        "Daily means per station over the Beijing natural day (00:00–24:00: the station-hours ending "
        "01:00 … 24:00, the last of them hour 0 of the next day's file), with GB 3095 validity: a daily mean needs ≥ 20 "
        "hourly values, the O3 daily maximum 8-hour mean needs ≥ 14 valid 8-hour means (each ≥ 6 "
        "hours, HJ 663). An invalid statistic is NULL with its `*_valid` flag false — never an "
        "average of too few hours. The daily AQI needs all six indicators valid: otherwise it is NULL "
        "and `missing_indicators` names the invalid ones (the highest IAQI of the day is unknown)."
    ),
    description_zh=(
        "按北京时间自然日（0:00–24:00，即结束于1时至24时的小时值，24时的小时值在次日文件的0时）统计的站点日均值，按 GB 3095 判定有效性：日均值至少需要20个小时值，"
        "臭氧日最大8小时平均至少需要14个有效的8小时均值（每个至少6小时，HJ 663）。"
        "无效的统计量为空值且对应 *_valid 为 false，不以不足的小时数求平均；六项指标均有效时才计算日AQI，否则日AQI为空，"
        "missing_indicators 列出无效的指标。"
    ),
    columns=(
        _DATE,
        F.get("station_code"),
        *DAILY_STATS(
            *(
                col
                for name, _, _ in _DAILY_POLLUTANTS
                for col in (name, f"{name.rsplit('_', 1)[0]}_hours", f"{name.rsplit('_', 1)[0]}_valid")
            )
        ),
        *DAILY_STATS(
            "o3_1h_max_ugm3",
            "o3_8h_max_ugm3",
            "o3_8h_windows",
            "o3_valid",
            "valid_indicators",
            "missing_indicators",
        ),
        *F(*_AQI),
    ),
    primary_key=("station_code", "date"),
    owner=OWNER,
    frequency=DAILY,
    sharing=Sharing.UNCONDITIONAL,
    source_system=DERIVED,
)

city_daily_ranking = Table(
    name="mart_air__city_daily_ranking",
    layer=Layer.MART,
    source=SOURCE,
    title="City daily air quality ranking",
    title_zh="城市空气质量日排名",
    description=(
        "Cities ranked by daily AQI (1 = best air). City concentrations are the means of the city's "
        "non-control stations' valid daily statistics; stations missing from the station list have "
        "no city and are left out (they are listed in core_air__stations with listed = false). A "
        "city with an indicator no station has valid (`missing_indicators`) has no AQI and no rank; "
        "its row keeps the valid means."
    ),
    description_zh=(
        "按日AQI对城市排名（1为空气质量最好）。城市浓度为该市非对照点有效日统计量的平均；"
        "不在站点列表中的站点没有所属城市，不参与排名（见 core_air__stations 中 listed 为 false 的站点）。"
        "某项指标没有任何站点有效（missing_indicators）的城市没有AQI、不参与排名，但保留其有效的均值。"
    ),
    columns=(
        _DATE,
        F.get("city", description="city (城市)", description_zh="城市", nullable=False),
        F.get(
            "stations",
            description="the city's non-control stations with a daily row that day; each pollutant's "
            "city mean is over those of them with a valid daily value of it (maybe fewer)",
            description_zh="当日有日数据的本市非对照点站点数；各污染物的城市均值取其中该污染物日均值有效的站点（可能更少）",
        ),
        DAILY_STATS.get("pm25_ugm3", description="PM2.5 city daily mean", description_zh="PM2.5 城市日均值"),
        DAILY_STATS.get("pm10_ugm3", description="PM10 city daily mean", description_zh="PM10 城市日均值"),
        DAILY_STATS.get("so2_ugm3", description="SO2 city daily mean", description_zh="SO2 城市日均值"),
        DAILY_STATS.get("no2_ugm3", description="NO2 city daily mean", description_zh="NO2 城市日均值"),
        DAILY_STATS.get("co_mgm3", description="CO city daily mean", description_zh="CO 城市日均值"),
        DAILY_STATS.get(
            "o3_8h_max_ugm3",
            description="O3 daily maximum 8-hour mean, city mean",
            description_zh="O3 日最大8小时平均浓度的城市均值",
        ),
        DAILY_STATS.get(
            "missing_indicators",
            description="indicators no station of the city has a valid statistic for, comma-separated; "
            "NULL when all six have one. A city with any missing has no AQI and no rank",
            description_zh="该市没有任何站点具有有效统计量的指标，逗号分隔；六项均有有效统计量时为 NULL。"
            "有任一项缺失的城市没有AQI，也没有排名",
        ),
        *F(*_AQI),
        F.get("rank"),
    ),
    primary_key=("date", "city"),
    owner=OWNER,
    frequency=DAILY,
    sharing=Sharing.UNCONDITIONAL,
    source_system=DERIVED,
)

quarantine = Table(
    name="quarantine_air__station_hourly",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="Air release rows that could not be typed",
    title_zh="空气质量发布数据 隔离记录",
    description=(
        "Lines or station-hours of a day file that could not be typed, with the reason and the raw "
        "location. Station-hours in = published + quarantined, always."
    ),
    description_zh=(
        "日文件中无法解析的行或站点小时值，附原因和在原始文件中的位置；"
        "输入的站点小时数始终等于已发布数加隔离数。"
    ),
    columns=(
        _DATE,
        F.get(
            "raw_file",
            description="raw-zone path of the file (relative to the lake)",
            description_zh="该文件在原始区中的路径（相对于数据湖）",
        ),
        F.get(
            "line_no",
            description="1-based line number in the file",
            description_zh="在文件中的行号（从1开始）",
        ),
        F.get(
            "station_code",
            description="the station code heading the rejected value's column; NULL when the whole line is rejected",
            description_zh="被拒收值所在列的站点编码（列标题）；整行被拒收时为 NULL",
            nullable=True,
        ),
        *F("release_type", "raw_value", "reason", "detail"),
    ),
    primary_key=("raw_file", "line_no", "station_code"),
    added_columns=("detail",),  # reason was free text before
    owner=OWNER,
    frequency=WHEN_REJECTED,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=(
        "不予共享：发布文件中无法解析的内容，仅供数据工程人员排查上游数据问题 "
        "(not shared: untypeable content of the release, for data engineers tracing upstream problems)"
    ),
    source_system=UPSTREAM,
)

# -- stage: typed rows handed from the parsers to the builds (in memory only) --------------------
station_list = Table(
    name="stage_air__station_list",
    layer=Layer.STAGE,
    source=SOURCE,
    title="National station list as parsed",
    title_zh="国控站点列表（解析结果）",
    description="The national station list file, typed: one row per station code (first row wins).",
    description_zh="国家空气监测站点列表文件的解析结果，每个站点编码一行（重复时取第一行）。",
    columns=(
        F.get("station_code"),
        *F("station_name", "city", "longitude", "latitude", "is_control_point"),
    ),
    primary_key=("station_code",),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=UPSTREAM,
)

aqi_scores = Table(
    name="stage_air__aqi",
    layer=Layer.STAGE,
    source=SOURCE,
    title="AQI computed for a batch of station-hours or station-days",
    title_zh="AQI 计算结果",
    description="What transforms.aqi returns: the AQI, primary pollutants, category and the regulation used.",
    description_zh="AQI 计算函数的输出：空气质量指数、首要污染物、类别及所用技术规定版本。",
    columns=F(*_AQI),
    primary_key=(),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=DERIVED,
)

register(station_hourly, stations, station_daily, city_daily_ranking, quarantine, station_list, aqi_scores)
