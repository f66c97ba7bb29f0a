"""Enforcement analytics: outlet identity, exceedances, data-fraud indicators and risk scores.

Flow (``transforms.risk``): ``mart_source__hourly`` + the versioned registries (monitoring points,
enterprises, permits with their limits in force, credit) → per Beijing day
``mart_source__outlet_identity`` (who an MN was at the time), ``mart_source__exceedance_hourly``
(hours over the limit in force), ``mart_source__exceedance_daily`` (per outlet, pollutant and day:
the counts every indicator and score needs) and ``mart_risk__indicators`` (what each rule found)
→ per period ``mart_risk__outlet_scores`` / ``mart_risk__enterprise_scores``, computed from the
daily partitions of the period only. Rules and weights: ``transforms/risk/rules.toml``.

Daily tables are keyed by the identity segment (``identity_from_at``): an MN remapped to another
enterprise in the middle of a day has one row per part of the day, each under its own enterprise.
"""

from __future__ import annotations

from schemas.credit import LEVEL_CODES
from schemas.fields import DAILY, ENFORCEMENT_BUREAU, SHARED, SOURCE_MONITORING_CENTRE
from schemas.registry import Codes, Column, Fields, Layer, Sharing, Table, register
from schemas.source import FLUE_GAS_NORMAL_PERCENT, FLUE_GAS_VALID_MINUTES

_SYSTEM = (
    "污染源自动监控系统 + 排污许可管理信息平台 + 企业环境信用评价 (HJ 212 online monitoring, permits, credit)"
)
_ENFORCEMENT_ONLY = (
    "仅限生态环境执法和监管人员用于执法检查与监管，不对外公开 (enforcement and supervision staff only, "
    "for inspections; not published)"
)
_SUPERVISION = (
    "生态环境部门监管、执法及经授权的分析人员可用；涉及企业排放数据，不向社会公开原始明细 "
    "(environment supervision, enforcement and authorised analysts; enterprise emission detail)"
)

IDENTITY_STATUSES = Codes(
    {
        "matched": ("已匹配", "matched"),
        "uscc_unmatched": ("统一社会信用代码不在企业名录中", "USCC not in the enterprise register"),
        "mn_unregistered": ("MN 未登记", "MN not registered"),
    }
)
IDENTITY_BASES = ("as_of", "first_snapshot", "none")
PERMIT_STATUSES = Codes(  # as the reasons and the pages say them
    {
        "in_force": ("许可证有效", "permit in force"),
        "outlet_not_permitted": ("排放口未列入排污许可证", "outlet not on the permit"),
        "not_yet_valid": ("排污许可证尚未生效", "permit not yet valid"),
        "expired": ("排污许可证已过期", "permit expired"),
        "revoked": ("排污许可证已撤销", "permit revoked"),
        "cancelled": ("排污许可证已注销", "permit cancelled"),
        "none": ("无排污许可证", "no permit"),
        "unknown": ("未知（MN 未登记）", "unknown (MN not registered)"),
    }
)
LIMIT_SOURCES = Codes({"permit": ("排污许可证", "permit"), "default": ("国家默认限值", "national default")})
VALUE_BASES = ("measured", "converted", "logger_converted")
INDICATORS = Codes(
    {
        "flatline": ("数值恒定", "flat line"),
        "zero_run": ("零值", "zero values"),
        "near_limit": ("贴近限值", "just under the limit"),
        "zs_inconsistent": ("折算浓度不一致", "converted value inconsistent"),
        "abnormal_flags": ("异常标记", "abnormal flags"),
        "manual_values": ("手工录入", "manually entered"),
        "missing_data": ("数据缺失", "missing data"),
        "silence": ("中断传输", "silence"),
        "unpermitted_discharge": ("无证排放", "discharge without a permit"),
    }
)
# what a reason of a risk score is about (reasons_json); the indicators' own categories are three
REASON_CATEGORIES = Codes(
    {
        "identity": ("身份、许可与信用", "identity, permit and credit"),
        "exceedance": ("超标", "exceedance"),
        "fraud": ("数据造假疑点", "suspected data fraud"),
        "data_quality": ("数据质量", "data quality"),
        "permit": ("排污许可", "discharge permit"),
        "credit": ("信用评价", "credit rating"),
    }
)
CATEGORIES = REASON_CATEGORIES.subset("fraud", "data_quality", "permit")
CREDIT_LEVELS = LEVEL_CODES
LOGGER_LEVEL = "*"  # pollutant_code of an indicator about the whole logger (silence, no permit)

