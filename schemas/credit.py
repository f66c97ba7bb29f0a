"""Enterprise environmental credit rating (企业环境信用评价): schemes and the ratings table.

A rating is an ordered category whose levels depend on the province's scheme (DOMAIN.md §6): the
national scheme has four levels, Jiangxi adds a fifth, black (worst; permits withheld); Guizhou uses
the national four with sub-grades. ``level`` is the colour, ``level_rank`` its order (1 = best), and
the scheme is recorded beside it, so ranks are only compared within a scheme.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.registry import Column, Layer, Sharing, Table, register

OWNER = "政策法规处 (policy and regulations division)"
SOURCE = "credit"


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
        CreditScheme("national-4", "national scheme (2013): four levels", _NATIONAL_LEVELS),
        CreditScheme(
            "jiangxi-5",
            "Jiangxi: the national four plus black (worst; permits withheld)",
            (*_NATIONAL_LEVELS, CreditLevel("black", "环保严重失信", 5)),
        ),
        CreditScheme("guizhou-4", "Guizhou: the national four levels with sub-grades", _NATIONAL_LEVELS),
    )
}
LEVEL_CODES = ("green", "blue", "yellow", "red", "black")

ratings = Table(
    name="core_credit__ratings",
    layer=Layer.CORE,
    source=SOURCE,
    title="Enterprise environmental credit ratings (企业环境信用评价结果)",
    description=(
        "One row per enterprise and row of a provincial result file. `level` is the colour, "
        "`level_rank` its order within `scheme` (1 = best); Jiangxi's scheme has five levels, the "
        "national four. The newest file of a province and year replaces older ones. USCCs failing the "
        "GB 32100 check are kept and flagged, never dropped; names are normalised for matching."
    ),
    columns=(
        Column(
            "province_code", "string", "province of the result file (GB/T 2260), e.g. 360000", nullable=False
        ),
        Column("scheme", "string", "rating scheme", allowed=tuple(SCHEMES), nullable=False),
        Column("year", "int16", "evaluation year (评价年度)", nullable=False, min=2000, max=2100),
        Column("uscc", "string", "unified social credit code as published, normalised"),
        Column("uscc_valid", "bool", "USCC passes the GB 32100 check", nullable=False),
        Column(
            "uscc_problem",
            "string",
            "why the USCC fails the check",
            allowed=("missing", "length", "charset", "check_char"),
        ),
        Column("enterprise_name", "string", "enterprise name as published", nullable=False),
        Column("enterprise_name_norm", "string", "name normalised for matching", nullable=False),
        Column("region_code", "string", "prefecture (or county) region code from the file's region column"),
        Column("region_name", "string", "region as written in the file"),
        Column("level", "string", "rating colour", allowed=LEVEL_CODES, nullable=False),
        Column(
            "level_rank", "int8", "order of the level in its scheme, 1 = best", nullable=False, min=1, max=5
        ),
        Column("level_label", "string", "level as written in the file", nullable=False),
        Column("sub_grade", "string", "sub-grade where the scheme has them (Guizhou)"),
        Column("raw_file", "string", "raw-zone file (relative to the lake)", nullable=False),
        Column("sheet", "string", "worksheet (XLSX) or '' (CSV)", nullable=False),
        Column("row_no", "int32", "1-based row number in the sheet / file", nullable=False, min=1),
        Column("received_at", "timestamp", "when the file was received (UTC)", nullable=False),
    ),
    primary_key=("raw_file", "sheet", "row_no"),
    partition_by=None,
    owner=OWNER,
    frequency="when published",
    sharing=Sharing.UNCONDITIONAL,
)

quarantine = Table(
    name="quarantine_credit__rows",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="Credit result rows that could not be typed",
    description=(
        "Rows (or whole files: row_no 0) of credit result files that could not be typed — an unknown "
        "level label, no enterprise name, no recognisable header — with the reason."
    ),
    columns=(
        Column("raw_file", "string", "raw-zone file (relative to the lake)", nullable=False),
        Column("sheet", "string", "worksheet or ''", nullable=False),
        Column("row_no", "int32", "1-based row number; 0 = the whole file or sheet", nullable=False),
        Column("province_code", "string", "province of the file, when known"),
        Column("raw_value", "string", "the row as read (truncated)"),
        Column("reason", "string", "why it was not published", nullable=False),
    ),
    primary_key=("raw_file", "sheet", "row_no"),
    partition_by=None,
    owner=OWNER,
    frequency="when published",
    sharing=Sharing.NOT_SHARED,
)

register(ratings, quarantine)
