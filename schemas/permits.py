"""Discharge permits (排污许可证): permit versions, outlets and permitted limits, with history.

Every version the permit platform publishes is kept (SCD type 2): ``valid_from`` / ``valid_to`` give
the period a version describes, ``in_force_from`` / ``in_force_to`` the part of it in which its limits
bind (status valid and inside the permit's own validity). An exceedance is judged against the limit
in force at the reading's time: ``transforms.permits.limit_in_force``.
"""

from __future__ import annotations

from schemas.registry import Column, Layer, Sharing, Table, register

OWNER = "环境影响评价与排放管理处 (EIA and emission management division)"
SOURCE = "permit"

STATUSES = ("valid", "revoked", "cancelled")  # 有效 / 撤销 / 注销
OUTLET_KINDS = ("main", "general")  # 主要排放口 / 一般排放口
MEDIA = ("air", "water")  # DA… waste gas, DW… wastewater
USCC_PROBLEMS = ("missing", "length", "charset", "check_char")

_PERMIT_NO = Column(
    "permit_no", "string", "discharge permit number (排污许可证编号): USCC + 3 digits + P/U", nullable=False
)
_VERSION = Column(
    "version", "int32", "version number on the permit platform (1 = first issue)", nullable=False, min=1
)
_USCC = Column("uscc", "string", "unified social credit code (统一社会信用代码) as published, normalised")


def _history_columns() -> tuple[Column, ...]:
    return (
        Column(
            "valid_from",
            "timestamp",
            "this version takes effect (00:00 Beijing of its effective date, UTC)",
            nullable=False,
        ),
        Column("valid_to", "timestamp", "the next version takes effect (NULL: latest version)"),
        Column(
            "in_force_from",
            "timestamp",
            "start of the period in which this version's limits bind; NULL: never (revoked, cancelled, "
            "expired before it took effect)",
        ),
        Column("in_force_to", "timestamp", "end of that period (exclusive; NULL: open-ended)"),
    )


permits = Table(
    name="core_permit__permits",
    layer=Layer.CORE,
    source=SOURCE,
    title="Discharge permits, all versions (排污许可证 历史版本)",
    description=(
        "One row per permit version published by the permit platform: first issue, change (变更), "
        "renewal (延续), revocation (撤销), cancellation (注销). Earlier versions are never overwritten. "
        "A USCC that fails its GB 32100 check is kept and flagged (`uscc_valid`)."
    ),
    columns=(
        _PERMIT_NO,
        _VERSION,
        Column("version_type", "string", "what this version is (首次申请, 变更, 延续, 撤销, 注销 …)"),
        _USCC,
        Column("uscc_valid", "bool", "USCC passes the GB 32100 check", nullable=False),
        Column("uscc_problem", "string", "why the USCC fails the check", allowed=USCC_PROBLEMS),
        Column(
            "permit_no_valid",
            "bool",
            "permit number is USCC + 3 digits + P/U and its USCC part equals `uscc`",
            nullable=False,
        ),
        Column(
            "permit_kind", "string", "P: permit; U: registration-only unit (登记管理)", allowed=("P", "U")
        ),
        Column("enterprise_name", "string", "enterprise name as on this version"),
        Column("enterprise_name_norm", "string", "name normalised for matching (half-width, no spaces)"),
        Column("industry_code", "string", "industry (GB/T 4754), e.g. D4411"),
        Column("industry_name", "string", "industry name, e.g. 火力发电"),
        Column("region_code", "string", "GB/T 2260 region code (legacy codes mapped to current)"),
        Column("address", "string", "production site address"),
        Column("permit_valid_from", "date", "validity start printed on the permit (有效期限 起)"),
        Column("permit_valid_to", "date", "validity end printed on the permit (inclusive; NULL: long-term)"),
        Column("issued_by", "string", "issuing authority (发证机关)"),
        Column("issued_date", "date", "date of issue (发证日期)"),
        Column("status", "string", "valid / revoked / cancelled", allowed=STATUSES, nullable=False),
        Column("status_date", "date", "date of revocation or cancellation"),
        Column("effective_date", "date", "Beijing date this version takes effect", nullable=False),
        *_history_columns(),
        Column("is_current", "bool", "latest version of the permit", nullable=False),
        Column("updated_at", "timestamp", "when the platform published this version (UTC)", nullable=False),
        Column("raw_file", "string", "raw-zone page this version was read from", nullable=False),
    ),
    primary_key=("permit_no", "version"),
    partition_by=None,
    owner=OWNER,
    frequency="daily",
    sharing=Sharing.UNCONDITIONAL,
)