F = Fields("risk", parent=SHARED)
F.define(
    # identifiers (candidates for SHARED: the same meaning in source, master, permit, credit)
    Column(
        "mn",
        "string",
        "data-logger MN (设备唯一标识) = the monitored outlet",
        description_zh="数采仪设备唯一标识（MN），即所监控的排放口",
        nullable=False,
        heading="Data-logger MN",
        heading_zh="数采仪MN",
    ),
    Column(
        "uscc",
        "string",
        "enterprise USCC (统一社会信用代码); NULL when the MN is unregistered",
        description_zh="企业统一社会信用代码；MN 未登记时为 NULL",
        heading="USCC",
        heading_zh="统一社会信用代码",
    ),
    Column(
        "outlet_code",
        "string",
        "permitted outlet code (排放口编号), e.g. DA001, DW001",
        description_zh="许可排放口编号，如 DA001、DW001",
        heading="Outlet code",
        heading_zh="排放口编号",
    ),
    Column(
        "region_code",
        "string",
        "GB/T 2260 region code of the outlet",
        description_zh="排放口所在行政区划代码（GB/T 2260）",
        heading="Region",
        heading_zh="行政区划",
    ),
    Column(
        "enterprise_name",
        "string",
        "enterprise name as of the time",
        description_zh="当时的企业名称",
        heading="Enterprise",
        heading_zh="企业名称",
    ),
    Column(
        "point_name",
        "string",
        "monitoring-point name",
        description_zh="监控点位名称",
        heading="Monitoring point",
        heading_zh="监控点位",
    ),
    Column(
        "point_no",
        "int16",
        "the monitoring point's number on its outlet: 1, and 2 … where the registry puts several data "
        "loggers on one outlet, in the order they were first registered (their MNs stay unpublished)",
        description_zh=(
            "监控点位在所属排放口上的序号：一般为 1；主数据在同一排放口登记多台数采仪时，"
            "按首次登记先后依次为 1、2……（各数采仪的 MN 不公开）"
        ),
        unit="1",
        nullable=False,
        min=1,
    ),
    Column(
        "permit_no",
        "string",
        "discharge permit number (排污许可证编号) in force, else the latest one",
        description_zh="有效的排污许可证编号，无有效许可证时为最新一份许可证的编号",
        heading="Permit number",
        heading_zh="排污许可证编号",
    ),
    Column(
        "pollutant_code",
        "string",
        "HJ 212-2017 pollutant code; '*' for an indicator about the whole logger",
        description_zh="HJ 212-2017 污染物编码；针对整台数采仪的疑点为“*”",
        nullable=False,
        heading="Pollutant code",
        heading_zh="污染物代码",
    ),
    Column(
        "hour_at",
        "timestamp",
        "start of the Beijing hour (UTC)",
        description_zh="所在北京时间小时的起始时刻（UTC）",
        nullable=False,
    ),
    # identity
    Column(
        "identity_from_at",
        "timestamp",
        "start of the part of the Beijing day this identity holds (UTC)",
        description_zh="该身份在北京时间自然日内适用时段的起始时刻（UTC）",
        nullable=False,
    ),
    Column(
        "identity_to_at",
        "timestamp",
        "end of that part (exclusive, UTC)",
        description_zh="该时段的结束时刻（不含，UTC）",
        nullable=False,
    ),
    Column(
        "identity_status",
        "string",
        "matched; uscc_unmatched (the point's USCC is in no enterprise version); mn_unregistered "
        "(the MN is in no monitoring-point version in force)",
        description_zh=(
            "matched：已匹配；uscc_unmatched：点位的统一社会信用代码不在任何版本的企业名录中；"
            "mn_unregistered：MN 不在任何有效的监控点位版本中"
        ),
        allowed=IDENTITY_STATUSES,
        nullable=False,
    ),
    Column(
        "identity_basis",
        "string",
        "as_of: the registry version in force then; first_snapshot: before the registry's first "
        "snapshot, which stands for the past; none: no version",
        description_zh=(
            "as_of：采用当时有效的主数据版本；first_snapshot：早于主数据首个快照，以首个快照代表此前情况；"
            "none：无可用版本"
        ),
        allowed=IDENTITY_BASES,
        nullable=False,
    ),
    Column(
        "point_valid_from",
        "timestamp",
        "valid_from of the monitoring-point version used (UTC)",
        description_zh="所用监控点位版本的生效时间 valid_from（UTC）",
    ),
    Column(
        "pollutants_expected",
        "string",
        "codes the point measures (registry), comma-separated",
        description_zh="点位监测的污染物编码（据主数据），以逗号分隔",
    ),
    Column(
        "permit_status",
        "string",
        "permit state of the outlet at the start of the segment: in_force, outlet_not_permitted, "
        "not_yet_valid, expired, revoked, cancelled, none (no permit), unknown (the MN is in no registry "
        "version, so no USCC)",
        description_zh=(
            "身份时段开始时排放口的排污许可状态：in_force（许可证有效）、"
            "outlet_not_permitted（排放口未列入排污许可证）、not_yet_valid（排污许可证尚未生效）、"
            "expired（排污许可证已过期）、revoked（排污许可证已撤销）、cancelled（排污许可证已注销）、"
            "none（无排污许可证）、unknown（未知：MN 不在任何版本的监控点位名录中，无统一社会信用代码）"
        ),
        allowed=PERMIT_STATUSES,
        nullable=False,
        heading="Permit status",
        heading_zh="许可证状态",
    ),
    Column(
        "permit_status_since",
        "date",
        "revoked / cancelled: status date; expired: the day after validity",
        description_zh="revoked、cancelled：撤销或注销的日期；expired：有效期届满的次日",
    ),
    Column(
        "segment_hours",
        "int16",
        "hours of the segment",
        description_zh="身份时段的小时数",
        unit="h",
        nullable=False,
        min=0,
        max=24,
    ),
    Column(
        "hours_with_data",
        "int16",
        "hours with any hourly value",
        description_zh="有小时值（任一污染物）的小时数",
        unit="h",
        nullable=False,
        min=0,
        max=24,
    ),
    # limits and judged values
    Column(
        "unit",
        "string",
        "unit of the concentration values (HJ 212 code table)",
        description_zh="浓度值的单位（取自 HJ 212 编码表）",
    ),
    Column(
        "measured_value",
        "float64",
        "hourly mean as measured",
        description_zh="实测小时均值",
        unit="{unit}",
    ),
    Column(
        "o2_pct",
        "float64",
        "O2 of the same hour (valid flag only)",
        description_zh="同一小时的氧含量（仅取数据标记为 N 的值）",
        unit="%",
        min=0,
        max=100,
    ),
    Column(
        "value_basis",
        "string",
        "measured; converted (from the measured mean and O2, the permit's O2 reference); "
        "logger_converted (ZsAvg as sent, O2 missing)",
        description_zh=(
            "measured：实测值；converted：由实测均值和氧含量按许可证的基准氧含量折算；logger_converted："
            "数采仪上报的折算值 ZsAvg（缺少氧含量时）"
        ),
        allowed=VALUE_BASES,
        nullable=False,
    ),
    Column(
        "judged_value",
        "float64",
        "the value compared with the limit",
        description_zh="与限值比较的数值（判定值）",
        unit="{unit}",
    ),
    Column(
        "limit_value",
        "float64",
        "limit in force (upper bound)",
        description_zh="有效限值（上限）",
        unit="{limit_unit}",
        min=0,
        heading="Limit (upper bound)",
        heading_zh="限值（上限）",
    ),
    Column(
        "limit_lower",
        "float64",
        "lower bound of a range limit (pH 6–9)",
        description_zh="范围型限值的下限（pH 6–9）",
        unit="{limit_unit}",
        heading="Lower limit (a range)",
        heading_zh="限值下限（范围型）",
    ),
    Column(
        "limit_unit",
        "string",
        "unit of the limit",
        description_zh="限值的计量单位",
        heading="Limit unit",
        heading_zh="限值单位",
    ),
    Column(
        "limit_source",
        "string",
        "permit (the limit in force) or default (national default, DOMAIN.md §7: no permit gives one)",
        description_zh=(
            "permit（排污许可证的有效限值）或 default（国家默认限值，DOMAIN.md §7：无许可证给出限值时采用）"
        ),
        allowed=LIMIT_SOURCES,
        heading="Limit source",
        heading_zh="限值来源",
    ),
    Column(
        "limit_standard",
        "string",
        "emission standard the limit comes from",
        description_zh="限值所依据的排放标准",
    ),
    Column(
        "permit_version",
        "int32",
        "permit version the limit is on",
        description_zh="限值所在的排污许可证版本",
        unit="1",
        min=1,
    ),
    Column(
        "o2_reference_pct",
        "float64",
        "reference O2 of converted values",
        description_zh="折算值的基准氧含量",
        unit="%",
        min=0,
        max=21,
    ),
    Column("ratio", "float64", "judged value / limit", description_zh="判定值 / 限值", unit="1", min=0),
    Column(
        "exceedance_multiple",
        "float64",
        "超标倍数 = value / limit − 1 (DOMAIN.md §4)",
        description_zh="超标倍数 = 数值 / 限值 − 1（DOMAIN.md §4）",
        unit="1",
        decimals=2,
    ),
    Column(
        "flag",
        "string",
        "the hour's HJ 212 data flag",
        description_zh="该小时的 HJ 212 数据标记",
        nullable=False,
    ),
    Column(
        "run_hours",
        "int32",
        "length of the run of exceeded hours this hour belongs to",
        description_zh="该小时所在连续超标时段的长度",
        unit="h",
        min=1,
    ),
    # daily counts
    Column(
        "limit_changed",
        "bool",
        "more than one limit applied during the day",
        description_zh="当日是否适用过多个限值",
        nullable=False,
    ),
    Column(
        "logger_hours",
        "int16",
        "hours the logger sent any value",
        description_zh="数采仪有数值上报的小时数",
        unit="h",
        nullable=False,
        min=0,
        max=24,
    ),
    Column(
        "hours_present",
        "int16",
        "hours with a value of this pollutant",
        description_zh="该污染物有数值的小时数",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_valid",
        "int16",
        "of those, flag N",
        description_zh="其中数据标记为 N 的小时数",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_abnormal",
        "int16",
        "of those, an abnormal flag (F M D C B T)",
        description_zh="其中带异常标记（F M D C B T）的小时数",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_manual",
        "int16",
        "of those, entered by hand (S)",
        description_zh="其中手工录入（S）的小时数",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_incomplete",
        "int16",
        f"of those, without a flag: flue-gas hours whose samples are ≥ {FLUE_GAS_NORMAL_PERCENT} % N but cover fewer than {FLUE_GAS_VALID_MINUTES} "
        "minutes (mart_source__hourly.minutes_normal) — no valid hourly value, counted as missing",
        description_zh=f"其中无数据标记的小时数：N 样本占比不低于 {FLUE_GAS_NORMAL_PERCENT}% 但覆盖不足 {FLUE_GAS_VALID_MINUTES} 分钟的废气小时（mart_source__hourly.minutes_normal）"
        "——无有效小时值，按缺失计",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_running",
        "int16",
        "of those, flow above the running threshold",
        description_zh="其中流量高于运行阈值的小时数",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_judged",
        "int16",
        "valid hours compared with a limit",
        description_zh="与限值进行比较的有效小时数",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_unjudged",
        "int16",
        "valid hours with a limit that could not be judged (O2 missing or ≥ o2_max, unit mismatch)",
        description_zh="有限值但无法判定的有效小时数（缺少氧含量或氧含量 ≥ o2_max、单位不一致）",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_exceeded",
        "int16",
        "judged hours over the limit (none under a limit on the day's mean, GB 18918: see day_mean_exceeded)",
        description_zh=(
            "超过限值的已判定小时数（限值针对日均值时不计小时超标，如 GB 18918，见 day_mean_exceeded）"
        ),
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_near_limit",
        "int16",
        "judged hours in [low_frac × limit, limit]",
        description_zh="数值处于 [low_frac × 限值, 限值] 区间的已判定小时数",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "max_judged_value",
        "float64",
        "largest judged value",
        description_zh="最大判定值",
        unit="{unit}",
    ),
    # no minimum: an analyser drifting below zero reads negative, and its day must still publish
    Column(
        "max_ratio",
        "float64",
        "largest judged value / limit (negative where the readings are)",
        description_zh="判定值 / 限值的最大值（监测值为负时为负）",
        unit="1",
    ),
    Column(
        "max_exceedance_multiple",
        "float64",
        "largest 超标倍数 (value / limit − 1) over the limit",
        description_zh="超过限值时的最大超标倍数（数值 / 限值 − 1）",
        unit="1",
        decimals=2,
        heading="Largest exceedance multiple",
        heading_zh="最大超标倍数",
    ),
    Column(
        "longest_exceedance_run_h",
        "int32",
        "longest run of exceeded hours touching the day (followed into the lookback)",
        description_zh="与当日相交的最长连续超标时长（向前追溯至回溯窗口）",
        unit="h",
        min=0,
    ),
    Column(
        "daily_mean_value",
        "float64",
        "mean of the judged values of the logger's day on the outlet (the rows of a day a registry edit "
        "split share it)",
        description_zh="数采仪当日在该排放口的判定值均值（因主数据变更而拆分的同日各行共用此值）",
        unit="{unit}",
        decimals=2,  # as the exceedance evidence says it: "日均值 55.00"
    ),
    Column(
        "daily_mean_ratio",
        "float64",
        "mean of the hourly value / limit over the logger's day on the outlet (negative likewise)",
        description_zh="数采仪当日在该排放口的小时值 / 限值的均值（同样可为负）",
        unit="1",
        decimals=3,  # as the exceedance evidence says it: "限值的 1.100 倍" (a mean just over the limit shows)
    ),
    Column(
        "daily_mean_hours",
        "int16",
        "judged hours the day's mean is over: the logger's day on the outlet",
        description_zh="计算日均值所用的已判定小时数，范围为数采仪当日在该排放口的全部时段",
        unit="h",
        min=0,
    ),
    Column(
        "day_mean_exceeded",
        "bool",
        "the day's mean is over the limit (NULL: no limit, or fewer judged hours than the rules' "
        "daily_mean_min_hours, transforms/risk/rules.toml)",
        description_zh=(
            "日均值是否超过限值（NULL：无限值，或已判定小时数少于规则中的 daily_mean_min_hours，"
            "见 transforms/risk/rules.toml）"
        ),
    ),
    # indicators
    Column(
        "indicator",
        "string",
        "which rule (transforms/risk/rules.toml)",
        description_zh="所属规则（transforms/risk/rules.toml）",
        allowed=INDICATORS,
        nullable=False,
        heading="Rule",
        heading_zh="规则",
    ),
    Column(
        "category",
        "string",
        "fraud, data_quality or permit",
        description_zh="fraud（数据造假疑点）、data_quality（数据质量）或 permit（排污许可）",
        allowed=CATEGORIES,
        nullable=False,
        heading="Evidence category",
        heading_zh="证据类别",
    ),
    Column(
        "hours_flagged",
        "int16",
        "hours of the day that meet the rule",
        description_zh="当日符合该规则的小时数",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_checked",
        "int16",
        "hours of the day the rule looked at",
        description_zh="当日该规则检查的小时数",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "share_pct",
        "float64",
        "hours_flagged / hours_checked",
        description_zh="标记小时数占检查小时数的比例（hours_flagged / hours_checked）",
        unit="%",
        min=0,
        max=100,
    ),
    Column(
        "longest_run_h",
        "int32",
        "longest run touching the day (run rules)",
        description_zh="与当日相交的最长持续时段的时长（持续类规则）",
        unit="h",
        min=0,
    ),
    Column(
        "run_start_at",
        "timestamp",
        "start of that run (UTC)",
        description_zh="该持续时段的起始时刻（UTC）",
        heading="Run start (Beijing time)",
        heading_zh="持续开始（北京时间）",
    ),
    Column(
        "run_end_at",
        "timestamp",
        "end of that run (exclusive, UTC)",
        description_zh="该持续时段的结束时刻（不含，UTC）",
        heading="Run end (Beijing time)",
        heading_zh="持续结束（北京时间）",
    ),
    Column(
        "threshold_h",
        "float64",
        "run / hour threshold applied",
        description_zh="所用的持续时长或小时数阈值",
        unit="h",
        min=0,
    ),
    Column(
        "threshold_pct",
        "float64",
        "share threshold applied (over the scoring period)",
        description_zh="所用的占比阈值（按评分时段计）",
        unit="%",
        min=0,
    ),
    Column(
        "triggered",
        "bool",
        "the day alone meets the rule's threshold",
        description_zh="是否仅凭当日即达到该规则的阈值",
        nullable=False,
    ),
    Column(
        "evidence",
        "string",
        "what was found, in Chinese, with the numbers",
        description_zh="发现的情况（中文，含数据）",
        nullable=False,
        heading="Evidence",
        heading_zh="说明",
    ),
    Column(
        "evidence_en",
        "string",
        "what was found, in English, from the same numbers",
        description_zh="发现的情况（英文，数据同上）",
        nullable=False,
    ),
    # the evidence rows of a risk report (ecocloud.risk_report.evidence: exceedance days, indicator
    # findings, identity), shown in its spreadsheets; no lake table holds them
    Column(
        "pollutant_name",
        "string",
        "name of the pollutant (HJ 212); 全部 for a finding about the whole logger",
        description_zh="污染物名称（HJ 212）；针对整台数采仪的证据为“全部”",
        heading="Pollutant",
        heading_zh="污染物",
    ),
    Column(
        "hours",
        "int32",
        "hours the evidence is about: over the limit on an exceedance day (NULL when only the day's mean "
        "exceeded it), flagged by an indicator",
        description_zh="证据涉及的小时数：超标日的超标小时数（仅日均值超标时为 NULL），或规则发现疑点的小时数",
        unit="h",
        min=0,
        heading="Hours",
        heading_zh="小时数",
    ),
    # scores
    Column(
        "period_start",
        "date",
        "first Beijing day of the period",
        description_zh="时段第一天（北京时间）",
        nullable=False,
        heading="Period from",
        heading_zh="时段起",
    ),
    Column(
        "period_end",
        "date",
        "last Beijing day of the period (= date)",
        description_zh="时段最后一天（北京时间，= date）",
        nullable=False,
        heading="Period to",
        heading_zh="时段止",
    ),
    Column(
        "period_days",
        "int16",
        "length of the period",
        description_zh="时段长度",
        unit="d",
        nullable=False,
        min=1,
    ),
    Column(
        "outlet_key",
        "string",
        "<USCC or 未登记>/<outlet code or ->/<MN>: one ranked outlet (an MN remapped mid-period ranks "
        "once per enterprise)",
        description_zh=(
            "<统一社会信用代码或“未登记”>/<排放口编号或 ->/<MN>：参与排名的一个排放口（时段内改属其他企业的 "
            "MN 按每家企业各排名一次）"
        ),
        nullable=False,
        heading="Outlet key",
        heading_zh="排放口标识",
    ),
    Column(
        "rank",
        "int32",
        "position in the period's list, 1 = highest risk",
        description_zh="在该时段排名中的位次，1 为风险最高",
        unit="1",
        nullable=False,
        min=1,
        heading="Rank",
        heading_zh="排名",
    ),
    Column(
        "score",
        "float64",
        "risk score: sum of the reasons' points, each rounded to the decimals shown (a tie to even, "
        "GB/T 8170), so the points listed add up to it",
        description_zh="风险得分：各原因得分之和；各原因得分先按显示的小数位修约（GB/T 8170，五成双），列出的得分之和即为总分",
        unit="1",
        nullable=False,
        min=0,
        decimals=2,
        heading="Risk score",
        heading_zh="风险得分",
    ),
    Column(
        "exceedance_points",
        "float64",
        "points from exceedances",
        description_zh="超标得分",
        unit="1",
        nullable=False,
        min=0,
        decimals=2,  # as the score they add up to
        heading="Exceedance points",
        heading_zh="超标得分",
    ),
    Column(
        "fraud_points",
        "float64",
        "points from data-fraud indicators",
        description_zh="数据造假疑点得分",
        unit="1",
        nullable=False,
        min=0,
        decimals=2,  # as the score they add up to
        heading="Data-fraud points",
        heading_zh="数据造假疑点得分",
    ),
    Column(
        "data_quality_points",
        "float64",
        "points from data-quality indicators",
        description_zh="数据质量疑点得分",
        unit="1",
        nullable=False,
        min=0,
        decimals=2,  # as the score they add up to
        heading="Data-quality points",
        heading_zh="数据质量得分",
    ),
    Column(
        "permit_points",
        "float64",
        "points from the permit status and unpermitted discharge",
        description_zh="排污许可状态及无证排放得分",
        unit="1",
        nullable=False,
        min=0,
        decimals=2,  # as the score they add up to
        heading="Permit points",
        heading_zh="排污许可得分",
    ),
    Column(
        "credit_points",
        "float64",
        "points from the credit rating",
        description_zh="信用评价得分",
        unit="1",
        nullable=False,
        min=0,
        decimals=2,  # as the score they add up to
        heading="Credit points",
        heading_zh="信用评价得分",
    ),
    Column(
        "identity_points",
        "float64",
        "points from an unregistered MN",
        description_zh="MN 未登记得分",
        unit="1",
        nullable=False,
        min=0,
        decimals=2,  # as the score they add up to
        heading="Identity points",
        heading_zh="身份得分",
    ),
    Column(
        "top_reasons",
        "string",
        "the highest-scoring reasons in Chinese with their numbers, '；'-separated",
        description_zh="得分最高的原因（中文，含数据），以“；”分隔",
        nullable=False,
        heading="Top reasons",
        heading_zh="主要原因",
    ),
    Column(
        "reason_codes",
        "string",
        "codes of every reason, highest points first, comma-separated",
        description_zh="全部原因的代码，按得分从高到低排列，以逗号分隔",
        nullable=False,
    ),
    Column(
        "reasons_json",
        "string",
        "every reason: code, pollutant, points, text and the numbers, JSON",
        description_zh="全部原因：代码、污染物、得分、说明文字及数据，JSON 格式",
        nullable=False,
    ),
    Column(
        "exceedance_hours",
        "int32",
        "hours over the limit, all pollutants",
        description_zh="超标小时数（全部污染物）",
        unit="h",
        nullable=False,
        min=0,
        heading="Hours over the limit",
        heading_zh="超标小时数",
    ),
    Column(
        "exceedance_days",
        "int32",
        "days with an hour over the limit, or with a mean over a limit on the day's mean (GB 18918)",
        description_zh="有小时超标，或日均值超过日均值限值（GB 18918）的天数",
        unit="d",
        nullable=False,
        min=0,
        heading="Days over the limit",
        heading_zh="超标天数",
    ),
    Column(
        "flatline_hours",
        "int32",
        "hours in flat-line runs",
        description_zh="处于数值恒定持续时段的小时数",
        unit="h",
        nullable=False,
        min=0,
        heading="Flat-line hours",
        heading_zh="数值恒定小时数",
    ),
    Column(
        "zero_run_hours",
        "int32",
        "hours in zero runs while flowing",
        description_zh="有流量时处于连续零值时段的小时数",
        unit="h",
        nullable=False,
        min=0,
        heading="Zero-run hours",
        heading_zh="零值小时数",
    ),
    Column(
        "near_limit_share_pct",
        "float64",
        "largest per-pollutant share of judged hours just under the limit, among pollutants with the "
        "near_limit rule's minimum of judged hours (NULL: none has)",
        description_zh=(
            "各污染物已判定小时中贴近限值（略低于限值）的占比的最大值，仅计已判定小时数达到 near_limit "
            "规则最低要求的污染物（NULL：均未达到）"
        ),
        unit="%",
        min=0,
        max=100,
        decimals=1,
        heading="Near-limit share (%)",
        heading_zh="贴近限值占比（%）",
    ),
    Column(
        "zs_inconsistent_hours",
        "int32",
        "hours whose converted value disagrees with measured value and O2",
        description_zh="折算值与实测值、氧含量不一致的小时数",
        unit="h",
        nullable=False,
        min=0,
        heading="Inconsistent converted-value hours",
        heading_zh="折算不一致小时数",
    ),
    Column(
        "abnormal_share_pct",
        "float64",
        "share of values with an abnormal flag",
        description_zh="带异常标记的数值占比",
        unit="%",
        min=0,
        max=100,
        decimals=1,
        heading="Abnormal-flag share (%)",
        heading_zh="异常标记占比（%）",
    ),
    Column(
        "manual_share_pct",
        "float64",
        "share of values entered by hand",
        description_zh="手工录入的数值占比",
        unit="%",
        min=0,
        max=100,
        decimals=1,
        heading="Entered-by-hand share (%)",
        heading_zh="手工录入占比（%）",
    ),
    Column(
        "missing_share_pct",
        "float64",
        "share of expected values missing while the logger sent",
        description_zh="数采仪有数据发送期间应有数值的缺失占比",
        unit="%",
        min=0,
        max=100,
        decimals=1,
        heading="Missing share (%)",
        heading_zh="数据缺失占比（%）",
    ),
    Column(
        "silence_longest_h",
        "int32",
        "longest silent run of the logger within the period",
        description_zh="时段内数采仪最长连续中断传输时长",
        unit="h",
        nullable=False,
        min=0,
        heading="Longest silence (hours)",
        heading_zh="最长中断传输（小时）",
    ),
    Column(
        "unpermitted_hours",
        "int32",
        "hours with data and no permit in force",
        description_zh="有数据但无有效排污许可的小时数",
        unit="h",
        nullable=False,
        min=0,
        heading="Unpermitted hours",
        heading_zh="无证排放小时数",
    ),
    Column(
        "credit_level",
        "string",
        "latest credit level (year ≤ the period's end)",
        description_zh="最新的信用评价等级（评价年度 ≤ 时段结束所在年度）",
        allowed=CREDIT_LEVELS,
        heading="Credit level",
        heading_zh="信用等级",
    ),
    Column(
        "credit_year",
        "int16",
        "evaluation year of that level",
        description_zh="该等级的评价年度",
        unit="a",
        min=2000,
        max=2100,
        heading="Credit year",
        heading_zh="信用评价年度",
    ),
    Column(
        "outlets",
        "int32",
        "ranked outlets of the enterprise in the period",
        description_zh="企业在该时段参与排名的排放口数",
        unit="count",
        nullable=False,
        min=1,
        heading="Outlets",
        heading_zh="排放口数",
    ),
    Column(
        "outlets_with_reasons",
        "int32",
        "of those, outlets with at least one reason",
        description_zh="其中至少有一项计分原因的排放口数",
        unit="count",
        nullable=False,
        min=0,
        heading="Outlets with reasons",
        heading_zh="有风险原因的排放口数",
    ),
    Column(
        "top_outlet_key",
        "string",
        "the enterprise's highest-scoring outlet",
        description_zh="企业得分最高的排放口",
        nullable=False,
    ),
)

