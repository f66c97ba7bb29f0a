"""A simulated province with labelled risk offenders: the ground truth of the enforcement analytics.

:func:`risk_scenario` takes the simulated province (:func:`~ecocloud.simulator.enterprises.
simulated_sources`, ``scale`` times the enterprises) and its logger fleet, and injects one offender
per fault kind the analytics must find, on outlets that carry no other fault:

==========================  ====================================================================
kind (label)                what the outlet does
==========================  ====================================================================
``exceedance``              a flue-gas (converted basis) and a wastewater pollutant 1.8 × the
                            permitted limit for 8 hours
``flatline``                a flue-gas and a wastewater pollutant constant for 10 hours while
                            the process runs
``zero``                    a pollutant at zero for 4 hours while the flow goes on
``silence``                 the logger sends nothing for 20 hours
``near_limit``              a wastewater pollutant at 92–99 % of its limit for all but 6 hours
``flags``                   every value flagged M (maintenance) for 24 hours, and on another
                            outlet S (manually entered) for 18 hours
``zs_mismatch``             a flue-gas converted value sent as 0.6 × the correct one for 12 hours
``credit``                  an enterprise rated red, another black, in the latest year
``revoked_permit``          the province's revoked permit (revoked on the last day), its outlets
``expired_permit``          the province's permit that expired and was not renewed
``unpermitted_outlet``      the monitoring point on an outlet the permit does not list
``unregistered_mn``         the replacement logger missing from the master data
==========================  ====================================================================

Every other enterprise's latest credit rating is green, blue or yellow, and every other outlet
carries only benign noise (short gaps, resent bad-CRC lines, reconnects, 2005-style loggers):
such outlets are *clean* and unlabelled. The window faults are labelled by the fleet itself
(:class:`~ecocloud.simulator.fleet.LoggerScript`); the enterprise-level ones (credit, permits,
identity) get one label per affected MN, with the same JSON-lines fields.

:func:`write_captures` writes what the loggers send as HJ 212 capture files (one per Beijing day,
one packet per line, in send order) plus the labels file — the fast path into the HJ 212 pipeline
(``ecocloud.pipelines.sources.ingest_files``) without a TCP receiver. The scenario's loggers send
real-time data every 30 min and minute data every 30 min instead of every 30–60 s and 10 min
(fewer packets; the hourly and daily packets, which the marts use, are unchanged).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ecocloud.simulator.enterprises import Enterprise, SimulatedSources, simulated_sources
from ecocloud.simulator.fleet import (
    FLUE_GAS,
    WASTEWATER,
    ZS_CODES,
    DeviceSpec,
    Disconnect,
    Fault,
    FaultPlan,
    LoggerScript,
    devices_from_sources,
    resolve_spec,
)
from schemas.clock import BEIJING

__all__ = ["OFFENDER_KINDS", "RiskScenario", "risk_scenario", "write_captures", "write_labels"]

OFFENDER_KINDS = (
    "exceedance",
    "flatline",
    "zero",
    "silence",
    "near_limit",
    "flags",
    "zs_mismatch",
    "credit",
    "revoked_permit",
    "expired_permit",
    "unpermitted_outlet",
    "unregistered_mn",
)
_NOISE = FaultPlan(rates={"gap": 0.5, "bad_crc": 1.0, "reconnect": 0.5}, legacy_2005_share=0.1)
_H = dt.timedelta(hours=1)


@dataclass(frozen=True)
class RiskScenario:
    sources: SimulatedSources  # the province (credit adjusted): what the permit/credit/master feeds serve
    devices: tuple[DeviceSpec, ...]  # the loggers, resolved
    plan: FaultPlan  # benign noise for all, plus the offenders' explicit faults
    start: dt.datetime  # Beijing, first simulated instant
    end: dt.datetime  # Beijing, exclusive
    seed: int
    labels: tuple[dict[str, Any], ...]  # enterprise-level offender labels (window ones: the fleet's)

    @property
    def days(self) -> list[dt.date]:
        n = (self.end - self.start) // dt.timedelta(days=1)
        return [self.start.date() + dt.timedelta(days=i) for i in range(n)]


def _label(kind: str, mn: str, start: dt.datetime, end: dt.datetime, **details: Any) -> dict[str, Any]:
    return Fault(kind, mn, None, start, end, details).to_label()


def _permit_o2(sources: SimulatedSources, d: DeviceSpec, code: str) -> bool:
    """The outlet's current permit gives an O2 reference for ``code`` (judged converted)."""
    ent = next(e for e in sources.enterprises if e.uscc == d.uscc)
    return any(
        lim.code == code and lim.o2_reference_pct is not None
        for o in ent.permits[-1].outlets
        if o.code == d.outlet_code
        for lim in o.limits
    )


