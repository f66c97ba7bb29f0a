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
    Column(
        "date",
        "date",
        "Beijing date (partition key)",
        description_zh="日期（北京时间，分区字段）",
        nullable=False,
        heading="Date",
        heading_zh="日期",
    ),
    Column(
        "raw_file",
        "string",
        "raw-zone object the row was read from, path relative to the lake",
        description_zh="读取该行的原始区对象（相对于数据湖的路径）",
        nullable=False,
    ),
    Column(
        "reason", "string", "why the row was not published", description_zh="该行未发布的原因", nullable=False
    ),
    Column("raw_value", "string", "the offending text", description_zh="出错的原始文本"),
    Column(
        "line_no",
        "int32",
        "1-based line number in the raw file",
        description_zh="在原始文件中的行号（从1开始）",
        unit="1",
        nullable=False,
    ),
    Column(
        "run_id",
        "string",
        "pipeline run: the Airflow DAG run id, or cli-<time>-<id> for a command",
        description_zh="流水线运行：Airflow DAG 运行 ID，由命令运行时为 cli-<time>-<id>",
    ),
    Column(
        "task",
        "string",
        "who ran it: <dag_id>.<task_id> in Airflow, or the ecocloud command",
        description_zh="执行者：Airflow 中为 <dag_id>.<task_id>，否则为 ecocloud 命令",
    ),
    Column(
        "received_at",
        "timestamp",
        "when ecocloud received the raw object (UTC)",
        description_zh="生态云接收该原始对象的时间（UTC）",
    ),
    Column(
        "observed_at",
        "timestamp",
        "time of the observation (UTC)",
        description_zh="观测时间（UTC）",
        nullable=False,
    ),
    # -- enterprises and their identifiers (GB 32100, GB/T 2260, GB/T 4754)
    Column(
        "uscc",
        "string",
        "unified social credit code (统一社会信用代码, GB 32100), normalised",
        description_zh="统一社会信用代码（GB 32100），已规范化",
    ),
    Column(
        "uscc_valid",
        "bool",
        "USCC passes the GB 32100 check",
        description_zh="统一社会信用代码是否通过 GB 32100 校验",
        nullable=False,
    ),
    Column(
        "uscc_problem",
        "string",
        "why the USCC fails the check (number: a spreadsheet stored it as a number in E notation, its last "
        "digits lost)",
        description_zh=(
            "统一社会信用代码未通过校验的原因（number：被电子表格存为数字，写成科学计数法，末几位已丢失）"
        ),
        allowed=USCC_PROBLEMS,
    ),
    Column("enterprise_name", "string", "enterprise name", description_zh="企业名称"),
    Column(
        "enterprise_name_norm",
        "string",
        "name normalised for matching (half-width, no spaces)",
        description_zh="用于匹配的规范化名称（半角，无空格）",
    ),
    Column(
        "region_code",
        "string",
        "GB/T 2260 region code (6 digits)",
        description_zh="GB/T 2260 行政区划代码（6位）",
    ),
    Column(
        "industry_code",
        "string",
        "industry (GB/T 4754), e.g. D4411",
        description_zh="行业（GB/T 4754 国民经济行业分类代码），如 D4411",
        heading="Industry code",
        heading_zh="行业代码",
    ),
    Column("industry_name", "string", "industry name, e.g. 火力发电", description_zh="行业名称，如火力发电"),
    Column("address", "string", "address", description_zh="地址"),
    # -- pollution sources: data loggers, outlets, pollutants (HJ 212)
    Column(
        "mn",
        "string",
        "data-logger device id (MN, 设备唯一标识)",
        description_zh="数采仪设备唯一标识（MN）",
        nullable=False,
    ),
    Column(
        "outlet_code",
        "string",
        "permitted outlet code (排放口编号), e.g. DA001, DW001",
        description_zh="许可排放口编号，如 DA001、DW001",
    ),
    Column(
        "medium",
        "string",
        "air (DA outlets) or water (DW outlets)",
        description_zh="air（废气，DA 排放口）或 water（废水，DW 排放口）",
        allowed=("air", "water"),
    ),
    Column(
        "pollutant_code",
        "string",
        "HJ 212-2017 pollutant code",
        description_zh="HJ 212-2017 污染物编码",
        nullable=False,
    ),
    # -- places
    Column(
        "longitude",
        "float64",
        "longitude (WGS-84)",
        description_zh="经度（WGS-84）",
        unit="°",
        min=73,
        max=136,
    ),
    Column(
        "latitude", "float64", "latitude (WGS-84)", description_zh="纬度（WGS-84）", unit="°", min=3, max=54
    ),
    # -- registries and their versions (SCD type 2)
    Column(
        "listed",
        "bool",
        "present in the registry the data engineers maintain",
        description_zh="是否在数据工程人员维护的登记表中",
        nullable=False,
    ),
    Column(
        "first_seen_date",
        "date",
        "first date with data in the lake",
        description_zh="数据湖中最早有数据的日期",
    ),
    Column(
        "last_seen_date",
        "date",
        "latest date with data in the lake",
        description_zh="数据湖中最近有数据的日期",
    ),
    Column(
        "valid_from",
        "timestamp",
        "this version takes effect (UTC)",
        description_zh="此版本生效的时间（UTC）",
        nullable=False,
    ),
    Column(
        "valid_to",
        "timestamp",
        "the next version takes effect (UTC); NULL: latest version",
        description_zh="下一版本生效的时间（UTC）；NULL 表示最新版本",
    ),
    Column("is_current", "bool", "latest version", description_zh="是否为最新版本", nullable=False),
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
