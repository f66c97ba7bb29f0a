"""Surface water (national automatic-station real-time platform): tables and the upstream mapping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from schemas.fields import (
    EVERY_4_HOURS,
    EVERY_RUN,
    MONITORING_DIVISION,
    MONTHLY_ROLLING,
    ON_CHANGE,
    SHARED,
    STAGE_ONLY,
    WHEN_REJECTED,
)
from schemas.gb3838_standard import CLASS_LABELS, PH, QUALITY_LABELS, ROLLUP_METHODS, SECTION_TYPES
from schemas.registry import (
    Column,
    DateSpan,
    Fields,
    Layer,
    PairEquality,
    Severity,
    Sharing,
    Table,
    register,
)

OWNER = MONITORING_DIVISION
SOURCE = "water"
UPSTREAM = (
    "国家地表水水质自动监测实时数据发布系统 "
    "(CNEMC national surface-water automatic monitoring real-time release)"
)
DERIVED = "生态云 据地表水水质自动监测实时数据计算 (computed by ecocloud from the national real-time release)"
REGISTRY = (
    "生态云 断面登记表（数据工程人员维护）及实时数据中出现的断面 "
    "(section registry CSV maintained by ecocloud data engineers, plus sections seen in the readings)"
)


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
    unit: str
    description: str
    min: float  # physically impossible outside [min, max]: such a row is quarantined
    max: float
    description_zh: str = ""


ITEMS: tuple[WaterItem, ...] = (
    WaterItem("水温", "℃", "water_temp_c", "°C", "water temperature (水温)", -2, 50, description_zh="水温"),
    WaterItem("pH", "无量纲", "ph", "1", "pH (dimensionless)", 0, 14, description_zh="pH（无量纲）"),
    WaterItem(
        "溶解氧", "mg/L", "do_mgl", "mg/L", "dissolved oxygen (溶解氧)", 0, 30, description_zh="溶解氧"
    ),
    WaterItem(
        "电导率",
        "μS/cm",
        "conductivity_uscm",
        "µS/cm",
        "conductivity (电导率)",
        0,
        100_000,
        description_zh="电导率",
    ),
    WaterItem("浊度", "NTU", "turbidity_ntu", "NTU", "turbidity (浊度)", 0, 20_000, description_zh="浊度"),
    WaterItem(
        "高锰酸盐指数",
        "mg/L",
        "codmn_mgl",
        "mg/L",
        "permanganate index CODMn (高锰酸盐指数)",
        0,
        1000,
        description_zh="高锰酸盐指数（CODMn）",
    ),
    WaterItem(
        "氨氮",
        "mg/L",
        "nh3n_mgl",
        "mg/L",
        "ammonia nitrogen NH3-N (氨氮)",
        0,
        1000,
        description_zh="氨氮（NH3-N）",
    ),
    WaterItem(
        "总磷", "mg/L", "tp_mgl", "mg/L", "total phosphorus TP (总磷)", 0, 100, description_zh="总磷（TP）"
    ),
    WaterItem(
        "总氮", "mg/L", "tn_mgl", "mg/L", "total nitrogen TN (总氮)", 0, 1000, description_zh="总氮（TN）"
    ),
    WaterItem(
        "叶绿素α",
        "mg/L",
        "chla_mgl",
        "mg/L",
        "chlorophyll a (叶绿素a), lake stations",
        0,
        50,
        description_zh="叶绿素a（湖泊站点）",
    ),
    WaterItem(
        "藻密度",
        "cells/L",
        "algae_density_cells_l",
        "cells/L",
        "algae density (藻密度), lake stations",
        0,
        1e13,
        description_zh="藻密度（湖泊站点）",
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

F = Fields("water", parent=SHARED)
F.define(
    Column(
        "month",
        "date",
        "first day of the Beijing month (partition key)",
        description_zh="北京时间月份的第一天（分区字段）",
        nullable=False,
    ),
    Column(
        "section_id",
        "string",
        "stable section id: 'WS' + 12 hex of sha256(province|basin|section_name); the national section "
        "code, when known, is in core_water__sections.section_code",
        description_zh="稳定的断面标识：'WS' 加 sha256(province|basin|section_name) 的前12位十六进制字符；"
        "已知的国家断面编码见 core_water__sections.section_code",
        nullable=False,
    ),
    Column(
        "section_code",
        "string",
        "national section code (断面编码) when the registry gives one",
        description_zh="国家断面编码（断面登记表给出时）",
    ),
    Column(
        "province",
        "string",
        "province (省份) as the platform writes it",
        description_zh="省份，按平台的写法",
        nullable=False,
    ),
    Column(
        "basin",
        "string",
        "basin (流域), e.g. 长江流域, 太湖流域, 浙闽片河流",
        description_zh="流域，如长江流域、太湖流域、浙闽片河流",
        nullable=False,
    ),
    Column("section_name", "string", "section name (断面名称)", description_zh="断面名称", nullable=False),
    Column(
        "water_body",
        "string",
        "river or lake the section is on (所在水体), e.g. 赣江, 鄱阳湖",
        description_zh="断面所在水体（河流或湖泊），如赣江、鄱阳湖",
    ),
    Column(
        "section_type",
        "string",
        "river, lake or reservoir (lake/reservoir: lake TP limits and a TN class); from the section "
        "registry, river when the section is not in it",
        description_zh="断面类型：river（河流）、lake（湖泊）或 reservoir（水库），湖泊和水库执行湖库总磷限值并给出"
        "总氮类别；取自断面登记表，不在断面登记表中的断面按河流处理",
        allowed=SECTION_TYPES,
        nullable=False,
    ),
    Column(
        "target_class",
        "int8",
        "water-quality target class of the section (水质目标, 1..5 = I..V); III when not in the registry",
        description_zh="断面的水质目标类别（1..5 对应 I..V 类）；不在断面登记表中时为 III 类",
        unit="1",
        min=1,
        max=5,
        nullable=False,
    ),
    Column(
        "section_listed",
        "bool",
        "the section is in the section registry; false = type and target are defaults (river, III): a warning",
        description_zh="断面是否在断面登记表中；false 表示断面类型和水质目标为默认值（河流、III 类），记为警告",
        nullable=False,
    ),
    *(
        Column(
            i.column,
            "float64",
            i.description,
            description_zh=i.description_zh,
            unit=i.unit,
            min=i.min,
            max=i.max,
        )
        for i in ITEMS
    ),
    Column(
        "qc_failed_items",
        "string",
        "items the platform withheld because the day's quality control failed (当天质控不合格), "
        "column names joined by ','; those items are NULL",
        description_zh="因当天质控不合格而平台未发布数值的项目，列名以 ',' 连接；这些项目的值为 NULL",
    ),
    Column(
        "below_detection_items",
        "string",
        "items the platform reported below the method's detection limit (0.01L or <0.01), column names "
        "joined by ','; each holds half its limit, as the national evaluation method counts such results "
        "— NULL where no limit was given (ND, 未检出)",
        description_zh="平台报告为低于方法检出限的项目（0.01L 或 <0.01），列名以 ',' 连接；"
        "这些项目的值取检出限的一半，与国家评价方法对此类结果的计法一致；未给出检出限的（ND、未检出）为 NULL",
    ),
    Column(
        "class_published",
        "int8",
        "water class published by the platform (水质类别 1..6; -1 'no class' is NULL)",
        description_zh="平台发布的水质类别（1..6；平台的 -1“无类别”记为 NULL）",
        unit="1",
        min=1,
        max=6,
    ),
    Column(
        "water_class",
        "int8",
        "GB 3838 class computed by ecocloud (1..5 = I..V, 6 = 劣V): the worst of pH, DO, CODMn, NH3-N, TP "
        "(lake limits for lakes and reservoirs); TN is not included; NULL when no item was measured",
        description_zh="生态云按 GB 3838 计算的水质类别（1..5 对应 I..V 类，6 为劣V类）：取 pH、溶解氧、高锰酸盐指数、"
        "氨氮、总磷中最差的类别（湖泊、水库执行湖库限值）；不含总氮；无任何项目监测值时为 NULL",
        unit="1",
        min=1,
        max=6,
    ),
    Column(
        "water_class_label",
        "string",
        "water_class as written: I, II, III, IV, V, 劣V",
        description_zh="water_class 的书写形式：I、II、III、IV、V、劣V",
        allowed=CLASS_LABELS,
    ),
    Column(
        "quality_label",
        "string",
        "water quality status (水质状况) by class: I–II excellent, III good, IV slightly, V moderately, "
        "worse than V heavily polluted",
        description_zh="水质状况：I–II 类优，III 类良好，IV 类轻度污染，V 类中度污染，劣V类重度污染",
        allowed=QUALITY_LABELS,
    ),
    Column(
        "tn_class",
        "int8",
        "GB 3838 class of total nitrogen alone, lakes and reservoirs only (reported beside, not in, "
        "water_class); NULL for rivers",
        description_zh="按 GB 3838 单独评价的总氮类别，仅限湖泊和水库（与 water_class 并列报告，不计入 water_class）；"
        "河流为 NULL",
        unit="1",
        min=1,
        max=6,
    ),
    Column(
        "deciding_items",
        "string",
        "items whose class equals water_class (定类项目), Chinese names joined by 、; pH only when outside "
        "6–9 (inside, it does not constrain the class)",
        description_zh="定类项目：类别等于 water_class 的项目，中文名称以“、”连接；pH 仅在超出6–9时列入"
        "（在此范围内不影响类别）",
    ),
    Column(
        "items_without_value",
        "string",
        "of the items the class is judged on (pH, DO, CODMn, NH3-N, TP), those without a value here "
        "(failed quality control, not measured), Chinese names joined by 、: the class is the worst of "
        "the others, so it may be better than the water is; NULL when every item has a value",
        description_zh="定类所依据项目（pH、溶解氧、高锰酸盐指数、氨氮、总磷）中此处无数值者（质控不合格、未监测），"
        "中文名称以“、”连接：类别取其余项目中最差者，可能优于实际水质；各项目均有数值时为 NULL",
    ),
    Column(
        "exceed_items",
        "string",
        "items worse than the target class with their 超标倍数 (C / limit − 1, 2 decimals) in "
        "brackets, e.g. 氨氮(0.25)、总磷(1.1); pH and DO are named without a multiple; NULL = none",
        description_zh="劣于水质目标类别的项目，括号内为其超标倍数（C / 限值 − 1，保留2位小数），如 氨氮(0.25)、总磷(1.1)；"
        "pH 和溶解氧只列名称、不给倍数；无超标项目时为 NULL",
    ),
    *(
        Column(
            f"{col.removesuffix('_mgl')}_exceed_multiple",
            "float64",
            f"超标倍数 of {col} over the target-class limit (C / limit − 1); NULL when within the target",
            description_zh=f"{col} 相对于水质目标类别限值的超标倍数（C / 限值 − 1）；未超出水质目标时为 NULL",
            unit="1",
            min=0,
            decimals=2,  # as exceed_items prints it (EXCEED_MULTIPLE_DECIMALS)
        )
        for col in EXCEED_ITEMS
    ),
    Column(
        "readings",
        "int32",
        "readings in the month",
        description_zh="当月读数条数",
        unit="count",
        min=1,
        nullable=False,
    ),
    Column(
        "days",
        "int16",
        "days with at least one reading",
        description_zh="至少有一条读数的天数",
        unit="d",
        min=1,
        max=31,
        nullable=False,
    ),
    Column(
        "meets_target",
        "bool",
        "water_class is at or better than target_class; NULL without a class",
        description_zh="water_class 是否达到或优于 target_class；无类别时为 NULL",
    ),
    # a month's mean pH hides the readings outside GB 3838's range (5.0 and 9.0 average 7.0): the
    # monthly report gives the range and how many readings were outside it
    Column(
        "ph_min",
        "float64",
        "lowest pH reading of the month",
        description_zh="当月 pH 读数的最低值",
        unit="1",
        min=0,
        max=14,
    ),
    Column(
        "ph_max",
        "float64",
        "highest pH reading of the month",
        description_zh="当月 pH 读数的最高值",
        unit="1",
        min=0,
        max=14,
    ),
    Column(
        "ph_readings_out_of_range",
        "int32",
        f"pH readings of the month outside GB 3838's {PH.river[0]:g}–{PH.river[1]:g} (劣V by themselves)",
        description_zh=f"当月超出 GB 3838 规定范围 {PH.river[0]:g}–{PH.river[1]:g} 的 pH 读数条数（这些读数本身即为劣V类）",
        unit="count",
        min=0,
        nullable=False,
    ),
    Column(
        "sections",
        "int32",
        "sections with a monthly class",
        description_zh="有月度水质类别的断面数",
        unit="count",
        min=1,
        nullable=False,
    ),
    Column(
        "sections_incomplete",
        "int32",
        "of those, sections whose class lacks one of its items for the month (items_without_value: "
        "failed quality control, not measured) — the class may be better than the water, so they are "
        "left out of the class counts and shares below",
        description_zh="其中当月定类项目有缺项的断面数（items_without_value：质控不合格、未监测）——其类别可能优于实际水质，"
        "故不计入以下各类别断面数和比例",
        unit="count",
        min=0,
        nullable=False,
    ),
    Column(
        "sections_i_iii",
        "int32",
        "sections in classes I–III",
        description_zh="I–III 类断面数",
        unit="count",
        min=0,
        nullable=False,
    ),
    Column(
        "sections_iv_v",
        "int32",
        "sections in classes IV–V",
        description_zh="IV–V 类断面数",
        unit="count",
        min=0,
        nullable=False,
    ),
    Column(
        "sections_worse_v",
        "int32",
        "sections worse than V (劣V)",
        description_zh="劣V类断面数",
        unit="count",
        min=0,
        nullable=False,
    ),
    Column(
        "share_i_iii_pct",
        "float64",
        "share of sections in I–III (of the sections whose class lacks no item; NULL: none)",
        description_zh="I–III 类断面比例（以定类项目无缺项的断面为分母；无此类断面时为空）",
        unit="%",
        min=0,
        max=100,
    ),
    Column(
        "share_worse_v_pct",
        "float64",
        "share of sections in 劣V (of the sections whose class lacks no item; NULL: none)",
        description_zh="劣V类断面比例（以定类项目无缺项的断面为分母；无此类断面时为空）",
        unit="%",
        min=0,
        max=100,
    ),
    Column(
        "basin_label",
        "string",
        "basin water-quality label (流域水质状况)",
        description_zh="流域水质状况",
        allowed=QUALITY_LABELS,
    ),
    Column(
        "rollup_method",
        "string",
        "how basin_label was found: share (of sections in I–III and 劣V: 5 sections or more whose class "
        "lacks no item, rivers and lakes together, or where the mean class lacks an item) or mean (the "
        "class of the sections' mean concentrations: fewer than 5 such river sections, or a lake or "
        "reservoir; each item's mean is of the sections that have it)",
        description_zh="basin_label 的评价方法：share（按 I–III 类和劣V类断面比例：定类项目无缺项的断面不少于5个、河流与湖泊合并计算，"
        "或均值类别缺项目时）或 mean（按各断面浓度均值评价的类别：此类河流断面少于5个，或为湖泊、水库；各项目均值取有该项目的断面）",
        allowed=ROLLUP_METHODS,
        nullable=False,
    ),
    Column(
        "snapshot_id",
        "string",
        "snapshot (one fetch of every page of the board)",
        description_zh="快照（对实时数据发布页全部分页的一次抓取）",
        nullable=False,
    ),
    Column(
        "page",
        "int32",
        "page number of the board (1-based)",
        description_zh="实时数据发布页的页码（从1开始）",
        unit="1",
        min=1,
        nullable=False,
    ),
    Column(
        "row_index",
        "int32",
        "0-based index of the row in the page's tbody; NULL = whole page",
        description_zh="该行在页面 tbody 中的序号（从0开始）；NULL 表示整页",
        unit="1",
        min=0,
    ),
    Column(
        "column_name", "string", "header of the first offending cell", description_zh="第一个出错单元格的表头"
    ),
)

_DATE = SHARED.get(
    "date",
    description="Beijing local date of the reading (partition key)",
    description_zh="监测日期（北京时间，分区字段）",
)
_SECTION = ("section_id", "province", "basin", "section_name")


def _class_columns(what: str, what_zh: str) -> tuple[Column, ...]:
    return (
        F.get(
            "water_class",
            description=(
                f"GB 3838 class computed by ecocloud from {what} (1..5 = I..V, 6 = 劣V): the worst of pH, DO, "
                "CODMn, NH3-N, TP (lake limits for lakes and reservoirs); TN is not included; NULL when no "
                "item was measured"
            ),
            description_zh=(
                f"生态云根据{what_zh}按 GB 3838 计算的水质类别（1..5 对应 I..V 类，6 为劣V类）：取 pH、溶解氧、"
                "高锰酸盐指数、氨氮、总磷中最差的类别（湖泊、水库执行湖库限值）；不含总氮；无任何项目监测值时为 NULL"
            ),
        ),
        *F("water_class_label", "quality_label", "tn_class", "deciding_items", "items_without_value"),
        F.get("exceed_items"),
        *F(*(f"{col.removesuffix('_mgl')}_exceed_multiple" for col in EXCEED_ITEMS)),
    )


section_readings = Table(
    name="core_water__section_readings",
    layer=Layer.CORE,
    source=SOURCE,
    title="Surface water quality, automatic-station section readings",
    title_zh="地表水水质自动监测 断面实时数据",
    description=(
        "One row per section and reading time of the national automatic-station real-time platform, "
        "every item in its unit (the platform's raw value, 原始值, not the rounded display). A reading "
        "seen in several snapshots of the board is kept once, from the newest snapshot. "
        "`class_published` is the platform's 水质类别; `water_class` is recomputed with GB 3838-2002 "
        "and must agree with it on at least 96 % of readings (≥ 99 % with a complete section registry)."
    ),
    description_zh=(
        "国家地表水水质自动监测实时数据，每个断面每个监测时间一行，各项目取平台的原始值（而非四舍五入后的显示值）并按其单位分列。"
        "同一读数出现在多次抓取中时只保留最新一次。class_published 为平台发布的水质类别；water_class 由生态云按 "
        "GB 3838-2002 重新评价，与发布类别的一致率须不低于96%（断面登记完整时不低于99%）。"
    ),
    columns=(
        _DATE,
        *F(*_SECTION),
        F.get(
            "observed_at",
            description="reading time (监测时间, Beijing time in the reply), UTC",
            description_zh="监测时间（UTC；平台回复中为北京时间）",
        ),
        *F(*ITEM_COLUMNS),
        *F("qc_failed_items", "below_detection_items"),
        *F("section_type", "target_class", "section_listed", "class_published"),
        *_class_columns("this reading", "本条读数"),
    ),
    primary_key=("section_id", "observed_at"),
    owner=OWNER,
    frequency=EVERY_4_HOURS,
    sharing=Sharing.UNCONDITIONAL,
    source_system=UPSTREAM,
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
    title="Surface water monitoring sections",
    title_zh="地表水监测断面",
    description=(
        "The section registry that data engineers maintain (a CSV: type river/lake/reservoir, target "
        "class, region, coordinates), plus every section seen in the readings but missing from it "
        "(`listed` = false: classified as a river held to class III until the registry has it)."
    ),
    description_zh=(
        "数据工程人员维护的断面登记表（断面类型：河流/湖泊/水库，水质目标，行政区划，坐标），"
        "以及在监测数据中出现但未登记的断面（listed 为 false，在登记前按河流、III类目标评价）。"
    ),
    columns=(
        F.get("section_id"),
        F.get("section_code"),
        *F("province", "basin", "section_name", "water_body", "section_type", "target_class"),
        F.get(
            "region_code",
            description="GB/T 2260 region code (6 digits) of the section's location",
            description_zh="断面所在地的 GB/T 2260 行政区划代码（6位）",
        ),
        *F("longitude", "latitude"),
        F.get("listed", description="present in the section registry", description_zh="是否在断面登记表中"),
        F.get(
            "first_seen_date",
            description="first date with readings in the lake",
            description_zh="数据湖中最早有读数的日期",
        ),
        F.get(
            "last_seen_date",
            description="latest date with readings in the lake",
            description_zh="数据湖中最近有读数的日期",
        ),
    ),
    primary_key=("section_id",),
    partition_by=None,
    owner=OWNER,
    frequency=ON_CHANGE,
    sharing=Sharing.UNCONDITIONAL,
    source_system=REGISTRY,
)

section_monthly = Table(
    name="mart_water__section_monthly",
    layer=Layer.MART,
    source=SOURCE,
    title="Surface water quality, section monthly class",
    title_zh="断面月度水质类别",
    description=(
        "Monthly GB 3838 class of each section from the monthly arithmetic means of its readings "
        "(national evaluation method: means first, rounded to each item's reporting precision, then "
        "classify), with TN's own class for lakes "
        "and reservoirs, whether the target class is met, and the items over the target with 超标倍数."
    ),
    description_zh=(
        "按国家评价方法（先求月算术均值，按各项目报告精度修约后再评价类别）得到的各断面月度水质类别；"
        "湖库另给出总氮单独评价的类别，并说明是否达到水质目标及超标项目和超标倍数。"
    ),
    columns=(
        F.get("month"),
        *F(*_SECTION),
        F.get(
            "water_body",
            description="river or lake (from the section registry)",
            description_zh="所在河流或湖泊（取自断面登记表）",
        ),
        *F("section_type", "target_class", "section_listed", "readings", "days"),
        *(
            F.get(
                i.column,
                description=f"monthly mean: {i.description}",
                description_zh=f"月均值：{i.description_zh}",
            )
            for i in ITEMS
            if i.column in MONTHLY_ITEMS
        ),
        *F("ph_min", "ph_max", "ph_readings_out_of_range"),
        *_class_columns("the monthly means", "月均值"),
        F.get("meets_target"),
    ),
    primary_key=("section_id", "month"),
    partition_by="month",
    date_span=DateSpan.MONTH,
    owner=OWNER,
    frequency=MONTHLY_ROLLING,
    sharing=Sharing.UNCONDITIONAL,
    source_system=DERIVED,
)

basin_monthly = Table(
    name="mart_water__basin_monthly",
    layer=Layer.MART,
    source=SOURCE,
    title="Surface water quality, basin monthly roll-up",
    title_zh="流域月度水质状况",
    description=(
        "Share of sections in classes I–III and 劣V per basin and month, from the section monthly "
        "classes, and the basin label (DOMAIN.md §4): I–III ≥ 90 % 优, ≥ 75 % 良好, otherwise by the "
        "劣V share: < 20 % 轻度污染, < 40 % 中度污染, else 重度污染 — with 5 complete sections or more, or rivers and "
        "lakes together; with fewer river sections, and for a lake or reservoir, the label of the class of "
        "the sections' mean concentrations (地表水环境质量评价办法（试行）; `rollup_method`). A row with "
        "`water_body` NULL is the "
        "whole basin; rows with a water body (from the section registry) break it down. A section "
        "whose class lacks one of its items for the month (a failed quality control) is counted in "
        "`sections_incomplete`, not in the class counts and shares: its class may be better than the water."
    ),
    description_zh=(
        "由断面月度类别汇总的各流域每月 I–III 类和劣V类断面比例及流域水质状况："
        "I–III 类比例不低于90%为优，不低于75%为良好，否则按劣V类比例判定（低于20%轻度污染，低于40%中度污染，"
        "其余重度污染）——断面数不少于5个时如此；少于5个时，以及湖库，按各断面浓度算术平均值评价的类别定水质状况"
        "（《地表水环境质量评价办法（试行）》，见 rollup_method）。water_body 为空的行代表整个流域，其余行按水体细分。"
        "当月定类项目有缺项（质控不合格）的断面计入 sections_incomplete，不计入各类别断面数和比例：其类别可能优于实际水质。"
    ),
    columns=(
        F.get("month"),
        F.get("basin"),
        F.get(
            "water_body",
            description="river or lake within the basin; NULL = the whole basin",
            description_zh="流域内的河流或湖泊；NULL 表示整个流域",
        ),
        *F("sections", "sections_incomplete", "sections_i_iii", "sections_iv_v", "sections_worse_v"),
        *F("share_i_iii_pct", "share_worse_v_pct"),
        F.get(
            "water_class",
            description="class of the sections' mean concentrations (rollup_method mean); NULL by the shares",
            description_zh="按各断面浓度均值评价的类别（rollup_method 为 mean）；按断面比例评价时为 NULL",
        ),
        F.get("water_class_label"),
        *F("rollup_method", "basin_label"),
    ),
    primary_key=("month", "basin", "water_body"),
    partition_by="month",
    date_span=DateSpan.MONTH,
    owner=OWNER,
    frequency=MONTHLY_ROLLING,
    sharing=Sharing.UNCONDITIONAL,
    source_system=DERIVED,
)

quarantine = Table(
    name="quarantine_water__section_readings",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="Surface-water platform rows that could not be typed",
    title_zh="地表水自动监测数据 隔离记录",
    description=(
        "Rows of a platform reply that could not be typed (bad time, non-numeric or impossible "
        "value, wrong number of cells, duplicate of another row of the same snapshot), or whole "
        "pages that are not a reply at all, with the reason and the raw location (raw file, page, "
        "row index). Partitioned by the Beijing date of the fetch; rows in = published + quarantined, "
        "for every snapshot."
    ),
    description_zh=(
        "平台回复中无法解析的行（时间错误、数值非法或超出物理范围、单元格数不符、同一次抓取中的重复行），"
        "或根本不是有效回复的整页，附原因及原始位置（原始文件、页码、行号）。按抓取日（北京时间）分区；"
        "每次抓取的输入行数等于已发布数加隔离数。"
    ),
    columns=(
        SHARED.get(
            "date",
            description="Beijing date of the fetch (partition key)",
            description_zh="抓取日期（北京时间，分区字段）",
        ),
        F.get("snapshot_id"),
        F.get(
            "raw_file",
            description="raw-zone path of the page (relative to the lake)",
            description_zh="该页在原始区中的路径（相对于数据湖）",
        ),
        *F("page", "row_index"),
        F.get(
            "province",
            description="province cell, when readable",
            description_zh="省份单元格的内容（可读时）",
            nullable=True,
        ),
        F.get(
            "basin",
            description="basin cell, when readable",
            description_zh="流域单元格的内容（可读时）",
            nullable=True,
        ),
        F.get(
            "section_name",
            description="section name cell, when readable",
            description_zh="断面名称单元格的内容（可读时）",
            nullable=True,
        ),
        *F("column_name", "raw_value"),
        F.get("reason", description="why it was not published", description_zh="未发布的原因"),
    ),
    primary_key=("snapshot_id", "raw_file", "row_index"),
    owner=OWNER,
    frequency=WHEN_REJECTED,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=(
        "不予共享：平台回复中无法解析的内容，仅供数据工程人员排查上游数据问题 "
        "(not shared: untypeable content of the platform's replies, for data engineers tracing upstream problems)"
    ),
    source_system=UPSTREAM,
)

# -- stage: typed rows handed from the parsers to the builds (in memory only) --------------------
stage_readings = Table(
    name="stage_water__readings",
    layer=Layer.STAGE,
    source=SOURCE,
    title="Typed rows of the real-time board, per page",
    title_zh="地表水实时数据 解析结果",
    description=(
        "What ingest.water.parse returns for a page: the registry columns of the reading plus its raw "
        "location (page, row index), before duplicates are dropped and the section registry is joined."
    ),
    description_zh="地表水实时数据每页的解析结果：读数的各列及其原始位置（页码、行号），尚未去重、未关联断面登记表。",
    columns=(
        _DATE,
        *F(*_SECTION),
        F.get(
            "observed_at",
            description="reading time (监测时间, Beijing time in the reply), UTC",
            description_zh="监测时间（UTC；平台回复中为北京时间）",
        ),
        *F(*ITEM_COLUMNS),
        *F("qc_failed_items", "below_detection_items", "class_published", "page", "row_index"),
    ),
    primary_key=("page", "row_index"),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=UPSTREAM,
)

stage_sections_registry = Table(
    name="stage_water__sections_registry",
    layer=Layer.STAGE,
    source=SOURCE,
    title="The section registry CSV as parsed",
    title_zh="断面登记表 解析结果",
    description="The section registry file (ingest.water.sections), typed and checked: one row per section.",
    description_zh="数据工程人员维护的断面登记表文件经解析和校验后的结果，每个断面一行。",
    columns=(
        *F("section_id", "section_code", "province", "basin", "section_name", "water_body"),
        *F("section_type", "target_class", "region_code", "longitude", "latitude"),
    ),
    primary_key=("section_id",),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=REGISTRY,
)

register(
    section_readings,
    sections,
    section_monthly,
    basin_monthly,
    quarantine,
    stage_readings,
    stage_sections_registry,
)

# the decimals people are shown of each water field that declares them (``Column.decimals``)
DECIMALS = F.decimals()
# 超标倍数 as exceed_items prints it, of every item with a multiple (COD and BOD5 too, which have no
# column of their own): the multiple columns' declared decimals, one for all
_MULTIPLE_DECIMALS = {DECIMALS[f"{col.removesuffix('_mgl')}_exceed_multiple"] for col in EXCEED_ITEMS}
if len(_MULTIPLE_DECIMALS) != 1:
    raise ValueError(
        f"the *_exceed_multiple columns declare different decimals {_MULTIPLE_DECIMALS}: exceed_items prints one"
    )
EXCEED_MULTIPLE_DECIMALS: int = _MULTIPLE_DECIMALS.pop()
