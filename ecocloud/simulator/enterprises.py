"""The simulated province's regulated enterprises: permits, outlets, monitoring points, credit ratings.

One deterministic function, :func:`simulated_sources` (seed, anchor date), is the single source for
everything the simulator serves about pollution sources — the permit platform API, the credit result
files, the master-data CSVs — and for the HJ 212 data-logger fleet (``monitoring_points``;
``MonitoringPoint.device_row()`` has the fields of ``ingest.hj212.devices.DeviceRegistry``).

Generated, not real: enterprise names are composed from a generic vocabulary, USCCs are synthetic
but follow GB 32100 (the check character is correct, positions 3–8 are the prefecture's GB/T 2260
code, 9–17 a GB 11714 organisation code with its own check digit). Real and public: Jiangxi's 11
prefectures and their codes (DOMAIN.md §5), industry codes (GB/T 4754-2017), the emission standards
and typical permitted limits (GB 13223, GB 18918 1A, GB 3544, GB 28662, GB 4915 …).

Times are Beijing time, naive. All dates are relative to ``anchor`` (the simulation's "today"), so
the same faults exist whatever day the simulator is started on:

* ``renewed``: a power plant's first permit expires ~75 days before the anchor; its renewal (延续)
  took effect the next day with tighter (ultra-low) limits;
* ``changed``: a paper mill's permit was changed (变更) 200 days ago, COD tightened;
* ``revoked``: a chemical plant's permit is revoked (撤销) on the anchor day, published at 10:00 —
  before that time the API does not show it (incremental fetches see it appear);
* ``cancelled``: a cement works closed (注销) 300 days ago and leaves the registry the day before the anchor;
* ``expired``: a pharmaceutical plant's permit expired ~25 days ago and was not renewed;
* ``invalid_uscc``: a steel works' USCC fails its check character (early codes did): flagged, kept;
* ``renamed``: a wastewater plant renames 3 days before the anchor (same USCC, new name) — a permit
  change and a new master-data version; the credit files still carry the old name;
* ``unregistered_mn``: a replacement data logger sends under an MN missing from the master data;
* ``unpermitted_outlet``: a monitoring point on outlet DW002, which the permit does not list;
* ``credit_only``: rated enterprises that are in neither the registry nor the permit platform;
* ``credit_typo``: the CSV credit file has one USCC with two characters swapped (fails the check);
* ``bracket_name``: a name with full-width brackets, written with half-width ones and a space in the
  credit file (matches only after normalisation).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field, replace
from functools import lru_cache

from ecocloud.simulator.province import JIANGXI_CITIES
from transforms.identifiers import USCC_CHARSET, org_code_check_char, uscc_check_char

__all__ = [
    "CREDIT_LABELS_CSV",
    "CREDIT_LABELS_XLSX",
    "INDUSTRIES",
    "Enterprise",
    "Faults",
    "Limit",
    "MonitoringPoint",
    "Outlet",
    "PermitVersion",
    "SimulatedSources",
    "simulated_sources",
]


@dataclass(frozen=True)
class Limit:
    code: str  # HJ 212-2017 pollutant code
    name: str
    value: str  # as published: "35", or a range "6-9" (pH)
    unit: str  # as published: mg/m3, mg/L, 无量纲
    standard: str
    o2_reference_pct: float | None = None
    annual_limit_t: float | None = None


@dataclass(frozen=True)
class Outlet:
    code: str  # DA001 waste gas, DW001 wastewater
    name: str
    main: bool  # 主要排放口 / 一般排放口
    longitude: float
    latitude: float
    limits: tuple[Limit, ...]

    @property
    def medium(self) -> str:
        return "air" if self.code.startswith("DA") else "water"


@dataclass(frozen=True)
class PermitVersion:
    permit_no: str
    version: int
    version_type: str  # 首次申请 变更 延续 撤销 注销
    enterprise_name: str
    effective_date: dt.date
    valid_from: dt.date
    valid_to: dt.date
    status: str  # valid revoked cancelled
    status_date: dt.date | None
    issue_org: str
    issue_date: dt.date
    published_at: dt.datetime  # Beijing, naive
    outlets: tuple[Outlet, ...]


@dataclass(frozen=True)
class Enterprise:
    uscc: str
    name: str  # current name
    city: str
    region_code: str
    industry_code: str
    industry_name: str
    address: str
    longitude: float
    latitude: float
    permits: tuple[PermitVersion, ...] = ()
    credit: tuple[tuple[int, str], ...] = ()  # (year, level code)
    former_name: str | None = None
    renamed_at: dt.datetime | None = None  # Beijing: the registry carries the new name from then
    in_registry: bool = True
    registry_until: dt.datetime | None = None  # Beijing: dropped from the registry files then

    def name_at(self, t: dt.datetime) -> str:
        if self.former_name and self.renamed_at and t < self.renamed_at:
            return self.former_name
        return self.name

    def registered_at(self, t: dt.datetime) -> bool:
        return self.in_registry and (self.registry_until is None or t < self.registry_until)


@dataclass(frozen=True)
class MonitoringPoint:
    mn: str  # 24 hex characters
    password: str  # HJ 212 PW; the receiver's device file holds it, the master-data CSV does not
    uscc: str
    outlet_code: str
    region_code: str
    name: str
    pollutants: tuple[str, ...]  # HJ 212-2017 codes measured
    registered: bool = True  # False: not in the master-data CSV (fault)

    @property
    def medium(self) -> str:
        return "air" if self.outlet_code.startswith("DA") else "water"

    def device_row(self) -> dict[str, str]:
        """A row for ``ingest.hj212.devices.DeviceRegistry.from_rows``."""
        return {
            "mn": self.mn,
            "password": self.password,
            "uscc": self.uscc,
            "outlet_code": self.outlet_code,
            "region_code": self.region_code,
            "name": self.name,
        }


@dataclass(frozen=True)
class Faults:
    renewed_permit: str
    changed_permit: str
    revoked_permit: str
    cancelled_permit: str
    expired_permit: str
    invalid_uscc: str
    renamed_uscc: str
    unregistered_mn: str
    unpermitted_outlet: tuple[str, str]  # (uscc, outlet_code)
    credit_only: tuple[str, ...]
    credit_typo: tuple[str, str]  # (as written in the CSV, the enterprise's real USCC)
    bracket_name: str  # the registry's (full-width) name


@dataclass(frozen=True)
class SimulatedSources:
    seed: int
    anchor: dt.date
    enterprises: tuple[Enterprise, ...]
    monitoring_points: tuple[MonitoringPoint, ...]
    faults: Faults
    credit_years: tuple[int, int] = (0, 0)  # (CSV year, XLSX year)
    credit_published: tuple[dt.datetime, dt.datetime] = field(
        default=(dt.datetime(2000, 1, 1), dt.datetime(2000, 1, 1))
    )

    def enterprise(self, uscc: str) -> Enterprise:
        for e in self.enterprises:
            if e.uscc == uscc:
                return e
        raise KeyError(uscc)

    def permit_versions(self, until: dt.datetime | None = None) -> list[PermitVersion]:
        """Every permit version published by ``until`` (Beijing), in publication order."""
        out = [v for e in self.enterprises for v in e.permits if until is None or v.published_at <= until]
        return sorted(out, key=lambda v: (v.published_at, v.permit_no, v.version))

    def device_rows(self) -> list[dict[str, str]]:
        """Every data logger of the fleet, including unregistered ones, for the HJ 212 device registry."""
        return [p.device_row() for p in self.monitoring_points]


# --------------------------------------------------------------------------------------- industries
@dataclass(frozen=True)
class Industry:
    key: str
    code: str  # GB/T 4754-2017
    name: str
    count: int
    name_pattern: str  # {trade} {city}


INDUSTRIES: tuple[Industry, ...] = (
    Industry("power", "D4411", "火力发电", 7, "江西{trade}发电有限责任公司"),
    Industry("paper", "C2221", "机制纸及纸板制造", 8, "江西{trade}纸业有限公司"),
    Industry("chemical", "C2614", "有机化学原料制造", 10, "江西{trade}化工有限公司"),
    Industry("wastewater", "D4620", "污水处理及其再生利用", 14, "{city}市{trade}污水处理有限公司"),
    Industry("steel", "C3120", "炼钢", 4, "江西{trade}钢铁有限责任公司"),
    Industry("cement", "C3011", "水泥制造", 7, "{trade}水泥有限公司"),
    Industry("pharma", "C2710", "化学药品原料药制造", 10, "江西{trade}药业股份有限公司"),
)

# Generic trade names (字号), composed for the simulation.
_TRADES = (
    "赣江", "鄱湖", "庐峰", "井冈", "章贡", "洪都", "昌北", "信江", "抚河", "袁州", "修河", "锦江",
    "贡水", "武功", "三清", "龙虎", "滕阁", "青云", "豫章", "浔阳", "临川", "象湖", "梅岭", "仙湖",
    "明月", "葛仙", "婺源", "景瓷", "萍实", "新冶", "铜鼓", "宜丰", "乐平", "樟树", "丰城", "高安",
    "贵溪", "玉山", "上犹", "瑞华", "恒通", "华瑞", "晨光", "东升", "润泽", "天成", "宏达", "永兴",
    "金源", "绿源", "清源", "碧水", "蓝天", "康泰", "博雅", "嘉禾", "富民", "兴旺", "远航", "鸿运",
    "泰和", "安源", "万年", "湖口", "彭泽", "星火", "长青", "德兴", "南丰", "广昌",
)  # fmt: skip

CREDIT_LABELS_XLSX = {
    "green": "环保诚信企业",
    "blue": "环保良好企业",
    "yellow": "环保警示企业",
    "red": "环保不良企业",
    "black": "环保严重失信企业",
}
CREDIT_LABELS_CSV = {"green": "绿牌", "blue": "蓝牌", "yellow": "黄牌", "red": "红牌", "black": "黑牌"}

_MGM3, _MGL, _NONE = "mg/m3", "mg/L", "无量纲"


def _air_limits(industry: str, strict: bool, rng: random.Random, main: bool) -> tuple[Limit, ...]:
    def annual(lo: int, hi: int) -> float | None:
        return float(rng.randint(lo, hi)) if main else None

    if industry == "power":  # GB 13223-2011 at 6 % O2; special limits, or ultra-low (超低排放)
        std = "GB 13223-2011"
        pm, so2, nox = ("10", "35", "50") if strict else ("20", "50", "100")
        return (
            Limit("a34013", "颗粒物", pm, _MGM3, std, 6.0, annual(40, 150)),
            Limit("a21026", "二氧化硫", so2, _MGM3, std, 6.0, annual(150, 600)),
            Limit("a21002", "氮氧化物", nox, _MGM3, std, 6.0, annual(200, 900)),
        )
    if industry == "steel":  # GB 28662-2012 sintering, 16 % O2; ultra-low when strict
        std = "GB 28662-2012"
        pm, so2, nox = ("10", "35", "50") if strict else ("40", "180", "300")
        return (
            Limit("a34013", "颗粒物", pm, _MGM3, std, 16.0, annual(80, 300)),
            Limit("a21026", "二氧化硫", so2, _MGM3, std, 16.0, annual(300, 1200)),
            Limit("a21002", "氮氧化物", nox, _MGM3, std, 16.0, annual(500, 2000)),
        )
    if industry == "cement":  # GB 4915-2013 kiln tail, 10 % O2 (special limits 20/100/320)
        std = "GB 4915-2013"
        return (
            Limit("a34013", "颗粒物", "20" if strict else "30", _MGM3, std, 10.0, annual(30, 120)),
            Limit("a21026", "二氧化硫", "100" if strict else "200", _MGM3, std, 10.0, annual(50, 300)),
            Limit("a21002", "氮氧化物", "320" if strict else "400", _MGM3, std, 10.0, annual(300, 1500)),
        )
    if industry in ("chemical", "pharma"):  # process waste gas: NMHC (GB 31571-2015 / GB 37823-2019)
        std = "GB 31571-2015" if industry == "chemical" else "GB 37823-2019"
        return (
            Limit(
                "a24088",
                "非甲烷总烃",
                "60" if industry == "pharma" else "120",
                _MGM3,
                std,
                None,
                annual(5, 40),
            ),
            Limit("a34013", "颗粒物", "20", _MGM3, std, None, annual(2, 15)),
        )
    # coal-fired boiler of a paper mill: GB 13271-2014, 9 % O2
    std = "GB 13271-2014"
    return (
        Limit("a34013", "颗粒物", "50", _MGM3, std, 9.0, annual(10, 60)),
        Limit("a21026", "二氧化硫", "300", _MGM3, std, 9.0, annual(40, 200)),
        Limit("a21002", "氮氧化物", "300", _MGM3, std, 9.0, annual(40, 200)),
    )


def _water_limits(industry: str, strict: bool, rng: random.Random, main: bool) -> tuple[Limit, ...]:
    def annual(lo: int, hi: int) -> float | None:
        return float(rng.randint(lo, hi)) if main else None

    ph = Limit("w01001", "pH值", "6-9", _NONE, "", None, None)
    if industry == "wastewater":  # GB 18918-2002 grade 1A (DOMAIN.md §7)
        std = "GB 18918-2002"
        return (
            replace(ph, standard=std),
            Limit("w01018", "化学需氧量", "50", _MGL, std, None, annual(200, 2000)),
            Limit("w01017", "五日生化需氧量", "10", _MGL, std),
            Limit("w01012", "悬浮物", "10", _MGL, std),
            Limit("w21001", "总氮", "15", _MGL, std, None, annual(60, 600)),
            Limit("w21003", "氨氮", "5", _MGL, std, None, annual(20, 200)),
            Limit("w21011", "总磷", "0.5", _MGL, std, None, annual(2, 20)),
        )
    if industry == "paper":  # GB 3544-2008 table 2 (joint pulp and paper)
        std = "GB 3544-2008"
        return (
            replace(ph, standard=std),
            Limit("w01018", "化学需氧量", "80" if strict else "90", _MGL, std, None, annual(100, 800)),
            Limit("w01012", "悬浮物", "30", _MGL, std),
            Limit("w21003", "氨氮", "8", _MGL, std, None, annual(10, 80)),
            Limit("w21001", "总氮", "12", _MGL, std),
            Limit("w21011", "总磷", "0.8", _MGL, std),
        )
    if industry == "chemical":  # GB 31571-2015 direct discharge
        std = "GB 31571-2015"
        return (
            replace(ph, standard=std),
            Limit("w01018", "化学需氧量", "60", _MGL, std, None, annual(20, 200)),
            Limit("w21003", "氨氮", "8", _MGL, std, None, annual(2, 20)),
            Limit("w21001", "总氮", "40", _MGL, std),
            Limit("w21011", "总磷", "1.0", _MGL, std),
        )
    if industry == "pharma":  # GB 21904-2008 chemical synthesis
        std = "GB 21904-2008"
        return (
            replace(ph, standard=std),
            Limit("w01018", "化学需氧量", "120", _MGL, std, None, annual(20, 150)),
            Limit("w21003", "氨氮", "25", _MGL, std, None, annual(2, 20)),
            Limit("w21001", "总氮", "35", _MGL, std),
            Limit("w21011", "总磷", "1.0", _MGL, std),
        )
    # power plants, steel and cement works: general plant outfall, GB 8978-1996 grade 1
    std = "GB 13456-2012" if industry == "steel" else "GB 8978-1996"
    return (
        replace(ph, standard=std),
        Limit("w01018", "化学需氧量", "50" if industry == "steel" else "100", _MGL, std),
        Limit("w21003", "氨氮", "5" if industry == "steel" else "15", _MGL, std),
    )


_AIR_OUTLET_NAMES = {
    "power": "1#锅炉烟囱",
    "steel": "烧结机头烟囱",
    "cement": "窑尾烟囱",
    "chemical": "工艺废气排气筒",
    "pharma": "发酵废气排气筒",
    "paper": "锅炉烟囱",
}


def _outlets(industry: str, lon: float, lat: float, strict: bool, rng: random.Random) -> tuple[Outlet, ...]:
    """The outlets an enterprise of ``industry`` typically has, with their permitted limits."""

    def near() -> tuple[float, float]:
        return round(lon + rng.uniform(-0.004, 0.004), 6), round(lat + rng.uniform(-0.004, 0.004), 6)

    air_main = industry in ("power", "steel", "cement", "chemical")
    water_main = industry in ("wastewater", "paper", "chemical", "pharma")
    out = []
    if industry != "wastewater":
        out.append(
            Outlet(
                "DA001",
                _AIR_OUTLET_NAMES[industry],
                air_main,
                *near(),
                _air_limits(industry, strict, rng, air_main),
            )
        )
    if industry == "steel":
        out.append(
            Outlet(
                "DA002",
                "转炉二次除尘排气筒",
                True,
                *near(),
                (Limit("a34013", "颗粒物", "10" if strict else "20", _MGM3, "GB 28664-2012", None, 60.0),),
            )
        )
    name = "污水处理厂总排口" if industry == "wastewater" else "厂区废水总排口"
    out.append(Outlet("DW001", name, water_main, *near(), _water_limits(industry, strict, rng, water_main)))
    return tuple(out)


# Online monitoring measures these besides the permitted pollutants (DOMAIN.md §1 codes).
_AIR_AUX = ("a00000", "a19001", "a01012", "a01013", "a01014")
_WATER_AUX = ("w00000",)
_ONLINE = {"a21026", "a21002", "a34013", "a24088", "w01001", "w01018", "w21003", "w21011", "w21001"}


# -------------------------------------------------------------------------------------- generation
def _uscc(rng: random.Random, region_code: str, *, new_style: bool) -> str:
    """A synthetic USCC: 9 (market regulation) 1 (enterprise), region, GB 11714 org code, check."""
    if new_style:  # codes issued since 2015 start the organisation code with MA
        body = "MA" + "".join(rng.choice(USCC_CHARSET) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = "91" + region_code + body + org_code_check_char(body)
    return first17 + uscc_check_char(first17)


def _break_check(uscc: str) -> str:
    """The same code with a wrong check character (an early, legally issued one)."""
    i = USCC_CHARSET.index(uscc[17])
    return uscc[:17] + USCC_CHARSET[(i + 7) % 31]


def _swap(uscc: str) -> str:
    """Two adjacent characters of the organisation code swapped (a typing error); never valid."""
    for i in range(8, 16):
        if uscc[i] != uscc[i + 1]:
            typo = uscc[:i] + uscc[i + 1] + uscc[i] + uscc[i + 2 :]
            if uscc_check_char(typo[:17]) != typo[17]:
                return typo
    raise ValueError(f"cannot make a failing typo of {uscc}")


def _add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _at(d: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(d, dt.time(hour, minute))


def _trade(trades: list[str], n: int) -> str:
    """The n-th trade name; past the vocabulary, the same names again with a serial (鄱湖2 …)."""
    base = trades[n % len(trades)]
    return base if n < len(trades) else f"{base}{n // len(trades) + 1}"


@lru_cache(maxsize=8)
def simulated_sources(seed: int = 0, anchor: dt.date | None = None, scale: int = 1) -> SimulatedSources:
    """The enterprises, permits, monitoring points and credit ratings of the simulated Jiangxi.

    Deterministic in (``seed``, ``anchor``, ``scale``); ``anchor`` (default: 2026-11-20) is the
    simulation's "today" that every date is relative to (see the module docstring for the faults).
    ``scale`` multiplies the number of enterprises of every industry (the faults stay on the same
    few); ``scale=1`` is the 60-enterprise province every other test knows.
    """
    if scale < 1:
        raise ValueError("scale ≥ 1")
    a = anchor or dt.date(2026, 11, 20)
    rng = random.Random(f"ecocloud-enterprises-{seed}")
    trades = list(_TRADES)
    rng.shuffle(trades)
    cities = list(JIANGXI_CITIES)

    plans: list[tuple[Industry, int]] = [(ind, i) for ind in INDUSTRIES for i in range(ind.count * scale)]
    enterprises: list[Enterprise] = []
    points: list[MonitoringPoint] = []
    used_mn: set[str] = set()
    by_role: dict[str, Enterprise] = {}
    unregistered_mn = ""
    # Credit files: the latest year's results ~60 days ago (XLSX), the year before's ~425 days ago (CSV).
    xlsx_published = _at(a - dt.timedelta(days=60), 9)
    csv_published = _at(a - dt.timedelta(days=425), 9)
    years = (xlsx_published.year - 2, xlsx_published.year - 1)

    def mn() -> str:
        while True:
            value = f"{rng.getrandbits(96):024X}"
            if value not in used_mn:
                used_mn.add(value)
                return value

    for n, (ind, i) in enumerate(plans):
        city = cities[(n * 7 + seed) % len(cities)]
        trade = _trade(trades, n)
        name = ind.name_pattern.format(trade=trade, city=city.name)
        role = _role(ind.key, i)
        if role == "bracket":
            name = name.replace("有限公司", "（集团）有限公司")
        region = city.county(n)
        uscc = _uscc(rng, region, new_style=rng.random() < 0.5)
        if role == "invalid_uscc":
            uscc = _break_check(uscc)
        lon = round(city.longitude + rng.uniform(-0.25, 0.25), 6)
        lat = round(city.latitude + rng.uniform(-0.2, 0.2), 6)
        address = f"江西省{city.name}市{rng.choice(('经济技术开发区', '高新技术产业开发区', '工业园区'))}{trade}大道{rng.randint(1, 999)}号"
        issue_org = f"{city.name}市生态环境局"
        permit_no = f"{uscc}001P"
        former_name = None
        renamed_at = None
        registry_until = None

        # --- permit versions (see the module docstring) ---
        strict = rng.random() < 0.4
        outlets = _outlets(ind.key, lon, lat, strict, rng)
        d0 = a - dt.timedelta(days=rng.randint(60, 1700))
        if role == "renewed":
            d0 = _add_years(a - dt.timedelta(days=75), -5) + dt.timedelta(days=1)
            outlets = _outlets(ind.key, lon, lat, False, random.Random(f"{seed}-{n}-v1"))
        elif role == "expired":
            d0 = _add_years(a - dt.timedelta(days=25), -5) + dt.timedelta(days=1)
        elif role in ("changed", "revoked", "cancelled"):
            d0 = a - dt.timedelta(days={"changed": 800, "revoked": 900, "cancelled": 1000}[role])
            if role == "changed":
                outlets = _outlets(ind.key, lon, lat, False, random.Random(f"{seed}-{n}-v1"))
        v1 = PermitVersion(
            permit_no=permit_no,
            version=1,
            version_type="首次申请",
            enterprise_name=name,
            effective_date=d0,
            valid_from=d0,
            valid_to=_add_years(d0, 5) - dt.timedelta(days=1),
            status="valid",
            status_date=None,
            issue_org=issue_org,
            issue_date=d0 - dt.timedelta(days=2),
            published_at=_at(d0 - dt.timedelta(days=2), 9, rng.randint(0, 59)),
            outlets=outlets,
        )
        versions = [v1]
        if role == "renewed":
            start = v1.valid_to + dt.timedelta(days=1)
            versions.append(
                replace(
                    v1,
                    version=2,
                    version_type="延续",
                    effective_date=start,
                    valid_from=start,
                    valid_to=_add_years(start, 5) - dt.timedelta(days=1),
                    issue_date=start - dt.timedelta(days=20),
                    published_at=_at(start - dt.timedelta(days=20), 10),
                    outlets=_outlets(ind.key, lon, lat, True, random.Random(f"{seed}-{n}-v2")),
                )
            )
        elif role == "changed":
            eff = a - dt.timedelta(days=200)
            versions.append(
                replace(
                    v1,
                    version=2,
                    version_type="变更",
                    effective_date=eff,
                    issue_date=eff - dt.timedelta(days=5),
                    published_at=_at(eff - dt.timedelta(days=5), 15),
                    outlets=_outlets(ind.key, lon, lat, True, random.Random(f"{seed}-{n}-v2")),
                )
            )
        elif role == "revoked":
            versions.append(
                replace(
                    v1,
                    version=2,
                    version_type="撤销",
                    effective_date=a,
                    status="revoked",
                    status_date=a,
                    published_at=_at(a, 10),
                )
            )
        elif role == "cancelled":
            eff = a - dt.timedelta(days=300)
            versions.append(
                replace(
                    v1,
                    version=2,
                    version_type="注销",
                    effective_date=eff,
                    status="cancelled",
                    status_date=eff,
                    published_at=_at(eff, 14),
                )
            )
            registry_until = _at(a - dt.timedelta(days=1), 9)
        elif role == "renamed":
            former_name, name = name, name.replace("污水处理有限公司", "水务发展有限公司")
            renamed_at = _at(a - dt.timedelta(days=3), 9)
            versions.append(
                replace(
                    v1,
                    version=2,
                    version_type="变更",
                    enterprise_name=name,
                    effective_date=a - dt.timedelta(days=3),
                    issue_date=a - dt.timedelta(days=3),
                    published_at=_at(a - dt.timedelta(days=3), 11),
                )
            )

        # --- credit ratings: the two published years ---
        levels = rng.choices(("green", "blue", "yellow", "red", "black"), weights=(20, 55, 15, 7, 3), k=2)
        if role == "revoked":
            levels = ["red", "black"]
        elif role == "expired":
            levels = ["blue", "yellow"]

        enterprise = Enterprise(
            uscc=uscc,
            name=name,
            city=city.name,
            region_code=region,
            industry_code=ind.code,
            industry_name=ind.name,
            address=address,
            longitude=lon,
            latitude=lat,
            permits=tuple(versions),
            credit=tuple(zip(years, levels, strict=True)),
            former_name=former_name,
            renamed_at=renamed_at,
            registry_until=registry_until,
        )
        enterprises.append(enterprise)
        if role:
            by_role[role] = enterprise

        # --- monitoring points: one data logger per main outlet (none for a closed works) ---
        if role == "cancelled":
            continue
        for o in versions[-1].outlets:
            if not o.main:
                continue
            measured = tuple(lim.code for lim in o.limits if lim.code in _ONLINE)
            aux = _AIR_AUX if o.medium == "air" else _WATER_AUX
            points.append(
                MonitoringPoint(
                    mn=mn(),
                    password=f"{rng.randint(0, 999999):06d}",
                    uscc=uscc,
                    outlet_code=o.code,
                    region_code=region,
                    name=f"{name}{o.name}",
                    pollutants=aux + measured,
                )
            )
        if role == "unpermitted_outlet":
            points.append(
                MonitoringPoint(mn(), f"{rng.randint(0, 999999):06d}", uscc, "DW002", region,
                                f"{name}初期雨水排放口", ("w00000", "w01018", "w21003"))
            )  # fmt: skip
        if role == "unregistered_mn":  # a replacement logger on DW001, not yet in the master data
            water = next(p for p in points if p.uscc == uscc and p.outlet_code == "DW001")
            points.append(replace(water, mn=mn(), password=f"{rng.randint(0, 999999):06d}", registered=False))
            unregistered_mn = points[-1].mn

    # --- enterprises that are rated but neither registered nor permitted ---
    credit_only = []
    for k in range(3):
        city = cities[(k * 4 + 2) % len(cities)]
        trade = _trade(trades, len(plans) + k)
        credit_only.append(
            Enterprise(
                uscc=_uscc(rng, city.county(k), new_style=True),
                name=f"{city.name}市{trade}建材有限公司",
                city=city.name,
                region_code=city.county(k),
                industry_code="C3021",
                industry_name="水泥制品制造",
                address=f"江西省{city.name}市{trade}路{rng.randint(1, 300)}号",
                longitude=city.longitude,
                latitude=city.latitude,
                credit=((years[0], "blue"), (years[1], rng.choice(("green", "blue", "yellow")))),
                in_registry=False,
            )
        )
    enterprises.extend(credit_only)

    def fault(role: str) -> Enterprise:
        return by_role[role]

    return SimulatedSources(
        seed=seed,
        anchor=a,
        enterprises=tuple(enterprises),
        monitoring_points=tuple(points),
        faults=Faults(
            renewed_permit=fault("renewed").permits[0].permit_no,
            changed_permit=fault("changed").permits[0].permit_no,
            revoked_permit=fault("revoked").permits[0].permit_no,
            cancelled_permit=fault("cancelled").permits[0].permit_no,
            expired_permit=fault("expired").permits[0].permit_no,
            invalid_uscc=fault("invalid_uscc").uscc,
            renamed_uscc=fault("renamed").uscc,
            unregistered_mn=unregistered_mn,
            unpermitted_outlet=(fault("unpermitted_outlet").uscc, "DW002"),
            credit_only=tuple(e.uscc for e in credit_only),
            credit_typo=(_swap(fault("typo").uscc), fault("typo").uscc),
            bracket_name=fault("bracket").name,
        ),
        credit_years=years,
        credit_published=(csv_published, xlsx_published),
    )


# Which enterprise (industry, index within it) carries which fault; "" = none.
_ROLES = {
    ("power", 0): "renewed",
    ("paper", 0): "changed",
    ("chemical", 0): "revoked",
    ("chemical", 1): "unpermitted_outlet",
    ("chemical", 2): "bracket",
    ("cement", 0): "cancelled",
    ("pharma", 0): "expired",
    ("steel", 0): "invalid_uscc",
    ("wastewater", 0): "renamed",
    ("wastewater", 1): "unregistered_mn",
    ("paper", 1): "typo",
}


def _role(industry: str, index: int) -> str:
    return _ROLES.get((industry, index), "")
