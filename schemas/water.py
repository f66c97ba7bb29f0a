"""Surface water (national automatic-station real-time platform): tables and the upstream mapping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from schemas.gb3838_standard import CLASS_LABELS, QUALITY_LABELS, SECTION_TYPES
from schemas.registry import Column, Layer, PairEquality, Severity, Sharing, Table, register

OWNER = "生态环境监测处 (environmental monitoring division)"
SOURCE = "water"


@dataclass(frozen=True)
class WaterItem:
    """One measured item of the reply, renamed at the ingest boundary.

    ``header`` is the item name in the reply's ``thead`` cell (before ``<br/>``), ``header_unit``
    the unit in its ``<span class='unit'>(…)</span>`` (compared after NFKC normalisation, so µ/μ
    and ℃/°C are the same). A reply whose unit for an item differs is refused, never converted.
    """

    header: str
    header_unit: str
    column: str
    unit: str | None
    description: str
    min: float  # physically impossible outside [min, max]: such a row is quarantined
    max: float


ITEMS: tuple[WaterItem, ...] = (
    WaterItem("水温", "℃", "water_temp_c", "°C", "water temperature (水温)", -2, 50),
    WaterItem("pH", "无量纲", "ph", None, "pH (dimensionless)", 0, 14),
    WaterItem("溶解氧", "mg/L", "do_mgl", "mg/L", "dissolved oxygen (溶解氧)", 0, 30),
    WaterItem("电导率", "μS/cm", "conductivity_uscm", "µS/cm", "conductivity (电导率)", 0, 100_000),
    WaterItem("浊度", "NTU", "turbidity_ntu", "NTU", "turbidity (浊度)", 0, 20_000),
    WaterItem(
        "高锰酸盐指数", "mg/L", "codmn_mgl", "mg/L", "permanganate index CODMn (高锰酸盐指数)", 0, 1000
    ),
    WaterItem("氨氮", "mg/L", "nh3n_mgl", "mg/L", "ammonia nitrogen NH3-N (氨氮)", 0, 1000),
    WaterItem("总磷", "mg/L", "tp_mgl", "mg/L", "total phosphorus TP (总磷)", 0, 100),
    WaterItem("总氮", "mg/L", "tn_mgl", "mg/L", "total nitrogen TN (总氮)", 0, 1000),
    WaterItem("叶绿素α", "mg/L", "chla_mgl", "mg/L", "chlorophyll a (叶绿素α), lake stations", 0, 50),
    WaterItem(
        "藻密度",
        "cells/L",
        "algae_density_cells_l",
        "cells/L",
        "algae density (藻密度), lake stations",
        0,
        1e13,
    ),
)
ITEM_COLUMNS: tuple[str, ...] = tuple(i.column for i in ITEMS)

# Identity columns of the reply (header text -> our name).
HEADER_PROVINCE = "省份"
HEADER_BASIN = "流域"
HEADER_SECTION = "断面名称"
HEADER_TIME = "监测时间"
HEADER_CLASS = "水质类别"
IDENTITY_HEADERS: tuple[str, ...] = (HEADER_PROVINCE, HEADER_BASIN, HEADER_SECTION, HEADER_TIME, HEADER_CLASS)

# Items with an exceedance multiple column (GB 3838 items the automatic stations measure, except pH/DO).
EXCEED_ITEMS: tuple[str, ...] = ("codmn_mgl", "nh3n_mgl", "tp_mgl")
# Items whose monthly means the section monthly mart carries.
MONTHLY_ITEMS: tuple[str, ...] = ("water_temp_c", "ph", "do_mgl", "codmn_mgl", "nh3n_mgl", "tp_mgl", "tn_mgl")

_DATE = Column("date", "date", "Beijing local date of the reading (partition key)", nullable=False)
_MONTH = Column("month", "date", "first day of the Beijing month (partition key)", nullable=False)
_SECTION_ID = Column(
    "section_id",
    "string",
    "stable section id: 'WS' + 12 hex of sha256(province|basin|section_name); the national section "
    "code, when known, is in core_water__sections.section_code",
    nullable=False,
)
_PROVINCE = Column("province", "string", "province (省份) as the platform writes it", nullable=False)
_BASIN = Column("basin", "string", "basin (流域), e.g. 长江流域, 太湖流域, 浙闽片河流", nullable=False)
_SECTION_NAME = Column("section_name", "string", "section name (断面名称)", nullable=False)
_SECTION_TYPE = Column(
    "section_type",
    "string",
    "river, lake or reservoir (lake/reservoir: lake TP limits and a TN class); from the section "
    "registry, river when the section is not in it",
    allowed=SECTION_TYPES,
    nullable=False,
)
_TARGET = Column(
    "target_class",
    "int8",
    "water-quality target class of the section (水质目标, 1..5 = I..V); III when not in the registry",
    min=1,
    max=5,
    nullable=False,
)
_LISTED = Column(
    "section_listed",
    "bool",
    "the section is in the section registry; false = type and target are defaults (river, III): a warning",
    nullable=False,
)


def _class_columns(what: str) -> tuple[Column, ...]:
    return (
        Column(
            "water_class",
            "int8",
            f"GB 3838 class computed by ecocloud from {what} (1..5 = I..V, 6 = 劣V): the worst of pH, DO, "
            "CODMn, NH3-N, TP (lake limits for lakes and reservoirs); TN is not included; NULL when no "
            "item was measured",
            min=1,
            max=6,
        ),
        Column(
            "water_class_label",
            "string",
            "water_class as written: I, II, III, IV, V, 劣V",
            allowed=CLASS_LABELS,
        ),
        Column(
            "quality_label",
            "string",
            "水质状况: I–II 优, III 良好, IV 轻度污染, V 中度污染, 劣V 重度污染",
            allowed=QUALITY_LABELS,
        ),
        Column(
            "tn_class",
            "int8",
            "GB 3838 class of total nitrogen alone, lakes and reservoirs only (reported beside, not in, "
            "water_class); NULL for rivers",
            min=1,
            max=6,
        ),
        Column(
            "deciding_items",
            "string",
            "items whose class equals water_class (定类项目), Chinese names joined by 、",
        ),
        Column(
            "exceed_items",
            "string",
            "items worse than the target class with their 超标倍数 (C / limit − 1, 2 decimals) in "
            "brackets, e.g. 氨氮(0.25)、总磷(1.1); pH and DO are named without a multiple; NULL = none",
        ),
        *(
            Column(
                f"{col.removesuffix('_mgl')}_exceed_multiple",
                "float64",
                f"超标倍数 of {col} over the target-class limit (C / limit − 1); NULL when within the target",
                min=0,
            )
            for col in EXCEED_ITEMS
        ),
    )


section_readings = Table(
    name="core_water__section_readings",
    layer=Layer.CORE,
    source=SOURCE,
    title="Surface water quality, automatic-station section readings (地表水水质自动监测 断面实时数据)",
    description=(
        "One row per section and reading time of the national automatic-station real-time platform, "
        "every item in its unit (the platform's raw value, 原始值, not the rounded display). A reading "
        "seen in several snapshots of the board is kept once, from the newest snapshot. "
        "`class_published` is the platform's 水质类别; `water_class` is recomputed with GB 3838-2002 "
        "and must agree with it on at least 96 % of readings (≥ 99 % with a complete section registry)."
    ),
    columns=(
        _DATE,
        _SECTION_ID,
        _PROVINCE,
        _BASIN,
        _SECTION_NAME,
        Column(
            "observed_at",
            "timestamp",
            "reading time (监测时间, Beijing time in the reply), UTC",
            nullable=False,
        ),
        *(Column(i.column, "float64", i.description, unit=i.unit, min=i.min, max=i.max) for i in ITEMS),
        Column(
            "qc_failed_items",
            "string",
            "items the platform withheld because the day's quality control failed (当天质控不合格), "
            "column names joined by ','; those items are NULL",
        ),
        _SECTION_TYPE,
        _TARGET,
        _LISTED,
        Column(
            "class_published",
            "int8",
            "water class published by the platform (水质类别 1..6; -1 'no class' is NULL)",
            min=1,
            max=6,
        ),
        *_class_columns("this reading"),
    ),
    primary_key=("section_id", "observed_at"),
    owner=OWNER,
    frequency="every 4 hours",
    sharing=Sharing.UNCONDITIONAL,
    freshness_column="observed_at",
    freshness_tolerance=timedelta(hours=4),
    pair_checks=(
        PairEquality(
            "water_class",
            "class_published",
            mostly=0.96,
            description=(
                "computed GB 3838 class equals the published class on ≥ 96 % of readings that have both "
                "(real snapshot: 465/479 treating every section as a river, 475/479 with lakes marked)"
            ),
            # Reported on every run, not blocking: a day's partition holds tens of sections, where a
            # single withheld upstream value already moves the share by several percent.
            severity=Severity.WARNING,
        ),
    ),
)

sections = Table(
    name="core_water__sections",
    layer=Layer.CORE,
    source=SOURCE,
    title="Surface water monitoring sections (地表水监测断面)",
    description=(
        "The section registry that data engineers maintain (a CSV: type river/lake/reservoir, target "
        "class, region, coordinates), plus every section seen in the readings but missing from it "
        "(`listed` = false: classified as a river held to class III until the registry has it)."
    ),
    columns=(
        _SECTION_ID,
        Column("section_code", "string", "national section code (断面编码) when the registry gives one"),
        _PROVINCE,
        _BASIN,
        _SECTION_NAME,
        Column("water_body", "string", "river or lake the section is on (所在水体), e.g. 赣江, 鄱阳湖"),
        _SECTION_TYPE,
        _TARGET,
        Column("region_code", "string", "GB/T 2260 region code (6 digits) of the section's location"),
        Column("longitude", "float64", "longitude (WGS-84)", unit="°", min=73, max=136),
        Column("latitude", "float64", "latitude (WGS-84)", unit="°", min=3, max=54),
        Column("listed", "bool", "present in the section registry", nullable=False),
        Column("first_seen_date", "date", "first date with readings in the lake"),
        Column("last_seen_date", "date", "latest date with readings in the lake"),
    ),
    primary_key=("section_id",),
    partition_by=None,
    owner=OWNER,
    frequency="on change",
    sharing=Sharing.UNCONDITIONAL,
)

section_monthly = Table(
    name="mart_water__section_monthly",
    layer=Layer.MART,
    source=SOURCE,
    title="Surface water quality, section monthly class (断面月度水质类别)",
    description=(
        "Monthly GB 3838 class of each section from the monthly arithmetic means of its readings "
        "(national evaluation method: means first, then classify), with TN's own class for lakes "
        "and reservoirs, whether the target class is met, and the items over the target with 超标倍数."
    ),
    columns=(
        _MONTH,
        _SECTION_ID,
        _PROVINCE,
        _BASIN,
        _SECTION_NAME,
        Column("water_body", "string", "river or lake (from the section registry)"),
        _SECTION_TYPE,
        _TARGET,
        _LISTED,
        Column("readings", "int32", "readings in the month", min=1, nullable=False),
        Column("days", "int16", "days with at least one reading", min=1, max=31, nullable=False),
        *(
            Column(i.column, "float64", f"monthly mean: {i.description}", unit=i.unit, min=i.min, max=i.max)
            for i in ITEMS
            if i.column in MONTHLY_ITEMS
        ),
        *_class_columns("the monthly means"),
        Column("meets_target", "bool", "water_class is at or better than target_class; NULL without a class"),
    ),
    primary_key=("section_id", "month"),
    partition_by="month",
    owner=OWNER,
    frequency="monthly (rebuilt as the month's readings arrive)",
    sharing=Sharing.UNCONDITIONAL,
)

basin_monthly = Table(
    name="mart_water__basin_monthly",
    layer=Layer.MART,
    source=SOURCE,
    title="Surface water quality, basin monthly roll-up (流域月度水质状况)",
    description=(
        "Share of sections in classes I–III and 劣V per basin and month, from the section monthly "
        "classes, and the basin label (DOMAIN.md §4): I–III ≥ 90 % 优, ≥ 75 % 良好, otherwise by the "
        "劣V share: < 20 % 轻度污染, < 40 % 中度污染, else 重度污染. A row with `water_body` NULL is the "
        "whole basin; rows with a water body (from the section registry) break it down."
    ),
    columns=(
        _MONTH,
        _BASIN,
        Column("water_body", "string", "river or lake within the basin; NULL = the whole basin"),
        Column("sections", "int32", "sections with a monthly class", min=1, nullable=False),
        Column("sections_i_iii", "int32", "sections in classes I–III", min=0, nullable=False),
        Column("sections_iv_v", "int32", "sections in classes IV–V", min=0, nullable=False),
        Column("sections_worse_v", "int32", "sections worse than V (劣V)", min=0, nullable=False),
        Column("share_i_iii_pct", "float64", "share of sections in I–III", unit="%", min=0, max=100),
        Column("share_worse_v_pct", "float64", "share of sections in 劣V", unit="%", min=0, max=100),
        Column("basin_label", "string", "basin water-quality label (流域水质状况)", allowed=QUALITY_LABELS),
    ),
    primary_key=("month", "basin", "water_body"),
    partition_by="month",
    owner=OWNER,
    frequency="monthly (rebuilt as the month's readings arrive)",
    sharing=Sharing.UNCONDITIONAL,
)

quarantine = Table(
    name="quarantine_water__section_readings",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="Surface-water platform rows that could not be typed",
    description=(
        "Rows of a platform reply that could not be typed (bad time, non-numeric or impossible "
        "value, wrong number of cells, duplicate of another row of the same snapshot), or whole "
        "pages that are not a reply at all, with the reason and the raw location (raw file, page, "
        "row index). Partitioned by the Beijing date of the fetch; rows in = published + quarantined, "
        "for every snapshot."
    ),
    columns=(
        Column("date", "date", "Beijing date of the fetch (partition key)", nullable=False),
        Column("snapshot_id", "string", "snapshot (one fetch of every page of the board)", nullable=False),
        Column("raw_file", "string", "raw-zone path of the page (relative to the lake)", nullable=False),
        Column("page", "int32", "page number of the board (1-based)", min=1, nullable=False),
        Column(
            "row_index", "int32", "0-based index of the row in the page's tbody; NULL = whole page", min=0
        ),
        Column("province", "string", "province cell, when readable"),
        Column("basin", "string", "basin cell, when readable"),
        Column("section_name", "string", "section name cell, when readable"),
        Column("column_name", "string", "header of the first offending cell"),
        Column("raw_value", "string", "the offending text"),
        Column("reason", "string", "why it was not published", nullable=False),
    ),
    primary_key=("snapshot_id", "raw_file", "row_index"),
    owner=OWNER,
    frequency="every 4 hours",
    sharing=Sharing.NOT_SHARED,
)

register(section_readings, sections, section_monthly, basin_monthly, quarantine)