_IDENTITY_KEYS = ("uscc", "outlet_code", "region_code", "industry_code")
# a pollutant measured: the exceedance and disclosure rows have no logger-level '*' rows
_POLLUTANT_MEASURED = F.get(
    "pollutant_code", description="HJ 212-2017 pollutant code", description_zh="HJ 212-2017 污染物编码"
)
_SEGMENT_DATE = SHARED.get(
    "date", description="Beijing day (partition key)", description_zh="日期（北京时间，分区字段）"
)

outlet_identity = Table(
    name="mart_source__outlet_identity",
    layer=Layer.MART,
    source="source",
    title="Outlet identity per MN and day, as of the readings' time",
    title_zh="监控点位身份（按设备与日）",
    description=(
        "Who each data logger (MN) was on each Beijing day: the monitoring point, enterprise (USCC), "
        "outlet, region, industry and permit status from the registry versions in force at the time "
        "(before the registry's first snapshot, that snapshot). One row per MN, day and registry "
        "version in force during the day. MNs that sent data but are in no version, and points whose "
        "USCC is in no enterprise version, are listed with their status, never dropped."
    ),
    description_zh=(
        "每台数采仪（MN）每日对应的监控点位、企业（统一社会信用代码）、排放口、行政区划、行业和许可证状态，"
        "取数据发生时有效的主数据版本；未登记的MN和无法匹配企业的信用代码均逐条列出，不予丢弃。"
    ),
    columns=(
        _SEGMENT_DATE,
        *F(
            "mn",
            "identity_from_at",
            "identity_to_at",
            "identity_status",
            "identity_basis",
            "point_valid_from",
        ),
        *F(*_IDENTITY_KEYS, "point_name", "enterprise_name", "industry_name", "pollutants_expected"),
        *F("permit_no", "permit_status", "permit_status_since", "segment_hours", "hours_with_data"),
    ),
    primary_key=("date", "mn", "identity_from_at"),
    owner=SOURCE_MONITORING_CENTRE,
    frequency=DAILY,
    sharing=Sharing.CONDITIONAL,
    sharing_conditions=_SUPERVISION,
    source_system=_SYSTEM,
)