outlets = Table(
    name="core_permit__outlets",
    layer=Layer.CORE,
    source=SOURCE,
    title="Permitted discharge outlets, per permit version (许可排放口)",
    description=(
        "Outlets listed on each permit version: DA… waste-gas, DW… wastewater outlets, main (主要) or "
        "general (一般), with coordinates. History columns are those of the permit version."
    ),
    columns=(
        _PERMIT_NO,
        _VERSION,
        Column("outlet_code", "string", "outlet code (排放口编号), e.g. DA001, DW001", nullable=False),
        Column("outlet_name", "string", "outlet name"),
        Column("outlet_kind", "string", "main or general outlet", allowed=OUTLET_KINDS),
        Column("medium", "string", "air (DA) or water (DW)", allowed=MEDIA),
        Column("longitude", "float64", "longitude", unit="°", min=73, max=136),
        Column("latitude", "float64", "latitude", unit="°", min=3, max=54),
        _USCC,
        Column("status", "string", "status of the permit version", allowed=STATUSES, nullable=False),
        *_history_columns(),
    ),
    primary_key=("permit_no", "version", "outlet_code"),
    partition_by=None,
    owner=OWNER,
    frequency="daily",
    sharing=Sharing.UNCONDITIONAL,
)

outlet_limits = Table(
    name="core_permit__outlet_limits",
    layer=Layer.CORE,
    source=SOURCE,
    title="Permitted emission limits per outlet and pollutant (许可排放限值)",
    description=(
        "Concentration limit of each pollutant at each outlet of each permit version, the emission "
        "standard it comes from, the O2 reference for converted (折算) flue-gas values, and the annual "
        "quantity limit. Pollutant codes are HJ 212-2017 codes (a21026 SO2, w01018 COD …). The limit in "
        "force at a time t: in_force_from ≤ t < in_force_to (transforms.permits.limit_in_force)."
    ),
    columns=(
        _PERMIT_NO,
        _VERSION,
        Column("outlet_code", "string", "outlet code", nullable=False),
        Column("pollutant_code", "string", "HJ 212-2017 pollutant code", nullable=False),
        Column("pollutant_name", "string", "pollutant name as on the permit"),
        Column("limit_value", "float64", "concentration limit (upper bound)", min=0),
        Column("limit_lower", "float64", "lower bound where the limit is a range (pH 6–9)", min=0),
        Column("limit_unit", "string", "unit of limit_value: mg/m³, mg/L, or - (dimensionless)"),
        Column("standard", "string", "emission standard the limit comes from, e.g. GB 13223-2011"),
        Column("o2_reference_pct", "float64", "reference O2 for converted values", unit="%", min=0, max=21),
        Column("annual_limit_t", "float64", "permitted annual quantity", unit="t/a", min=0),
        _USCC,
        Column("status", "string", "status of the permit version", allowed=STATUSES, nullable=False),
        *_history_columns(),
    ),
    primary_key=("permit_no", "version", "outlet_code", "pollutant_code"),
    partition_by=None,
    owner=OWNER,
    frequency="daily",
    sharing=Sharing.UNCONDITIONAL,
)

quarantine = Table(
    name="quarantine_permit__records",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="Permit records that could not be typed",
    description=(
        "Pages, permit records, outlets or limits from the permit API that could not be typed, with the "
        "reason and where they are in the raw page (`item`: JSON path inside the record)."
    ),
    columns=(
        Column("raw_file", "string", "raw-zone page (relative to the lake)", nullable=False),
        Column(
            "record_index", "int32", "0-based index in the page's records; -1: the whole page", nullable=False
        ),
        Column("item", "string", "path inside the record, '' for the record itself", nullable=False),
        Column("permit_no", "string", "permit number when known"),
        Column("raw_value", "string", "the offending text (truncated)"),
        Column("reason", "string", "why it was not published", nullable=False),
    ),
    primary_key=("raw_file", "record_index", "item"),
    partition_by=None,
    owner=OWNER,
    frequency="daily",
    sharing=Sharing.NOT_SHARED,
)

register(permits, outlets, outlet_limits, quarantine)
