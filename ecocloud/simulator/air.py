"""Simulated national real-time air release: day files ``china_sites_YYYYMMDD.csv`` and the station list.

Format (as the real release, see ../shared/data/cnemc-air): header ``date,hour,type,<station codes…>``,
then for every hour present 15 rows whose ``type`` runs AQI, PM2.5, PM2.5_24h, PM10, PM10_24h, SO2,
SO2_24h, NO2, NO2_24h, O3, O3_24h, O3_8h, O3_8h_24h, CO, CO_24h (``schemas.air.RELEASE_TYPES``);
``date`` is YYYYMMDD, ``hour`` 0..23 Beijing time, empty cells are missing values, values are
integers except CO (mg/m³, one decimal, written ``1`` rather than ``1.0`` like the release).

The series is a pure function of (seed, station code, hour): every random number is a counter-based
hash, so any day file can be produced on its own and agrees with its neighbours. Day D is computed
from the 30 hours before it plus its own 24, and the rolling rows are computed from the *published*
1-hour values (missing hours and empty cells left out), so a reader holding day D-1 and D can check
them exactly:

* ``X_24h``    (PM2.5, PM10, SO2, NO2, CO): mean of the 1-hour values of the last 24 hours, this hour
  included (at least one value);
* ``O3_24h``:    highest 1-hour O3 of the last 24 hours;
* ``O3_8h``:     mean of the last 8 hourly O3 values, only when ≥ 6 are present (GB 3095 validity);
* ``O3_8h_24h``: highest ``O3_8h`` of the last 24 hours.

Means are rounded half up (CO to 0.1). The AQI row is ``transforms.aqi.hourly_aqi`` of the row's
published 1-hour values with ``so2_24h_fallback=False`` — how the national release computes it
(SO2 1-hour > 800 µg/m³ left out under HJ 633-2012), version chosen by the day the hour began on
(hour 0, stamped 00:00, ended the day before).

Shape: seasonal cycle (winter PM, SO2, CO high, stronger in the north; summer O3 high), diurnal
cycle (O3 afternoon peak, PM/NO2/CO morning and evening peaks), multi-day pollution episodes and
weather shared by a city and its province, station-level offsets and noise, dust in northern
springs, rare SO2 spikes above 800 µg/m³.

Faults and quirks (``Quirks``): whole hours absent from the file, station outages (all 15 rows
empty), instrument gaps and random empty cells; per file, by probability: LF instead of CRLF line
ends, a UTF-8 BOM, empty column names at the end of the header (every row padded to match), a
duplicated station column, no newline after the last row, a truncated last row. Stations present in
the day files but missing from the station list, and ``-``/empty coordinates in the list, are
station properties (``province.Station.listed`` / ``list_coords``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from ecocloud.simulator.province import Station, jiangxi_stations, national_stations
from schemas.air import RELEASE_TYPES
from schemas.aqi_standard import standard_for_date
from transforms.aqi import hourly_aqi

__all__ = [
    "RELEASE_TYPES",
    "STATION_LIST_HEADER",
    "DayLabels",
    "Quirks",
    "Station",
    "day_file_name",
    "dropped_hours",
    "generate_day",
    "generate_day_labeled",
    "jiangxi_stations",
    "national_stations",
    "station_list_csv",
]

STATION_LIST_HEADER = ("监测点编码", "监测点名称", "城市", "经度", "纬度", "对照点")

F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
U64 = NDArray[np.uint64]

_EPOCH = dt.date(1970, 1, 1)
_YEAR_H = 365.2425 * 24
# Window of published 1-hour values needed for day D: O3_8h_24h at 00:00 looks back 23 hours to an
# 8-hour mean that looks back 7 more.
_LOOKBACK = 30
_WINDOW = _LOOKBACK + 24
_MISSING = -1


@dataclass(frozen=True)
class Quirks:
    """Faults and format quirks. Series-level switches must be the same for every day of a run
    (they feed the rolling rows of the following day); file-level ones are probabilities per file."""

    # series level
    missing_hours: bool = True  # whole hours absent from the file (release outage)
    empty_cells: bool = True  # station outages, instrument gaps, random empty cells
    so2_spike_rate: float = 3e-5  # per station-hour, ×5 in northern winters; spikes are 801–1100 µg/m³
    # file level (probability per day file)
    lf_line_endings: float = 0.15  # "\n" instead of the release's "\r\n"
    bom: float = 0.10  # UTF-8 byte-order mark
    trailing_empty_header: float = 0.15  # header ends with 1–6 empty names, rows padded to match
    duplicate_station_column: float = 0.07  # one station's column appears twice (same values)
    no_final_newline: float = 0.07
    truncated_last_line: float = 0.0  # last row cut short (and no final newline); opt-in

    @classmethod
    def none(cls) -> Quirks:
        """Clean data in the plain release format (CRLF, no BOM, every hour, every cell)."""
        return cls(
            missing_hours=False,
            empty_cells=False,
            so2_spike_rate=0.0,
            lf_line_endings=0.0,
            bom=0.0,
            trailing_empty_header=0.0,
            duplicate_station_column=0.0,
            no_final_newline=0.0,
            truncated_last_line=0.0,
        )

    @classmethod
    def always(cls) -> Quirks:
        """Every file-level quirk in every file except truncation (LF, BOM, trailing empty header
        names, duplicated column, no final newline), plus the series-level faults."""
        return cls(
            lf_line_endings=1.0,
            bom=1.0,
            trailing_empty_header=1.0,
            duplicate_station_column=1.0,
            no_final_newline=1.0,
        )


@dataclass(frozen=True)
class DayLabels:
    """Ground truth about one generated day file."""

    date: dt.date
    hours: tuple[int, ...]  # hours present in the file, ascending
    dropped_hours: tuple[int, ...]  # requested hours deliberately left out
    columns: tuple[str, ...]  # station codes in header order (the duplicate included)
    duplicated_station: str | None
    trailing_empty_columns: int
    line_ending: str
    bom: bool
    final_newline: bool
    truncated: bool
    aqi_standard: str
    so2_over_800: int  # published SO2 1-hour values above 800 µg/m³


def day_file_name(date: dt.date) -> str:
    return f"china_sites_{date:%Y%m%d}.csv"


# --------------------------------------------------------------------------------------------------
# Counter-based random numbers: splitmix64 over (seed, entity, channel, counter)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11, _S32 = (np.uint64(s) for s in (30, 27, 31, 11, 32))
_TWO_POW_M53 = 2.0**-53
_TWO_POW_M32 = 2.0**-32


def _mix(x: U64) -> U64:
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return np.asarray(x ^ (x >> _S31), dtype=np.uint64)


def _hash(*parts: object) -> U64:
    """Hash of broadcast parts; put small arrays first so only the last mix is full-size."""
    with np.errstate(over="ignore"):
        h = np.zeros((), dtype=np.uint64)
        for p in parts:
            h = _mix(h ^ (np.asarray(p).astype(np.uint64) + _GOLDEN))
    return h


def _uniform(*parts: object) -> F64:
    return np.asarray((_hash(*parts) >> _S11).astype(np.float64) * _TWO_POW_M53)


def _normal(*parts: object) -> F64:
    """Approximately standard normal (sum of four 16-bit uniforms, bounded at ±3.46): cheap, and
    free of the rare huge values a true normal would put into multiplicative noise."""
    h = _hash(*parts)
    mask = np.uint64(0xFFFF)
    total = (h & mask) + ((h >> np.uint64(16)) & mask) + ((h >> _S32) & mask) + (h >> np.uint64(48))
    return np.asarray((total.astype(np.float64) * (1.0 / 65536.0) - 2.0) * np.sqrt(3.0))


def _key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _smooth(seed: int, keys: U64, channel: int, *, t0: int, n: int, period: int) -> F64:
    """Unit-variance smooth noise per key (rows) over hours t0..t0+n-1: normal knots every
    ``period`` hours, smoothstep-interpolated. Random access: depends only on the absolute hour."""
    t = t0 + np.arange(n, dtype=np.int64)
    k0 = t0 // period
    kk = t // period - k0
    knots = _normal(seed, keys[:, None], channel, (k0 + np.arange(int(kk[-1]) + 2))[None, :])
    f = (t % period) / period
    w = f * f * (3.0 - 2.0 * f)
    return np.asarray((knots[:, kk] * (1.0 - w) + knots[:, kk + 1] * w) / np.sqrt((1.0 - w) ** 2 + w**2))


# Channels (any distinct integers; changing one changes the simulated data).
_CH_W_CITY, _CH_W_PROV, _CH_EP_CITY, _CH_EP_PROV, _CH_STATION, _CH_COMMON = 1, 2, 3, 4, 5, 6
_CH_DUST, _CH_SUN, _CH_O3BG, _CH_SPIKE, _CH_STATIC = 7, 8, 9, 10, 11
_CH_WHITE, _CH_GAP, _CH_CELL, _CH_DISPLAY = 20, 30, 40, 50
_CH_OUTAGE, _CH_DEAD, _CH_DROP_DAY, _CH_DROP_HOUR, _CH_FILE = 60, 61, 62, 63, 70

_POLLUTANTS = ("PM2.5", "PM10", "SO2", "NO2", "O3", "CO")
_ROLLING_MEAN = {"PM2.5_24h": "PM2.5", "PM10_24h": "PM10", "SO2_24h": "SO2", "NO2_24h": "NO2", "CO_24h": "CO"}
_CO_TYPES = frozenset({"CO", "CO_24h"})
_DERIVED_TYPES = tuple(t for t in RELEASE_TYPES if t not in _POLLUTANTS)  # AQI and the rolling rows


# --------------------------------------------------------------------------------------------------
# The network: per-station constants


@dataclass(frozen=True)
class _Net:
    codes: tuple[str, ...]
    keys: U64  # (S,)
    city_keys: U64  # (C,)
    city_of: NDArray[np.intp]  # (S,) index into city_keys
    prov_keys: U64  # (P,)
    prov_of: NDArray[np.intp]
    north: F64  # (S, 1) 0 (south of 24°N) … 1 (north of 40°N)
    control: NDArray[np.bool_]  # (S, 1)
    base_pm25: F64  # (S, 1) µg/m³
    pm10_ratio: F64
    base_no2: F64
    base_so2: F64
    base_co: F64  # mg/m³
    o3_photo: F64  # µg/m³ afternoon photochemical amplitude
    o3_peak_day: F64  # day of year of the O3 season peak


@lru_cache(maxsize=8)
def _network(stations: tuple[Station, ...], seed: int) -> _Net:
    keys = np.array([_key(s.code) for s in stations], dtype=np.uint64)
    city_names = sorted({s.city for s in stations})
    provs = sorted({s.region_code[:2] for s in stations})
    city_keys = np.array([_key(f"city:{c}") for c in city_names], dtype=np.uint64)
    prov_keys = np.array([_key(f"province:{p}") for p in provs], dtype=np.uint64)
    city_of = np.array([city_names.index(s.city) for s in stations], dtype=np.intp)
    prov_of = np.array([provs.index(s.region_code[:2]) for s in stations], dtype=np.intp)
    lat = np.array([s.latitude for s in stations], dtype=np.float64)
    north = np.clip((lat - 24.0) / 16.0, 0.0, 1.0)[:, None]
    control = np.array([s.control for s in stations], dtype=np.bool_)[:, None]

    def z(channel: int, per_city: bool = False) -> F64:
        if per_city:
            return _normal(seed, city_keys[city_of], _CH_STATIC, channel)[:, None]
        return _normal(seed, keys, _CH_STATIC, channel)[:, None]

    clean = np.where(control, 1.0, 0.0)
    return _Net(
        codes=tuple(s.code for s in stations),
        keys=keys,
        city_keys=city_keys,
        city_of=city_of,
        prov_keys=prov_keys,
        prov_of=prov_of,
        north=north,
        control=control,
        base_pm25=28.0 * np.exp(0.25 * z(1, True) + 0.12 * z(1)) * (1 + 0.6 * north) * (1 - 0.35 * clean),
        pm10_ratio=1.55 * np.exp(0.12 * z(2)) * (1 + 0.3 * north),
        base_no2=26.0 * np.exp(0.2 * z(3, True) + 0.2 * z(3)) * (1 + 0.25 * north) * (1 - 0.6 * clean),
        base_so2=9.0 * np.exp(0.3 * z(4, True) + 0.3 * z(4)) * (1 + 1.2 * north) * (1 - 0.3 * clean),
        base_co=0.75 * np.exp(0.15 * z(5, True) + 0.12 * z(5)) * (1 + 0.4 * north) * (1 - 0.3 * clean),
        o3_photo=80.0 * np.exp(0.12 * z(6, True) + 0.08 * z(6)),
        o3_peak_day=160.0 + 60.0 * (1.0 - north),
    )


# --------------------------------------------------------------------------------------------------
# Hourly series


def _truth(net: _Net, seed: int, t0: int, n: int) -> dict[str, F64]:
    """Unrounded concentrations (µg/m³, CO mg/m³) for hours t0..t0+n-1 (hours since 1970-01-01 BJT)."""
    t = (t0 + np.arange(n, dtype=np.int64))[None, :]
    hod = (t % 24).astype(np.float64)
    phase = 2 * np.pi * (t % _YEAR_H) / _YEAR_H  # 0 on 1 January
    winter = np.cos(phase - 2 * np.pi * 15 / 365.2425)  # +1 mid-January, −1 mid-July
    summer_o3 = np.cos(phase - 2 * np.pi * net.o3_peak_day / 365.2425)
    spring = np.maximum(np.cos(phase - 2 * np.pi * 100 / 365.2425), 0.0)
    north = net.north

    def city(channel: int, period: int) -> F64:
        return _smooth(seed, net.city_keys, channel, t0=t0, n=n, period=period)[net.city_of]

    def prov(channel: int, period: int) -> F64:
        return _smooth(seed, net.prov_keys, channel, t0=t0, n=n, period=period)[net.prov_of]

    def white(channel: int) -> F64:
        return _normal(seed, net.keys[:, None], channel, t)

    stagnation = 0.75 * city(_CH_W_CITY, 18) + 0.55 * prov(_CH_W_PROV, 36)
    episode_field = 0.8 * city(_CH_EP_CITY, 48) + 0.6 * prov(_CH_EP_PROV, 72)
    episode = 0.9 * np.maximum(episode_field - 0.9, 0.0)
    episode_pm = episode * (0.6 + 0.4 * np.maximum(winter, 0.0)) * (0.6 + 0.5 * north)
    local = 0.15 * _smooth(seed, net.keys, _CH_STATION, t0=t0, n=n, period=6)
    common = 0.06 * white(_CH_COMMON)

    def diurnal(a1: float, peak1: float, a2: float, peak2: float) -> F64:
        return np.asarray(
            a1 * np.cos(2 * np.pi * (hod - peak1) / 24) + a2 * np.cos(4 * np.pi * (hod - peak2) / 24)
        )

    pm25 = net.base_pm25 * np.exp(
        (0.25 + 0.3 * north) * winter
        + diurnal(0.10, 22, 0.07, 9)
        + 0.38 * stagnation
        + episode_pm
        + local
        + common
        + 0.12 * white(_CH_WHITE + 0)
    )
    dust = 1.2 * np.maximum(prov(_CH_DUST, 24) - 2.2, 0.0) * spring * north
    pm10 = pm25 * net.pm10_ratio * np.exp(0.10 * white(_CH_WHITE + 1) + dust)
    so2 = net.base_so2 * np.exp(
        (0.15 + 0.55 * north) * winter
        + diurnal(0.12, 11, 0.0, 0)
        + 0.25 * stagnation
        + 0.5 * episode
        + local
        + 0.22 * white(_CH_WHITE + 2)
    )
    no2 = net.base_no2 * np.exp(
        0.22 * winter
        + diurnal(0.22, 22, 0.15, 8)
        + 0.30 * stagnation
        + 0.5 * episode
        + local
        + common
        + 0.15 * white(_CH_WHITE + 3)
    )
    co = net.base_co * np.exp(
        (0.2 + 0.3 * north) * winter
        + diurnal(0.10, 22, 0.08, 8)
        + 0.25 * stagnation
        + 0.6 * episode
        + 0.8 * local
        + common
        + 0.10 * white(_CH_WHITE + 5)
    )
    # O3: a background titrated by NO2 plus an afternoon photochemical term, high in summer and in
    # sunny spells, boosted by summer episodes.
    sun = np.maximum(np.sin(np.pi * (hod - 8.5) / 12.0), 0.0) ** 1.4
    titration = 1 + no2 / 45.0
    background = 45.0 * np.exp(0.18 * city(_CH_O3BG, 24)) * np.where(net.control, 1.25, 1.0) / titration
    photo = net.o3_photo * np.exp(
        0.55 * summer_o3
        + 0.25 * city(_CH_SUN, 30)
        - 0.15 * stagnation
        + 0.3 * episode * np.maximum(summer_o3, 0.0)
    )
    o3 = (background + photo * sun) * np.exp(0.3 * local + 0.10 * white(_CH_WHITE + 4))
    return {"PM2.5": pm25, "PM10": pm10, "SO2": so2, "NO2": no2, "O3": o3, "CO": co}


def _round_half_up(x: F64) -> F64:
    return np.asarray(np.floor(x + 0.5))


_CLIP = {"PM2.5": 900, "PM10": 1500, "SO2": 1500, "NO2": 500, "O3": 500, "CO": 300}  # CO in 0.1 mg/m³


def _dropped(seed: int, days: NDArray[np.int64]) -> NDArray[np.bool_]:
    """(len(days), 24): hours absent from the release — a 1–4 hour block on 4 % of days, single
    hours at 0.5 %. Depends on (seed, day) only, as a release outage hits every station."""
    d = days[:, None]
    h = np.arange(24)[None, :]
    day_h = _hash(seed, _CH_DROP_DAY, d)
    has_block = (day_h >> _S11).astype(np.float64) * _TWO_POW_M53 < 0.04
    start = (day_h & np.uint64(0xFF)).astype(np.int64) % 24
    length = 1 + ((day_h >> np.uint64(8)) & np.uint64(0xFF)).astype(np.int64) % 4
    block = has_block & (h >= start) & (h < start + length)
    single = _uniform(seed, _CH_DROP_HOUR, d * 24 + h) < 0.005
    return np.asarray(block | single)


def dropped_hours(date: dt.date, *, seed: int = 0, quirks: Quirks | None = None) -> tuple[int, ...]:
    """Hours deliberately absent from the day file of ``date`` (ground truth)."""
    if not (quirks or Quirks()).missing_hours:
        return ()
    mask = _dropped(seed, np.array([(date - _EPOCH).days], dtype=np.int64))[0]
    return tuple(int(h) for h in np.flatnonzero(mask))


def _published(net: _Net, seed: int, day: int, quirks: Quirks) -> tuple[dict[str, I32], NDArray[np.bool_]]:
    """Published 1-hour values over the window (day*24 − 30 … day*24 + 23): ints (CO in 0.1 mg/m³),
    −1 = missing; and the station-hour outage mask (whole station-hour empty, all rows)."""
    t0 = day * 24 - _LOOKBACK
    n = _WINDOW
    truth = _truth(net, seed, t0, n)
    t = (t0 + np.arange(n, dtype=np.int64))[None, :]
    out: dict[str, I32] = {}
    for p, x in truth.items():
        v = _round_half_up(x * 10.0 if p == "CO" else x)
        out[p] = np.clip(v, 1, _CLIP[p]).astype(np.int32)

    if quirks.so2_spike_rate > 0:
        phase = 2 * np.pi * (t % _YEAR_H) / _YEAR_H
        rate = quirks.so2_spike_rate * (1 + 4 * np.maximum(np.cos(phase), 0.0) * net.north)
        h = _hash(seed, net.keys[:, None], _CH_SPIKE, t)
        u = (h >> _S11).astype(np.float64) * _TWO_POW_M53
        spike = 801 + (h & np.uint64(0xFFFF)).astype(np.int32) % 300
        out["SO2"] = np.where(u < rate, spike, out["SO2"]).astype(np.int32)

    outage = np.zeros((len(net.codes), n), dtype=np.bool_)
    days = np.arange(t0 // 24, day + 1, dtype=np.int64)
    if quirks.missing_hours:
        drop = _dropped(seed, days).reshape(-1)[t0 - days[0] * 24 :][:n]
        outage |= drop[None, :]
    if quirks.empty_cells:
        # station down: smooth outages (~0.6 % of hours, in blocks) and whole dead days (0.4 %)
        outage |= _smooth(seed, net.keys, _CH_OUTAGE, t0=t0, n=n, period=6) > 2.5
        dead_day = _uniform(seed, net.keys[:, None], _CH_DEAD, days[None, :]) < 0.004
        outage |= np.repeat(dead_day, 24, axis=1)[:, t0 - days[0] * 24 :][:, :n]
        for i, p in enumerate(_POLLUTANTS):
            gap = _smooth(seed, net.keys, _CH_GAP + i, t0=t0, n=n, period=4) > 2.7  # instrument down
            gap |= _uniform(seed, net.keys[:, None], _CH_CELL + i, t) < 0.002  # a lost value
            out[p] = np.where(gap, _MISSING, out[p]).astype(np.int32)
    return {p: np.where(outage, _MISSING, v).astype(np.int32) for p, v in out.items()}, outage


def _rolling_mean(v: I32, width: int, min_count: int, first: int) -> I32:
    """Rounded mean of the last ``width`` valid values ending at positions first…end; −1 when fewer
    than ``min_count`` are present."""
    valid = v >= 0
    zeros = np.zeros((v.shape[0], 1))
    cs = np.concatenate([zeros, np.cumsum(np.where(valid, v, 0), axis=1, dtype=np.float64)], axis=1)
    cn = np.concatenate([zeros, np.cumsum(valid, axis=1, dtype=np.float64)], axis=1)
    end = np.arange(first, v.shape[1]) + 1
    total = cs[:, end] - cs[:, end - width]
    count = cn[:, end] - cn[:, end - width]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = _round_half_up(total / count)
    return np.where(count >= min_count, mean, _MISSING).astype(np.int32)


def _rolling_max(v: I32, width: int, first: int) -> I32:
    windows = np.lib.stride_tricks.sliding_window_view(v, width, axis=1)  # (S, n - width + 1, width)
    return np.asarray(windows[:, first - width + 1 :].max(axis=2), dtype=np.int32)


def _day_values(stations: tuple[Station, ...], date: dt.date, seed: int, quirks: Quirks) -> dict[str, I32]:
    """All 15 rows for the 24 hours of ``date``: (S, 24) ints, CO rows in 0.1 mg/m³, −1 = empty."""
    net = _network(stations, seed)
    day = (date - _EPOCH).days
    pub, outage = _published(net, seed, day, quirks)
    first = _LOOKBACK  # window position of 00:00 on ``date``
    rows: dict[str, I32] = {p: v[:, first:] for p, v in pub.items()}
    for name, p in _ROLLING_MEAN.items():
        rows[name] = _rolling_mean(pub[p], 24, 1, first)
    rows["O3_24h"] = _rolling_max(pub["O3"], 24, first)
    o3_8h = _rolling_mean(pub["O3"], 8, 6, first - 23)  # positions first-23 … end
    rows["O3_8h"] = o3_8h[:, 23:]
    rows["O3_8h_24h"] = _rolling_max(o3_8h, 24, 23)
    rows["AQI"] = _hourly_aqi(date, rows)

    day_outage = outage[:, first:]
    t = (day * 24 + np.arange(24, dtype=np.int64))[None, :]
    for i, name in enumerate(_DERIVED_TYPES):
        blank = day_outage
        if quirks.empty_cells:  # an occasional empty derived cell on its own
            blank = blank | (_uniform(seed, net.keys[:, None], _CH_DISPLAY + i, t) < 0.001)
        rows[name] = np.where(blank, _MISSING, rows[name]).astype(np.int32)
    return rows


def _hourly_aqi(date: dt.date, rows: dict[str, I32]) -> I32:
    """The release's hourly AQI of every station-hour, from the published 1-hour values, each hour
    under the HJ 633 version of the day it began on (hour 0 ended at midnight: the day before's)."""
    shape = rows["PM2.5"].shape
    began = np.full(shape[1], np.datetime64(date, "D"))
    began[0] -= np.timedelta64(1, "D")

    def col(name: str, scale: float = 1.0) -> F64:
        v = rows[name].reshape(-1)
        return np.where(v >= 0, v / scale, np.nan)

    table = pa.table(
        {
            "date": pa.array(np.tile(began, shape[0])),
            "pm25_ugm3": col("PM2.5"),
            "pm10_ugm3": col("PM10"),
            "so2_ugm3": col("SO2"),
            "so2_24h_ugm3": col("SO2_24h"),
            "no2_ugm3": col("NO2"),
            "co_mgm3": col("CO", 10.0),
            "o3_ugm3": col("O3"),
        }
    )
    aqi = hourly_aqi(table, so2_24h_fallback=False).column("aqi")
    return np.asarray(pc.fill_null(aqi, _MISSING).to_numpy(), dtype=np.int32).reshape(shape)


# --------------------------------------------------------------------------------------------------
# Rendering

_MAX_INT = 2000
_INT_TEXT = np.array([b""] + [str(i).encode() for i in range(_MAX_INT + 1)], dtype=object)
_CO_TEXT = np.array(
    [b""] + [(f"{i // 10}" if i % 10 == 0 else f"{i // 10}.{i % 10}").encode() for i in range(_MAX_INT + 1)],
    dtype=object,
)


def _file_choice(seed: int, day: int, which: int, probability: float) -> tuple[bool, int]:
    """Per-file quirk decision and a spare random integer, from (seed, day, quirk)."""
    h = int(_hash(seed, _CH_FILE + which, day))
    return (h >> 11) * _TWO_POW_M53 < probability, h & 0xFFFFFFFF


def generate_day_labeled(
    date: dt.date,
    stations: Sequence[Station],
    *,
    seed: int = 0,
    hours: Iterable[int] = range(24),
    quirks: Quirks | None = None,
) -> tuple[bytes, DayLabels]:
    """The day file of ``date`` for ``stations`` (in that column order) and its ground truth.

    ``hours``: the hours the release has reached (e.g. ``range(now.hour + 1)`` for the current
    day); deliberately dropped hours are left out of them. Any subset of hours gives the same rows
    for the hours it has, so a growing file only ever gains rows at its end.
    """
    q = quirks or Quirks()
    st = tuple(stations)
    if not st:
        raise ValueError("no stations")
    day = (date - _EPOCH).days
    wanted = sorted({int(h) for h in hours if 0 <= int(h) <= 23})
    dropped = set(dropped_hours(date, seed=seed, quirks=q))
    present = [h for h in wanted if h not in dropped]

    rows = _day_values(st, date, seed, q)
    so2_over = int(np.count_nonzero(rows["SO2"][:, present] > 800))
    values = np.stack([rows[t][:, present] for t in RELEASE_TYPES]).transpose(2, 0, 1) + 1  # (h, 15, S)
    cells = _INT_TEXT[values]
    co_rows = [i for i, t in enumerate(RELEASE_TYPES) if t in _CO_TYPES]
    cells[:, co_rows] = _CO_TEXT[values[:, co_rows]]

    codes = [s.code for s in st]
    dup, r = _file_choice(seed, day, 0, q.duplicate_station_column)
    duplicated = None
    if dup:
        j, pos = r % len(st), (r >> 16) % (len(st) + 1)
        duplicated = st[j].code
        codes.insert(pos, duplicated)
        cells = np.insert(cells, pos, cells[:, :, j], axis=2)
    trailing_on, r = _file_choice(seed, day, 1, q.trailing_empty_header)
    trailing = 1 + r % 6 if trailing_on else 0
    lf, _ = _file_choice(seed, day, 2, q.lf_line_endings)
    bom, _ = _file_choice(seed, day, 3, q.bom)
    no_final, _ = _file_choice(seed, day, 4, q.no_final_newline)
    truncated, r_cut = _file_choice(seed, day, 5, q.truncated_last_line)
    truncated = truncated and bool(present)

    ymd = f"{date:%Y%m%d}"
    prefixes = np.array([f"{ymd},{h},{t}".encode() for h in present for t in RELEASE_TYPES], dtype=object)
    tail = b"," * trailing
    lines = [b",".join([b"date,hour,type", *(c.encode() for c in codes)]) + tail]
    if present:
        table = np.concatenate([prefixes[:, None], cells.reshape(len(prefixes), -1)], axis=1)
        lines += [b",".join(line) + tail for line in table.tolist()]
    if truncated:
        last = lines[-1]
        keep = len(prefixes[-1]) + 1
        lines[-1] = last[: keep + r_cut % max(1, len(last) - keep)]
    eol = b"\n" if lf else b"\r\n"
    final_newline = not (no_final or truncated)
    content = (b"\xef\xbb\xbf" if bom else b"") + eol.join(lines) + (eol if final_newline else b"")
    labels = DayLabels(
        date=date,
        hours=tuple(present),
        dropped_hours=tuple(h for h in wanted if h in dropped),
        columns=tuple(codes),
        duplicated_station=duplicated,
        trailing_empty_columns=trailing,
        line_ending=eol.decode(),
        bom=bom,
        final_newline=final_newline,
        truncated=truncated,
        aqi_standard=standard_for_date(date),
        so2_over_800=so2_over,
    )
    return content, labels


def generate_day(
    date: dt.date,
    stations: Sequence[Station],
    *,
    seed: int = 0,
    hours: Iterable[int] = range(24),
    quirks: Quirks | None = None,
) -> bytes:
    """The bytes of ``china_sites_YYYYMMDD.csv`` for ``date`` (see :func:`generate_day_labeled`)."""
    return generate_day_labeled(date, stations, seed=seed, hours=hours, quirks=quirks)[0]


def _coord(x: float) -> str:
    return repr(round(x, 4))


def station_list_csv(stations: Sequence[Station]) -> bytes:
    """The station list as the release publishes it: UTF-8, LF, header
    监测点编码,监测点名称,城市,经度,纬度,对照点; unlisted stations left out; coordinates shown as
    ``-`` or nothing where the station says so."""
    lines = [",".join(STATION_LIST_HEADER)]
    for s in stations:
        if not s.listed:
            continue
        shown = {"value": (_coord(s.longitude), _coord(s.latitude)), "dash": ("-", "-"), "empty": ("", "")}
        lon, lat = shown[s.list_coords]
        lines.append(",".join((s.code, s.name, s.city, lon, lat, "Y" if s.control else "N")))
    return ("\n".join(lines) + "\n").encode()