def _credit(e: Enterprise, level: str | None, rng: random.Random) -> Enterprise:
    """The enterprise with its latest rating ``level`` (None: a clean level, green/blue/yellow)."""
    if not e.credit:
        return e
    *older, (year, current) = e.credit
    if level is None:
        level = current if current in ("green", "blue", "yellow") else rng.choice(("green", "blue", "yellow"))
    return replace(e, credit=(*older, (year, level)))


def _offender_faults(
    pick: dict[str, DeviceSpec], sources: SimulatedSources, start: dt.datetime, hours: int
) -> list[Fault]:
    def code(d: DeviceSpec, flue_converted: bool = False) -> str:
        for c in d.pollutants:
            if d.limit(c) is None or c not in ZS_CODES | {"w01018", "w21003", "w21011", "w21001"}:
                continue
            if not flue_converted or _permit_o2(sources, d, c):
                return c
        raise ValueError(f"{d.mn}: no suitable pollutant")

    def at(h: int) -> dt.datetime:
        return start + h * _H

    f: list[Fault] = []
    for key, kind, flue in (
        ("exceedance_air", "exceedance", True),
        ("exceedance_water", "exceedance", False),
    ):
        d = pick[key]
        c = code(d, flue)
        basis = "ZsRtd" if flue else "Rtd"
        f.append(Fault(kind, d.mn, c, at(30), at(38), {"limit": d.limit(c), "factor": 1.8, "basis": basis}))
    f.append(Fault("flatline", pick["flatline_air"].mn, code(pick["flatline_air"]), at(20), at(30)))
    f.append(Fault("flatline", pick["flatline_water"].mn, code(pick["flatline_water"]), at(20), at(30)))
    f.append(Fault("zero", pick["zero"].mn, code(pick["zero"]), at(40), at(44)))
    f.append(Fault("silence", pick["silence"].mn, None, at(26), at(46)))
    f.append(Fault("near_limit", pick["near_limit"].mn, code(pick["near_limit"]), at(6), at(hours)))
    f.append(Fault("flags", pick["flags_abnormal"].mn, None, at(24), at(48), {"flag": "M"}))
    f.append(Fault("flags", pick["flags_manual"].mn, None, at(30), at(48), {"flag": "S"}))
    f.append(Fault("zs_mismatch", pick["zs_mismatch"].mn, code(pick["zs_mismatch"], True), at(12), at(24)))
    return f


