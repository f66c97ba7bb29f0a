"""Simulated surface-water real-time board of the national automatic stations, for Jiangxi.

Format (as the real platform, see ../shared/data/cnemc-water): ``GET /water/Publish.ashx?
action=getRealDatas&PageIndex=N&PageSize=M`` answers ``{"result":1,"total":<pages>,"records":
<sections>,"thead":[…],"tbody":[[…],…]}`` with the same 16 header cells (HTML units), values as
``<span title='原始值：26.58'>26.6</span>`` (raw value in the title, rounded display), ``--`` for a
missing value, ``<span data-toggle='tooltip' data-placement='right' title='当天质控不合格'>--</span>``
for a value withheld by the day's quality control, ``监测时间`` as ``MM-DD HH:MM`` (Beijing, no year),
``水质类别`` 1..6 or -1, exponent form for large algae densities, and .NET-style JSON escaping
(``<`` → ``\\u003c``, ``'`` → ``\\u0027``). The server caps the page size (``max_page_size``, like
real servers do), so ``total`` is what a client must follow.

The board shows every section's latest reading at the simulated now. Sections read every 4 hours
(at 0, 4, 8 … or, for some, 3, 7, 11 … Beijing) and a reading appears ``publish_lag`` after its
time. The published class is computed the way the national platform does: GB 3838 on pH, DO,
CODMn, NH3-N and TP with lake TP limits for lakes and reservoirs, **without TN** (-1 when no item
was measured), by a small classifier of its own (``published_class``, written from DOMAIN.md §4,
independent of ``transforms.water_class`` so that comparing the two tests something), and — like
the real platform (the real snapshot's 南刘庄) — from the values before QC-failed ones are withheld
from display.

Network: Poyang Lake (鄱阳湖, lake sections), the five rivers 赣江 抚河 信江 饶河 修河, the Yangtze at
Jiujiang, 袁河, 萍水河, reservoirs (万安水库, 廖坊水库, 柘林水库, 仙女湖) and the Dongjiang headwaters in
珠江流域: 43 sections. Section names are composed (city + position), not the real network's; region
codes are the real GB/T 2260 prefecture codes (DOMAIN.md §5).

``GET /water/sections.csv`` serves the section registry of the simulated network (``registry_csv``):
not an upstream of the real platform, but what the data engineers would maintain for it.

Values are a pure function of (seed, section, reading time): seasonal water temperature, DO at
saturation minus a pollution deficit, flood-season CODMn/TP/turbidity, winter NH3-N, summer
chlorophyll in the lake; section baselines put Poyang Lake around lake class III–IV on TP and a few
polluted reaches (乐安河 mining, 萍水河) into IV–劣V. Faults (``WaterQuirks``): instrument gaps
(``--``), QC-failed items for a day, sections offline (the board keeps their older reading, so it
goes stale), maintenance rows (every value ``--``, class -1), and rare garbled value or time cells
(the parser quarantines those rows).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ecocloud.simulator.server import Request, Resource, Response, SimClock
from ingest.water.sections import sections_csv

__all__ = [
    "THEAD",
    "WaterQuirks",
    "WaterSection",
    "WaterUpstream",
    "board_reply",
    "jiangxi_sections",
    "published_class",
    "registry_csv",
]

PROVINCE = "江西省"
READING_EVERY_H = 4

# The real reply's header cells, in order.
THEAD: tuple[str, ...] = (
    "省份",
    "流域",
    "断面名称",
    "监测时间",
    "水质类别",
    "水温<br/><span class='unit'>(℃)</span>",
    "pH<br/><span class='unit'>(无量纲)</span>",
    "溶解氧<br/><span class='unit'>(mg/L)</span>",
    "电导率<br/><span class='unit'>(μS/cm)</span>",
    "浊度<br/><span class='unit'>(NTU)</span>",
    "高锰酸盐指数<br/><span class='unit'>(mg/L)</span>",
    "氨氮<br/><span class='unit'>(mg/L)</span>",
    "总磷<br/><span class='unit'>(mg/L)</span>",
    "总氮<br/><span class='unit'>(mg/L)</span>",
    "叶绿素α<br/><span class='unit'>(mg/L)</span>",
    "藻密度<br/><span class='unit'>(cells/L)</span>",
)
# Value columns in THEAD order: (registry column, raw decimals, display decimals).
_VALUES: tuple[tuple[str, int, int], ...] = (
    ("water_temp_c", 2, 1),
    ("ph", 2, 2),
    ("do_mgl", 2, 2),
    ("conductivity_uscm", 2, 1),
    ("turbidity_ntu", 3, 1),
    ("codmn_mgl", 2, 2),
    ("nh3n_mgl", 3, 3),
    ("tp_mgl", 3, 3),
    ("tn_mgl", 3, 2),
    ("chla_mgl", 5, 3),
    ("algae_density_cells_l", 0, 0),
)
_QC_ITEMS = ("codmn_mgl", "nh3n_mgl", "tp_mgl", "tn_mgl")  # wet-chemistry analysers fail QC
_QC_SPAN = "<span data-toggle='tooltip' data-placement='right' title='当天质控不合格'>--</span>"


@dataclass(frozen=True)
class WaterSection:
    name: str  # 断面名称
    basin: str  # 流域 as the platform writes it
    water_body: str  # 所在水体
    section_type: str  # river / lake / reservoir
    target_class: int  # 1..5
    region_code: str  # GB/T 2260 prefecture
    longitude: float
    latitude: float
    # generation: baseline concentrations (mg/L) and conductivity (µS/cm)
    codmn: float
    nh3n: float
    tp: float
    tn: float
    conductivity: float
    offset_h: int = 0  # readings at offset_h + 4k hours
    province: str = PROVINCE

    @property
    def is_lake(self) -> bool:
        return self.section_type in ("lake", "reservoir")

    @property
    def code(self) -> str:
        """Simulated section code (``JXW…``; real national codes look different)."""
        return "JXW" + hashlib.sha256(f"{self.basin}|{self.name}".encode()).hexdigest()[:5].upper()


_YZ = "长江流域"
_ZJ = "珠江流域"
# name, basin, water body, type, target, region, lon, lat, CODMn, NH3-N, TP, TN, conductivity
_NETWORK: tuple[tuple[str, str, str, str, int, str, float, float, float, float, float, float, float], ...] = (
    ("湖区北", _YZ, "鄱阳湖", "lake", 3, "360400", 116.20, 29.35, 3.0, 0.25, 0.070, 1.60, 150),
    ("湖区中", _YZ, "鄱阳湖", "lake", 3, "360400", 116.25, 29.10, 2.9, 0.22, 0.065, 1.50, 145),
    ("湖区南", _YZ, "鄱阳湖", "lake", 3, "360100", 116.30, 28.85, 3.2, 0.30, 0.080, 1.80, 160),
    ("湖区东", _YZ, "鄱阳湖", "lake", 3, "361100", 116.55, 29.05, 2.8, 0.20, 0.060, 1.40, 140),
    ("湖区西", _YZ, "鄱阳湖", "lake", 3, "360400", 116.05, 29.10, 3.1, 0.28, 0.075, 1.70, 155),
    ("出湖口", _YZ, "鄱阳湖", "lake", 3, "360400", 116.20, 29.70, 2.9, 0.24, 0.068, 1.55, 150),
    ("赣江入湖", _YZ, "鄱阳湖", "lake", 3, "360100", 116.05, 28.90, 3.3, 0.35, 0.085, 1.90, 170),
    ("信江入湖", _YZ, "鄱阳湖", "lake", 3, "361100", 116.45, 28.75, 3.2, 0.32, 0.080, 1.85, 165),
    ("赣州上游", _YZ, "赣江", "river", 2, "360700", 114.93, 25.83, 1.9, 0.12, 0.050, 1.10, 120),
    ("赣州下游", _YZ, "赣江", "river", 3, "360700", 115.00, 25.95, 2.6, 0.35, 0.090, 1.60, 150),
    ("万安水库", _YZ, "赣江", "reservoir", 2, "360800", 114.78, 26.45, 1.8, 0.10, 0.022, 0.80, 110),
    ("吉安上游", _YZ, "赣江", "river", 2, "360800", 114.98, 27.05, 2.0, 0.15, 0.060, 1.20, 125),
    ("吉安下游", _YZ, "赣江", "river", 3, "360800", 115.05, 27.20, 2.5, 0.30, 0.085, 1.50, 140),
    ("新干渡口", _YZ, "赣江", "river", 3, "360800", 115.40, 27.75, 2.4, 0.25, 0.080, 1.45, 140),
    ("樟树水文站", _YZ, "赣江", "river", 3, "360900", 115.55, 28.05, 2.6, 0.30, 0.090, 1.60, 150),
    ("南昌上游", _YZ, "赣江", "river", 3, "360100", 115.85, 28.55, 2.7, 0.35, 0.095, 1.70, 160),
    ("南昌下游", _YZ, "赣江", "river", 3, "360100", 115.95, 28.75, 3.8, 0.85, 0.160, 2.40, 230),
    ("赣江北支", _YZ, "赣江", "river", 3, "360100", 116.00, 28.85, 3.0, 0.45, 0.110, 1.90, 180),
    ("抚州上游", _YZ, "抚河", "river", 2, "361000", 116.30, 27.85, 1.9, 0.14, 0.055, 1.10, 115),
    ("抚州下游", _YZ, "抚河", "river", 3, "361000", 116.35, 28.00, 2.6, 0.32, 0.090, 1.55, 145),
    ("廖坊水库", _YZ, "抚河", "reservoir", 2, "361000", 116.45, 27.80, 1.7, 0.09, 0.020, 0.70, 105),
    ("抚河进贤", _YZ, "抚河", "river", 3, "360100", 116.25, 28.40, 2.7, 0.35, 0.095, 1.65, 150),
    ("抚河入湖", _YZ, "抚河", "river", 3, "360100", 116.15, 28.60, 2.8, 0.38, 0.100, 1.70, 155),
    ("上饶上游", _YZ, "信江", "river", 2, "361100", 117.90, 28.45, 1.8, 0.12, 0.050, 1.05, 110),
    ("上饶下游", _YZ, "信江", "river", 3, "361100", 117.70, 28.40, 2.5, 0.30, 0.085, 1.50, 140),
    ("鹰潭上游", _YZ, "信江", "river", 3, "360600", 117.05, 28.22, 2.4, 0.28, 0.080, 1.45, 140),
    ("鹰潭下游", _YZ, "信江", "river", 3, "360600", 116.95, 28.30, 2.9, 0.45, 0.110, 1.80, 170),
    ("余干", _YZ, "信江", "river", 3, "361100", 116.70, 28.70, 2.7, 0.35, 0.095, 1.65, 150),
    ("景德镇上游", _YZ, "饶河", "river", 2, "360200", 117.20, 29.35, 1.9, 0.13, 0.050, 1.10, 115),
    ("景德镇下游", _YZ, "饶河", "river", 3, "360200", 117.15, 29.20, 2.8, 0.40, 0.100, 1.75, 160),
    ("乐安河德兴", _YZ, "饶河", "river", 3, "361100", 117.58, 28.95, 4.6, 1.40, 0.200, 2.80, 380),
    ("饶河鄱阳", _YZ, "饶河", "river", 3, "361100", 116.68, 29.00, 3.0, 0.55, 0.120, 1.90, 200),
    ("修水上游", _YZ, "修河", "river", 2, "360400", 114.55, 29.03, 1.8, 0.11, 0.045, 1.00, 105),
    ("柘林水库", _YZ, "修河", "reservoir", 2, "360400", 115.45, 29.20, 1.6, 0.08, 0.018, 0.65, 100),
    ("永修", _YZ, "修河", "river", 3, "360400", 115.80, 29.02, 2.5, 0.28, 0.080, 1.45, 135),
    ("修河入湖", _YZ, "修河", "river", 3, "360400", 115.95, 29.10, 2.6, 0.30, 0.085, 1.50, 140),
    ("长江九江上游", _YZ, "长江", "river", 2, "360400", 115.85, 29.75, 2.0, 0.12, 0.075, 1.60, 260),
    ("长江九江下游", _YZ, "长江", "river", 2, "360400", 116.20, 29.78, 2.2, 0.15, 0.085, 1.70, 270),
    ("袁河新余", _YZ, "袁河", "river", 3, "360500", 114.92, 27.82, 3.2, 0.55, 0.120, 2.00, 210),
    ("仙女湖", _YZ, "袁河", "reservoir", 2, "360500", 114.80, 27.70, 2.0, 0.12, 0.028, 0.90, 120),
    ("萍乡出境", _YZ, "萍水河", "river", 3, "360300", 113.80, 27.62, 4.8, 1.20, 0.230, 2.90, 420),
    ("寻乌水出境", _ZJ, "东江", "river", 2, "360700", 115.65, 24.95, 1.9, 0.20, 0.060, 1.80, 95),
    ("定南水出境", _ZJ, "东江", "river", 2, "360700", 115.05, 24.78, 2.0, 0.22, 0.065, 1.70, 100),
)


def jiangxi_sections(seed: int = 0) -> list[WaterSection]:
    """The simulated Jiangxi network (43 sections); ``seed`` only shifts reading offsets."""
    out = []
    for i, row in enumerate(_NETWORK):
        name, basin, body, stype, target, region, lon, lat, codmn, nh3n, tp, tn, cond = row
        offset = 3 if _u(seed, 7, i, 0, 0) < 0.3 else 0
        out.append(
            WaterSection(
                name, basin, body, stype, target, region, lon, lat, codmn, nh3n, tp, tn, cond, offset
            )
        )
    return out


def registry_csv(sections: Sequence[WaterSection]) -> bytes:
    """The section registry CSV for ``sections`` (what data engineers would maintain)."""
    return sections_csv(
        [
            {
                "section_code": s.code,
                "province": s.province,
                "basin": s.basin,
                "section_name": s.name,
                "water_body": s.water_body,
                "section_type": s.section_type,
                "target_class": s.target_class,
                "region_code": s.region_code,
                "longitude": s.longitude,
                "latitude": s.latitude,
            }
            for s in sections
        ]
    )


@dataclass(frozen=True)
class WaterQuirks:
    gap_rate: float = 0.02  # per item and reading: instrument gap, shown as --
    qc_fail_rate: float = 0.01  # per wet-chemistry item and section-day: 当天质控不合格
    offline_rate: float = 0.04  # per section and reading: no new reading (the board goes stale)
    maintenance_rate: float = 0.01  # per section and reading: every value --, class -1
    garbled_value_rate: float = 0.004  # per section and reading: one value cell is not a number
    garbled_time_rate: float = 0.003  # per section and reading: 监测时间 is --

    @classmethod
    def none(cls) -> WaterQuirks:
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


# ----------------------------------------------------------------------------------- randomness


def _u(seed: int, channel: int, section: int, slot: int, item: int) -> float:
    """Uniform [0, 1) from a hash of its keys (random access, no state)."""
    h = hashlib.blake2b(f"{seed}|{channel}|{section}|{slot}|{item}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") / 2.0**64


def _noise(seed: int, channel: int, section: int, slot: int, item: int) -> float:
    """Roughly standard normal (Box–Muller on two hashed uniforms)."""
    u1 = max(_u(seed, channel, section, slot, item), 1e-12)
    u2 = _u(seed, channel + 1000, section, slot, item)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _smooth(seed: int, section: int, item: int, hours: float) -> float:
    """Smooth variation in about [-1, 1]: three sinusoids with hashed periods (2–16 days) and phases."""
    total = 0.0
    for k in range(3):
        period = 48.0 + 336.0 * _u(seed, 11, section, k, item)
        phase = 2.0 * math.pi * _u(seed, 12, section, k, item)
        total += math.sin(2.0 * math.pi * hours / period + phase)
    return total / 2.0


def _do_saturation(temp_c: float) -> float:
    """Dissolved-oxygen saturation (mg/L) at sea level (APHA polynomial)."""
    t = temp_c
    return 14.652 - 0.41022 * t + 0.007991 * t * t - 0.000077774 * t**3


_EPOCH = dt.datetime(2000, 1, 1)


def _slot_index(t: dt.datetime) -> int:
    return int((t - _EPOCH).total_seconds() // 3600)


def reading(seed: int, index: int, section: WaterSection, at: dt.datetime) -> dict[str, float | None]:
    """Raw values (rounded as the platform reports them) of one section at reading time ``at``."""
    slot = _slot_index(at)
    hours = float(slot)
    doy = at.timetuple().tm_yday
    season = math.sin(2.0 * math.pi * (doy - 105) / 365.25)  # +1 late July, -1 late January
    flood = math.exp(-(((doy - 160) / 45.0) ** 2))  # Jiangxi's flood season peaks in June
    diurnal = math.sin(2.0 * math.pi * (at.hour - 9) / 24.0)  # warmest mid-afternoon

    def sm(item: int) -> float:
        return _smooth(seed, index, item, hours)

    def ln(item: int, sigma: float) -> float:
        return math.exp(sigma * _noise(seed, 1, index, slot, item))

    lake = section.is_lake
    temp = 18.0 + 11.0 * season + 1.2 * diurnal + 0.8 * sm(0) + 0.2 * _noise(seed, 1, index, slot, 0)
    temp = max(temp + (1.0 if lake and season > 0 else 0.0), 2.0)
    pollution = (section.nh3n / 0.5) + (section.codmn / 6.0)  # oxygen demand of the reach
    bloom = max(season, 0.0) * (1.0 if lake else 0.2)
    ph = 7.35 + 0.25 * sm(1) + 0.45 * bloom * (1 + 0.5 * sm(8)) + 0.08 * _noise(seed, 1, index, slot, 1)
    do = _do_saturation(temp) * (0.92 + 0.06 * sm(2) + 0.08 * bloom) - 0.9 * pollution + 0.5 * diurnal * bloom
    do = max(do + 0.15 * _noise(seed, 1, index, slot, 2), 0.3)
    codmn = section.codmn * (1 + 0.35 * flood + 0.15 * sm(3)) * ln(3, 0.10)
    nh3n = section.nh3n * (1 + 0.6 * max(-season, 0.0) + 0.25 * sm(4)) * ln(4, 0.20)
    tp = section.tp * (1 + 0.45 * flood + 0.2 * sm(5)) * ln(5, 0.15)
    tn = section.tn * (1 + 0.25 * max(-season, 0.0) + 0.15 * sm(6)) * ln(6, 0.10)
    cond = section.conductivity * (1 - 0.25 * flood + 0.1 * sm(7)) * ln(7, 0.05)
    turb = (25.0 if lake and section.section_type == "lake" else 8.0) * (1 + 3.0 * flood) * ln(9, 0.35)
    values: dict[str, float | None] = {
        "water_temp_c": temp,
        "ph": ph,
        "do_mgl": do,
        "conductivity_uscm": cond,
        "turbidity_ntu": turb,
        "codmn_mgl": codmn,
        "nh3n_mgl": nh3n,
        "tp_mgl": tp,
        "tn_mgl": tn,
        "chla_mgl": None,
        "algae_density_cells_l": None,
    }
    if lake:
        chla = 0.004 * (1 + 5.0 * bloom) * ln(10, 0.4)
        values["chla_mgl"] = chla
        values["algae_density_cells_l"] = chla * 3.0e9 * ln(11, 0.3)
    decimals = {c: raw for c, raw, _ in _VALUES}
    return {k: None if v is None else round(v, decimals[k]) for k, v in values.items()}


# ----------------------------------------------------------------------------------------- cells


def _fmt(value: float, decimals: int) -> str:
    if decimals == 0:
        return str(round(value))
    return f"{value:.{decimals}f}"


def _value_cell(value: float, raw_decimals: int, shown_decimals: int) -> str:
    if raw_decimals == 0 and value >= 1e7:  # the platform writes big algae counts in exponent form
        value = float(f"{value:.6E}")  # …and shows the 7 significant digits it keeps
        mantissa, exp = f"{value:.6E}".split("E")
        raw = f"{mantissa.rstrip('0').rstrip('.')}E{exp}"
    else:
        raw = f"{value:.{raw_decimals}f}".rstrip("0").rstrip(".") if raw_decimals else str(round(value))
    return f"<span title='原始值：{raw}'>{_fmt(value, shown_decimals)}</span>"


def _net_json(obj: object) -> bytes:
    """JSON as the platform's .NET serializer writes it: compact, CJK as is, <>'& escaped."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("'", "\\u0027"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text.encode()


