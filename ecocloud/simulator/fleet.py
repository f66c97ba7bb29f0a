"""A fleet of simulated HJ 212 data loggers (数采仪): asyncio TCP clients that push a province's
pollution-source monitoring data to a receiver, with a simulated clock and labelled faults.

Each logger (one :class:`DeviceSpec`: MN, PW, enterprise USCC, outlet, ST, pollutants) keeps one
TCP connection and sends, on the simulated clock (DOMAIN.md §1).  :func:`fleet_devices` builds
the fleet from the monitoring points of :mod:`ecocloud.simulator.enterprises` (with each outlet's
permitted limits and O2 reference), or from a small built-in generator when that is unavailable.

* ``CN=2011`` real-time data every ``rtd_interval_s`` (30–60 s, per device) — ``DataTime`` is the
  sampling instant, items ``<code>-Rtd`` (+ ``ZsRtd`` for flue-gas pollutants), ``-Flag=N``;
* ``CN=2051`` minute data every ``min_interval_min`` minutes (default 10, HJ 212-2017 MinInterval),
  ``CN=2061`` hourly and ``CN=2031`` daily data — sent when the period ends, ``DataTime`` is the
  **start** of the period, items ``Min/Avg/Max`` (+ ``Cou``, + ``ZsMin/ZsAvg/ZsMax``).

A period packet is sent for every period that ends in ``(start, start + duration]``; real-time
packets at ``start + phase + k·interval`` for times in ``[start, start + duration)``.

Values follow realistic shapes: flue gas (ST=31) has a diurnal boiler load that drives the flow,
O2 (anti-correlated), temperature and the SO2/NOx/particulate concentrations, which are generated
around a share of the permitted limit on the O2-converted basis (``C_ref = C × (21 − O2_ref) /
(21 − O2)``, O2_ref 6 % unless the permit says otherwise); wastewater (ST=32) has a two-peak
diurnal inflow, COD/NH3-N/TP/TN around shares of their limits (:data:`DEFAULT_LIMITS`, GB 18918
class 1A-like, when the spec has none) and pH near 7.2.  Noise is AR(1) per minute; the minute
series of a device-day is deterministic from ``(seed, MN, date)``.

HJ 212-2017 loggers send ``Flag=5`` (version 1, ack wanted) and wait for the receiver's 9014 with
the same QN (stop-and-wait, as loggers do): after ``ack_timeout_s`` (wall seconds, OverTime) or a
9011 reply the same packet is resent, at most ``max_resends`` times (ReCount); the QN is the
simulated send time ``YYYYMMDDhhmmsszzz``, unique per device.  HJ/T 212-2005-style loggers send no
QN, no Flag (so no ack) and the 2005 pollutant codes (``011-Rtd`` …).

Injected faults (:class:`FaultPlan`; each one is written to the labels file as it is decided or
applied — JSON lines ``{"kind", "mn", "pollutant", "start", "end", "details"}``, times ISO-8601
Beijing):

==================  ============================================================================
``exceedance``      a pollutant above its limit for whole hours (flue gas: the converted value,
                    details ``limit``, ``factor``, ``basis`` = ``ZsRtd``; pH outside 6–9)
``flatline``        tampering: the measured value constant for hours (``details.value``; Rtd,
                    Min, Avg, Max all equal it, Flag stays N)
``zero``            a run of zero readings (whole hours)
``gap``             the logger is offline (connection closed, nothing sent, packets due are lost;
                    ``details.packets_lost`` counts them)
``bad_crc``         one line sent with a wrong CRC (``details.expected_reason`` = crc_mismatch);
                    after the 9011 (QnRtn 9) the logger resends it correctly
``truncated``       one line cut short: variant ``cut`` (the cut line still ends in CRLF →
                    length_mismatch, 9011 → resend) or ``disconnect`` (the connection drops mid-line
                    → the receiver lands missing_tail; resent after reconnecting)
``reconnect``       the logger closes its connection and reconnects
``protocol_2005``   the whole device is an HJ/T 212-2005-style logger (``details.codes``)
``silence``         the logger falls silent for many hours (offline like ``gap``, labelled with
                    ``packets_lost`` once it has passed): a risk offender, not a network blip
``near_limit``      a pollutant held just under its limit (``details.low``/``high`` × ``limit``;
                    flue gas on the converted basis), readings clustered under the limit
``flags``           every value of a pollutant (``pollutant`` None: of all) sent with the data flag
                    ``details.flag`` (M maintenance, D fault … or S manually entered) for hours
``zs_mismatch``     flue gas: ZsRtd/ZsAvg sent as ``details.factor`` × the correct converted value,
                    inconsistent with the measured value and O2
==================  ============================================================================

The last four exist for the enforcement analytics' ground truth (:mod:`ecocloud.simulator.offenders`);
the default and heavy plans do not draw them at random.

Packet-level faults carry ``details.qn``, ``cn``, ``data_time`` and ``expected_reason``;
``start == end`` is the simulated send time.  Window faults are labelled when planned, gaps once
they have passed (with ``packets_lost``); ``FleetStats.faults`` counts the labels written.

API: ``await run_fleet(host, port, devices, start=…, duration=…, speed=…, seed=…, faults=…,
labels_path=…) -> FleetStats``, :func:`run_fleet_sync`, :func:`start_fleet_thread` (what
``ecocloud simulate --loggers HOST:PORT`` uses) and ``python -m ecocloud.simulator.fleet
HOST:PORT …`` (prints the stats as JSON).  ``speed`` is simulated seconds per wall second; ``0``
or ``inf`` sends as fast as acks allow.  Runtime is always bounded by ``wall_timeout_s``.

The pure part — the packets a logger sends and the faults applied, without a network — is
:class:`LoggerScript`; tests use it directly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import logging
import math
import random
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Literal, TypeAlias

from ingest.hj212.protocol import MAX_DATA_LEN, Packet, build_packet, parse_line
from schemas.clock import BEIJING
from schemas.hj212_codes import POLLUTANTS

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_POLLUTANTS",
    "FAULT_KINDS",
    "Disconnect",
    "Fault",
    "FaultPlan",
    "FleetStats",
    "LoggerScript",
    "Transmission",
    "builtin_devices",
    "device_schedule",
    "devices_from_sources",
    "fleet_devices",
    "load_labels",
    "main",
    "resolve_spec",
    "run_fleet",
    "run_fleet_sync",
    "start_fleet_thread",
    "write_registry",
]

log = logging.getLogger(__name__)

FLUE_GAS = "31"
WASTEWATER = "32"

DEFAULT_POLLUTANTS: Mapping[str, tuple[str, ...]] = {
    FLUE_GAS: ("a21026", "a21002", "a34013", "a19001", "a01012", "a00000"),
    WASTEWATER: ("w01018", "w21003", "w21011", "w21001", "w01001", "w00000"),
}

# Permit-like limits. Flue gas: ultra-low-emission limits of coal-fired units, mg/m³ converted to
# O2_ref 6 %; wastewater: GB 18918-2002 class 1A-like, mg/L.  pH: the range 6–9.
DEFAULT_LIMITS: Mapping[str, float] = {
    "a21026": 35.0,
    "a21002": 50.0,
    "a34013": 10.0,
    "a24088": 60.0,
    "w01018": 50.0,
    "w21003": 5.0,
    "w21011": 0.5,
    "w21001": 15.0,
    "w01012": 10.0,
    "w01017": 10.0,
    "w22001": 1.0,
}
PH = "w01001"
PH_RANGE = (6.0, 9.0)
# Flue-gas pollutants reported with converted (折算) values.
ZS_CODES = frozenset({"a21026", "a21002", "a34013", "a21005", "a24088"})
FLOW_CODES = frozenset({"a00000", "w00000"})

FAULT_KINDS = (
    "exceedance",
    "flatline",
    "zero",
    "gap",
    "bad_crc",
    "truncated",
    "reconnect",
    "protocol_2005",
    "silence",
    "near_limit",
    "flags",
    "zs_mismatch",
)
WINDOW_KINDS = frozenset(
    {"exceedance", "flatline", "zero", "gap", "silence", "near_limit", "flags", "zs_mismatch"}
)
OFFLINE_KINDS = frozenset({"gap", "silence"})
PACKET_KINDS = frozenset({"bad_crc", "truncated"})

# CN order at one instant: periods that close first, then the new real-time sample.
_CN_ORDER = {"2051": 0, "2061": 1, "2031": 2, "2011": 3}
_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# devices


@dataclass(frozen=True)
class DeviceSpec:
    """One data logger.  The first six fields are the plain spec tuple
    ``(mn, password, uscc, outlet_code, st, pollutants)``; the rest have defaults (0 = chosen from
    the seed by :func:`resolve_spec`)."""

    mn: str
    password: str
    uscc: str
    outlet_code: str
    st: str
    pollutants: tuple[str, ...]
    name: str = ""
    region_code: str = ""
    limits: Mapping[str, float] = field(default_factory=dict)  # overrides DEFAULT_LIMITS
    protocol: int = 2017  # 2005: HJ/T 212-2005 style (no QN, no Flag, 2005 codes)
    rtd_interval_s: int = 0  # 0: 30–60 s from the seed
    rtd_phase_s: int = -1  # -1: from the seed, in [0, rtd_interval_s)
    min_interval_min: int = 10  # must divide 60
    scale: float = 0.0  # source size (flow multiplier); 0: from the seed
    o2_ref: float = 6.0

    def limit(self, code: str) -> float | None:
        return self.limits.get(code, DEFAULT_LIMITS.get(code))


DeviceLike: TypeAlias = DeviceSpec | Sequence[Any]


def as_spec(d: DeviceLike) -> DeviceSpec:
    """A :class:`DeviceSpec` from a spec or a tuple ``(mn, password, uscc, outlet_code, st, pollutants)``."""
    if isinstance(d, DeviceSpec):
        return d
    mn, password, uscc, outlet_code, st, pollutants = d[:6]
    return DeviceSpec(str(mn), str(password), str(uscc), str(outlet_code), str(st), tuple(pollutants))


def resolve_spec(spec: DeviceLike, seed: int) -> DeviceSpec:
    """Fill the seed-chosen fields (real-time interval and phase, source size)."""
    s = as_spec(spec)
    rng = random.Random(f"fleet-device|{seed}|{s.mn}")
    interval = s.rtd_interval_s or rng.randint(30, 60)
    phase = s.rtd_phase_s if s.rtd_phase_s >= 0 else rng.randrange(interval)
    scale = s.scale or rng.uniform(0.4, 2.5)
    if s.min_interval_min <= 0 or 60 % s.min_interval_min:
        raise ValueError(f"{s.mn}: min_interval_min {s.min_interval_min} must divide 60")
    return replace(s, rtd_interval_s=interval, rtd_phase_s=phase % interval, scale=scale)


_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _uscc(rng: random.Random, region_code: str) -> str:
    """A well-formed synthetic USCC (GB 32100-2015 check character, DOMAIN.md §5)."""
    first17 = "91" + region_code + "".join(rng.choice(_USCC_CHARSET) for _ in range(9))
    total = sum(_USCC_CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return first17 + _USCC_CHARSET[(31 - total % 31) % 31]


def builtin_devices(seed: int, n: int = 20) -> list[DeviceSpec]:
    """A small deterministic fleet in Jiangxi: alternating flue-gas and wastewater outlets."""
    from ecocloud.simulator.province import JIANGXI_CITIES

    rng = random.Random(f"fleet-builtin|{seed}")
    out: list[DeviceSpec] = []
    seen: set[str] = set()
    for i in range(n):
        city = JIANGXI_CITIES[i % len(JIANGXI_CITIES)]
        st = FLUE_GAS if i % 2 == 0 else WASTEWATER
        mn = f"{rng.getrandbits(96):024X}"
        while mn in seen:
            mn = f"{rng.getrandbits(96):024X}"
        seen.add(mn)
        prefix = "DA" if st == FLUE_GAS else "DW"
        out.append(
            DeviceSpec(
                mn=mn,
                password=f"{rng.randrange(1_000_000):06d}",
                uscc=_uscc(rng, city.county(i // len(JIANGXI_CITIES))),
                outlet_code=f"{prefix}{i // 2 % 999 + 1:03d}",
                st=st,
                pollutants=DEFAULT_POLLUTANTS[st],
                name=f"{city.name}模拟企业{i + 1:03d}",
                region_code=city.county(i // len(JIANGXI_CITIES)),
            )
        )
    return out


def _limit_value(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None  # a range such as pH "6-9"


def _from_enterprises(seed: int) -> list[DeviceSpec] | None:
    """Device specs from :func:`ecocloud.simulator.enterprises.simulated_sources`; ``None`` when
    that module is not importable."""
    try:
        from ecocloud.simulator.enterprises import simulated_sources
    except ImportError:
        return None
    return devices_from_sources(simulated_sources(seed)) or None


def devices_from_sources(sources: Any) -> list[DeviceSpec]:
    """Device specs of a simulated province's monitoring points (``SimulatedSources``), with the
    permitted limits and O2 reference of the outlet's current permit."""
    by_uscc = {e.uscc: e for e in sources.enterprises}
    out: list[DeviceSpec] = []
    for p in sources.monitoring_points:
        limits: dict[str, float] = {}
        o2_ref = 6.0
        ent = by_uscc.get(p.uscc)
        if ent is not None and ent.permits:
            for o in ent.permits[-1].outlets:
                if o.code != p.outlet_code:
                    continue
                for lim in o.limits:
                    v = _limit_value(lim.value)
                    if v is not None:
                        limits[lim.code] = v
                    if lim.o2_reference_pct is not None:
                        o2_ref = lim.o2_reference_pct
        out.append(
            DeviceSpec(
                mn=p.mn,
                password=p.password,
                uscc=p.uscc,
                outlet_code=p.outlet_code,
                st=FLUE_GAS if p.medium == "air" else WASTEWATER,
                pollutants=tuple(p.pollutants),
                name=p.name,
                region_code=p.region_code,
                limits=limits,
                o2_ref=o2_ref,
            )
        )
    return out


