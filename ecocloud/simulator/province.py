"""Simulated monitoring networks: a Jiangxi province and a national-scale station set.

Everything here is generated, deterministic from a seed, and deliberately *not* the real network:
station codes are shaped like the national ones (four characters and a trailing ``A``) but start
with a letter (``J001A`` …) so they can never collide with a real code (real codes are all digits
before the ``A``); names are composed from a generic vocabulary; coordinates are scattered around
each city's approximate centre.

Geography that *is* real and public: the 11 prefecture cities of Jiangxi with their GB/T 2260
region codes (DOMAIN.md §5), and, for the national set, the province code prefixes and city names.
Region codes of cities outside Jiangxi and Guizhou are synthetic (province prefix + sequence).

Quirks of the real station list are station properties, so that the day files and the station
list agree on them: ``listed=False`` (the station reports in the day files but is missing from the
station list) and ``list_coords`` (the list shows ``-`` or nothing instead of coordinates).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "JIANGXI_CITIES",
    "City",
    "Station",
    "jiangxi_stations",
    "national_cities",
    "national_stations",
]

ListCoords = Literal["value", "dash", "empty"]


@dataclass(frozen=True)
class City:
    name: str  # as written in the station list's 城市 column
    region_code: str  # GB/T 2260 prefecture code (synthetic outside Jiangxi/Guizhou)
    longitude: float  # approximate centre
    latitude: float
    stations: int = 4  # default number of stations in the simulated network
    counties: tuple[str, ...] = ()  # GB/T 2260 codes of some of its districts and counties

    def county(self, k: int) -> str:
        """The region code of its ``k``-th registered business: one of its counties in turn (an
        enterprise registers where it is, under a county), the prefecture's where none are known."""
        return self.counties[k % len(self.counties)] if self.counties else self.region_code


@dataclass(frozen=True)
class Station:
    code: str  # 监测点编码
    name: str  # 监测点名称
    city: str  # 城市
    region_code: str  # prefecture region code of the city
    longitude: float  # true position (used by the generator even when the list hides it)
    latitude: float
    control: bool = False  # 对照点 (background station)
    listed: bool = True  # False: in the day files but missing from the station list
    list_coords: ListCoords = "value"  # how the station list shows the coordinates


# DOMAIN.md §5 (GB/T 2260). Centres are approximate; station counts are the simulation's choice.
JIANGXI_CITIES: tuple[City, ...] = (
    City("南昌", "360100", 115.89, 28.68, 8, ("360102", "360103", "360104", "360111", "360112", "360121", "360124")),
    City("景德镇", "360200", 117.18, 29.27, 3, ("360202", "360203", "360222", "360281")),
    City("萍乡", "360300", 113.85, 27.62, 3, ("360302", "360313", "360321", "360322", "360323")),
    City("九江", "360400", 115.99, 29.71, 5, ("360402", "360403", "360404", "360425", "360429", "360481")),
    City("新余", "360500", 114.92, 27.82, 3, ("360502", "360521")),
    City("鹰潭", "360600", 117.07, 28.26, 3, ("360602", "360603", "360681")),
    City("赣州", "360700", 114.93, 25.83, 6, ("360702", "360703", "360704", "360781")),
    City("吉安", "360800", 114.99, 27.11, 4, ("360802", "360803", "360821", "360881")),
    City("宜春", "360900", 114.42, 27.81, 4, ("360902", "360921", "360981", "360982", "360983")),
    City("抚州", "361000", 116.36, 27.95, 4, ("361002", "361003", "361021")),
    City("上饶", "361100", 117.94, 28.45, 5, ("361102", "361103", "361104", "361181")),
)  # fmt: skip

