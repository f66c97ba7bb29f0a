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
    Column("mn", "string", "data-logger MN (设备唯一标识) = the monitored outlet", nullable=False),
    Column("uscc", "string", "enterprise USCC (统一社会信用代码); NULL when the MN is unregistered"),
    Column("outlet_code", "string", "permitted outlet code (排放口编号), e.g. DA001, DW001"),
    Column("region_code", "string", "GB/T 2260 region code of the outlet"),
    Column("industry_code", "string", "industry of the enterprise (GB/T 4754), e.g. D4411"),
    Column("industry_name", "string", "industry name"),
    Column("enterprise_name", "string", "enterprise name as of the time"),
    Column("point_name", "string", "monitoring-point name"),
    Column(
        "point_no",
        "int16",
        "the monitoring point's number on its outlet: 1, and 2 … where the registry puts several data "
        "loggers on one outlet, in the order they were first registered (their MNs stay unpublished)",
        unit="1",
        nullable=False,
        min=1,
    ),
    Column("permit_no", "string", "discharge permit number (排污许可证编号) in force, else the latest one"),
    Column(
        "pollutant_code",
        "string",
        "HJ 212-2017 pollutant code; '*' for an indicator about the whole logger",
        nullable=False,
    ),
    Column("hour_at", "timestamp", "start of the Beijing hour (UTC)", nullable=False),
    # identity
    Column(
        "identity_from_at",
        "timestamp",
        "start of the part of the Beijing day this identity holds (UTC)",
        nullable=False,
    ),
    Column("identity_to_at", "timestamp", "end of that part (exclusive, UTC)", nullable=False),
    Column(
        "identity_status",
        "string",
        "matched; uscc_unmatched (the point's USCC is in no enterprise version); mn_unregistered "
        "(the MN is in no monitoring-point version in force)",
        allowed=IDENTITY_STATUSES,
        nullable=False,
    ),
    Column(
        "identity_basis",
        "string",
        "as_of: the registry version in force then; first_snapshot: before the registry's first "
        "snapshot, which stands for the past; none: no version",
        allowed=IDENTITY_BASES,
        nullable=False,
    ),
    Column("point_valid_from", "timestamp", "valid_from of the monitoring-point version used (UTC)"),
    Column("pollutants_expected", "string", "codes the point measures (registry), comma-separated"),
    Column(
        "permit_status",
        "string",
        "permit state of the outlet at the start of the segment: in_force, outlet_not_permitted, "
        "not_yet_valid, expired, revoked, cancelled, none (no permit), unknown (no USCC)",
        allowed=PERMIT_STATUSES,
        nullable=False,
    ),
    Column(
        "permit_status_since", "date", "revoked / cancelled: status date; expired: the day after validity"
    ),
    Column("segment_hours", "int16", "hours of the segment", unit="h", nullable=False, min=0, max=24),
    Column(
        "hours_with_data", "int16", "hours with any hourly value", unit="h", nullable=False, min=0, max=24
    ),
    # limits and judged values
    Column("unit", "string", "unit of the concentration values (HJ 212 code table)"),
    Column("measured_value", "float64", "hourly mean as measured", unit="per row: `unit`"),
    Column("o2_pct", "float64", "O2 of the same hour (valid flag only)", unit="%", min=0, max=100),
    Column(
        "value_basis",
        "string",
        "measured; converted (from the measured mean and O2, the permit's O2 reference); "
        "logger_converted (ZsAvg as sent, O2 missing)",
        allowed=VALUE_BASES,
        nullable=False,
    ),
    Column("judged_value", "float64", "the value compared with the limit", unit="per row: `unit`"),
    Column("limit_value", "float64", "limit in force (upper bound)", unit="per row: `limit_unit`", min=0),
    Column("limit_lower", "float64", "lower bound of a range limit (pH 6–9)", unit="per row: `limit_unit`"),
    Column("limit_unit", "string", "unit of the limit"),
    Column(
        "limit_source",
        "string",
        "permit (the limit in force) or default (national default, DOMAIN.md §7: no permit gives one)",
        allowed=LIMIT_SOURCES,
    ),
    Column("limit_standard", "string", "emission standard the limit comes from"),
    Column("permit_version", "int32", "permit version the limit is on", unit="1", min=1),
    Column("o2_reference_pct", "float64", "reference O2 of converted values", unit="%", min=0, max=21),
    Column("ratio", "float64", "judged value / limit", unit="1", min=0),
    Column("exceedance_multiple", "float64", "超标倍数 = value / limit − 1 (DOMAIN.md §4)", unit="1"),
    Column("flag", "string", "the hour's HJ 212 data flag", nullable=False),
    Column("run_hours", "int32", "length of the run of exceeded hours this hour belongs to", unit="h", min=1),
    # daily counts
    Column("limit_changed", "bool", "more than one limit applied during the day", nullable=False),
    Column(
        "logger_hours", "int16", "hours the logger sent any value", unit="h", nullable=False, min=0, max=24
    ),
    Column("hours_present", "int16", "hours with a value of this pollutant", unit="h", nullable=False, min=0),
    Column("hours_valid", "int16", "of those, flag N", unit="h", nullable=False, min=0),
    Column(
        "hours_abnormal", "int16", "of those, an abnormal flag (F M D C B T)", unit="h", nullable=False, min=0
    ),
    Column("hours_manual", "int16", "of those, entered by hand (S)", unit="h", nullable=False, min=0),
    Column(
        "hours_running",
        "int16",
        "of those, flow above the running threshold",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column("hours_judged", "int16", "valid hours compared with a limit", unit="h", nullable=False, min=0),
    Column(
        "hours_unjudged",
        "int16",
        "valid hours with a limit that could not be judged (O2 missing or ≥ o2_max, unit mismatch)",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_exceeded",
        "int16",
        "judged hours over the limit (none under a limit on the day's mean, GB 18918: see day_mean_exceeded)",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "hours_near_limit",
        "int16",
        "judged hours in [low_frac × limit, limit]",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column("max_judged_value", "float64", "largest judged value", unit="per row: `unit`"),
    # no minimum: an analyser drifting below zero reads negative, and its day must still publish
    Column(
        "max_ratio", "float64", "largest judged value / limit (negative where the readings are)", unit="1"
    ),
    Column(
        "max_exceedance_multiple", "float64", "largest 超标倍数 (value / limit − 1) over the limit", unit="1"
    ),
    Column(
        "longest_exceedance_run_h",
        "int32",
        "longest run of exceeded hours touching the day (followed into the lookback)",
        unit="h",
        min=0,
    ),
    Column(
        "daily_mean_value",
        "float64",
        "mean of the judged values of the logger's day on the outlet (the rows of a day a registry edit "
        "split share it)",
        unit="per row: `unit`",
    ),
    Column(
        "daily_mean_ratio",
        "float64",
        "mean of the hourly value / limit over the logger's day on the outlet (negative likewise)",
        unit="1",
    ),
    Column(
        "daily_mean_hours",
        "int16",
        "judged hours the day's mean is over: the logger's day on the outlet",
        unit="h",
        min=0,
    ),
    Column(
        "day_mean_exceeded",
        "bool",
        "the day's mean is over the limit (NULL: no limit, or fewer daily_mean_hours than daily_mean_min_hours)",
    ),
    # indicators
    Column(
        "indicator", "string", "which rule (transforms/risk/rules.toml)", allowed=INDICATORS, nullable=False
    ),
    Column("category", "string", "fraud, data_quality or permit", allowed=CATEGORIES, nullable=False),
    Column("hours_flagged", "int16", "hours of the day that meet the rule", unit="h", nullable=False, min=0),
    Column("hours_checked", "int16", "hours of the day the rule looked at", unit="h", nullable=False, min=0),
    Column("share_pct", "float64", "hours_flagged / hours_checked", unit="%", min=0, max=100),
    Column("longest_run_h", "int32", "longest run touching the day (run rules)", unit="h", min=0),
    Column("run_start_at", "timestamp", "start of that run (UTC)"),
    Column("run_end_at", "timestamp", "end of that run (exclusive, UTC)"),
    Column("threshold_h", "float64", "run / hour threshold applied", unit="h", min=0),
    Column("threshold_pct", "float64", "share threshold applied (over the scoring period)", unit="%", min=0),
    Column("triggered", "bool", "the day alone meets the rule's threshold", nullable=False),
    Column("evidence", "string", "what was found, in Chinese, with the numbers", nullable=False),
    # scores
    Column("period_start", "date", "first Beijing day of the period", nullable=False),
    Column("period_end", "date", "last Beijing day of the period (= date)", nullable=False),
    Column("period_days", "int16", "length of the period", unit="d", nullable=False, min=1),
    Column(
        "outlet_key",
        "string",
        "<USCC or 未登记>/<outlet code or ->/<MN>: one ranked outlet (an MN remapped mid-period ranks "
        "once per enterprise)",
        nullable=False,
    ),
    Column(
        "rank", "int32", "position in the period's list, 1 = highest risk", unit="1", nullable=False, min=1
    ),
    Column("score", "float64", "risk score: sum of the reasons' points", unit="1", nullable=False, min=0),
    Column("exceedance_points", "float64", "points from exceedances", unit="1", nullable=False, min=0),
    Column("fraud_points", "float64", "points from data-fraud indicators", unit="1", nullable=False, min=0),
    Column(
        "data_quality_points",
        "float64",
        "points from data-quality indicators",
        unit="1",
        nullable=False,
        min=0,
    ),
    Column(
        "permit_points",
        "float64",
        "points from the permit status and unpermitted discharge",
        unit="1",
        nullable=False,
        min=0,
    ),
    Column("credit_points", "float64", "points from the credit rating", unit="1", nullable=False, min=0),
    Column("identity_points", "float64", "points from an unregistered MN", unit="1", nullable=False, min=0),
    Column(
        "top_reasons",
        "string",
        "the highest-scoring reasons in Chinese with their numbers, '；'-separated",
        nullable=False,
    ),
    Column(
        "reason_codes",
        "string",
        "codes of every reason, highest points first, comma-separated",
        nullable=False,
    ),
    Column(
        "reasons_json",
        "string",
        "every reason: code, pollutant, points, text and the numbers, JSON",
        nullable=False,
    ),
    Column(
        "exceedance_hours", "int32", "hours over the limit, all pollutants", unit="h", nullable=False, min=0
    ),
    Column(
        "exceedance_days",
        "int32",
        "days with an hour over the limit, or with a mean over a limit on the day's mean (GB 18918)",
        unit="d",
        nullable=False,
        min=0,
    ),
    Column("flatline_hours", "int32", "hours in flat-line runs", unit="h", nullable=False, min=0),
    Column("zero_run_hours", "int32", "hours in zero runs while flowing", unit="h", nullable=False, min=0),
    Column(
        "near_limit_share_pct",
        "float64",
        "largest per-pollutant share of judged hours just under the limit, among pollutants with the "
        "near_limit rule's minimum of judged hours (NULL: none has)",
        unit="%",
        min=0,
        max=100,
    ),
    Column(
        "zs_inconsistent_hours",
        "int32",
        "hours whose converted value disagrees with measured value and O2",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "abnormal_share_pct", "float64", "share of values with an abnormal flag", unit="%", min=0, max=100
    ),
    Column("manual_share_pct", "float64", "share of values entered by hand", unit="%", min=0, max=100),
    Column(
        "missing_share_pct",
        "float64",
        "share of expected values missing while the logger sent",
        unit="%",
        min=0,
        max=100,
    ),
    Column(
        "silence_longest_h",
        "int32",
        "longest silent run of the logger within the period",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column(
        "unpermitted_hours",
        "int32",
        "hours with data and no permit in force",
        unit="h",
        nullable=False,
        min=0,
    ),
    Column("credit_level", "string", "latest credit level (year ≤ the period's end)", allowed=CREDIT_LEVELS),
    Column("credit_year", "int16", "evaluation year of that level", unit="a", min=2000, max=2100),
    Column(
        "outlets",
        "int32",
        "ranked outlets of the enterprise in the period",
        unit="count",
        nullable=False,
        min=1,
    ),
    Column(
        "outlets_with_reasons",
        "int32",
        "of those, outlets with at least one reason",
        unit="count",
        nullable=False,
        min=0,
    ),
    Column("top_outlet_key", "string", "the enterprise's highest-scoring outlet", nullable=False),
)

_IDENTITY_KEYS = ("uscc", "outlet_code", "region_code", "industry_code")
_SEGMENT_DATE = SHARED.get("date", description="Beijing day (partition key)")

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
        *F("mn", "pollutant_code", "hour_at", *_IDENTITY_KEYS, "unit", "measured_value", "o2_pct"),
        *F("value_basis", "judged_value", "limit_value", "limit_lower", "limit_unit", "limit_source"),
        *F("limit_standard", "permit_no", "permit_version", "o2_reference_pct", "ratio"),
        *F("exceedance_multiple", "flag", "run_hours"),
    ),
    primary_key=("date", "mn", "pollutant_code", "hour_at"),
    owner=SOURCE_MONITORING_CENTRE,
    events=True,  # a day without one publishes an empty partition
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
        *F("mn", "pollutant_code", "identity_from_at", *_IDENTITY_KEYS, "unit"),
        F.get(
            "limit_value",
            description="the limit of the day's last judged hour (of its last limit without one); with "
            "limit_changed others applied too — a permit from noon, a default's cold- and warm-water "
            "limits — and the day's mean is judged hour by hour (daily_mean_ratio)",
        ),
        *F("limit_lower", "limit_unit", "limit_source", "limit_standard", "permit_no"),
        *F("o2_reference_pct", "limit_changed", "segment_hours", "logger_hours", "hours_present"),
        *F("hours_valid", "hours_abnormal", "hours_manual", "hours_running", "hours_judged"),
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
        *F("threshold_h", "threshold_pct", "triggered", "evidence"),
    ),
    primary_key=("date", "mn", "pollutant_code", "indicator", "identity_from_at"),
    owner=ENFORCEMENT_BUREAU,
    events=True,  # a day without one publishes an empty partition
    frequency=DAILY,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=_ENFORCEMENT_ONLY,
    source_system=_SYSTEM,
)

_PERIOD = (
    SHARED.get("date", description="last Beijing day of the period (partition key)"),
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
        *F("silence_longest_h", "unpermitted_hours", "permit_status", "permit_no", "credit_level"),
        F.get("credit_year"),
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
        F.get("uscc", description="enterprise USCC (统一社会信用代码)", nullable=False),
        *F("rank", "enterprise_name", "region_code", "industry_code", "score"),
        *F("exceedance_points", "fraud_points", "data_quality_points", "permit_points", "credit_points"),
        *F("outlets", "outlets_with_reasons", "top_outlet_key", "top_reasons", "reason_codes"),
        *F("reasons_json", "permit_status", "credit_level", "credit_year"),
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
        F.get("uscc", description="enterprise USCC (统一社会信用代码)", nullable=False),
        F.get("enterprise_name"),
        F.get("outlet_code", nullable=False),
        *F(
            "point_no",
            "point_name",
            "region_code",
            "pollutant_code",
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