exceedance_hourly = Table(
    name="mart_source__exceedance_hourly",
    layer=Layer.MART,
    source="source",
    title="Hours over the permitted limit per outlet and pollutant",
    title_zh="污染源小时超标记录",
    description=(
        "One row per outlet, pollutant and Beijing hour whose valid value (flag N) exceeded the limit "
        "in force at that hour: the permit's (limit_in_force rule), else a national default (marked). "
        "Flue gas with an O2 reference is judged on the converted value (DOMAIN.md §1). pH and other "
        "range limits count values outside the range."
    ),
    description_zh=(
        "有效小时均值（标记N）超过当时有效许可限值（无许可限值时为国家默认限值并标注）的记录；"
        "许可证规定基准氧含量的废气按折算浓度判定。"
    ),
    columns=(
        _SEGMENT_DATE,
        F.get("mn"),
        _POLLUTANT_MEASURED,
        *F("hour_at", *_IDENTITY_KEYS, "unit", "measured_value", "o2_pct"),
        *F("value_basis", "judged_value", "limit_value", "limit_lower", "limit_unit", "limit_source"),
        *F("limit_standard", "permit_no", "permit_version", "o2_reference_pct", "ratio"),
        *F("exceedance_multiple", "flag", "run_hours"),
    ),
    primary_key=("date", "mn", "pollutant_code", "hour_at"),
    owner=SOURCE_MONITORING_CENTRE,
    events=True,  # a day without one publishes an empty partition
    may_be_empty=True,
    frequency=DAILY,
    sharing=Sharing.CONDITIONAL,
    sharing_conditions=_SUPERVISION,
    source_system=_SYSTEM,
)