def fleet_devices(seed: int, n: int | None = None) -> list[DeviceSpec]:
    """The province's loggers: the monitoring points of ``enterprises.py`` (75 for the default
    seed) when it is importable, else :func:`builtin_devices` (20 by default); ``n`` keeps the
    first ``n``."""
    specs = _from_enterprises(seed)
    if specs is None:
        return builtin_devices(seed, 20 if n is None else n)
    return specs if n is None else specs[:n]


def write_registry(devices: Iterable[DeviceLike], path: str | Path) -> Path:
    """The receiver's device registry CSV (``mn,password,uscc,outlet_code,region_code,name``)."""
    import csv

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["mn", "password", "uscc", "outlet_code", "region_code", "name"])
        for d in devices:
            s = as_spec(d)
            w.writerow([s.mn, s.password, s.uscc, s.outlet_code, s.region_code, s.name])
    return p


# ---------------------------------------------------------------------------------------------
# faults


def _bj(t: datetime) -> datetime:
    """Aware Beijing time (naive input is taken as Beijing time)."""
    return t.replace(tzinfo=BEIJING) if t.tzinfo is None else t.astimezone(BEIJING)


@dataclass(frozen=True)
class Fault:
    kind: str
    mn: str
    pollutant: str | None
    start: datetime
    end: datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_label(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "mn": self.mn,
            "pollutant": self.pollutant,
            "start": _bj(self.start).isoformat(),
            "end": _bj(self.end).isoformat(),
            "details": dict(self.details),
        }