def risk_scenario(
    seed: int = 0, anchor: dt.date = dt.date(2026, 11, 20), days: int = 3, scale: int = 3
) -> RiskScenario:
    """The scenario of the last ``days`` Beijing days up to ``anchor`` (see the module docstring)."""
    if days < 3:
        raise ValueError("the offenders' windows need 3 days")
    base = simulated_sources(seed, anchor, scale)
    rng = random.Random(f"risk-offenders|{seed}|{scale}")
    faults = base.faults
    special = {
        faults.revoked_permit[:18]: "revoked_permit",
        faults.expired_permit[:18]: "expired_permit",
        faults.cancelled_permit[:18]: "cancelled",
        faults.unpermitted_outlet[0]: "unpermitted_outlet",
        next(p.uscc for p in base.monitoring_points if p.mn == faults.unregistered_mn): "unregistered_mn",
    }
    points_of: dict[str, list[str]] = {}
    for p in base.monitoring_points:
        points_of.setdefault(p.uscc, []).append(p.mn)
    single = [
        e
        for e in base.enterprises
        if e.uscc not in special and len(points_of.get(e.uscc, [])) == 1 and e.credit
    ]
    red, black = rng.sample(single, 2)
    levels = {red.uscc: "red", black.uscc: "black"}
    enterprises = tuple(
        e if e.uscc in special else _credit(e, levels.get(e.uscc), rng) for e in base.enterprises
    )
    sources = replace(base, enterprises=enterprises)

    start = dt.datetime.combine(anchor - dt.timedelta(days=days - 1), dt.time(0), BEIJING)
    end = start + dt.timedelta(days=days)
    devices = [
        resolve_spec(replace(d, rtd_interval_s=1800, min_interval_min=30), seed)
        for d in devices_from_sources(sources)
    ]
    taken = set(special) | set(levels)
    candidates = [d for d in devices if d.uscc not in taken]
    rng.shuffle(candidates)

    def take(st: str | None, need_o2: bool = False) -> DeviceSpec:
        for d in candidates:
            if d.uscc in taken or (st is not None and d.st != st):
                continue
            if need_o2 and not any(c in ZS_CODES and _permit_o2(sources, d, c) for c in d.pollutants):
                continue
            taken.add(d.uscc)
            return d
        raise ValueError("not enough clean outlets for the offenders: raise scale")

    pick = {
        "exceedance_air": take(FLUE_GAS, True),
        "exceedance_water": take(WASTEWATER),
        "flatline_air": take(FLUE_GAS),
        "flatline_water": take(WASTEWATER),
        "zero": take(WASTEWATER),
        "silence": take(None),
        "near_limit": take(WASTEWATER),
        "flags_abnormal": take(None),
        "flags_manual": take(None),
        "zs_mismatch": take(FLUE_GAS, True),
    }
    plan = replace(_NOISE, explicit=tuple(_offender_faults(pick, sources, start, days * 24)))

    labels = [
        _label("credit", mn, start, end, uscc=u, level=lvl)
        for u, lvl in levels.items()
        for mn in points_of[u]
    ]
    last_day = dt.datetime.combine(anchor, dt.time(0), BEIJING)
    for uscc, kind in special.items():
        if kind == "cancelled":
            continue
        if kind == "unpermitted_outlet":
            mns = [
                p.mn
                for p in base.monitoring_points
                if p.uscc == uscc and p.outlet_code == faults.unpermitted_outlet[1]
            ]
        elif kind == "unregistered_mn":
            mns = [faults.unregistered_mn]
        else:
            mns = points_of.get(uscc, [])
        t0 = last_day if kind == "revoked_permit" else start
        labels += [_label(kind, mn, t0, end, uscc=uscc) for mn in mns]
    return RiskScenario(sources, tuple(devices), plan, start, end, seed, tuple(labels))


def write_labels(labels: Iterable[dict[str, Any]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for lb in labels:
            fh.write(json.dumps(lb, ensure_ascii=False) + "\n")
    return path


def write_captures(scenario: RiskScenario, out_dir: Path) -> tuple[list[Path], Path]:
    """Capture files (one per Beijing day of sending) of everything the loggers send, and the labels
    file ``labels.jsonl`` (fleet labels + the scenario's). A bad-CRC line is followed by its resend,
    as the receiver would have landed it (2005-style loggers, which never learn, do not resend)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    specs: Sequence[DeviceSpec] = scenario.devices
    plan = scenario.plan.materialize(specs, scenario.start, scenario.end, scenario.seed)
    by_day: dict[dt.date, list[tuple[dt.datetime, str, int, bytes]]] = {}
    labels: list[dict[str, Any]] = []
    for spec in specs:
        script = LoggerScript(spec, scenario.start, scenario.end, seed=scenario.seed, faults=plan[spec.mn])
        labels += [f.to_label() for f in script.device_labels()]
        seq = 0
        for ev in script.events():
            if isinstance(ev, Disconnect):
                continue
            sent = by_day.setdefault(ev.time.astimezone(BEIJING).date(), [])
            for i, line in enumerate(ev.lines):
                if i == 0 and ev.faulty is not None:
                    faulty = ev.faulty if ev.faulty.endswith(b"\r\n") else ev.faulty + b"\r\n"
                    sent.append((ev.time, spec.mn, seq, faulty))
                    seq += 1
                    if not ev.wants_ack:
                        continue
                sent.append((ev.time, spec.mn, seq, line))
                seq += 1
        labels += [f.to_label() for f in script.labels]
    files = []
    for day, lines in sorted(by_day.items()):
        lines.sort(key=lambda x: (x[0], x[1], x[2]))
        path = out_dir / f"fleet-{day.isoformat()}.h212"
        path.write_bytes(b"".join(x[3] for x in lines))
        files.append(path)
    return files, write_labels([*labels, *scenario.labels], out_dir / "labels.jsonl")
