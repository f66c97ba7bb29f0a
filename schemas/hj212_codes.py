"""HJ 212-2017 code tables (DOMAIN.md §1).

System codes (ST), command codes (CN), reply codes (QnRtn), data flags, facility states and the
common pollutant codes with their HJ/T 212-2005 predecessors.  2005 codes are mapped to 2017 codes
by :data:`CODE_2005_TO_2017`; the two code spaces do not overlap (2017 codes are a letter and five
digits, 2005 codes are 2–3 characters), so the mapping is applied to every packet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "CN_CODES",
    "CODE_2005_TO_2017",
    "DATA_CNS",
    "DATA_FLAGS",
    "FACILITY_STATES",
    "FACILITY_UNITS",
    "POLLUTANTS",
    "QN_RTN",
    "QUARANTINE_REASON_LABELS",
    "ST_CODES",
    "Pollutant",
    "QnRtn",
    "pollutant",
]

# ST — system codes (HJ 212-2017 table 5, DOMAIN.md §1).
ST_CODES: Final = MappingProxyType(
    {
        "21": "surface water quality",
        "22": "ambient air quality",
        "23": "noise",
        "24": "groundwater",
        "25": "soil",
        "26": "seawater",
        "27": "VOC",
        "31": "air pollution source",
        "32": "surface-water pollution source",
        "33": "groundwater pollution source",
        "34": "marine pollution source",
        "35": "soil pollution source",
        "36": "noise pollution source",
        "37": "vibration pollution source",
        "38": "radioactive pollution source",
        "39": "construction dust",
        "41": "electromagnetic pollution source",
        "51": "flue-gas treatment process",
        "52": "wastewater treatment process",
        "91": "system interaction",
    }
)

# CN — command codes used by this platform (HJ 212-2017 table 6, DOMAIN.md §1).
CN_CODES: Final = MappingProxyType(
    {
        "2011": "real-time data",
        "2021": "facility running state",
        "2031": "daily data",
        "2041": "daily facility run time",
        "2051": "minute data",
        "2061": "hourly data",
        "2081": "data logger boot time",
        "9011": "request reply (QnRtn)",
        "9012": "execution result (ExeRtn)",
        "9013": "notice reply",
        "9014": "data reply",
    }
)

# Commands whose CP carries measurement or state data and therefore must have DataTime.
# DataTime is the sampling instant for 2011/2021 and the period start for 2031/2041/2051/2061.
DATA_CNS: Final = frozenset({"2011", "2021", "2031", "2041", "2051", "2061"})


class QnRtn:
    """Values of ``QnRtn`` in a 9011 reply (HJ 212-2017 table 7)."""

    READY: Final = 1
    REJECTED: Final = 2
    PW_ERROR: Final = 3
    MN_ERROR: Final = 4
    ST_ERROR: Final = 5
    FLAG_ERROR: Final = 6
    QN_ERROR: Final = 7
    CN_ERROR: Final = 8
    CRC_ERROR: Final = 9
    UNKNOWN: Final = 100


QN_RTN: Final = MappingProxyType(
    {
        1: "ready to execute",
        2: "request rejected",
        3: "PW error",
        4: "MN error",
        5: "ST error",
        6: "Flag error",
        7: "QN error",
        8: "CN error",
        9: "CRC error",
        100: "unknown error",
    }
)

# Data flags (``<code>-Flag``).  T is above the instrument's measuring range, NOT "over the limit".
DATA_FLAGS: Final = MappingProxyType(
    {
        "N": "normal",
        "F": "instrument stopped",
        "M": "maintenance",
        "S": "manually entered",
        "D": "fault",
        "C": "calibration",
        "T": "above measuring range",
        "B": "instrument-logger communication fault",
    }
)

# A facility's items (``SBxxx-RS`` its running state, ``SBxxx-RT`` its run time) and their units.
FACILITY_UNITS: Final = MappingProxyType({"RS": None, "RT": "h"})

# Facility running state (``SBxxx-RS``).
FACILITY_STATES: Final = MappingProxyType(
    {
        0: "off",
        1: "running",
        2: "calibrating",
        3: "maintenance",
        4: "alarm",
        5: "blowback",
    }
)


@dataclass(frozen=True, slots=True)
class Pollutant:
    """One pollutant of the HJ 212 table. ``name`` is its English name as pages and evidence print it —
    the formula or abbreviation where the standards use one (SO2, COD) — and ``full_name`` the English
    term in full (sulfur dioxide, chemical oxygen demand; ``name`` itself where that is already in
    full). A catalog search finds it by any of its names (ecocloud.web.queries)."""

    code: str
    name: str
    name_zh: str
    unit: str
    cou_unit: str | None = None
    code_2005: str | None = None
    other_names_zh: tuple[
        str, ...
    ] = ()  # as standards and permits also write it (a search finds it by these)
    full_name: str = ""  # "": ``name`` is in full
    other_names: tuple[str, ...] = ()  # other English spellings a search finds it by (sulphur dioxide)

    def __post_init__(self) -> None:
        if not self.full_name:
            object.__setattr__(self, "full_name", self.name)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name it goes by, Chinese and English (not its codes)."""
        return (self.name_zh, *self.other_names_zh, self.name, self.full_name, *self.other_names)