def load_labels(path: str | Path) -> list[dict[str, Any]]:
    """The labels file as a list of dicts."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]


@dataclass(frozen=True)
class FaultPlan:
    """Which faults to inject.

    ``rates``: expected number per device per simulated day, by kind (window kinds ``exceedance``,
    ``flatline``, ``zero``, ``gap``; packet kinds ``bad_crc``, ``truncated``; ``reconnect``).
    ``legacy_2005_share``: share of devices that are 2005-style loggers.  ``explicit``: faults to
    inject as given (packet kinds and ``reconnect`` apply to the first packet at/after ``start``;
    ``protocol_2005`` makes that device a 2005 logger).
    """

    rates: Mapping[str, float] = field(default_factory=dict)
    legacy_2005_share: float = 0.0
    explicit: tuple[Fault, ...] = ()

    @classmethod
    def none(cls) -> FaultPlan:
        return cls()

    @classmethod
    def default(cls) -> FaultPlan:
        return cls(
            rates={
                "exceedance": 0.3,
                "flatline": 0.15,
                "zero": 0.15,
                "gap": 0.3,
                "bad_crc": 2.0,
                "truncated": 1.0,
                "reconnect": 1.0,
            },
            legacy_2005_share=0.1,
        )

    @classmethod
    def heavy(cls) -> FaultPlan:
        """Many faults in a short run (tests, demos)."""
        return cls(
            rates={
                "exceedance": 4.0,
                "flatline": 3.0,
                "zero": 3.0,
                "gap": 4.0,
                "bad_crc": 24.0,
                "truncated": 24.0,
                "reconnect": 12.0,
            },
            legacy_2005_share=0.2,
        )

    @classmethod
    def named(cls, name: str) -> FaultPlan:
        plans = {"none": cls.none, "default": cls.default, "heavy": cls.heavy}
        if name not in plans:
            raise ValueError(f"fault plan {name!r}: use one of {sorted(plans)}")
        return plans[name]()

    def materialize(
        self, devices: Sequence[DeviceSpec], start: datetime, end: datetime, seed: int
    ) -> dict[str, list[Fault]]:
        """Concrete faults per MN (window faults with their values; packet faults and reconnects
        as the instants from which they apply).  Deterministic from the seed."""
        start, end = _bj(start), _bj(end)
        days = (end - start) / _DAY
        out: dict[str, list[Fault]] = {d.mn: [] for d in devices}
        by_mn = {d.mn: d for d in devices}
        for f in self.explicit:
            if f.mn in out:
                out[f.mn].append(_complete_explicit(f, by_mn[f.mn], seed))
        for d in devices:
            rng = random.Random(f"fleet-faults|{seed}|{d.mn}")
            faults = out[d.mn]
            if self.legacy_2005_share > 0 and rng.random() < self.legacy_2005_share:
                faults.append(Fault("protocol_2005", d.mn, None, start, end, {}))
            windows = [(f.start, f.end) for f in faults if f.kind in WINDOW_KINDS]
            for kind in ("gap", "exceedance", "flatline", "zero", "bad_crc", "truncated", "reconnect"):
                lam = self.rates.get(kind, 0.0) * days
                n = int(lam) + (1 if rng.random() < lam - int(lam) else 0)
                for _ in range(n):
                    if kind in WINDOW_KINDS:
                        w = _plan_window(kind, d, start, end, rng, windows)
                        if w is not None:
                            faults.append(w)
                            windows.append((w.start, w.end))
                    else:
                        t = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))
                        details: dict[str, Any] = {}
                        if kind == "truncated":
                            details["variant"] = rng.choice(("cut", "disconnect"))
                        faults.append(Fault(kind, d.mn, None, t, t, details))
            faults.sort(key=lambda f: (f.start, FAULT_KINDS.index(f.kind) if f.kind in FAULT_KINDS else 99))
        return out


def _fault_pollutants(kind: str, d: DeviceSpec) -> list[str]:
    if kind == "exceedance":
        return [c for c in d.pollutants if c == PH or d.limit(c) is not None]
    conc = [c for c in d.pollutants if _shape(c).kind == "conc"]
    if kind == "flatline":
        return conc + [c for c in d.pollutants if c == PH]
    return conc


def _plan_window(
    kind: str,
    d: DeviceSpec,
    start: datetime,
    end: datetime,
    rng: random.Random,
    taken: list[tuple[datetime, datetime]],
) -> Fault | None:
    pollutant: str | None = None
    if kind != "gap":
        candidates = _fault_pollutants(kind, d)
        if not candidates:
            return None
        pollutant = rng.choice(candidates)
    for _ in range(20):
        if kind == "gap":
            dur = timedelta(minutes=rng.randint(15, 120))
            lo = _ceil(start, _MINUTE)
            span = int((end - dur - lo) / _MINUTE)
            if span < 0:
                return None
            s = lo + _MINUTE * rng.randint(0, span)
        else:
            hours = {"exceedance": (1, 3), "flatline": (3, 6), "zero": (1, 2)}[kind]
            dur = _HOUR * rng.randint(*hours)
            lo = _ceil(start, _HOUR)
            span = int((end - dur - lo) / _HOUR)
            if span < 0:
                dur = _HOUR * int((end - lo) / _HOUR)  # short run: as many whole hours as fit
                span = 0
                if dur <= timedelta(0):
                    return None
            s = lo + _HOUR * rng.randint(0, span)
        e = s + dur
        if all(e <= a or s >= b for a, b in taken):
            return Fault(kind, d.mn, pollutant, s, e, _window_details(kind, d, pollutant, rng))
    return None


def _window_details(kind: str, d: DeviceSpec, pollutant: str | None, rng: random.Random) -> dict[str, Any]:
    if kind == "exceedance" and pollutant is not None:
        if pollutant == PH:
            return {"limit": list(PH_RANGE), "value": round(rng.uniform(9.6, 10.8), 2), "basis": "Rtd"}
        return {
            "limit": d.limit(pollutant),
            "factor": round(rng.uniform(1.4, 3.0), 2),
            "basis": "ZsRtd" if d.st == FLUE_GAS and pollutant in ZS_CODES else "Rtd",
        }
    if kind == "flatline":
        return {"field": "Rtd"}  # the value is fixed when the window's first day is generated
    return {}


def _complete_explicit(f: Fault, d: DeviceSpec, seed: int) -> Fault:
    f = replace(f, start=_bj(f.start), end=_bj(f.end))
    if f.kind == "near_limit" and f.pollutant is not None:
        basis = "ZsRtd" if d.st == FLUE_GAS and f.pollutant in ZS_CODES else "Rtd"
        return replace(
            f, details={"limit": d.limit(f.pollutant), "low": 0.92, "high": 0.99, "basis": basis, **f.details}
        )
    if f.kind == "zs_mismatch":
        return replace(f, details={"factor": 0.6, **f.details})
    if f.kind == "flags":
        return replace(f, details={"flag": "M", **f.details})
    if f.kind in ("exceedance", "flatline") and not f.details:
        rng = random.Random(f"fleet-explicit|{seed}|{f.mn}|{f.start.isoformat()}")
        return replace(f, details=_window_details(f.kind, d, f.pollutant, rng))
    if f.kind == "truncated" and "variant" not in f.details:
        return replace(f, details={**f.details, "variant": "cut"})
    return f


def _floor(t: datetime, step: timedelta) -> datetime:
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return day + step * ((t - day) // step)


def _ceil(t: datetime, step: timedelta) -> datetime:
    f = _floor(t, step)
    return f if f == t else f + step


# ---------------------------------------------------------------------------------------------
# signals


@dataclass(frozen=True)
class _Shape:
    kind: Literal["flow", "o2", "temp", "velocity", "humidity", "pressure", "conc", "ph"]
    mean: float  # conc with a limit: share of the limit; otherwise the level itself
    cv: float = 0.12


_SHAPES: Mapping[str, _Shape] = {
    "a00000": _Shape("flow", 60.0, 0.02),  # m³/s
    "a01011": _Shape("velocity", 12.0, 0.03),  # m/s
    "a01012": _Shape("temp", 50.0, 0.02),  # °C
    "a01013": _Shape("pressure", 0.3, 0.05),  # kPa (gauge)
    "a01014": _Shape("humidity", 8.0, 0.05),  # %
    "a19001": _Shape("o2", 6.0, 0.05),  # %
    "a21026": _Shape("conc", 0.45, 0.15),
    "a21002": _Shape("conc", 0.6, 0.10),
    "a34013": _Shape("conc", 0.35, 0.20),
    "a21005": _Shape("conc", 20.0, 0.25),
    "a24088": _Shape("conc", 0.3, 0.20),
    "w00000": _Shape("flow", 40.0, 0.05),  # L/s
    "w01001": _Shape("ph", 7.2, 0.2),
    "w01018": _Shape("conc", 0.5, 0.12),
    "w21003": _Shape("conc", 0.3, 0.20),
    "w21011": _Shape("conc", 0.4, 0.15),
    "w21001": _Shape("conc", 0.6, 0.10),
    "w01012": _Shape("conc", 0.4, 0.20),
    "w01017": _Shape("conc", 0.4, 0.15),
    "w22001": _Shape("conc", 0.2, 0.25),
}


def _shape(code: str) -> _Shape:
    return _SHAPES.get(code, _Shape("conc", 1.0, 0.1))


class _DayData:
    """Minute series of one device-day: measured values, converted values and "exact" masks
    (minutes whose real-time value is sent without instrument jitter: flat-lined or zero)."""

    __slots__ = ("cou", "exact", "flow", "o2", "values", "zs")

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}
        self.zs: dict[str, list[float]] = {}
        self.exact: dict[str, bytearray] = {}
        self.o2: list[float] = []
        self.flow: list[float] = []
        self.cou: dict[str, list[float]] = {}  # per-minute Cou contributions


class _Model:
    """The physical signals behind one logger (deterministic from seed, MN and date)."""

    def __init__(self, spec: DeviceSpec, seed: int, windows: list[Fault]) -> None:
        self.spec = spec
        self.seed = seed
        self.windows = windows
        rng = random.Random(f"fleet-model|{seed}|{spec.mn}")
        self.base_load = rng.uniform(0.70, 0.85)
        self.load_amp = rng.uniform(0.08, 0.15)
        self.peak_hour = rng.uniform(12.0, 16.0)
        self.shares = {
            c: _shape(c).mean + rng.uniform(-0.4, 0.4) if c == PH else _shape(c).mean * rng.uniform(0.8, 1.2)
            for c in spec.pollutants
        }
        self._days: dict[date, _DayData] = {}
        self._flat_values: dict[int, float] = {}

    def day(self, d: date) -> _DayData:
        got = self._days.get(d)
        if got is None:
            if len(self._days) >= 3:
                self._days.pop(min(self._days))
            got = self._days[d] = self._generate(d)
        return got

    def _generate(self, d: date) -> _DayData:
        spec = self.spec
        rng = random.Random(f"fleet-day|{self.seed}|{spec.mn}|{d.isoformat()}")
        gauss = rng.gauss
        n = 1440
        out = _DayData()
        flue = spec.st == FLUE_GAS
        rho = 0.98  # AR(1) per minute
        inno = math.sqrt(1 - rho * rho)
        x_load = gauss(0, 1)
        x_o2 = gauss(0, 1)
        x_flow = gauss(0, 1)
        load = [0.0] * n
        shape = [0.0] * n
        o2 = [0.0] * n
        flow = [0.0] * n
        two_pi = 2 * math.pi
        flow_code = "a00000" if flue else "w00000"
        flow_level = _shape(flow_code).mean * spec.scale
        for i in range(n):
            h = i / 60.0
            x_load = rho * x_load + inno * gauss(0, 1)
            x_o2 = rho * x_o2 + inno * gauss(0, 1)
            x_flow = rho * x_flow + inno * gauss(0, 1)
            if flue:
                ld = self.base_load + self.load_amp * math.cos(two_pi * (h - self.peak_hour) / 24)
                ld = min(1.05, max(0.3, ld + 0.03 * x_load))
                load[i] = ld
                o2[i] = min(15.0, max(3.0, 6.0 + 5.0 * (1.0 - ld) + 0.3 * x_o2))
                flow[i] = max(0.0, flow_level * ld * (1 + 0.02 * x_flow))
            else:
                sh = 1 + 0.25 * math.cos(two_pi * (h - 10) / 24) + 0.1 * math.cos(2 * two_pi * (h - 8) / 24)
                shape[i] = sh
                flow[i] = max(0.0, flow_level * sh * (1 + 0.05 * x_flow))
        out.o2 = o2
        out.flow = flow
        o2_fac = [(21.0 - spec.o2_ref) / (21.0 - v) for v in o2]
        for code in spec.pollutants:
            sp = _shape(code)
            x = gauss(0, 1)
            vals = [0.0] * n
            zs: list[float] | None = [0.0] * n if flue and code in ZS_CODES else None
            limit = spec.limit(code)
            level = self.shares[code] * limit if (sp.kind == "conc" and limit) else self.shares[code]
            for i in range(n):
                x = rho * x + inno * gauss(0, 1)
                if code == flow_code:
                    v = flow[i]
                elif sp.kind == "o2":
                    v = o2[i]
                elif sp.kind == "ph":
                    v = level + sp.cv * x
                elif sp.kind == "flow":
                    v = max(0.0, sp.mean * spec.scale * (load[i] if flue else shape[i]) * (1 + sp.cv * x))
                elif sp.kind in ("temp", "velocity", "humidity", "pressure"):
                    factor = (0.6 + 0.5 * load[i]) if flue else 1.0
                    v = level * factor * (1 + sp.cv * x)
                elif flue:
                    ref = max(0.0, level * (0.9 + 0.2 * load[i]) * (1 + sp.cv * x))
                    if zs is not None:
                        zs[i] = ref
                        v = ref / o2_fac[i]
                    else:
                        v = ref
                else:
                    v = max(0.0, level * (1 + 0.15 * (shape[i] - 1)) * (1 + sp.cv * x))
                vals[i] = v
            out.values[code] = vals
            if zs is not None:
                out.zs[code] = zs
            out.exact[code] = bytearray(n)
        self._apply_windows(d, out, o2_fac, rng)
        # per-minute cumulative amounts (Cou): flow m³, pollutant kg
        per_min_m3 = [f * 60.0 for f in flow] if flue else [f * 60.0 / 1000.0 for f in flow]
        for code in spec.pollutants:
            if code == flow_code:
                out.cou[code] = per_min_m3
            elif _shape(code).kind == "conc":
                vals = out.values[code]
                # mg/m³ × m³ → kg, mg/L × m³ (= 1000 L) → kg
                k = 1e-6 if flue else 1e-3
                out.cou[code] = [v * q * k for v, q in zip(vals, per_min_m3, strict=True)]
        return out

    def _apply_windows(self, d: date, out: _DayData, o2_fac: list[float], rng: random.Random) -> None:
        day_start = datetime(d.year, d.month, d.day, tzinfo=BEIJING)
        day_end = day_start + _DAY
        for f in self.windows:
            code = f.pollutant
            if f.kind in OFFLINE_KINDS or f.kind == "flags" or code is None or code not in out.values:
                continue
            if f.end <= day_start or f.start >= day_end:
                continue
            i0 = max(0, int((f.start - day_start) / _MINUTE))
            i1 = min(1440, int((f.end - day_start) / _MINUTE))
            vals = out.values[code]
            zs = out.zs.get(code)
            exact = out.exact[code]
            if f.kind == "exceedance":
                if code == PH:
                    for i in range(i0, i1):
                        vals[i] = float(f.details.get("value", 10.0)) + 0.05 * rng.gauss(0, 1)
                    continue
                target = float(f.details["limit"]) * float(f.details["factor"])
                for i in range(i0, i1):
                    ref = target * (1 + 0.03 * rng.gauss(0, 1))
                    if zs is not None:
                        zs[i] = ref
                        vals[i] = ref / o2_fac[i]
                    else:
                        vals[i] = ref
            elif f.kind == "near_limit":
                lo, hi = float(f.details["low"]), float(f.details["high"])
                limit = float(f.details["limit"])
                for i in range(i0, i1):
                    ref = limit * rng.uniform(lo, hi)
                    if zs is not None:
                        zs[i] = ref
                        vals[i] = ref / o2_fac[i]
                    else:
                        vals[i] = ref
            elif f.kind == "zs_mismatch" and zs is not None:
                factor = float(f.details["factor"])
                for i in range(i0, i1):
                    zs[i] = vals[i] * o2_fac[i] * factor
            elif f.kind in ("flatline", "zero"):
                c = 0.0 if f.kind == "zero" else self._flat_value(f, vals[i0], code)
                for i in range(i0, i1):
                    vals[i] = c
                    exact[i] = 1
                    if zs is not None:
                        zs[i] = c * o2_fac[i]

    def _flat_value(self, f: Fault, first: float, code: str) -> float:
        key = id(f)
        if key not in self._flat_values:
            v = f.details.get("value")
            self._flat_values[key] = float(v) if v is not None else _round(code, first)
        return self._flat_values[key]

    def flat_value(self, f: Fault) -> float:
        """The constant of a flat-line fault (generates the window's first day if needed)."""
        self.day(f.start.date())
        return self._flat_values[id(f)]


def _round(code: str, v: float) -> float:
    r = round(v, 2 if code == PH else 3)
    return r + 0.0  # no -0.0


# ---------------------------------------------------------------------------------------------
# schedule and packets


def device_schedule(
    spec: DeviceSpec, start: datetime, end: datetime
) -> Iterator[tuple[datetime, str, datetime]]:
    """``(send time, CN, DataTime)`` of everything a resolved spec sends in ``[start, end)``, in
    send order: 2011 at ``start + phase + k·interval``; 2051/2061/2031 when their period ends in
    ``(start, end]`` (sent at the period end, DataTime = period start)."""
    start, end = _bj(start), _bj(end)
    if spec.rtd_interval_s <= 0 or spec.rtd_phase_s < 0:
        raise ValueError("resolve the spec first (resolve_spec)")

    def rtd() -> Iterator[tuple[datetime, int, str, datetime]]:
        step = timedelta(seconds=spec.rtd_interval_s)
        t = start + timedelta(seconds=spec.rtd_phase_s)
        while t < end:
            yield t, _CN_ORDER["2011"], "2011", t
            t += step

    def periods(cn: str, step: timedelta) -> Iterator[tuple[datetime, int, str, datetime]]:
        p = _floor(start, step)
        while p + step <= end:
            if p + step > start:
                yield p + step, _CN_ORDER[cn], cn, p
            p += step

    streams = [
        rtd(),
        periods("2051", timedelta(minutes=spec.min_interval_min)),
        periods("2061", _HOUR),
        periods("2031", _DAY),
    ]
    for t, _, cn, dt_ in heapq.merge(*streams):
        yield t, cn, dt_


@dataclass(frozen=True)
class Transmission:
    """One packet as the logger sends it (``lines``: its parts, usually one)."""

    time: datetime  # simulated send time
    cn: str
    data_time: datetime
    qn: str | None
    lines: tuple[bytes, ...]
    wants_ack: bool
    fault: Fault | None = None  # a packet fault applied to the first transmission of lines[0]
    faulty: bytes | None = None  # what is written instead of lines[0] the first time
    disconnect_after_faulty: bool = False
    reconnect_before: Fault | None = None  # a reconnect fault applied just before this packet


@dataclass(frozen=True)
class Disconnect:
    """The logger goes offline at ``time`` (a gap starts)."""

    time: datetime
    fault: Fault


ScriptEvent: TypeAlias = Transmission | Disconnect


class LoggerScript:
    """What one logger sends over ``[start, end)``: :class:`Transmission` and :class:`Disconnect`
    events in simulated time order, with the faults of its plan applied.  Pure (no network).

    ``labels`` collects the packet-level and reconnect faults as they are applied;
    ``lost_in_gaps`` counts packets that fell into a gap (per gap in the gap fault's
    ``details.packets_lost`` once the gap has passed).
    """

    def __init__(
        self,
        spec: DeviceSpec,
        start: datetime,
        end: datetime,
        *,
        seed: int,
        faults: Sequence[Fault] = (),
    ) -> None:
        self.spec = spec
        self.start = _bj(start)
        self.end = _bj(end)
        self.seed = seed
        self.legacy = spec.protocol == 2005 or any(f.kind == "protocol_2005" for f in faults)
        self.windows = [f for f in faults if f.kind in WINDOW_KINDS]
        self.gaps = sorted((f for f in faults if f.kind in OFFLINE_KINDS), key=lambda f: f.start)
        self.flag_windows = [f for f in faults if f.kind == "flags"]
        self.pending = sorted(
            (f for f in faults if f.kind in PACKET_KINDS or f.kind == "reconnect"),
            key=lambda f: f.start,
        )
        self.model = _Model(spec, seed, self.windows)
        self.rng = random.Random(f"fleet-script|{seed}|{spec.mn}")
        self.labels: list[Fault] = []
        self.lost_in_gaps = 0
        self._last_qn = ""
        self._codes = {
            c: (POLLUTANTS[c].code_2005 or c) if self.legacy and c in POLLUTANTS else c
            for c in spec.pollutants
        }

    @property
    def code_map_2005(self) -> dict[str, str]:
        return {c: o for c, o in self._codes.items() if o != c}

    def device_labels(self) -> list[Fault]:
        """Labels known before the run: ``protocol_2005`` and the window faults except gaps and
        silences (labelled once they have passed, with ``packets_lost``)."""
        out: list[Fault] = []
        if self.legacy:
            out.append(
                Fault(
                    "protocol_2005", self.spec.mn, None, self.start, self.end, {"codes": self.code_map_2005}
                )
            )
        return out + [f for f in self.window_labels() if f.kind not in OFFLINE_KINDS]

    def window_labels(self) -> list[Fault]:
        """Window faults (with the flat-line constants filled in)."""
        out = []
        for f in self.windows:
            if f.kind == "flatline" and f.pollutant is not None and "value" not in f.details:
                out.append(replace(f, details={**f.details, "value": self.model.flat_value(f)}))
            else:
                out.append(f)
        return out

    def events(self) -> Iterator[ScriptEvent]:
        gaps = list(self.gaps)
        offline: Fault | None = None
        lost = 0
        for t, cn, data_time in device_schedule(self.spec, self.start, self.end):
            if offline is not None and t >= offline.end:
                self._close_gap(offline, lost)
                offline = None
            while gaps and gaps[0].end <= t:
                self._close_gap(gaps.pop(0), 0)
            if offline is None and gaps and gaps[0].start <= t:
                offline = gaps.pop(0)
                lost = 0
                yield Disconnect(offline.start, offline)
            if offline is not None:
                lost += 1
                self.lost_in_gaps += 1
                continue
            yield self._transmission(t, cn, data_time)
        if offline is not None:
            self._close_gap(offline, lost)
        for g in gaps:
            self._close_gap(g, 0)

    def _close_gap(self, g: Fault, lost: int) -> None:
        self.labels.append(replace(g, details={**g.details, "packets_lost": lost}))

    # -- packets
    def _qn(self, t: datetime) -> str:
        qn = t.strftime("%Y%m%d%H%M%S") + f"{t.microsecond // 1000:03d}"
        if qn <= self._last_qn:
            qn = str(int(self._last_qn) + 1)
        self._last_qn = qn
        return qn

    def _transmission(self, t: datetime, cn: str, data_time: datetime) -> Transmission:
        items = self.items(cn, data_time)
        qn = None if self.legacy else self._qn(t)
        flag = None if self.legacy else 5
        lines = self._build(cn, qn, flag, data_time, items)
        reconnect: Fault | None = None
        fault: Fault | None = None
        faulty: bytes | None = None
        disconnect = False
        while self.pending and self.pending[0].start <= t:
            f = self.pending.pop(0)
            if f.kind == "reconnect":
                if reconnect is None:
                    reconnect = replace(f, start=t, end=t)
                    self.labels.append(reconnect)
                continue
            if fault is not None:  # one packet fault per packet; the next one goes to the next packet
                self.pending.insert(0, f)
                break
            faulty, disconnect, details = self._corrupt(f, lines[0])
            fault = replace(
                f,
                start=t,
                end=t,
                details={
                    **f.details,
                    **details,
                    "qn": qn,
                    "cn": cn,
                    "data_time": data_time.isoformat(),
                },
            )
            self.labels.append(fault)
        return Transmission(t, cn, data_time, qn, lines, flag == 5, fault, faulty, disconnect, reconnect)

    def _corrupt(self, f: Fault, line: bytes) -> tuple[bytes, bool, dict[str, Any]]:
        if f.kind == "bad_crc":
            crc = int(line[-6:-2], 16)
            bad = crc ^ self.rng.randrange(1, 0x10000)
            return line[:-6] + b"%04X" % bad + b"\r\n", False, {"expected_reason": "crc_mismatch"}
        variant = str(f.details.get("variant", "cut"))
        cp = line.find(b";CP=&&")
        lo = cp + 6 if cp >= 0 else 8
        hi = max(lo + 1, len(line) - 7)
        k = self.rng.randrange(lo, hi)
        if variant == "disconnect":
            return line[:k], True, {"variant": variant, "expected_reason": "missing_tail", "kept_bytes": k}
        return (
            line[:k] + b"\r\n",
            False,
            {"variant": "cut", "expected_reason": "length_mismatch", "kept_bytes": k},
        )

    def _build(
        self,
        cn: str,
        qn: str | None,
        flag: int | None,
        data_time: datetime,
        items: dict[str, dict[str, float | str]],
    ) -> tuple[bytes, ...]:
        try:
            return (
                build_packet(
                    qn=qn, st=self.spec.st, cn=cn, pw=self.spec.password, mn=self.spec.mn, flag=flag,
                    data_time=data_time, items=items,
                ),
            )  # fmt: skip
        except ValueError:
            pass
        # Too long for one packet (> 1024 bytes): split by pollutant (Flag D bit, PNUM/PNO).
        groups: list[dict[str, dict[str, float | str]]] = [{}]
        for code, sub in items.items():
            trial = {**groups[-1], code: sub}
            seg = build_packet(
                qn=qn, st=self.spec.st, cn=cn, pw=self.spec.password, mn=self.spec.mn,
                flag=flag, pnum=9999, pno=9999, data_time=data_time, items=trial, check_size=False,
            )  # fmt: skip
            if len(seg) - 12 > MAX_DATA_LEN and groups[-1]:
                groups.append({code: sub})
            else:
                groups[-1] = trial
        split_flag = None if flag is None else flag | 2
        return tuple(
            build_packet(
                qn=qn, st=self.spec.st, cn=cn, pw=self.spec.password, mn=self.spec.mn,
                flag=split_flag, pnum=len(groups), pno=i + 1, data_time=data_time, items=g,
            )
            for i, g in enumerate(groups)
        )  # fmt: skip

    def _flag(self, code: str, data_time: datetime) -> str:
        """The data flag of ``code`` at ``data_time``: N unless a ``flags`` window covers it."""
        for f in self.flag_windows:
            if (f.pollutant is None or f.pollutant == code) and f.start <= data_time < f.end:
                return str(f.details.get("flag", "M"))
        return "N"

    def items(self, cn: str, data_time: datetime) -> dict[str, dict[str, float | str]]:
        """CP items of one packet (2017 or 2005 codes)."""
        spec = self.spec
        dd = self.model.day(data_time.date())
        day_start = data_time.replace(hour=0, minute=0, second=0, microsecond=0)
        i0 = int((data_time - day_start) / _MINUTE)
        out: dict[str, dict[str, float | str]] = {}
        flue = spec.st == FLUE_GAS
        if cn == "2011":
            gauss = self.rng.gauss
            o2 = dd.o2[i0] * (1 + 0.005 * gauss(0, 1))
            o2_fac = (21.0 - spec.o2_ref) / (21.0 - o2)
            for code in spec.pollutants:
                v = dd.values[code][i0]
                if not dd.exact[code][i0]:
                    v = v + 0.02 * gauss(0, 1) if code == PH else v * (1 + 0.01 * gauss(0, 1))
                if _shape(code).kind == "o2":
                    v = o2
                sub: dict[str, float | str] = {"Rtd": _round(code, max(v, 0.0))}
                if flue and code in dd.zs:
                    sub["ZsRtd"] = _round(code, max(v, 0.0) * o2_fac)
                sub["Flag"] = self._flag(code, data_time)
                out[self._codes[code]] = sub
            return out
        n = {"2051": spec.min_interval_min, "2061": 60, "2031": 1440}[cn]
        i1 = i0 + n
        for code in spec.pollutants:
            vals = dd.values[code][i0:i1]
            sub = {
                "Min": _round(code, min(vals)),
                "Avg": _round(code, sum(vals) / len(vals)),
                "Max": _round(code, max(vals)),
            }
            cou = dd.cou.get(code)
            if cou is not None:
                sub["Cou"] = round(sum(cou[i0:i1]), 3) + 0.0
            zs = dd.zs.get(code)
            if zs is not None:
                zv = zs[i0:i1]
                sub["ZsMin"] = _round(code, min(zv))
                sub["ZsAvg"] = _round(code, sum(zv) / len(zv))
                sub["ZsMax"] = _round(code, max(zv))
            sub["Flag"] = self._flag(code, data_time)
            out[self._codes[code]] = sub
        return out


# ---------------------------------------------------------------------------------------------
# network


@dataclass
class FleetStats:
    devices: int = 0
    sent: int = 0  # lines written: every transmission, resends and faulty lines included
    packets: int = 0  # distinct packets (each part of a split packet counts)
    acked: int = 0  # 9014 replies matched to a packet
    resent: int = 0
    reconnects: int = 0
    nacked: int = 0  # 9011 replies matched to a packet
    unacked: int = 0  # given up after max_resends
    ack_wanted_valid: int = 0  # valid lines written with Flag asking for an ack
    lost_in_gaps: int = 0  # packets due while the logger was offline
    connect_failures: int = 0
    unmatched_replies: int = 0
    by_cn: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)  # labels written, by kind
    completed: bool = False  # every logger reached the end of the simulated period
    sim_start: str = ""
    sim_end: str = ""
    wall_s: float = 0.0
    acked_keys: list[tuple[str, str]] | None = None  # (MN, QN) of acked packets, if requested

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "acked_keys"}
        d["by_cn"] = dict(self.by_cn)
        d["faults"] = dict(self.faults)
        return d