# Generic parts of station names (composed, not taken from any real list).
_URBAN_NAMES: tuple[str, ...] = (
    "市监测站", "市政府", "环保大楼", "高新区", "经开区", "新区管委会", "城东", "城西", "城南", "城北",
    "老城区", "滨江路", "人民公园", "体育中心", "文化宫", "师范学院", "职业技术学院", "第一中学",
    "实验小学", "火车站", "客运站", "自来水厂", "气象局", "党校", "图书馆", "工业园", "商贸城",
    "湿地公园", "科技园", "大学城", "港区", "行政中心", "中心医院", "会展中心", "青年广场", "滨湖新城",
    "站前路", "解放路", "建设路", "东湖", "西湖路", "南门", "北门", "开发区", "化工园", "物流园",
    "航空港", "铁路新村", "纺织厂", "电厂生活区",
)  # fmt: skip
_CONTROL_NAMES: tuple[str, ...] = (
    "林科所", "西山林场", "北山水库", "森林公园", "植物园", "风景区", "湿地保护区", "东湖水库",
    "南山公园", "茶场", "梅岭", "青山湖",
)  # fmt: skip

# A 5-character code: one letter, three digits, "A". Real national codes are digits before the "A".
_CODE_LETTERS = "KLMNPQRSTUVWXYZ"


def _station_code(letter: str, number: int) -> str:
    return f"{letter}{number:03d}A"


def _city_stations(
    rng: random.Random, city: City, n: int, first_number: int, letter: str, *, spread: float = 0.06
) -> list[Station]:
    """``n`` stations of one city; the last one is the city's control point (when n ≥ 2)."""
    names = rng.sample(_URBAN_NAMES, min(n, len(_URBAN_NAMES)))
    while len(names) < n:  # very large cities: number the repeats
        names.append(f"{rng.choice(_URBAN_NAMES)}{len(names) + 1}号")
    out: list[Station] = []
    for i in range(n):
        control = n >= 2 and i == n - 1
        if control:
            name = f"{rng.choice(_CONTROL_NAMES)}(对照点)"
            # outskirts: 0.12°–0.25° from the centre in a random direction
            dx = rng.choice((-1, 1)) * rng.uniform(0.12, 0.25)
            dy = rng.choice((-1, 1)) * rng.uniform(0.12, 0.25)
        else:
            name = names[i]
            dx, dy = rng.uniform(-spread, spread), rng.uniform(-spread, spread)
        out.append(
            Station(
                code=_station_code(letter, first_number + i),
                name=name,
                city=city.name,
                region_code=city.region_code,
                longitude=round(city.longitude + dx, 4),
                latitude=round(city.latitude + dy, 4),
                control=control,
            )
        )
    return out


def _apply_list_quirks(
    rng: random.Random, stations: list[Station], *, unlisted: int, bad_coords: int
) -> list[Station]:
    """Mark ``unlisted`` non-control stations as missing from the list, ``bad_coords`` others as
    shown with ``-`` (even picks) or empty (odd picks) coordinates."""
    candidates = [i for i, s in enumerate(stations) if not s.control]
    picks = rng.sample(candidates, min(len(candidates), unlisted + bad_coords))
    out = list(stations)
    for k, i in enumerate(picks):
        if k < unlisted:
            out[i] = replace(out[i], listed=False)
        else:
            out[i] = replace(out[i], list_coords="dash" if (k - unlisted) % 2 == 0 else "empty")
    return out


def jiangxi_stations(seed: int = 0, *, unlisted: int = 1, bad_coords: int = 2) -> list[Station]:
    """The simulated Jiangxi network: 48 stations in the 11 prefecture cities, one control point
    (对照点) per city, codes ``J001A`` …, deterministic from ``seed``.

    ``unlisted`` stations report in day files but are missing from the station list;
    ``bad_coords`` stations are listed with ``-`` or empty coordinates. Pass 0 for a clean network.
    """
    rng = random.Random(f"jiangxi:{seed}")
    stations: list[Station] = []
    for city in JIANGXI_CITIES:
        stations += _city_stations(rng, city, city.stations, len(stations) + 1, "J")
    return _apply_list_quirks(rng, stations, unlisted=unlisted, bad_coords=bad_coords)


# --------------------------------------------------------------------------------------------------
# National scale