# Units as HJ 212-2017 annex B gives them: a concentration's, and its Cou's (the emitted amount of
# a period: kg for the mass of these pollutants, m³ for the flows); DOMAIN.md §1 quotes three rows.
_POLLUTANT_ROWS: tuple[Pollutant, ...] = (
    Pollutant("w00000", "wastewater flow", "污水流量", "L/s", "m³", "B01"),
    Pollutant("w01001", "pH", "pH值", "-", None, "001", full_name="pH value"),
    Pollutant("w01009", "dissolved oxygen", "溶解氧", "mg/L"),
    Pollutant("w01010", "water temperature", "水温", "°C"),
    Pollutant("w01012", "suspended solids", "悬浮物", "mg/L", "kg", "003"),
    Pollutant("w01014", "conductivity", "电导率", "µS/cm"),
    Pollutant(
        "w01017", "BOD5", "五日生化需氧量", "mg/L", "kg", "010",
        full_name="five-day biochemical oxygen demand", other_names=("biochemical oxygen demand",),
    ),
    Pollutant("w01018", "COD", "化学需氧量", "mg/L", "kg", "011", full_name="chemical oxygen demand"),
    Pollutant(
        "w01019", "permanganate index CODMn", "高锰酸盐指数", "mg/L", "kg",
        full_name="permanganate index", other_names=("CODMn",),
    ),
    Pollutant("w21001", "total nitrogen", "总氮", "mg/L", "kg", "065"),
    Pollutant("w21003", "ammonia nitrogen", "氨氮", "mg/L", "kg", "060", other_names=("NH3-N",)),
    Pollutant("w21011", "total phosphorus", "总磷", "mg/L", "kg", "101"),
    Pollutant("w22001", "petroleum", "石油类", "mg/L", "kg", "080", other_names=("petroleum oil",)),
    Pollutant("a00000", "flue-gas flow", "废气流量", "m³/s", "m³", "B02"),
    Pollutant("a01011", "flue-gas velocity", "烟气流速", "m/s", None, "S02"),
    Pollutant("a01012", "flue-gas temperature", "烟气温度", "°C", None, "S03"),
    Pollutant("a01013", "flue-gas pressure", "烟气压力", "kPa", None, "S08"),
    Pollutant("a01014", "flue-gas humidity", "烟气湿度", "%", None, "S05"),
    Pollutant("a19001", "O2", "氧气含量", "%", None, "S01", full_name="oxygen content"),
    Pollutant(
        "a21026", "SO2", "二氧化硫", "mg/m³", "kg", "02",
        full_name="sulfur dioxide", other_names=("sulphur dioxide",),
    ),
    Pollutant("a21002", "NOx", "氮氧化物", "mg/m³", "kg", "03", full_name="nitrogen oxides"),
    Pollutant(
        "a21003", "NO", "一氧化氮", "mg/m³", "kg", full_name="nitric oxide", other_names=("nitrogen monoxide",)
    ),
    Pollutant("a21004", "NO2", "二氧化氮", "mg/m³", "kg", full_name="nitrogen dioxide"),
    Pollutant("a21005", "CO", "一氧化碳", "mg/m³", "kg", "04", full_name="carbon monoxide"),
    Pollutant(
        "a34013", "smoke / particulates", "烟尘", "mg/m³", "kg", "01", ("颗粒物",),
        full_name="particulate matter", other_names=("particulates", "smoke", "soot"),
    ),
    Pollutant("a24088", "non-methane hydrocarbons", "非甲烷总烃", "mg/m³", other_names=("NMHC",)),
    Pollutant("a34002", "PM10", "PM10", "µg/m³", full_name="inhalable particulate matter"),
    Pollutant("a34004", "PM2.5", "PM2.5", "µg/m³", full_name="fine particulate matter"),
    # Not in the 2017 annex, common at ambient stations.
    Pollutant("a05024", "O3", "臭氧", "µg/m³", full_name="ozone"),
)  # fmt: skip

POLLUTANTS: Final = MappingProxyType({p.code: p for p in _POLLUTANT_ROWS})

# 2005 code -> 2017 code (DOMAIN.md §1 table).
CODE_2005_TO_2017: Final = MappingProxyType(
    {p.code_2005: p.code for p in _POLLUTANT_ROWS if p.code_2005 is not None}
)


