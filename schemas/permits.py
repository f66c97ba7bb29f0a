"""Discharge permits (排污许可证): permit versions, outlets and permitted limits, with history.

Every version the permit platform publishes is kept (SCD type 2): ``valid_from`` / ``valid_to`` give
the period a version describes, ``in_force_from`` / ``in_force_to`` the part of it in which its limits
bind (status valid and inside the permit's own validity; past ``valid_to`` only until a renewal issued
early binds from its printed start). An exceedance is judged against the limit
in force at the reading's time: ``transforms.permits.limit_in_force``.
"""

from __future__ import annotations

from schemas.fields import DAILY, EMISSIONS_DIVISION, EVERY_RUN, SHARED, STAGE_ONLY, WHEN_REJECTED
from schemas.registry import Codes, Column, Fields, Layer, Sharing, Table, register

OWNER = EMISSIONS_DIVISION
SOURCE = "permit"
UPSTREAM = "全国排污许可证管理信息平台 (national pollutant discharge permit management information platform)"

STATUSES = Codes(
    {"valid": ("有效", "valid"), "revoked": ("已撤销", "revoked"), "cancelled": ("已注销", "cancelled")}
)
# the version kinds the permit platform names (open text: a kind not listed here is kept and shown as sent)
VERSION_KINDS = Codes(
    {
        "首次申请": ("首次申请", "first application"),
        "重新申请": ("重新申请", "re-application"),
        "变更": ("变更", "change"),
        "延续": ("延续", "renewal"),
        "撤销": ("撤销", "revocation"),
        "注销": ("注销", "cancellation"),
    }
)
OUTLET_KINDS = Codes({"main": ("主要排放口", "main outlet"), "general": ("一般排放口", "general outlet")})