# One province per line: code, centre lon, centre lat, half-extent lon, half-extent lat, cities
# (the first is the capital); an indented line continues the city list of the line above.
_PROVINCES_TEXT = """
11 116.40 39.90 0.3 0.2 北京
12 117.20 39.10 0.3 0.3 天津
13 115.50 38.50 1.5 1.5 石家庄 唐山 秦皇岛 邯郸 邢台 保定 张家口 承德 沧州 廊坊 衡水
14 112.50 37.80 1.0 1.8 太原 大同 阳泉 长治 晋城 朔州 晋中 运城 忻州 临汾 吕梁
15 111.70 41.00 5.0 1.5 呼和浩特 包头 乌海 赤峰 通辽 鄂尔多斯 呼伦贝尔 巴彦淖尔 乌兰察布 兴安盟
    锡林郭勒盟 阿拉善盟
21 123.00 41.50 1.8 1.2 沈阳 大连 鞍山 抚顺 本溪 丹东 锦州 营口 阜新 辽阳 盘锦 铁岭 朝阳 葫芦岛
22 126.00 43.50 2.0 1.0 长春 吉林 四平 辽源 通化 白山 松原 白城 延边州
23 127.50 46.50 3.0 2.0 哈尔滨 齐齐哈尔 鸡西 鹤岗 双鸭山 大庆 伊春 佳木斯 七台河 牡丹江 黑河 绥化
    大兴安岭地区
31 121.45 31.20 0.3 0.3 上海
32 119.50 32.50 1.3 1.5 南京 无锡 徐州 常州 苏州 南通 连云港 淮安 盐城 扬州 镇江 泰州 宿迁
33 120.20 29.30 1.2 1.2 杭州 宁波 温州 嘉兴 湖州 绍兴 金华 衢州 舟山 台州 丽水
34 117.20 31.80 1.0 1.8 合肥 芜湖 蚌埠 淮南 马鞍山 淮北 铜陵 安庆 黄山 滁州 阜阳 宿州 六安 亳州 池州
    宣城
35 118.30 26.00 1.2 1.5 福州 厦门 莆田 三明 泉州 漳州 南平 龙岩 宁德
36 - - - - (JIANGXI_CITIES)
37 118.00 36.40 2.0 1.0 济南 青岛 淄博 枣庄 东营 烟台 潍坊 济宁 泰安 威海 日照 临沂 德州 聊城 滨州
    菏泽
41 113.60 34.00 1.5 1.5 郑州 开封 洛阳 平顶山 安阳 鹤壁 新乡 焦作 濮阳 许昌 漯河 三门峡 南阳 商丘
    信阳 周口 驻马店 济源
42 112.30 30.90 2.0 1.2 武汉 黄石 十堰 宜昌 襄阳 鄂州 荆门 孝感 荆州 黄冈 咸宁 随州 恩施州
43 112.00 27.60 1.5 1.8 长沙 株洲 湘潭 衡阳 邵阳 岳阳 常德 张家界 益阳 郴州 永州 怀化 娄底 湘西州
44 113.30 23.10 2.0 1.2 广州 韶关 深圳 珠海 汕头 佛山 江门 湛江 茂名 肇庆 惠州 梅州 汕尾 河源 阳江
    清远 东莞 中山 潮州 揭阳 云浮
45 108.50 23.50 2.0 1.5 南宁 柳州 桂林 梧州 北海 防城港 钦州 贵港 玉林 百色 贺州 河池 来宾 崇左
46 110.00 19.20 0.8 0.6 海口 三亚
50 106.90 29.90 1.2 1.0 重庆
51 104.50 30.50 2.0 1.8 成都 自贡 攀枝花 泸州 德阳 绵阳 广元 遂宁 内江 乐山 南充 眉山 宜宾 广安 达州
    雅安 巴中 资阳 阿坝州 甘孜州 凉山州
52 106.70 26.80 1.5 1.2 贵阳 六盘水 遵义 安顺 毕节 铜仁 黔西南州 黔东南州 黔南州
53 102.00 25.00 2.5 2.0 昆明 曲靖 玉溪 保山 昭通 丽江 普洱 临沧 楚雄州 红河州 文山州 西双版纳州
    大理州 德宏州 怒江州 迪庆州
54 91.10 29.60 4.0 1.5 拉萨 日喀则 昌都 林芝 山南 那曲 阿里地区
61 108.90 35.00 1.2 2.0 西安 铜川 宝鸡 咸阳 渭南 延安 汉中 榆林 安康 商洛
62 103.80 36.00 3.5 2.0 兰州 嘉峪关 金昌 白银 天水 武威 张掖 平凉 酒泉 庆阳 定西 陇南 临夏州 甘南州
63 98.00 36.00 3.0 1.0 西宁 海东 海北州 黄南州 海南州 果洛州 玉树州 海西州
64 106.20 37.50 0.6 1.0 银川 石嘴山 吴忠 固原 中卫
65 85.00 42.50 6.0 3.0 乌鲁木齐 克拉玛依 吐鲁番 哈密 昌吉州 博州 巴州 阿克苏地区 克州 喀什地区
    和田地区 伊犁哈萨克州 塔城地区 阿勒泰地区 石河子 五家渠
"""


