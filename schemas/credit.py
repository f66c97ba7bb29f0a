"""Enterprise environmental credit rating (企业环境信用评价): schemes and the ratings table.

A rating is an ordered category whose levels depend on the province's scheme (DOMAIN.md §6): the
national scheme has four levels, Jiangxi adds a fifth, black (worst; permits withheld); Guizhou uses
the national four with sub-grades. ``level`` is the colour, ``level_rank`` its order (1 = best), and
the scheme is recorded beside it, so ranks are only compared within a scheme.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.fields import EVERY_RUN, POLICY_DIVISION, SHARED, STAGE_ONLY, WHEN_PUBLISHED, WHEN_REJECTED
from schemas.registry import Codes, Column, Fields, Layer, Sharing, Table, register

OWNER = POLICY_DIVISION
SOURCE = "credit"
UPSTREAM = (
    "省级生态环境部门发布的企业环境信用评价结果文件 "
    "(enterprise environmental credit rating results published by provincial eco-environment departments)"
)


@dataclass(frozen=True)
class CreditLevel:
    code: str  # colour: green, blue, yellow, red, black
    label: str  # the scheme's name for the level
    rank: int  # 1 = best


@dataclass(frozen=True)
class CreditScheme:
    name: str
    description: str
    levels: tuple[CreditLevel, ...]  # best first
    label_zh: str  # as a page names the scheme

    def level(self, code: str) -> CreditLevel:
        for lvl in self.levels:
            if lvl.code == code:
                return lvl
        raise KeyError(f"scheme {self.name} has no level {code!r}")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(lvl.code for lvl in self.levels)


_NATIONAL_LEVELS = (
    CreditLevel("green", "环保诚信", 1),
    CreditLevel("blue", "环保良好", 2),
    CreditLevel("yellow", "环保警示", 3),  # strict supervision
    CreditLevel("red", "环保不良", 4),  # joint punishment
)

SCHEMES: dict[str, CreditScheme] = {
    s.name: s
    for s in (
        CreditScheme(
            "national-4", "national scheme (2013): four levels", _NATIONAL_LEVELS, "国家四级（2013）"
        ),
        CreditScheme(
            "jiangxi-5",
            "Jiangxi: the national four plus black (worst; permits withheld)",
            (*_NATIONAL_LEVELS, CreditLevel("black", "环保严重失信", 5)),
            "江西五级（含黑牌）",
        ),
        CreditScheme(
            "guizhou-4",
            "Guizhou: the national four levels with sub-grades",
            _NATIONAL_LEVELS,
            "贵州四级（分档）",
        ),
    )
}
# the schemes as codes with their labels (the column's allowed values, the pages' names for them)
SCHEME_CODES = Codes({s.name: (s.label_zh, s.description) for s in SCHEMES.values()})
LEVEL_CODES = Codes(
    {
        "green": ("绿牌", "green"),
        "blue": ("蓝牌", "blue"),
        "yellow": ("黄牌", "yellow"),
        "red": ("红牌", "red"),
        "black": ("黑牌", "black"),
    }
)

F = Fields("credit", parent=SHARED)
F.define(
    Column(
        "province_code",
        "string",
        "province of the result file (GB/T 2260), e.g. 360000",
        description_zh="结果文件所属省份（GB/T 2260 行政区划代码），如 360000",
        nullable=False,
    ),
    Column(
        "scheme", "string", "rating scheme", description_zh="评价体系", allowed=SCHEME_CODES, nullable=False
    ),
    Column(
        "year",
        "int16",
        "evaluation year (评价年度)",
        description_zh="评价年度",
        unit="1",
        nullable=False,
        min=2000,
        max=2100,
    ),
    Column(
        "list_batch",
        "int16",
        "batch of the year's list the file states (第N批, in its name or title); NULL: none stated",
        description_zh="文件（名称或标题中）写明的该年度名单批次（第N批）；NULL 表示未写明",
        unit="1",
        min=1,
        max=999,
    ),
    Column("region_name", "string", "region as written in the file", description_zh="文件中所写的地区"),
    Column(
        "level", "string", "rating colour", description_zh="信用等级颜色", allowed=LEVEL_CODES, nullable=False
    ),
    Column(
        "level_rank",
        "int8",
        "order of the level in its scheme, 1 = best",
        description_zh="该等级在其评价体系中的次序，1为最好",
        unit="1",
        nullable=False,
        min=1,
        max=5,
    ),
    Column(
        "level_label",
        "string",
        "level as written in the file",
        description_zh="文件中所写的等级名称",
        nullable=False,
    ),
    Column(
        "sub_grade",
        "string",
        "sub-grade where the scheme has them (Guizhou)",
        description_zh="评价体系设有分档时的分档（贵州）",
    ),
    Column(
        "sheet",
        "string",
        "worksheet (XLSX) or '' (CSV)",
        description_zh="工作表（XLSX）或 ''（CSV）",
        nullable=False,
    ),
    Column(
        "row_no",
        "int32",
        "1-based row number in the sheet / file",
        description_zh="在工作表/文件中的行号（从1开始）",
        unit="1",
        nullable=False,
        min=1,
    ),
)
# A quarantine row may stand for a whole file or sheet (row 0): its own row_no, without the minimum.
QUARANTINE_FIELDS = Fields("credit.quarantine", parent=F)
QUARANTINE_FIELDS.define(
    Column(
        "row_no",
        "int32",
        "1-based row number; 0 = the whole file or sheet",
        description_zh="行号（从1开始）；0 表示整个文件或工作表",
        unit="1",
        nullable=False,
    ),
)

_RAW_FILE = F.get(
    "raw_file",
    description="raw-zone file (relative to the lake)",
    description_zh="原始区文件（相对于数据湖的路径）",
)
_ROW = (
    *F("province_code", "scheme", "year"),
    F.get(
        "uscc",
        description="unified social credit code as published, normalised",
        description_zh="公布的统一社会信用代码（已规范化）",
    ),
)

ratings = Table(
    name="core_credit__ratings",
    layer=Layer.CORE,
    source=SOURCE,
    title="Enterprise environmental credit ratings",
    title_zh="企业环境信用评价结果",
    description=(
        "One row per enterprise and row of a provincial result file. `level` is the colour, "
        "`level_rank` its order within `scheme` (1 = best); Jiangxi's scheme has five levels, the "
        "national four. The newest file of a province, year (the year most of its rows carry) and "
        "batch (`list_batch`: 第N批 as its name or title states, or none) replaces older ones of that "
        "province, year and batch; the batches of a year add up, and an enterprise rated for one year "
        "in two such files keeps the later batch's rating (a list stating no batch comes first), within "
        "a batch the newer file's. USCCs failing the "
        "GB 32100 check are kept and flagged, never dropped; names are normalised for matching."
    ),
    description_zh=(
        "省级企业环境信用评价结果文件中每家企业（每行）一行。level 为信用等级颜色，level_rank 为其在评价体系 scheme "
        "中的次序（1为最好）；江西省为五级，全国为四级。同一省份、同一年度、同一批次（list_batch：文件名或标题所写的“第N批”，或未写）以最新文件为准（文件的年度为其多数行的评价年度）；同一年度的各批次合并；同一企业同一年度出现在两个文件中时以批次较后者为准（未写批次者在前），同一批次以较新文件为准。"
        "未通过 GB 32100 校验的统一社会信用代码予以保留并标记；企业名称规范化后用于匹配。"
    ),
    columns=(
        *_ROW,
        F.get("list_batch"),
        *F("uscc_valid", "uscc_problem"),
        F.get(
            "enterprise_name",
            description="enterprise name as published",
            description_zh="公布的企业名称",
            nullable=False,
        ),
        F.get(
            "enterprise_name_norm",
            description="name normalised for matching",
            description_zh="用于匹配的规范化名称",
            nullable=False,
        ),
        F.get(
            "region_code",
            description="prefecture (or county) region code from the file's region column",
            description_zh="由文件地区列得出的市级（或县级）行政区划代码",
        ),
        *F("region_name", "level", "level_rank", "level_label", "sub_grade"),
        _RAW_FILE,
        *F("sheet", "row_no"),
        F.get(
            "received_at",
            description="when the file was received (UTC)",
            description_zh="文件接收时间（UTC）",
            nullable=False,
        ),
    ),
    primary_key=("raw_file", "sheet", "row_no"),
    partition_by=None,
    owner=OWNER,
    frequency=WHEN_PUBLISHED,
    sharing=Sharing.UNCONDITIONAL,
    source_system=UPSTREAM,
)

quarantine = Table(
    name="quarantine_credit__rows",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="Credit result rows that could not be typed",
    title_zh="企业环境信用评价数据 隔离记录",
    description=(
        "Rows (or whole files: row_no 0) of credit result files that could not be typed — an unknown "
        "level label, no enterprise name, no recognisable header — with the reason."
    ),
    description_zh="信用评价结果文件中无法解析的行（或整个文件，row_no 为0）：等级名称无法识别、缺少企业名称、找不到表头等，附原因。",
    columns=(
        _RAW_FILE,
        F.get("sheet", description="worksheet or ''", description_zh="工作表或 ''"),
        QUARANTINE_FIELDS.get("row_no"),
        F.get(
            "province_code",
            description="province of the file, when known",
            description_zh="文件所属省份（已知时）",
            nullable=True,
        ),
        F.get(
            "raw_value", description="the row as read (truncated)", description_zh="读取到的该行原文（截断）"
        ),
        F.get("reason", description="why it was not published", description_zh="未发布的原因"),
    ),
    primary_key=("raw_file", "sheet", "row_no"),
    partition_by=None,
    owner=OWNER,
    frequency=WHEN_REJECTED,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=(
        "不予共享：信用评价结果文件中无法解析的内容，仅供数据工程人员排查文件问题 "
        "(not shared: untypeable content of the result files, for data engineers tracing file problems)"
    ),
    source_system=UPSTREAM,
)

# -- stage: typed rows of one result file (ingest.credit.parse), in memory only -----------------
stage_rows = Table(
    name="stage_credit__rows",
    layer=Layer.STAGE,
    source=SOURCE,
    title="Rows of a credit result file, typed",
    title_zh="信用评价结果 解析结果",
    description="One row per enterprise row of a result file; USCC checks and name normalisation come in the build.",
    description_zh="信用评价结果文件每个企业行的解析结果；统一社会信用代码校验和名称规范化由构建步骤完成。",
    columns=(
        *_ROW,
        F.get("list_batch"),
        F.get(
            "enterprise_name",
            description="enterprise name as published",
            description_zh="公布的企业名称",
            nullable=False,
        ),
        F.get(
            "region_code",
            description="prefecture (or county) region code from the file's region column",
            description_zh="由文件地区列得出的市级（或县级）行政区划代码",
        ),
        *F("region_name", "level", "level_rank", "level_label", "sub_grade"),
        _RAW_FILE,
        *F("sheet", "row_no"),
        F.get(
            "received_at",
            description="when the file was received (UTC)",
            description_zh="文件接收时间（UTC）",
            nullable=False,
        ),
    ),
    primary_key=("raw_file", "sheet", "row_no"),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=UPSTREAM,
)

register(ratings, quarantine, stage_rows)