class _Labels:
    """The labels file (JSON lines, flushed per write); ``counts`` by kind."""

    def __init__(self, path: Path | None, counts: Counter[str]) -> None:
        self.counts = counts
        self._fh: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("w", encoding="utf-8")

    def write(self, faults: Iterable[Fault]) -> None:
        for f in faults:
            self.counts[f.kind] += 1
            if self._fh is not None:
                self._fh.write(json.dumps(f.to_label(), ensure_ascii=False) + "\n")
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class _Ctx:
    def __init__(
        self, host: str, port: int, start: datetime, speed: float, stats: FleetStats, labels: _Labels
    ) -> None:
        self.host = host
        self.port = port
        self.sim0 = start
        self.speed = speed if speed > 0 and math.isfinite(speed) else 0.0
        self.wall0 = time.monotonic()
        self.stats = stats
        self.labels = labels
        self.stopped = False
        self.ack_timeout_s = 5.0
        self.max_resends = 3
        self.connect_timeout_s = 5.0

    async def wait_until(self, t: datetime) -> None:
        if self.speed <= 0:
            return
        delay = self.wall0 + (t - self.sim0).total_seconds() / self.speed - time.monotonic()
        if delay > 0.001:
            await asyncio.sleep(delay)


class _Logger:
    def __init__(self, script: LoggerScript, ctx: _Ctx) -> None:
        self.script = script
        self.ctx = ctx
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.waiting: tuple[str, asyncio.Future[str]] | None = None
        self.connected_once = False
        self.done = False

    async def run(self) -> None:
        ctx = self.ctx
        st = ctx.stats
        try:
            for ev in self.script.events():
                self._flush_labels()
                if ctx.stopped:
                    return
                await ctx.wait_until(ev.time)
                if isinstance(ev, Disconnect):
                    await self._close()
                    continue
                if ev.reconnect_before is not None:
                    await self._close()
                st.by_cn[ev.cn] += 1
                for i, line in enumerate(ev.lines):
                    st.packets += 1
                    faulty = ev.faulty if i == 0 else None
                    await self._transmit(line, ev.qn, ev.wants_ack, faulty, ev.disconnect_after_faulty)
            self.done = True
        finally:
            self._flush_labels()
            st.lost_in_gaps += self.script.lost_in_gaps
            self.script.lost_in_gaps = 0
            await self._close()

    def _flush_labels(self) -> None:
        if self.script.labels:
            self.ctx.labels.write(self.script.labels)
            self.script.labels.clear()

    async def _connect(self) -> bool:
        ctx = self.ctx
        delay = 0.05
        while not ctx.stopped:
            try:
                self.reader, self.writer = await asyncio.wait_for(
                    asyncio.open_connection(ctx.host, ctx.port), ctx.connect_timeout_s
                )
            except (OSError, TimeoutError):
                ctx.stats.connect_failures += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if self.connected_once:
                ctx.stats.reconnects += 1
            self.connected_once = True
            assert self.reader is not None
            self.reader_task = asyncio.get_running_loop().create_task(self._read_replies(self.reader))
            return True
        return False

    async def _close(self) -> None:
        w, t = self.writer, self.reader_task
        self.writer = self.reader = None
        self.reader_task = None
        if w is not None:
            w.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(w.wait_closed(), 2)
        if t is not None:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        st = self.ctx.stats
        try:
            while True:
                line = await reader.readuntil(b"\n")
                p = parse_line(line)
                w = self.waiting
                if isinstance(p, Packet) and p.cn in ("9014", "9011") and w is not None and p.qn == w[0]:
                    if not w[1].done():
                        w[1].set_result(p.cn)
                else:
                    st.unmatched_replies += 1
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError):
            pass
        w = self.waiting
        if w is not None and not w[1].done():
            w[1].set_result("closed")

    async def _transmit(
        self, line: bytes, qn: str | None, wants_ack: bool, faulty: bytes | None, disconnect_after: bool
    ) -> None:
        ctx = self.ctx
        st = ctx.stats
        payload = faulty if faulty is not None else line
        attempts = 0
        loop = asyncio.get_running_loop()
        while not ctx.stopped:
            if self.writer is None and not await self._connect():
                return
            assert self.writer is not None
            fut: asyncio.Future[str] | None = None
            if wants_ack and qn is not None:
                fut = loop.create_future()
                self.waiting = (qn, fut)
            outcome = "timeout"
            try:
                self.writer.write(payload)
                await self.writer.drain()
                st.sent += 1
                if payload is line and wants_ack:
                    st.ack_wanted_valid += 1
                if payload is not line and disconnect_after:
                    await self._close()
                    outcome = "closed"
                elif fut is None:
                    return
                else:
                    with contextlib.suppress(TimeoutError):
                        outcome = await asyncio.wait_for(fut, ctx.ack_timeout_s)
            except (ConnectionError, OSError):
                outcome = "closed"
            finally:
                self.waiting = None
            if outcome == "9014":
                st.acked += 1
                if st.acked_keys is not None and qn is not None:
                    st.acked_keys.append((self.script.spec.mn, qn))
                return
            if outcome == "9011":
                st.nacked += 1
            elif outcome == "closed":
                await self._close()
            if fut is None and payload is not line and not disconnect_after:
                return  # a 2005 logger never learns about its broken line
            attempts += 1
            if attempts > ctx.max_resends:
                st.unacked += 1
                return
            st.resent += 1
            payload = line


