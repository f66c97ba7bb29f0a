"""Fields shared by several sources, the departments that own datasets, and update frequencies.

A source module declares its own fields in ``Fields("<source>", parent=SHARED)``; a name declared
here means the same thing everywhere (same type, unit, range). Tables may restate a field's
description and nullability for their own use (``SHARED.get("date", description=...)``).
"""

from __future__ import annotations

from datetime import timedelta

from schemas.registry import Codes, Column, Department, Fields, Frequency

# Why a unified social credit code fails its GB 32100 check (transforms.identifiers names them).
USCC_PROBLEMS = Codes(
    {
        "missing": "缺失",
        "length": "长度不是 18 位",
        "charset": "含不允许的字符",
        "check_char": "校验码错误",
        "number": "被电子表格存为数字、写成科学计数法（位数已丢失）",
    }
)

# The sources tables come from (each schema module's SOURCE), as the pages name them.
SOURCES = Codes(
    {
        "air": ("环境空气", "ambient air"),
        "water": ("地表水", "surface water"),
        "source": ("污染源在线监测", "pollution-source online monitoring"),
        "permit": ("排污许可", "discharge permits"),
        "credit": ("企业环境信用", "enterprise environmental credit"),
        "master": ("企业与点位主数据", "enterprise and point master data"),
        "risk": ("污染源风险", "pollution-source risk"),
        "platform": ("平台运行", "the platform itself"),
        "ledger": ("平台账本", "the platform's ledger"),
        "catalog": ("共享目录", "the shared catalog"),
    }
)
# The lake's layers, as the pages name them.
LAYERS = Codes(
    {
        "core": ("核心层", "core"),
        "mart": ("集市层", "mart"),
        "quarantine": ("隔离区", "quarantine"),
        "quality": ("质量层", "quality"),
        "platform": ("平台层", "platform"),
        "catalog": ("目录层", "catalog"),
        "stage": ("暂存层", "stage"),
    }
)

SHARED = Fields("shared")

SHARED.define(
    Column("date", "date", "Beijing date (partition key)", nullable=False),
    Column(
        "raw_file",
        "string",
        "raw-zone object the row was read from, path relative to the lake",
        nullable=False,
    ),
    Column("reason", "string", "why the row was not published", nullable=False),
    Column("raw_value", "string", "the offending text"),
    Column("line_no", "int32", "1-based line number in the raw file", unit="1", nullable=False),
    Column("run_id", "string", "pipeline run: the Airflow DAG run id, or cli-<time>-<id> for a command"),
    Column("task", "string", "who ran it: <dag_id>.<task_id> in Airflow, or the ecocloud command"),
    Column("received_at", "timestamp", "when ecocloud received the raw object (UTC)"),
    Column("observed_at", "timestamp", "time of the observation (UTC)", nullable=False),
    # -- enterprises and their identifiers (GB 32100, GB/T 2260, GB/T 4754)
    Column("uscc", "string", "unified social credit code (统一社会信用代码, GB 32100), normalised"),
    Column("uscc_valid", "bool", "USCC passes the GB 32100 check", nullable=False),
    Column(
        "uscc_problem",
        "string",
        "why the USCC fails the check (number: a spreadsheet stored it as a number, E notation: its last "
        "digits are lost)",
        allowed=USCC_PROBLEMS,
    ),
    Column("enterprise_name", "string", "enterprise name"),
    Column("enterprise_name_norm", "string", "name normalised for matching (half-width, no spaces)"),
    Column("region_code", "string", "GB/T 2260 region code (6 digits)"),
    Column("industry_code", "string", "industry (GB/T 4754), e.g. D4411"),
    Column("industry_name", "string", "industry name, e.g. 火力发电"),
    Column("address", "string", "address"),
    # -- pollution sources: data loggers, outlets, pollutants (HJ 212)
    Column("mn", "string", "data-logger device id (MN, 设备唯一标识)", nullable=False),
    Column("outlet_code", "string", "permitted outlet code (排放口编号), e.g. DA001, DW001"),
    Column("medium", "string", "air (DA outlets) or water (DW outlets)", allowed=("air", "water")),
    Column("pollutant_code", "string", "HJ 212-2017 pollutant code", nullable=False),
    # -- places
    Column("longitude", "float64", "longitude (WGS-84)", unit="°", min=73, max=136),
    Column("latitude", "float64", "latitude (WGS-84)", unit="°", min=3, max=54),
    # -- registries and their versions (SCD type 2)
    Column("listed", "bool", "present in the registry the data engineers maintain", nullable=False),
    Column("first_seen_date", "date", "first date with data in the lake"),
    Column("last_seen_date", "date", "latest date with data in the lake"),
    Column("valid_from", "timestamp", "this version takes effect (UTC)", nullable=False),
    Column("valid_to", "timestamp", "the next version takes effect (UTC); NULL: latest version"),
    Column("is_current", "bool", "latest version", nullable=False),
)

# -- owners (数据责任部门) -------------------------------------------------------------------------
PLATFORM_TEAM = Department(
    "大数据中心 平台组", "Big-data centre, platform team", "data-platform@sthjt.example.gov.cn"
)
MASTER_DATA_STEWARDS = Department(
    "大数据中心 主数据管理组", "Big-data centre, master-data stewards", "master-data@sthjt.example.gov.cn"
)
MONITORING_DIVISION = Department(
    "生态环境监测处", "Environmental Monitoring Division", "monitoring@sthjt.example.gov.cn"
)
SOURCE_MONITORING_CENTRE = Department(
    "污染源自动监控中心",
    "Pollution-Source Automatic Monitoring Centre",
    "source-monitoring@sthjt.example.gov.cn",
)
EMISSIONS_DIVISION = Department(
    "环境影响评价与排放管理处",
    "Environmental Impact Assessment and Emission Management Division",
    "permits@sthjt.example.gov.cn",
)
POLICY_DIVISION = Department("政策法规处", "Policy and Regulations Division", "credit@sthjt.example.gov.cn")
ENFORCEMENT_BUREAU = Department(
    "生态环境执法局", "Ecological Environment Enforcement Bureau", "zhifa@sthjt.example.gov.cn"
)

# -- update frequencies ---------------------------------------------------------------------------
HOURLY = Frequency("每小时", "hourly", timedelta(hours=1))
EVERY_4_HOURS = Frequency("每4小时", "every 4 hours", timedelta(hours=4))
DAILY = Frequency("每日", "daily", timedelta(days=1))
MONTHLY = Frequency("每月", "monthly", timedelta(days=31))
# a monthly table whose current month is rebuilt whenever its source publishes (every 4 hours)
MONTHLY_ROLLING = Frequency(
    "每月（当月数据随新数据每4小时重算）",
    "monthly (rebuilt as the month's readings arrive)",
    timedelta(hours=4),
)
YEARLY = Frequency("每年", "yearly", timedelta(days=366))
ON_CHANGE = Frequency("变更时", "on change", None)
WHEN_PUBLISHED = Frequency("发布时", "when the upstream publishes", None)
EVERY_RUN = Frequency("每次运行", "every pipeline run", None)
# a quarantine table holds rejected input: a clean feed adds nothing, so no interval is expected
WHEN_REJECTED = Frequency("有拒收数据时", "when input is rejected", None)

# -- sharing conditions used by several sources (Chinese, with English) ----------------------------
STAGE_ONLY = (
    "不予共享：构建过程中的内存暂存数据，从不写入数据湖或对外发布 "
    "(not shared: typed rows held in memory during a build, never written to the lake or published)"
)