exceedance_daily = Table(
    name="mart_source__exceedance_daily",
    layer=Layer.MART,
    source="source",
    title="Daily exceedance and data counts per outlet and pollutant",
    title_zh="污染源日超标与数据统计",
    description=(
        "One row per outlet, pollutant (measured, or expected by the registry) and Beijing day: the "
        "limit in force, hours present, valid, abnormal, manual, running, judged and over the limit, "
        "the largest ratio and 超标倍数, the longest exceedance run, the mean of the judged values "
        "against the limit, and hours just under it. Period scores add these up."
    ),
    description_zh=(
        "每个排放口、每项污染物每日的许可限值、有效/异常/手工/运行小时数、超标小时数、最大超标倍数、"
        "最长连续超标时长、日均值是否超标及接近限值小时数；时段风险评分由此汇总。"
    ),
    columns=(
        _SEGMENT_DATE,
        F.get("mn"),
        _POLLUTANT_MEASURED,
        *F("identity_from_at", *_IDENTITY_KEYS, "unit"),
        F.get(
            "limit_value",
            description="the limit of the day's last judged hour (of its last limit without one); with "
            "limit_changed others applied too — a permit from noon, a default's cold- and warm-water "
            "limits — and the day's mean is judged hour by hour (daily_mean_ratio)",
            description_zh=(
                "当日最后一个已判定小时的限值（无已判定小时时取当日最后适用的限值）；limit_changed 为真时，"
                "当日还适用过其他限值（如中午起生效的许可证、默认限值的低水温与常水温限值），"
                "日均值逐小时对照各自限值判定（daily_mean_ratio）"
            ),
        ),
        *F("limit_lower", "limit_unit", "limit_source", "limit_standard", "permit_no"),
        *F("o2_reference_pct", "limit_changed", "segment_hours", "logger_hours", "hours_present"),
        *F(
            "hours_valid",
            "hours_abnormal",
            "hours_manual",
            "hours_incomplete",
            "hours_running",
            "hours_judged",
        ),
        *F("hours_unjudged", "hours_exceeded", "hours_near_limit", "max_judged_value", "max_ratio"),
        *F("max_exceedance_multiple", "longest_exceedance_run_h", "daily_mean_value", "daily_mean_ratio"),
        *F("daily_mean_hours", "day_mean_exceeded"),
    ),
    primary_key=("date", "mn", "pollutant_code", "identity_from_at"),
    owner=SOURCE_MONITORING_CENTRE,
    events=True,  # a day without one publishes an empty partition
    frequency=DAILY,
    sharing=Sharing.CONDITIONAL,
    sharing_conditions=_SUPERVISION,
    source_system=_SYSTEM,
)