# The platform's 水质类别, written here from DOMAIN.md §4 (GB 3838-2002 table 1) on purpose instead
# of calling transforms.water_class / schemas.gb3838_standard: tests compare our class with this
# published one, and a shared implementation would agree with itself whatever its bugs.
# Upper limits (mg/L) for classes I..V; DO is a lower limit; pH 6–9 in every class.
_PUBLISHED_LIMITS: dict[str, tuple[float, float, float, float, float]] = {
    "do_mgl": (7.5, 6.0, 5.0, 3.0, 2.0),
    "codmn_mgl": (2.0, 4.0, 6.0, 10.0, 15.0),
    "nh3n_mgl": (0.15, 0.5, 1.0, 1.5, 2.0),
    "tp_river": (0.02, 0.1, 0.2, 0.3, 0.4),
    "tp_lake": (0.01, 0.025, 0.05, 0.1, 0.2),  # lakes and reservoirs
}
_WORSE_THAN_V = 6  # 劣V as the platform writes it


def _limit_class(value: float, limits: Sequence[float], *, lower: bool = False) -> int:
    """Class 1..6 of one value: the first class whose limit it meets (≤, or ≥ for DO)."""
    for k, limit in enumerate(limits, start=1):
        if (value >= limit) if lower else (value <= limit):
            return k
    return _WORSE_THAN_V