F = Fields("permit", parent=SHARED)
F.define(
    Column(
        "permit_no",
        "string",
        "discharge permit number (排污许可证编号): USCC + 3 digits + P/U",
        description_zh="排污许可证编号：统一社会信用代码 + 3位数字 + P/U",
        nullable=False,
    ),
    Column(
        "version",
        "int32",
        "version number on the permit platform (1 = first issue)",
        description_zh="排污许可证管理信息平台上的版本号（1 表示首次核发）",
        unit="1",
        nullable=False,
        min=1,
    ),
    Column(
        "version_type",
        "string",
        "what this version is (首次申请, 变更, 延续, 撤销, 注销 …)",
        description_zh="版本类型（首次申请、变更、延续、撤销、注销等）",
    ),
    Column(
        "permit_no_valid",
        "bool",
        "permit number is USCC + 3 digits + P/U and its USCC part equals `uscc`",
        description_zh=(
            "许可证编号是否为“统一社会信用代码 + 3位数字 + P/U”格式，且其中的统一社会信用代码与 uscc 一致"
        ),
        nullable=False,
    ),
    Column(
        "permit_kind",
        "string",
        "P: permit; U: registration-only unit (登记管理)",
        description_zh="P：排污许可证；U：实行登记管理的排污单位",
        allowed=("P", "U"),
    ),
    Column(
        "permit_valid_from",
        "date",
        "validity start printed on the permit (有效期限 起)",
        description_zh="许可证上载明的有效期限起始日期",
    ),
    Column(
        "permit_valid_to",
        "date",
        "validity end printed on the permit (inclusive; NULL: long-term)",
        description_zh="许可证上载明的有效期限截止日期（含当日；NULL 表示长期）",
    ),
    Column("issued_by", "string", "issuing authority (发证机关)", description_zh="发证机关"),
    Column("issued_date", "date", "date of issue (发证日期)", description_zh="发证日期"),
    Column(
        "status",
        "string",
        "valid / revoked / cancelled",
        description_zh="状态：valid（有效）/ revoked（已撤销）/ cancelled（已注销）",
        allowed=STATUSES,
        nullable=False,
    ),
    Column("status_date", "date", "date of revocation or cancellation", description_zh="撤销或注销日期"),
    Column(
        "effective_date",
        "date",
        "Beijing date this version takes effect",
        description_zh="此版本生效日期（北京时间）",
        nullable=False,
    ),
    Column(
        "effective_recorded",
        "bool",
        "effective_date is the day the platform first recorded the version: a revocation or "
        "cancellation that states no date",
        description_zh="effective_date 是否取平台首次记录此版本的日期（用于未注明日期的撤销或注销）",
        nullable=False,
    ),
    Column(
        "in_force_from",
        "timestamp",
        "start of the period in which this version's limits bind; NULL: never (revoked, cancelled, "
        "expired before it took effect)",
        description_zh="此版本许可限值的适用起始时间；NULL 表示从未适用（已撤销、已注销，或生效前已过期）",
    ),
    Column(
        "in_force_to",
        "timestamp",
        "end of that period (exclusive; NULL: open-ended); past valid_to when the next version, a renewal "
        "issued early, binds only from its printed start",
        description_zh=(
            "该适用期的结束时间（不含；NULL 表示无截止）；下一版本为提前核发的延续许可证、"
            "自其载明的有效期限起始日起才适用时，晚于 valid_to"
        ),
    ),
    Column(
        "updated_at",
        "timestamp",
        "when the platform published this version (UTC)",
        description_zh="平台发布此版本的时间（UTC）",
        nullable=False,
    ),
    Column("outlet_name", "string", "outlet name", description_zh="排放口名称"),
    Column(
        "outlet_kind",
        "string",
        "main or general outlet",
        description_zh="排放口类型：main（主要排放口）或 general（一般排放口）",
        allowed=OUTLET_KINDS,
    ),
    Column(
        "pollutant_name",
        "string",
        "pollutant name as on the permit",
        description_zh="许可证上所写的污染物名称",
    ),
    Column(
        "limit_value",
        "float64",
        "concentration limit (upper bound)",
        description_zh="许可排放浓度限值（上限）",
        unit="{limit_unit}",
        min=0,
    ),
    Column(
        "limit_lower",
        "float64",
        "lower bound where the limit is a range (pH 6–9)",
        description_zh="限值为范围时的下限（pH 6–9）",
        unit="{limit_unit}",
        min=0,
    ),
    Column(
        "limit_unit",
        "string",
        "unit of limit_value: mg/m³, mg/L, or - (dimensionless)",
        description_zh="limit_value 的单位：mg/m³、mg/L 或 -（无量纲）",
    ),
    Column(
        "standard",
        "string",
        "emission standard the limit comes from, e.g. GB 13223-2011",
        description_zh="限值所依据的排放标准，如 GB 13223-2011",
    ),
    Column(
        "o2_reference_pct",
        "float64",
        "reference O2 for converted values",
        description_zh="折算值的基准氧含量",
        unit="%",
        min=0,
        max=21,
    ),
    Column(
        "annual_limit_t",
        "float64",
        "permitted annual quantity",
        description_zh="年许可排放量",
        unit="t/a",
        min=0,
    ),
    Column(
        "record_index",
        "int32",
        "0-based index in the page's records; -1: the whole page",
        description_zh="在该页 records 中的序号（从0开始）；-1 表示整页",
        unit="1",
        nullable=False,
    ),
    Column(
        "item",
        "string",
        "path inside the record, '' for the record itself",
        description_zh="记录内的路径，记录本身为 ''",
        nullable=False,
    ),
    Column(
        "record",
        "string",
        "raw_file#index of the record: links outlets and limits to their version",
        description_zh="记录的 raw_file#index（原始文件#序号）：用于将排放口和限值关联到所属版本",
    ),
)

_USCC = F.get(
    "uscc",
    description="unified social credit code (统一社会信用代码) as published, normalised",
    description_zh="平台公布的统一社会信用代码（已规范化）",
)
_STATUS_OF_VERSION = F.get(
    "status", description="status of the permit version", description_zh="许可证版本的状态"
)


def _history_columns() -> tuple[Column, ...]:
    return (
        F.get(
            "valid_from",
            description="this version takes effect (00:00 Beijing of its effective date, UTC)",
            description_zh="此版本生效时间（生效日期的北京时间0时，以 UTC 表示）",
        ),
        F.get(
            "valid_to",
            description="the next version takes effect (NULL: latest version)",
            description_zh="下一版本生效时间（NULL 表示最新版本）",
        ),
        *F("in_force_from", "in_force_to"),
    )