async def run_fleet(
    host: str,
    port: int,
    devices: Sequence[DeviceLike],
    *,
    start: datetime,
    duration: timedelta,
    speed: float,
    seed: int,
    faults: FaultPlan,
    labels_path: Path | None,
    wall_timeout_s: float | None = None,
    ack_timeout_s: float = 5.0,
    max_resends: int = 3,
    keep_acked: bool = False,
) -> FleetStats:
    """Run the loggers against ``host:port`` for ``duration`` of simulated time from ``start``
    (naive = Beijing time), ``speed`` simulated seconds per wall second (``0``/``inf``: as fast as
    acks allow).  Labels of the injected faults go to ``labels_path`` (JSON lines).  Stops after
    ``wall_timeout_s`` (default: the nominal wall time × 2 + 60 s; 600 s at full speed) in any case."""
    t_wall = time.monotonic()
    start = _bj(start)
    end = start + duration
    specs = [resolve_spec(d, seed) for d in devices]
    if len({s.mn for s in specs}) != len(specs):
        raise ValueError("duplicate MN in the fleet")
    plan = faults.materialize(specs, start, end, seed)
    stats = FleetStats(devices=len(specs), sim_start=start.isoformat(), sim_end=end.isoformat())
    if keep_acked:
        stats.acked_keys = []
    labels = _Labels(Path(labels_path) if labels_path is not None else None, stats.faults)
    ctx = _Ctx(host, port, start, speed, stats, labels)
    ctx.ack_timeout_s = ack_timeout_s
    ctx.max_resends = max_resends
    if wall_timeout_s is None:
        nominal = duration.total_seconds() / ctx.speed if ctx.speed > 0 else 0.0
        wall_timeout_s = nominal * 2 + 60.0 if ctx.speed > 0 else 600.0
    loggers: list[_Logger] = []
    try:
        for spec in specs:
            script = LoggerScript(spec, start, end, seed=seed, faults=plan[spec.mn])
            known = script.device_labels()
            labels.write(known)
            loggers.append(_Logger(script, ctx))
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(lg.run()) for lg in loggers]
        _, pending = await asyncio.wait(tasks, timeout=max(0.0, wall_timeout_s - (time.monotonic() - t_wall)))
        if pending:
            log.warning(
                "fleet: wall timeout %.0fs reached, stopping %d loggers", wall_timeout_s, len(pending)
            )
            ctx.stopped = True
            for t in pending:
                t.cancel()
            await asyncio.wait(pending, timeout=10)
        for t in tasks:
            if t.done() and not t.cancelled() and t.exception() is not None:
                log.error("logger failed: %r", t.exception())
        stats.completed = all(lg.done for lg in loggers)
    finally:
        labels.close()
    stats.wall_s = round(time.monotonic() - t_wall, 3)
    return stats