def published_class(values: dict[str, float | None], section_type: str) -> int:
    """The platform's 水质类别 of one reading: the worst of pH, DO, CODMn, NH3-N and TP — TP on the
    lake limits for lakes and reservoirs — without TN (DOMAIN.md §4); -1 when none was measured."""
    tp_limits = "tp_lake" if section_type in ("lake", "reservoir") else "tp_river"
    classes = []
    ph = values.get("ph")
    if ph is not None and not 6.0 <= ph <= 9.0:  # inside 6–9 pH says nothing of the class
        classes.append(_WORSE_THAN_V)
    for col, limits, lower in (
        ("do_mgl", "do_mgl", True),
        ("codmn_mgl", "codmn_mgl", False),
        ("nh3n_mgl", "nh3n_mgl", False),
        ("tp_mgl", tp_limits, False),
    ):
        value = values.get(col)
        if value is not None:
            classes.append(_limit_class(value, _PUBLISHED_LIMITS[limits], lower=lower))
    return max(classes, default=-1)


def board_rows(
    sections: Sequence[WaterSection],
    now: dt.datetime,
    *,
    seed: int,
    quirks: WaterQuirks,
    publish_lag: dt.timedelta,
) -> tuple[list[list[str]], dt.datetime | None]:
    """Every section's row of the board at Beijing time ``now`` (naive), and the board's update time."""
    visible = now - publish_lag
    latest: list[dt.datetime] = []
    for i, s in enumerate(sections):
        t = visible.replace(minute=0, second=0, microsecond=0)
        t -= dt.timedelta(hours=(t.hour - s.offset_h) % READING_EVERY_H)
        for _ in range(12):  # an offline section keeps showing its last reading (up to 2 days old)
            if _u(seed, 20, i, _slot_index(t), 0) >= quirks.offline_rate:
                break
            t -= dt.timedelta(hours=READING_EVERY_H)
        latest.append(t)
    values = [reading(seed, i, s, t) for i, (s, t) in enumerate(zip(sections, latest, strict=True))]
    for i, t in enumerate(latest):
        slot = _slot_index(t)
        if _u(seed, 21, i, slot, 0) < quirks.maintenance_rate:
            values[i] = dict.fromkeys(values[i])
            continue
        for k, (col, _, _) in enumerate(_VALUES):
            if _u(seed, 22, i, slot, k) < quirks.gap_rate:
                values[i][col] = None
    # The platform classifies before it withholds QC-failed values from the display (the real
    # snapshot's 南刘庄: CODMn withheld, class III published, II from what is shown).
    published = [published_class(v, s.section_type) for v, s in zip(values, sections, strict=True)]
    rows: list[list[str]] = []
    for i, (s, t) in enumerate(zip(sections, latest, strict=True)):
        slot = _slot_index(t)
        day = _slot_index(dt.datetime.combine(t.date(), dt.time()))
        cells = [s.province, s.basin, s.name, f"{t:%m-%d %H:%M}", str(published[i])]
        for k, (col, raw_dec, shown_dec) in enumerate(_VALUES):
            v = values[i][col]
            if col in _QC_ITEMS and _u(seed, 23, i, day, k) < quirks.qc_fail_rate:
                cells.append(_QC_SPAN)
            elif v is None:
                cells.append("--")
            else:
                cells.append(_value_cell(v, raw_dec, shown_dec))
        if _u(seed, 24, i, slot, 0) < quirks.garbled_value_rate:
            k = 5 + int(_u(seed, 25, i, slot, 0) * len(_VALUES))
            cells[k] = "<span title='原始值：仪器故障'>故障</span>"
        if _u(seed, 26, i, slot, 0) < quirks.garbled_time_rate:
            cells[3] = "--"
        rows.append(cells)
    updated = max(latest) + publish_lag if latest else None
    return rows, updated