permits = Table(
    name="core_permit__permits",
    layer=Layer.CORE,
    source=SOURCE,
    title="Discharge permits, all versions",
    title_zh="排污许可证 历史版本",
    description=(
        "One row per permit version published by the permit platform: first issue, change (变更), "
        "renewal (延续), revocation (撤销), cancellation (注销). Earlier versions are never overwritten. "
        "A USCC that fails its GB 32100 check is kept and flagged (`uscc_valid`)."
    ),
    description_zh=(
        "排污许可证管理信息平台发布的每个许可证版本一行：首次申请、变更、延续、撤销、注销，历史版本不被覆盖。"
        "未通过 GB 32100 校验的统一社会信用代码予以保留并标记（uscc_valid）。"
    ),
    columns=(
        *F("permit_no", "version", "version_type"),
        _USCC,
        *F("uscc_valid", "uscc_problem", "permit_no_valid", "permit_kind"),
        F.get(
            "enterprise_name",
            description="enterprise name as on this version",
            description_zh="此版本上的企业名称",
        ),
        F.get("enterprise_name_norm"),
        *F("industry_code", "industry_name"),
        F.get(
            "region_code",
            description="GB/T 2260 region code (legacy codes mapped to current)",
            description_zh="GB/T 2260 行政区划代码（旧代码已映射为现行代码）",
        ),
        F.get("address", description="production site address", description_zh="生产经营场所地址"),
        *F("permit_valid_from", "permit_valid_to", "issued_by", "issued_date", "status", "status_date"),
        *F("effective_date", "effective_recorded"),
        *_history_columns(),
        F.get(
            "is_current",
            description="latest version of the permit",
            description_zh="是否为该许可证的最新版本",
        ),
        F.get("updated_at"),
        F.get(
            "raw_file",
            description="raw-zone page this version was read from",
            description_zh="读取此版本的原始区页面文件",
        ),
    ),
    primary_key=("permit_no", "version"),
    partition_by=None,
    owner=OWNER,
    frequency=DAILY,
    sharing=Sharing.UNCONDITIONAL,
    source_system=UPSTREAM,
)

outlets = Table(
    name="core_permit__outlets",
    layer=Layer.CORE,
    source=SOURCE,
    title="Permitted discharge outlets, per permit version",
    title_zh="许可排放口",
    description=(
        "Outlets listed on each permit version: DA… waste-gas, DW… wastewater outlets, main (主要) or "
        "general (一般), with coordinates. History columns are those of the permit version."
    ),
    description_zh=(
        "各许可证版本所列排放口：DA 开头为废气排放口，DW 开头为废水排放口，分主要和一般排放口，含坐标；"
        "有效期各列与所属许可证版本相同。"
    ),
    columns=(
        *F("permit_no", "version"),
        F.get(
            "outlet_code",
            description="outlet code (排放口编号), e.g. DA001, DW001",
            description_zh="排放口编号，如 DA001、DW001",
            nullable=False,
        ),
        *F("outlet_name", "outlet_kind"),
        F.get(
            "medium",
            description="air (DA) or water (DW)",
            description_zh="air（废气，DA）或 water（废水，DW）",
        ),
        F.get("longitude", description="longitude", description_zh="经度"),
        F.get("latitude", description="latitude", description_zh="纬度"),
        _USCC,
        _STATUS_OF_VERSION,
        *_history_columns(),
    ),
    primary_key=("permit_no", "version", "outlet_code"),
    partition_by=None,
    owner=OWNER,
    frequency=DAILY,
    sharing=Sharing.UNCONDITIONAL,
    source_system=UPSTREAM,
)

outlet_limits = Table(
    name="core_permit__outlet_limits",
    layer=Layer.CORE,
    source=SOURCE,
    title="Permitted emission limits per outlet and pollutant",
    title_zh="许可排放限值",
    description=(
        "Concentration limit of each pollutant at each outlet of each permit version, the emission "
        "standard it comes from, the O2 reference for converted (折算) flue-gas values, and the annual "
        "quantity limit. Pollutant codes are HJ 212-2017 codes (a21026 SO2, w01018 COD …). The limit in "
        "force at a time t: in_force_from ≤ t < in_force_to (transforms.permits.limit_in_force)."
    ),
    description_zh=(
        "各许可证版本每个排放口每种污染物的许可排放浓度限值、执行标准、废气折算的基准含氧量及年许可排放量；"
        "污染物编码为 HJ 212-2017 代码。时刻 t 适用的限值满足 in_force_from ≤ t < in_force_to。"
    ),
    columns=(
        *F("permit_no", "version"),
        F.get("outlet_code", description="outlet code", description_zh="排放口编号", nullable=False),
        *F("pollutant_code", "pollutant_name", "limit_value", "limit_lower", "limit_unit", "standard"),
        *F("o2_reference_pct", "annual_limit_t"),
        _USCC,
        _STATUS_OF_VERSION,
        *_history_columns(),
    ),
    primary_key=("permit_no", "version", "outlet_code", "pollutant_code"),
    partition_by=None,
    owner=OWNER,
    frequency=DAILY,
    sharing=Sharing.UNCONDITIONAL,
    source_system=UPSTREAM,
)