indicators = Table(
    name="mart_risk__indicators",
    layer=Layer.MART,
    source="risk",
    title="Data-fraud and data-quality indicators per outlet and day",
    title_zh="数据造假及数据质量疑点（按排放口与日）",
    description=(
        "One row per outlet, pollutant (or '*' for the whole logger), indicator and Beijing day on "
        "which the rule found something: flat lines while running, zero runs while flowing, values "
        "clustered just under the limit, converted values inconsistent with measured value and O2, "
        "abnormal or manual flags, missing values, silent loggers, discharge without a permit in "
        "force. Hours flagged and checked, the longest run, the thresholds applied and the evidence."
    ),
    description_zh=(
        "逐日记录各规则发现的疑点：设施运行时数值恒定、有流量时零值、数值集中在限值以下、折算浓度与实测浓度"
        "和氧含量不一致、异常或手工标记、数据缺失、数采仪中断传输、无证排放；含涉及小时数、最长持续时长、"
        "所用阈值和证据。"
    ),
    columns=(
        _SEGMENT_DATE,
        *F("mn", "pollutant_code", "indicator", "identity_from_at", "category", *_IDENTITY_KEYS),
        *F("hours_flagged", "hours_checked", "share_pct", "longest_run_h", "run_start_at", "run_end_at"),
        *F("threshold_h", "threshold_pct", "triggered", "evidence", "evidence_en"),
    ),
    primary_key=("date", "mn", "pollutant_code", "indicator", "identity_from_at"),
    owner=ENFORCEMENT_BUREAU,
    events=True,  # a day without one publishes an empty partition
    may_be_empty=True,
    frequency=DAILY,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=_ENFORCEMENT_ONLY,
    source_system=_SYSTEM,
)