def board_reply(rows: list[list[str]], page: int, page_size: int) -> bytes:
    """One page of the board as the platform's JSON reply."""
    pages = max(1, math.ceil(len(rows) / page_size))
    body = rows[(page - 1) * page_size : page * page_size] if page >= 1 else []
    return _net_json({"result": 1, "total": pages, "records": len(rows), "thead": list(THEAD), "tbody": body})


class WaterUpstream:
    """The surface-water real-time board, mounted at ``/water/`` (see the module docstring)."""

    prefix = "water"
    path = "Publish.ashx"

    def __init__(
        self,
        sections: Sequence[WaterSection],
        *,
        seed: int,
        clock: SimClock,
        quirks: WaterQuirks | None = None,
        max_page_size: int = 20,
        publish_lag: dt.timedelta = dt.timedelta(minutes=30),
    ) -> None:
        self.sections = tuple(sections)
        self.seed = seed
        self.clock = clock
        self.quirks = quirks or WaterQuirks()
        self.max_page_size = max_page_size
        self.publish_lag = publish_lag
        self._board = lru_cache(maxsize=16)(self._render)

    def _render(self, at: dt.datetime) -> tuple[tuple[list[str], ...], dt.datetime | None]:
        rows, updated = board_rows(
            self.sections, at, seed=self.seed, quirks=self.quirks, publish_lag=self.publish_lag
        )
        return tuple(rows), updated

    def board(self) -> tuple[list[list[str]], dt.datetime | None]:
        """The board at the simulated now (rows, update time); recomputed once per minute of the clock."""
        now = self.clock.now().replace(second=0, microsecond=0)
        rows, updated = self._board(now)
        return list(rows), updated

    def handle(self, request: Request, subpath: str) -> Resource | Response | None:
        if subpath == "sections.csv":  # convenience: the registry the province keeps for this network
            return Resource(registry_csv(self.sections), "text/csv; charset=utf-8")
        if subpath != self.path:
            return None
        query = request.query
        action = (query.get("action") or [""])[0]
        if action != "getRealDatas":
            return Response(400, b"unknown action\n")
        try:
            page = int((query.get("PageIndex") or ["1"])[0])
            size = int((query.get("PageSize") or ["60"])[0])
        except ValueError:
            return Response(400, b"PageIndex and PageSize must be integers\n")
        rows, updated = self.board()
        body = board_reply(rows, page, max(1, min(size, self.max_page_size)))
        return Resource(body, "application/json; charset=utf-8", updated)