quarantine = Table(
    name="quarantine_permit__records",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="Permit records that could not be typed",
    title_zh="排污许可数据 隔离记录",
    description=(
        "Pages, permit records, outlets or limits from the permit API that could not be typed, with the "
        "reason and where they are in the raw page (`item`: JSON path inside the record)."
    ),
    description_zh="许可证接口返回中无法解析的页面、许可证记录、排放口或限值，附原因及其在原始页面中的位置（item 为记录内的 JSON 路径）。",
    columns=(
        F.get(
            "raw_file",
            description="raw-zone page (relative to the lake)",
            description_zh="原始区页面文件（相对于数据湖的路径）",
        ),
        *F("record_index", "item"),
        F.get(
            "permit_no",
            description="permit number when known",
            description_zh="许可证编号（已知时）",
            nullable=True,
        ),
        F.get(
            "raw_value", description="the offending text (truncated)", description_zh="出错的原始文本（截断）"
        ),
        F.get("reason", description="why it was not published", description_zh="未发布的原因"),
    ),
    primary_key=("raw_file", "record_index", "item"),
    partition_by=None,
    owner=OWNER,
    frequency=WHEN_REJECTED,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=(
        "不予共享：许可证接口返回中无法解析的内容，仅供数据工程人员排查接口数据问题 "
        "(not shared: untypeable content of the permit API's replies, for data engineers tracing upstream problems)"
    ),
    source_system=UPSTREAM,
)

# -- stage: typed rows of one permit-API page (ingest.permits.parse), in memory only -------------
_RECORD = F.get("record")

stage_versions = Table(
    name="stage_permit__versions",
    layer=Layer.STAGE,
    source=SOURCE,
    title="Permit versions of an API page, typed",
    title_zh="许可证版本 解析结果",
    description="One row per permit record of a page, typed; flags, names and history are added by the build.",
    description_zh="许可证接口每页每条许可证记录的解析结果；校验标记、名称规范化和历史区间由构建步骤补充。",
    columns=(
        *F("permit_no", "version", "version_type"),
        _USCC,
        F.get(
            "enterprise_name",
            description="enterprise name as on this version",
            description_zh="此版本上的企业名称",
        ),
        *F("industry_code", "industry_name", "region_code"),
        F.get("address", description="production site address", description_zh="生产经营场所地址"),
        *F("permit_valid_from", "permit_valid_to", "issued_by", "issued_date", "status", "status_date"),
        *F("effective_date", "effective_recorded", "updated_at"),
        F.get(
            "raw_file",
            description="raw-zone page this version was read from",
            description_zh="读取此版本的原始区页面文件",
        ),
        _RECORD,
    ),
    primary_key=("record",),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=UPSTREAM,
)

stage_outlets = Table(
    name="stage_permit__outlets",
    layer=Layer.STAGE,
    source=SOURCE,
    title="Outlets of the permit versions of an API page, typed",
    title_zh="许可排放口 解析结果",
    description="One row per outlet of a permit record, linked to its version by `record`.",
    description_zh="每条许可证记录所列排放口的解析结果，通过 record 关联到所属版本。",
    columns=(
        *F("permit_no", "version"),
        F.get("outlet_code", nullable=False),
        *F("outlet_name", "outlet_kind", "medium", "longitude", "latitude"),
        _RECORD,
    ),
    primary_key=("record", "outlet_code"),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=UPSTREAM,
)

stage_limits = Table(
    name="stage_permit__limits",
    layer=Layer.STAGE,
    source=SOURCE,
    title="Limits of the outlets of an API page, typed",
    title_zh="许可排放限值 解析结果",
    description="One row per pollutant limit of an outlet, linked to its version by `record`.",
    description_zh="每个排放口各污染物许可限值的解析结果，通过 record 关联到所属版本。",
    columns=(
        *F("permit_no", "version"),
        F.get("outlet_code", nullable=False),
        *F("pollutant_code", "pollutant_name", "limit_value", "limit_lower", "limit_unit", "standard"),
        *F("o2_reference_pct", "annual_limit_t"),
        _RECORD,
    ),
    primary_key=("record", "outlet_code", "pollutant_code"),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=UPSTREAM,
)

register(permits, outlets, outlet_limits, quarantine, stage_versions, stage_outlets, stage_limits)