def pollutant(code: str) -> Pollutant | None:
    """Look up a pollutant by its 2017 code or its 2005 code."""
    p = POLLUTANTS.get(code)
    if p is None:
        mapped = CODE_2005_TO_2017.get(code)
        if mapped is not None:
            p = POLLUTANTS.get(mapped)
    return p


def pollutant_as_typed(code: str) -> Pollutant | None:
    """:func:`pollutant` for a code a person typed (a permit, a registry file) rather than a logger
    sent: as given, else in the case the standard writes it (``A21026`` is ``a21026``)."""
    return pollutant(code) or pollutant(code.lower()) or pollutant(code.upper())


_CODE_2017 = re.compile(r"[aw]\d{5}", re.IGNORECASE)  # HJ 212-2017: a (air) or w (water), five digits


def code_as_typed(code: str) -> str:
    """The code a person typed as loggers send it: a known one's 2017 code; another shaped like a 2017
    code (an annex code outside our table) in lower case, as loggers write them; else as given."""
    known = pollutant_as_typed(code)
    if known is not None:
        return known.code
    return code.lower() if _CODE_2017.fullmatch(code) else code


# Why a line is in quarantine_source__packets (machine-readable reason → Chinese and English label):
# the one declaration of the reasons the HJ 212 code writes — the parser's, the receiver's, the batch
# parser's and the source build's (what gives each: ingest.hj212.protocol's docstring). A missing
# field is written ``missing_field:<NAME>``. schemas.source.QUARANTINE_REASONS is these as Codes;
# ingest.hj212.protocol checks every reason it defines against them at import.
_MISSING_FIELDS = {
    "CP": ("数据区 CP", "the data area CP"),
    "ST": ("系统编码 ST", "the system code ST"),
    "CN": ("命令编码 CN", "the command code CN"),
    "PW": ("访问密码 PW", "the password PW"),
    "MN": ("设备唯一标识 MN", "the device id MN"),
    "QN": ("请求编码 QN", "the request number QN"),
    "PNUM": ("总包数 PNUM", "the packet count PNUM"),
    "PNO": ("包号 PNO", "the packet number PNO"),
}
QUARANTINE_REASON_LABELS: Final = MappingProxyType(
    {
        "empty": ("空行", "empty line"),
        "bad_header": ("包头不是“##”", "does not start with ##"),
        "missing_tail": ("行尾缺少回车换行（CR LF）", "does not end with CR LF"),
        "bad_length_field": ("数据段长度字段不是 4 位数字", "length field is not 4 digits"),
        "oversize": ("数据段超过 1024 字节", "data segment over 1,024 bytes"),
        "length_mismatch": ("数据段长度与声明不符", "data segment length differs from the declared"),
        "bad_crc_field": ("CRC 字段不是 4 位十六进制数", "CRC field is not 4 hex digits"),
        "crc_mismatch": ("CRC 校验不符", "CRC does not match"),
        "not_utf8": ("数据段不是 UTF-8 编码", "data segment is not UTF-8"),
        **{
            f"missing_field:{name}": (f"缺少{zh}", f"{en} is missing")
            for name, (zh, en) in _MISSING_FIELDS.items()
        },
        "bad_field": ("数据段字段缺少“=”", "a data-segment field without ="),
        "bad_cp": ("数据区 CP 格式错误", "malformed data area CP"),
        "bad_flag": ("Flag 无效", "invalid Flag"),
        "bad_split": ("分包 PNUM/PNO 无效", "invalid PNUM/PNO"),
        "bad_datatime": ("数据时间 DataTime 无效", "invalid DataTime"),
        "bad_value": ("数值无效", "a value is not a number"),
        "internal_error": ("解析内部错误", "internal parser error"),
        "unknown_mn": ("未登记的 MN", "unregistered MN"),
        "bad_pw": ("访问密码错误", "wrong password"),
        "line_too_long": ("行过长（已截断）", "line too long (truncated)"),
        "auth_throttled": ("认证多次失败，暂时拒收", "refused after repeated failed authentications"),
        "mn_budget_exceeded": ("该 MN 超出接收数据量上限", "the MN's data budget is spent"),
        "no_datatime": ("数据包缺少数据时间 DataTime", "data packet without DataTime"),
        "split_no_datatime": ("分包缺少带数据时间的首包", "split packet without its first part (DataTime)"),
        "data_time_ahead_of_receipt": (
            "数据时间超前于接收时间（数采仪时钟偏快）",
            "DataTime ahead of receipt (logger clock fast)",
        ),
        "capture_unreadable": ("抓包文件无法读取", "capture file unreadable"),
        "segment_manifest_unreadable": ("段清单无法读取", "segment manifest unreadable"),
        "segment_manifest_mismatch": ("段与其清单不符", "segment differs from its manifest"),
    }
)
