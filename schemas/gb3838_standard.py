"""GB 3838-2002 — Environmental quality standards for surface water, as data (DOMAIN.md §4).

Only data lives here; the vectorised classifier is ``transforms.water_class``. Limits are GB 3838
table 1 ("地表水环境质量标准基本项目标准限值"), mg/L except pH, one value per class I..V. A value
worse than the class V limit is 劣V (class 6 in this project, as the national platform writes it).

Evaluation rules taken from the national evaluation method (地表水环境质量评价办法（试行）, 环办
[2011] 22号), as DOMAIN.md §4 states them:

* the worst single item decides the section class;
* pH is 6–9 for every class: inside, it does not constrain the class; outside, the class is 劣V;
* DO is a lower limit (class k when DO ≥ limit_k), every other item an upper limit (C ≤ limit_k);
* TP has stricter limits for lakes and reservoirs;
* TN is evaluated for lakes and reservoirs only, and on its own: it is *not* part of the section
  class (the national automatic stations publish the class without TN), it is reported beside it;
* 超标倍数 (exceedance multiple) over the section's target class = C / limit − 1; water
  temperature, pH and DO get no multiple (they are named as exceeding, without one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

# Classes as the national platform writes them: 1..5 = I..V, 6 = 劣V (worse than V).
CLASS_WORSE_THAN_V: Final = 6
CLASS_LABELS: Final[tuple[str, ...]] = ("I", "II", "III", "IV", "V", "劣V")  # index = class - 1

# Water-quality labels by class (DOMAIN.md §4): I–II 优, III 良好, IV 轻度污染, V 中度污染, 劣V 重度污染.
QUALITY_LABELS: Final[tuple[str, ...]] = ("优", "良好", "轻度污染", "中度污染", "重度污染")
# the same in English, as the national bulletins' English editions put them (for English pages)
QUALITY_LABELS_EN: Final[dict[str, str]] = dict(
    zip(
        QUALITY_LABELS,
        ("excellent", "good", "slightly polluted", "moderately polluted", "heavily polluted"),
        strict=True,
    )
)
CLASS_QUALITY: Final[tuple[str, ...]] = (
    "优",
    "优",
    "良好",
    "轻度污染",
    "中度污染",
    "重度污染",
)  # by class - 1

SECTION_TYPES: Final[tuple[str, ...]] = ("river", "lake", "reservoir")
LAKE_TYPES: Final[frozenset[str]] = frozenset({"lake", "reservoir"})
DEFAULT_SECTION_TYPE: Final = "river"  # a section missing from the section registry
DEFAULT_TARGET_CLASS: Final = 3  # ... is held to class III (the national "good water" line)

# Basin (river system) roll-up, DOMAIN.md §4: share of sections in I–III ≥ 90 % 优, 75–90 % 良好,
# otherwise by the share of 劣V: < 20 % 轻度污染, 20–40 % 中度污染, ≥ 40 % 重度污染.
BASIN_GOOD_PCT: Final = 90.0
BASIN_FAIR_PCT: Final = 75.0
BASIN_MODERATE_WORSE_V_PCT: Final = 20.0
BASIN_HEAVY_WORSE_V_PCT: Final = 40.0
# 地表水环境质量评价办法（试行）(环办〔2011〕22号): the share method needs at least 5 sections; a river,
# basin or lake with fewer — and a lake or reservoir with any number of points — is classed from the
# arithmetic mean of its sections' concentrations, like one section, and labelled by that class.
BASIN_SHARE_MIN_SECTIONS: Final = 5
ROLLUP_METHODS: Final[tuple[str, ...]] = ("share", "mean")

Direction = Literal["max", "min", "range"]


@dataclass(frozen=True)
class Gb3838Item:
    """One row of GB 3838 table 1, bound to the registry column that carries the item."""

    column: str
    label: str  # Chinese name as reports print it
    direction: Direction  # max: C ≤ limit; min: C ≥ limit (DO); range: lo ≤ C ≤ hi (pH)
    river: tuple[float, ...]  # limits for classes I..V (range: (lo, hi))
    lake: tuple[float, ...] | None = None  # lakes and reservoirs, when they differ
    lakes_only: bool = False  # evaluated for lakes and reservoirs only (TN)
    in_section_class: bool = True  # False: reported on its own, not in the section class (TN)
    multiple: bool = True  # 超标倍数 is computed (not for pH and DO)
    # Reporting precision: a computed mean is rounded (修约) to it before it meets the limits.
    decimals: int = field(kw_only=True)

    def __post_init__(self) -> None:
        expected = 2 if self.direction == "range" else 5
        for limits in (self.river, self.lake):
            if limits is not None and len(limits) != expected:
                raise ValueError(f"{self.column}: {len(limits)} limits, expected {expected}")
            if limits is not None and any(round(v, self.decimals) != v for v in limits):
                raise ValueError(f"{self.column}: a limit has more than {self.decimals} decimals")

    def limits(self, lake: bool) -> tuple[float, ...]:
        return self.lake if lake and self.lake is not None else self.river


# decimals: as the national real-time board publishes the item (pH, DO, CODMn and TN 2, NH3-N and
# TP 3 — enough for every limit, TP lake 0.025 included); COD and BOD5, not on the board, as their
# methods report them below 100 mg/L (HJ 828: integer; HJ 505: 1 decimal).
PH = Gb3838Item("ph", "pH", "range", (6.0, 9.0), multiple=False, decimals=2)
DO = Gb3838Item("do_mgl", "溶解氧", "min", (7.5, 6.0, 5.0, 3.0, 2.0), multiple=False, decimals=2)
CODMN = Gb3838Item("codmn_mgl", "高锰酸盐指数", "max", (2.0, 4.0, 6.0, 10.0, 15.0), decimals=2)
COD = Gb3838Item("cod_mgl", "化学需氧量", "max", (15.0, 15.0, 20.0, 30.0, 40.0), decimals=0)
BOD5 = Gb3838Item("bod5_mgl", "五日生化需氧量", "max", (3.0, 3.0, 4.0, 6.0, 10.0), decimals=1)
NH3N = Gb3838Item("nh3n_mgl", "氨氮", "max", (0.15, 0.5, 1.0, 1.5, 2.0), decimals=3)
TP = Gb3838Item(
    "tp_mgl", "总磷", "max", (0.02, 0.1, 0.2, 0.3, 0.4), lake=(0.01, 0.025, 0.05, 0.1, 0.2), decimals=3
)
TN = Gb3838Item(
    "tn_mgl",
    "总氮",
    "max",
    (0.2, 0.5, 1.0, 1.5, 2.0),
    lake=(0.2, 0.5, 1.0, 1.5, 2.0),
    lakes_only=True,
    in_section_class=False,
    decimals=2,
)

# Table order; the classifier uses whichever of these columns its input has (the automatic
# stations measure no COD or BOD5, a manual-sampling feed would).
ITEMS: Final[tuple[Gb3838Item, ...]] = (PH, DO, CODMN, COD, BOD5, NH3N, TP, TN)
ITEMS_BY_COLUMN: Final = {i.column: i for i in ITEMS}