def _provinces() -> list[tuple[str, float, float, float, float, list[str]]]:
    out: list[tuple[str, float, float, float, float, list[str]]] = []
    for line in _PROVINCES_TEXT.strip("\n").splitlines():
        if line.startswith(" "):
            out[-1][5].extend(line.split())
            continue
        code, lon, lat, dlon, dlat, *names = line.split()
        if code == "36":  # Jiangxi: JIANGXI_CITIES with their real centres
            out.append((code, 0.0, 0.0, 0.0, 0.0, []))
            continue
        out.append((code, float(lon), float(lat), float(dlon), float(dlat), names))
    return out


# Guizhou's real prefecture codes (DOMAIN.md §5); other provinces get prefix + sequence.
_GUIZHOU_CODES = ("520100", "520200", "520300", "520400", "520500", "520600", "522300", "522600", "522700")
_MUNICIPALITIES = frozenset({"北京", "天津", "上海", "重庆"})


def national_cities(seed: int = 0) -> list[City]:
    """About 370 cities in the 31 provinces with plausible centres and a station-count weight
    (municipalities 12, provincial capitals 8, others 3–7), deterministic from ``seed``."""
    rng = random.Random(f"national-cities:{seed}")
    cities: list[City] = []
    for code, lon, lat, dlon, dlat, names in _provinces():
        if code == "36":
            cities += JIANGXI_CITIES
            continue
        for i, name in enumerate(names):
            region = _GUIZHOU_CODES[i] if code == "52" else f"{code}{i + 1:02d}00"
            weight = 12 if name in _MUNICIPALITIES else 8 if i == 0 else rng.randint(3, 7)
            x = lon if i == 0 else lon + rng.uniform(-dlon, dlon)
            y = lat if i == 0 else lat + rng.uniform(-dlat, dlat)
            cities.append(City(name, region, round(x, 2), round(y, 2), weight))
    return cities


def _allocate(weights: list[int], n: int) -> list[int]:
    """Split ``n`` over the weights (largest remainder), at least one each while n allows."""
    k = len(weights)
    if n <= k:
        return [1] * n + [0] * (k - n)
    total = sum(weights)
    quotas = [1 + (n - k) * w / total for w in weights]
    counts = [int(q) for q in quotas]
    order = sorted(range(k), key=lambda i: quotas[i] - counts[i], reverse=True)
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def national_stations(
    n: int = 2026, seed: int = 0, *, unlisted: int = 2, bad_coords: int = 10
) -> list[Station]:
    """A national-scale network of ``n`` stations spread over ~370 cities in 31 provinces.

    Codes run ``K001A`` … ``K999A``, ``L001A`` … (letters K–Z, so up to 14,985 stations); every city
    with two or more stations has one control point. ``unlisted``/``bad_coords`` as in
    :func:`jiangxi_stations`.
    """
    if not 0 < n <= len(_CODE_LETTERS) * 999:
        raise ValueError(f"n must be 1..{len(_CODE_LETTERS) * 999}, got {n}")
    rng = random.Random(f"national:{seed}")
    cities = national_cities(seed)
    counts = _allocate([c.stations for c in cities], n)
    stations: list[Station] = []
    for city, count in zip(cities, counts, strict=True):
        if count == 0:
            continue
        for s in _city_stations(rng, city, count, 0, "K", spread=0.08):
            idx = len(stations)
            code = _station_code(_CODE_LETTERS[idx // 999], idx % 999 + 1)
            stations.append(replace(s, code=code))
    return _apply_list_quirks(rng, stations, unlisted=unlisted, bad_coords=bad_coords)