_PERIOD = (
    SHARED.get(
        "date",
        description="last Beijing day of the period (partition key)",
        description_zh="时段最后一天（北京时间，分区字段）",
    ),
    *F("period_start", "period_end", "period_days"),
)

outlet_scores = Table(
    name="mart_risk__outlet_scores",
    layer=Layer.MART,
    source="risk",
    title="Risk-ranked outlets per period",
    title_zh="排放口风险排名",
    description=(
        "One row per outlet (MN under one enterprise) and period ending on `date`: the risk score, "
        "its parts, the rank, the top reasons in Chinese with their numbers, every reason as JSON and "
        "the figures behind them. Computed from the daily marts of the period; weights in "
        "transforms/risk/rules.toml."
    ),
    description_zh=(
        "按时段的排放口风险评分与排名：总分及构成、主要原因（中文，含数据）、全部原因（JSON）及所依据的数值；"
        "由时段内的日汇总数据计算，权重见配置文件。"
    ),
    columns=(
        *_PERIOD,
        *F("outlet_key", "rank", "mn", "uscc", "enterprise_name", "outlet_code", "point_name"),
        *F("region_code", "industry_code", "score", "exceedance_points", "fraud_points"),
        *F("data_quality_points", "permit_points", "credit_points", "identity_points", "top_reasons"),
        *F("reason_codes", "reasons_json", "exceedance_hours", "exceedance_days"),
        *F("max_exceedance_multiple", "flatline_hours", "zero_run_hours", "near_limit_share_pct"),
        *F("zs_inconsistent_hours", "abnormal_share_pct", "manual_share_pct", "missing_share_pct"),
        *F("silence_longest_h", "unpermitted_hours"),
        F.get(
            "permit_status",
            description="permit state of the outlet as of its last identity segment in the period (codes as "
            "in mart_source__outlet_identity)",
            description_zh="时段内最后一个身份时段中排放口的排污许可状态（代码同 mart_source__outlet_identity）",
        ),
        *F("permit_no", "credit_level", "credit_year"),
    ),
    primary_key=("date", "period_days", "outlet_key"),
    owner=ENFORCEMENT_BUREAU,
    frequency=DAILY,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=_ENFORCEMENT_ONLY,
    source_system=_SYSTEM,
)

enterprise_scores = Table(
    name="mart_risk__enterprise_scores",
    layer=Layer.MART,
    source="risk",
    title="Risk-ranked enterprises per period",
    title_zh="企业风险排名",
    description=(
        "One row per enterprise (USCC) and period ending on `date`: credit points and the permit's "
        "status points (each once), plus the best outlet's other points plus a share of the other "
        "outlets' points (other_outlets_factor), the "
        "rank, the top reasons across its outlets in Chinese with their numbers, and every reason as "
        "JSON. Unregistered MNs have no enterprise and appear only in the outlet list."
    ),
    description_zh=(
        "按时段的企业风险评分与排名：信用评价分与排污许可状态分（各计一次）、得分最高排放口的其余得分"
        "及其他排放口得分的一定比例之和，"
        "附各排放口的主要原因（中文，含数据）。未登记的MN无法归属企业，仅出现在排放口排名中。"
    ),
    columns=(
        *_PERIOD,
        F.get(
            "uscc",
            description="enterprise USCC (统一社会信用代码)",
            description_zh="企业统一社会信用代码",
            nullable=False,
        ),
        *F("rank", "enterprise_name"),
        F.get(
            "region_code",
            description="GB/T 2260 region code of its highest-scoring outlet",
            description_zh="得分最高排放口所在行政区划代码（GB/T 2260）",
        ),
        *F("industry_code", "score"),
        *F("exceedance_points", "fraud_points", "data_quality_points", "permit_points", "credit_points"),
        *F("outlets", "outlets_with_reasons", "top_outlet_key", "top_reasons", "reason_codes"),
        F.get(
            "reasons_json",
            description="every reason of its outlets, JSON: code, outlet_code and mn of the logger it is "
            "about (NULL for the enterprise's own: credit, its permit's status), pollutant, text, numbers, "
            "and points — what it adds to the score, which they sum to: weight × its outlet's points, "
            "rounded as shown (weight 1 on the best outlet and for the enterprise's own reasons, "
            "other_outlets_factor on its other outlets); outlet_points: the points on its outlet's row",
            description_zh="其各排放口的全部原因（JSON）：代码、所涉排放口编号和数采仪 MN（企业自身的原因——信用评价、"
            "许可证状态——为 NULL）、污染物、说明文字、数据及得分 points，即计入企业得分的部分（各原因之和即为企业得分）："
            "权重 weight × 所在排放口的得分后修约（得分最高排放口及企业自身原因的权重为 1，其他排放口为 "
            "other_outlets_factor）；outlet_points：该原因在其排放口排名中的得分",
        ),
        F.get(
            "permit_status",
            description="the most severe permit state among its outlets, each as of its last identity segment "
            "in the period (revoked, cancelled, expired, none, not_yet_valid, outlet_not_permitted, in_force)",
            description_zh="其各排放口排污许可状态中最严重者（各排放口取时段内最后一个身份时段的状态；"
            "严重程度依次为 revoked、cancelled、expired、none、not_yet_valid、outlet_not_permitted、in_force）",
        ),
        *F("credit_level", "credit_year"),
    ),
    primary_key=("date", "period_days", "uscc"),
    owner=ENFORCEMENT_BUREAU,
    frequency=DAILY,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=_ENFORCEMENT_ONLY,
    source_system=_SYSTEM,
)