def run_fleet_sync(
    host: str,
    port: int,
    devices: Sequence[DeviceLike],
    *,
    start: datetime,
    duration: timedelta,
    speed: float,
    seed: int,
    faults: FaultPlan,
    labels_path: Path | None,
    **kwargs: Any,
) -> FleetStats:
    """Blocking wrapper of :func:`run_fleet`."""
    return asyncio.run(
        run_fleet(
            host,
            port,
            devices,
            start=start,
            duration=duration,
            speed=speed,
            seed=seed,
            faults=faults,
            labels_path=labels_path,
            **kwargs,
        )
    )


def parse_target(target: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9212`` for IPv6) → (host, port)."""
    m = re.fullmatch(r"\[?([^\[\]]+?)\]?:(\d{1,5})", target.strip())
    if not m:
        raise ValueError(f"{target!r}: expected HOST:PORT")
    return m.group(1), int(m.group(2))


def default_start(now: datetime, speed: float, duration: timedelta) -> datetime:
    """Where a fleet's simulated span starts: at ``now``'s minute in real time, and faster than that
    ``duration`` before it, so that the span ends when the run began and no packet is stamped after it
    is sent (a fleet at 60× starting now was an hour ahead within a minute, and the pipeline
    quarantined nearly everything as data_time_ahead_of_receipt)."""
    minute = _floor(now, _MINUTE)
    return minute - duration if speed > 1 else minute


def start_fleet_thread(
    target: str,
    *,
    seed: int,
    speed: float = 60.0,
    duration: timedelta = _DAY,
    start: datetime | None = None,
    n_devices: int | None = None,
    faults: FaultPlan | None = None,
    labels_path: Path | None = None,
    on_done: Any = None,
) -> threading.Thread:
    """Run a fleet in a daemon thread (what ``ecocloud simulate --loggers HOST:PORT`` does), from
    ``start`` (default: :func:`default_start`); ``on_done(stats)`` is called at the end."""
    host, port = parse_target(target)
    t0 = default_start(datetime.now(BEIJING), speed, duration) if start is None else start
    devices = fleet_devices(seed, n_devices)
    plan = FaultPlan.default() if faults is None else faults

    def body() -> None:
        stats = run_fleet_sync(
            host,
            port,
            devices,
            start=t0,
            duration=duration,
            speed=speed,
            seed=seed,
            faults=plan,
            labels_path=labels_path,
        )
        log.info("fleet finished: %s", stats.to_dict())
        if on_done is not None:
            on_done(stats)

    th = threading.Thread(target=body, name="hj212-fleet", daemon=True)
    th.start()
    return th


def _parse_duration(s: str) -> timedelta:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd])", s.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"{s!r}: use e.g. 90s, 30m, 6h, 2d")
    n = float(m.group(1))
    return {
        "s": timedelta(seconds=n),
        "m": timedelta(minutes=n),
        "h": timedelta(hours=n),
        "d": timedelta(days=n),
    }[m.group(2)]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m ecocloud.simulator.fleet", description="simulated HJ 212 data loggers"
    )
    ap.add_argument("target", help="receiver HOST:PORT")
    ap.add_argument("--devices", type=int, default=None, help="number of loggers (default: all / 20)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--start", default=None, help="simulated start, ISO (Beijing); default: today 00:00")
    ap.add_argument("--duration", type=_parse_duration, default=timedelta(hours=6), help="e.g. 6h, 1d")
    ap.add_argument("--speed", type=float, default=3600.0, help="simulated s per wall s; 0 = max")
    ap.add_argument("--faults", default="default", help="none | default | heavy")
    ap.add_argument("--labels", type=Path, default=Path("hj212_fault_labels.jsonl"))
    ap.add_argument("--registry-out", type=Path, default=None, help="write the device registry CSV")
    ap.add_argument("--wall-timeout", type=float, default=None, help="seconds (default: from speed)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    host, port = parse_target(a.target)
    start = (
        _bj(datetime.fromisoformat(a.start))
        if a.start
        else datetime.now(BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    devices = fleet_devices(a.seed, a.devices)
    if a.registry_out:
        write_registry(devices, a.registry_out)
    stats = run_fleet_sync(
        host,
        port,
        devices,
        start=start,
        duration=a.duration,
        speed=a.speed,
        seed=a.seed,
        faults=FaultPlan.named(a.faults),
        labels_path=a.labels,
        wall_timeout_s=a.wall_timeout,
    )
    print(json.dumps(stats.to_dict(), ensure_ascii=False, indent=1))
    return 0 if stats.completed else 1


if __name__ == "__main__":
    sys.exit(main())
