"""Master data: the enterprise and monitoring-point registries, versioned, and the join-quality report.

The registries are CSV files the data engineers maintain; every file received is a full snapshot.
History is kept as SCD type 2: a row changes → its version closes (``valid_to``) and a new one opens
at the time the snapshot was received; a row missing from a snapshot closes. The monitoring-point
columns ``mn, uscc, outlet_code, region_code`` are those of the HJ 212 receiver's device registry
(``ingest.hj212.devices``), so the current points can be loaded there.

Water sections and air stations have their own registries (schemas.water, core_air__stations).
"""

from __future__ import annotations

from schemas.registry import Column, Layer, Sharing, Table, register

OWNER = "大数据中心 (big-data centre, master-data stewards)"
SOURCE = "master"

_USCC_PROBLEMS = ("missing", "length", "charset", "check_char")


def _version_columns() -> tuple[Column, ...]:
    return (
        Column("valid_from", "timestamp", "this version was first received (UTC)", nullable=False),
        Column("valid_to", "timestamp", "a later snapshot changed or dropped it (UTC); NULL: current"),
        Column("is_current", "bool", "in the latest snapshot, unchanged", nullable=False),
        Column("raw_file", "string", "raw-zone snapshot this version was first read from", nullable=False),
    )


enterprises = Table(
    name="core_master__enterprises",
    layer=Layer.CORE,
    source=SOURCE,
    title="Enterprise registry, versioned (企业基础信息)",
    description=(
        "Regulated enterprises keyed by USCC, one row per version. A rename keeps the USCC and opens a "
        "new version. A USCC failing the GB 32100 check is kept and flagged (`uscc_valid`)."
    ),
    columns=(
        Column("uscc", "string", "unified social credit code (统一社会信用代码), normalised", nullable=False),
        Column("uscc_valid", "bool", "USCC passes the GB 32100 check", nullable=False),
        Column("uscc_problem", "string", "why the USCC fails the check", allowed=_USCC_PROBLEMS),
        Column("enterprise_name", "string", "registered name", nullable=False),
        Column("enterprise_name_norm", "string", "name normalised for matching", nullable=False),
        Column("region_code", "string", "GB/T 2260 region code (legacy codes mapped to current)"),
        Column("industry_code", "string", "industry (GB/T 4754), e.g. D4411"),
        Column("industry_name", "string", "industry name"),
        Column("address", "string", "address"),
        *_version_columns(),
    ),
    primary_key=("uscc", "valid_from"),
    partition_by=None,
    owner=OWNER,
    frequency="on change",
    sharing=Sharing.CONDITIONAL,
)

monitoring_points = Table(
    name="core_master__monitoring_points",
    layer=Layer.CORE,
    source=SOURCE,
    title="Pollution-source monitoring points, versioned (污染源自动监控点位)",
    description=(
        "Online-monitoring points keyed by the data logger's MN: the enterprise (USCC), the permitted "
        "outlet (DA001 / DW001 …), region and the HJ 212 pollutant codes measured. One row per version."
    ),
    columns=(
        Column("mn", "string", "data-logger MN (设备唯一标识), normally 24 hex characters", nullable=False),
        Column("mn_standard", "bool", "MN is 24 hex characters as HJ 212-2017 says", nullable=False),
        Column("uscc", "string", "enterprise USCC, normalised"),
        Column("uscc_valid", "bool", "USCC passes the GB 32100 check", nullable=False),
        Column("outlet_code", "string", "permitted outlet code, e.g. DA001, DW001"),
        Column("medium", "string", "air (DA) or water (DW), from the outlet code", allowed=("air", "water")),
        Column("region_code", "string", "GB/T 2260 region code"),
        Column("point_name", "string", "point name"),
        Column("pollutants", "string", "HJ 212-2017 codes measured, comma-separated (2005 codes mapped)"),
        *_version_columns(),
    ),
    primary_key=("mn", "valid_from"),
    partition_by=None,
    owner=OWNER,
    frequency="on change",
    sharing=Sharing.CONDITIONAL,
)

quarantine = Table(
    name="quarantine_master__rows",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="Master-data rows that could not be typed",
    description=(
        "Rows of master-data files without their key (USCC, MN), duplicates of a key within one file, "
        "or files that are neither registry, with the reason. line_no 0 = the whole file."
    ),
    columns=(
        Column("raw_file", "string", "raw-zone file (relative to the lake)", nullable=False),
        Column("line_no", "int32", "1-based line number (header = 1); 0 = the whole file", nullable=False),
        Column("file_kind", "string", "enterprises or monitoring_points, when known"),
        Column("key", "string", "the row's key (USCC or MN) when present"),
        Column("raw_value", "string", "the row as read (truncated)"),
        Column("reason", "string", "why it was not published", nullable=False),
    ),
    primary_key=("raw_file", "line_no"),
    partition_by=None,
    owner=OWNER,
    frequency="on change",
    sharing=Sharing.NOT_SHARED,
)

JOIN_CHECKS = (
    "mn_unregistered",  # MN sending packets but in no monitoring-point version
    "outlet_without_permit",  # current monitoring point whose outlet is on no permit in force
    "point_uscc_unmatched",  # current monitoring point whose USCC is no enterprise
    "permit_uscc_unmatched",  # current permit version whose USCC is no enterprise
    "credit_uscc_unmatched",  # credit row whose USCC is no enterprise (a name match is suggested)
    "uscc_invalid",  # USCC failing the GB 32100 check, in any table
    "name_mismatch",  # same USCC, different normalised name than the enterprise's current one
    "identity_uscc_unmatched",  # MN whose point, as of its readings, names a USCC in no enterprise version
)

join_report = Table(
    name="quality_master__join_report",
    layer=Layer.QUALITY,
    source=SOURCE,
    title="Join-quality report of the master data (主数据关联质量报告)",
    description=(
        "How well permits, credit ratings, monitoring points and incoming packets join on USCC, MN and "
        "outlet. Per day and check: one `summary` row (occurrences = number of items; `checked` false "
        "when an input table does not exist yet) and one `item` row per offending key."
    ),
    columns=(
        Column("date", "date", "Beijing date of the report (partition key)", nullable=False),
        Column("check_name", "string", "which check", allowed=JOIN_CHECKS, nullable=False),
        Column("row_kind", "string", "summary or item", allowed=("summary", "item"), nullable=False),
        Column("subject_table", "string", "table the item comes from", nullable=False),
        Column(
            "subject_key",
            "string",
            "the offending key (MN, permit/outlet, USCC, file:row); '*' for a summary",
            nullable=False,
        ),
        Column("uscc", "string", "USCC involved"),
        Column("detail", "string", "what is wrong, and a suggestion where there is one"),
        Column(
            "occurrences", "int64", "items (summary) or rows / packets involved (item)", nullable=False, min=0
        ),
        Column("checked", "bool", "the check could run (its inputs exist)", nullable=False),
        Column("generated_at", "timestamp", "when the report was computed (UTC)", nullable=False),
    ),
    primary_key=("date", "check_name", "row_kind", "subject_table", "subject_key"),
    owner=OWNER,
    frequency="daily",
    sharing=Sharing.CONDITIONAL,
)

register(enterprises, monitoring_points, quarantine, join_report)