disclosure_daily = Table(
    name="mart_source__disclosure_daily",
    layer=Layer.MART,
    source="source",
    title="Key dischargers' automatic-monitoring daily results, for public disclosure",
    title_zh="重点排污单位自动监测日数据公开",
    description=(
        "What the public may see of the online monitoring of key dischargers: one row per enterprise "
        "(USCC), outlet, monitoring point, pollutant and Beijing day — the day's mean of the values judged "
        "against the limit in force, the limit and its standard, hours with data, valid hours, hours over "
        "the limit and whether the day's mean exceeded it. From mart_source__exceedance_daily and "
        "mart_source__outlet_identity, without the data loggers' MNs (they could be used to impersonate a "
        "logger). Pollutants without a limit (flow, O2, temperature) have no judged mean. Only data tied "
        "to a registered point of a registered enterprise is disclosed: an MN in no monitoring-point "
        "version, or a point whose USCC is in no enterprise version (perhaps mistyped), is withheld (the "
        "build counts those rows). A registry change during a day splits the day at that time "
        "(identity_from_at), each part with its own hours."
    ),
    description_zh=(
        "向社会公开的重点排污单位自动监测数据：每家企业（统一社会信用代码）每个排放口、监控点位、污染物每日的"
        "日均值（与现行许可限值比较的数值，按要求折算）、限值及执行标准、有数据小时数、有效小时数、超标小时数"
        "及日均值是否超标。取自污染源日超标统计与监控点位身份，不含数采仪MN；无限值的参数（流量、氧含量、"
        "温度等）不计日均值；仅公开已登记点位且企业已登记的数据，未登记MN或企业信用代码无法匹配的数据不予"
        "公开（构建时计为未公开行数）；主数据在日内变更时，该日按变更时刻分段。"
    ),
    columns=(
        _SEGMENT_DATE,
        F.get(
            "uscc",
            description="enterprise USCC (统一社会信用代码)",
            description_zh="企业统一社会信用代码",
            nullable=False,
        ),
        F.get("enterprise_name"),
        F.get("outlet_code", nullable=False),
        *F("point_no", "point_name", "region_code"),
        _POLLUTANT_MEASURED,
        *F(
            "identity_from_at",
            "unit",
            "daily_mean_value",
            "limit_value",
            "limit_lower",
        ),
        *F("limit_unit", "limit_source", "limit_standard", "limit_changed", "hours_present", "hours_valid"),
        *F("hours_judged", "hours_exceeded"),
        F.get("day_mean_exceeded"),
    ),
    primary_key=("date", "uscc", "outlet_code", "point_no", "pollutant_code", "identity_from_at"),
    owner=SOURCE_MONITORING_CENTRE,
    events=True,  # a day without a registered outlet's values publishes an empty partition
    frequency=DAILY,
    sharing=Sharing.UNCONDITIONAL,
    source_system=_SYSTEM,
)

register(
    outlet_identity,
    exceedance_hourly,
    exceedance_daily,
    indicators,
    outlet_scores,
    enterprise_scores,
    disclosure_daily,
)

# the decimals people are shown of each risk field that declares them (``Column.decimals``): pages,
# spreadsheets and the CLI round alike
DECIMALS = F.decimals()


# One rounding for every risk number people see, at its field's declared decimals: the binary value
# correctly rounded, an exact tie to even (GB/T 8170, as the air pages round): 80.625 → 80.62, 0.15625
# → 0.16. Python's format and round() do this, and so does DuckDB's printf (the fmt library); DuckDB's
# round() does not (a tie away from zero, and 2.675 → 2.68 through x × 100) — risk SQL rounds with
# rounded_sql, never round(). Points and scores are stored rounded (transforms/risk/scoring.py), so a
# score is the sum of the points shown; the other fields are rounded where shown.


def fixed(value: float | None, field: str) -> str:
    """A risk number as people are shown it: its field's declared decimals, empty for None."""
    return "" if value is None else f"{value:.{DECIMALS[field]}f}"


def rounded(value: float | None, field: str) -> float | None:
    """A risk number rounded to its field's declared decimals as ``fixed`` shows it (a spreadsheet's
    cell: a number, not text)."""
    return None if value is None else float(fixed(value, field))


def rounded_sql(expr: str, field: str) -> str:
    """SQL: ``expr`` rounded to ``field``'s declared decimals as ``fixed`` shows it, an exact
    DECIMAL(38, d) (DuckDB's printf formats a double as Python does; NULL stays NULL)."""
    return _printf_round(expr, DECIMALS[field])


def product_rounded_sql(factor: str, shown: str, field: str) -> str:
    """SQL: ``factor`` × ``shown`` (a number already at ``field``'s declared decimals) rounded to those
    decimals exactly, an exact tie to even as ``fixed`` rounds (0.25 × 18.54 = 4.635 → 4.64): in
    decimal arithmetic, where a double's product may fall either side of the tie."""
    d = DECIMALS[field]
    return f"round_even(CAST(({factor}) AS DECIMAL(18, 6)) * CAST(({shown}) AS DECIMAL(18, {d})), {d})"


def _printf_round(expr: str, decimals: int) -> str:
    return f"CAST(printf('%.{decimals}f', ({expr})::DOUBLE) AS DECIMAL(38, {decimals}))"


def printf_format(field: str) -> str:
    """The printf format of a risk number at its field's declared decimals (``%.2f``): SQL sentences
    (DuckDB's printf) show it as ``fixed`` does."""
    return f"%.{DECIMALS[field]}f"


def heading(field: str, lang: str = "zh") -> str:
    """A risk field's column heading (spreadsheets, CSV) in ``lang`` ("zh" or "en"), as declared."""
    return F.get(field).heading_in(lang)
