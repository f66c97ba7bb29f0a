"""GB/T 2260 prefecture codes of the provinces served, with their names in Chinese and English, the
served provinces' own names (``360000`` 江西省), the legacy prefecture codes and their successors,
and the provinces' two-digit codes (DOMAIN.md §5):
reference data, as data. Matching a name to its code is
``transforms.identifiers.prefecture_from_name``; a report's label, ``ecocloud.risk_report.region_label``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "GUIZHOU_PREFECTURES",
    "JIANGXI_PREFECTURES",
    "LEGACY_REGION_CODES",
    "PREFECTURE_NAMES",
    "PREFECTURE_NAMES_EN",
    "PROVINCE_CODES",
    "PROVINCE_NAMES",
    "PROVINCE_NAMES_EN",
]

# Prefecture names as used in credit files (the 市 suffix is optional).
JIANGXI_PREFECTURES: Final = {
    "360100": "南昌",
    "360200": "景德镇",
    "360300": "萍乡",
    "360400": "九江",
    "360500": "新余",
    "360600": "鹰潭",
    "360700": "赣州",
    "360800": "吉安",
    "360900": "宜春",
    "361000": "抚州",
    "361100": "上饶",
}
GUIZHOU_PREFECTURES: Final = {
    "520100": "贵阳",
    "520200": "六盘水",
    "520300": "遵义",
    "520400": "安顺",
    "520500": "毕节",
    "520600": "铜仁",
    "522300": "黔西南",
    "522600": "黔东南",
    "522700": "黔南",
}
PREFECTURE_NAMES: Final = {**JIANGXI_PREFECTURES, **GUIZHOU_PREFECTURES}
# The same prefectures in Hanyu Pinyin, as their English names are written (autonomous prefectures by
# their short name, as above)
PREFECTURE_NAMES_EN: Final = {
    "360100": "Nanchang",
    "360200": "Jingdezhen",
    "360300": "Pingxiang",
    "360400": "Jiujiang",
    "360500": "Xinyu",
    "360600": "Yingtan",
    "360700": "Ganzhou",
    "360800": "Ji'an",
    "360900": "Yichun",
    "361000": "Fuzhou",
    "361100": "Shangrao",
    "520100": "Guiyang",
    "520200": "Liupanshui",
    "520300": "Zunyi",
    "520400": "Anshun",
    "520500": "Bijie",
    "520600": "Tongren",
    "522300": "Qianxinan",
    "522600": "Qiandongnan",
    "522700": "Qiannan",
}

# The provinces served, by the two digits of their codes (``360000`` is 江西省 as a whole)
PROVINCE_NAMES: Final = {"36": "江西省", "52": "贵州省"}
PROVINCE_NAMES_EN: Final = {"36": "Jiangxi", "52": "Guizhou"}

# Prefectures that became prefecture-level cities and got new codes (地区 → 市).
LEGACY_REGION_CODES: Final = {"522200": "520600", "522400": "520500"}

# GB/T 2260: the first two digits of every region code name one of the 34 provincial-level divisions
PROVINCE_CODES: Final = frozenset((
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
    "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
))  # fmt: skip
