"""HJ 633 — Technical Regulation on Ambient Air Quality Index (AQI), as data.

Two versions are in force by observation date: HJ 633-2012 until 2026-02-28 and HJ 633-2026 from
2026-03-01 (DOMAIN.md §2). Only data lives here; the vectorised computation is ``transforms.aqi``.

Breakpoint tables are HJ 633 table 1 ("空气质量分指数及对应的污染物项目浓度限值"): concentrations in
µg/m³ (CO in mg/m³), one value per IAQI level in ``IAQI_LEVELS``; a table that stops early (SO2
1-hour, O3 8-hour) has no breakpoint for the higher levels ("–" in the standard).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class AqiStandard(StrEnum):
    """Version labels as written to the ``aqi_standard`` column."""

    HJ633_2012 = "HJ633-2012"
    HJ633_2026 = "HJ633-2026"


HJ633_2012: Final = AqiStandard.HJ633_2012.value
HJ633_2026: Final = AqiStandard.HJ633_2026.value

# HJ 633-2026 replaces HJ 633-2012 from this date (inclusive); chosen by observation date.
HJ633_2026_EFFECTIVE: Final = date(2026, 3, 1)


def standard_for_date(d: date) -> str:
    """The HJ 633 version that applies to an observation on Beijing date ``d``."""
    return HJ633_2026 if d >= HJ633_2026_EFFECTIVE else HJ633_2012


# HJ 633 table 1, first column: IAQI at each breakpoint.
IAQI_LEVELS: Final[tuple[int, ...]] = (0, 50, 100, 150, 200, 300, 400, 500)
AQI_MAX: Final = 500


class Indicator(StrEnum):
    """Columns of HJ 633 table 1 (pollutant and averaging time)."""

    SO2_24H = "SO2_24H"
    SO2_1H = "SO2_1H"
    NO2_24H = "NO2_24H"
    NO2_1H = "NO2_1H"
    PM10_24H = "PM10_24H"
    CO_24H = "CO_24H"
    CO_1H = "CO_1H"
    O3_1H = "O3_1H"
    O3_8H = "O3_8H"
    PM25_24H = "PM25_24H"


@dataclass(frozen=True)
class Breakpoints:
    """One column of HJ 633 table 1: ``conc[i]`` is the concentration at IAQI ``iaqi[i]``."""

    indicator: Indicator
    conc: tuple[float, ...]
    unit: str

    def __post_init__(self) -> None:
        if not 2 <= len(self.conc) <= len(IAQI_LEVELS):
            raise ValueError(f"{self.indicator}: {len(self.conc)} breakpoints")
        if any(b <= a for a, b in zip(self.conc, self.conc[1:], strict=False)):
            raise ValueError(f"{self.indicator}: breakpoints must increase")

    @property
    def iaqi(self) -> tuple[int, ...]:
        return IAQI_LEVELS[: len(self.conc)]

    @property
    def top(self) -> float:
        """Highest concentration the table scores."""
        return self.conc[-1]


_UG = "µg/m³"
_MG = "mg/m³"

# HJ 633-2012 table 1 (DOMAIN.md §2).
_BREAKPOINTS_2012: dict[Indicator, Breakpoints] = {
    bp.indicator: bp
    for bp in (
        Breakpoints(Indicator.SO2_24H, (0, 50, 150, 475, 800, 1600, 2100, 2620), _UG),
        # table 1 note 2: no breakpoints above IAQI 200 for SO2 1-hour values
        Breakpoints(Indicator.SO2_1H, (0, 150, 500, 650, 800), _UG),
        Breakpoints(Indicator.NO2_24H, (0, 40, 80, 180, 280, 565, 750, 940), _UG),
        Breakpoints(Indicator.NO2_1H, (0, 100, 200, 700, 1200, 2340, 3090, 3840), _UG),
        Breakpoints(Indicator.PM10_24H, (0, 50, 150, 250, 350, 420, 500, 600), _UG),
        Breakpoints(Indicator.CO_24H, (0, 2, 4, 14, 24, 36, 48, 60), _MG),
        Breakpoints(Indicator.CO_1H, (0, 5, 10, 35, 60, 90, 120, 150), _MG),
        Breakpoints(Indicator.O3_1H, (0, 160, 200, 300, 400, 800, 1000, 1200), _UG),
        # table 1 note 3: no breakpoints above IAQI 300 for O3 8-hour values
        Breakpoints(Indicator.O3_8H, (0, 100, 160, 215, 265, 800), _UG),
        Breakpoints(Indicator.PM25_24H, (0, 35, 75, 115, 150, 250, 350, 500), _UG),
    )
}

# HJ 633-2026 table 1: only the IAQI-100 breakpoints of PM10 (150 → 120) and PM2.5 (75 → 60) change.
_BREAKPOINTS_2026: dict[Indicator, Breakpoints] = {
    **_BREAKPOINTS_2012,
    Indicator.PM10_24H: Breakpoints(Indicator.PM10_24H, (0, 50, 120, 250, 350, 420, 500, 600), _UG),
    Indicator.PM25_24H: Breakpoints(Indicator.PM25_24H, (0, 35, 60, 115, 150, 250, 350, 500), _UG),
}

BREAKPOINTS: Final = MappingProxyType(
    {
        HJ633_2012: MappingProxyType(_BREAKPOINTS_2012),
        HJ633_2026: MappingProxyType(_BREAKPOINTS_2026),
    }
)


@dataclass(frozen=True)
class SpecialRules:
    """The table-1 notes for values above the SO2 1-hour and O3 8-hour tables (both end at 800)."""

    # SO2 1-hour value above this is not scored on the 1-hour table.
    so2_1h_limit: float
    # 2012 note 2: fall back to the SO2 24-hour IAQI (None) / 2026: the IAQI counts as this value.
    so2_1h_over_iaqi: float | None
    # O3 8-hour value above this is not scored on the 8-hour table.
    o3_8h_limit: float
    # 2012 note 3: fall back to the O3 1-hour IAQI (None) / 2026: the IAQI counts as this value.
    o3_8h_over_iaqi: float | None
    # 2012 daily report scores the O3 daily max 1-hour value too; the 2026 daily report drops it.
    daily_uses_o3_1h: bool


SPECIAL_RULES: Final = MappingProxyType(
    {
        HJ633_2012: SpecialRules(800, None, 800, None, daily_uses_o3_1h=True),
        HJ633_2026: SpecialRules(800, 200, 800, 300, daily_uses_o3_1h=False),
    }
)


@dataclass(frozen=True)
class Category:
    """HJ 633 table 2: AQI category (空气质量指数类别), level and colour; unchanged in 2026."""

    level: int
    name: str
    aqi_lo: int
    aqi_hi: int | None  # None: open-ended (> 300)
    colour: str
    rgb: tuple[int, int, int]


CATEGORIES: Final[tuple[Category, ...]] = (
    Category(1, "优", 0, 50, "green", (0, 228, 0)),
    Category(2, "良", 51, 100, "yellow", (255, 255, 0)),
    Category(3, "轻度污染", 101, 150, "orange", (255, 126, 0)),
    Category(4, "中度污染", 151, 200, "red", (255, 0, 0)),
    Category(5, "重度污染", 201, 300, "purple", (153, 0, 76)),
    Category(6, "严重污染", 301, None, "maroon", (126, 0, 35)),
)

# HJ 633 §5: primary pollutant(s) only when AQI > 50.
PRIMARY_POLLUTANT_MIN_AQI: Final = 51

# Pollutant labels written to ``primary_pollutants``, in this order.
POLLUTANT_LABELS: Final[tuple[str, ...]] = ("PM2.5", "PM10", "SO2", "NO2", "CO", "O3")
# The pollutants' names, Chinese and English, as the daily air-quality bulletins give them: what a
# reader types when searching for the columns the labels name.
POLLUTANT_NAMES: Final[dict[str, tuple[str, str]]] = {
    "PM2.5": ("细颗粒物", "fine particulate matter"),
    "PM10": ("可吸入颗粒物", "inhalable particulate matter"),
    "SO2": ("二氧化硫", "sulphur dioxide"),
    "NO2": ("二氧化氮", "nitrogen dioxide"),
    "CO": ("一氧化碳", "carbon monoxide"),
    "O3": ("臭氧", "ozone"),
}
