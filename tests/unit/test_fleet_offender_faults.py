"""The fleet's risk-offender faults (silence, near_limit, flags, zs_mismatch) in the packets, labelled,
and the risk scenario built on them (ecocloud.simulator.offenders)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from ecocloud.simulator.fleet import (
    DEFAULT_POLLUTANTS,
    DeviceSpec,
    Disconnect,
    Fault,
    LoggerScript,
    Transmission,
    resolve_spec,
)
from ecocloud.simulator.offenders import OFFENDER_KINDS, risk_scenario
from ingest.hj212.protocol import Packet, parse_line
from schemas.clock import BEIJING

T0 = datetime(2024, 5, 1, tzinfo=BEIJING)
FLUE = resolve_spec(
    DeviceSpec(
        "0A1B2C3D4E5F60718293A4B5", "654321", "91350200776049653A", "DA001", "31", DEFAULT_POLLUTANTS["31"]
    ),
    seed=11,
)
WATER = resolve_spec(
    DeviceSpec(
        "FFEEDDCCBBAA998877665544", "111111", "91350200776049653A", "DW001", "32", DEFAULT_POLLUTANTS["32"]
    ),
    seed=11,
)


def hourly(script: LoggerScript) -> list[Packet]:
    out = []
    for ev in script.events():
        if isinstance(ev, Transmission) and ev.cn == "2061":
            p = parse_line(ev.lines[0])
            assert isinstance(p, Packet)
            out.append(p)
    return out


def test_flags_near_limit_and_zs_mismatch_are_in_the_hourly_packets() -> None:
    flags = Fault("flags", FLUE.mn, None, T0 + timedelta(hours=2), T0 + timedelta(hours=5), {"flag": "M"})
    zs = Fault(
        "zs_mismatch", FLUE.mn, "a21026", T0 + timedelta(hours=6), T0 + timedelta(hours=8), {"factor": 0.6}
    )
    near = Fault("near_limit", FLUE.mn, "a21002", T0, T0 + timedelta(hours=10),
                 {"limit": 50.0, "low": 0.92, "high": 0.99, "basis": "ZsRtd"})  # fmt: skip
    script = LoggerScript(FLUE, T0, T0 + timedelta(hours=10), seed=3, faults=[flags, zs, near])
    assert {f.kind for f in script.device_labels()} == {"flags", "zs_mismatch", "near_limit"}
    packets = hourly(script)
    # one 2061 per hour ending in (T0, T0 + 10 h], dated by the hour's start: T0 + 0 h … T0 + 9 h
    assert [p.data_time for p in packets] == [T0 + timedelta(hours=h) for h in range(10)]
    assert len([p for p in packets if flags.start <= p.data_time < flags.end]) == 3  # type: ignore[operator]
    assert len([p for p in packets if zs.start <= p.data_time < zs.end]) == 2  # type: ignore[operator]
    for p in packets:
        assert p.data_time is not None
        inside = flags.start <= p.data_time < flags.end
        assert {it["Flag"] for it in p.items.values()} == ({"M"} if inside else {"N"})
        assert 0.92 * 50 <= float(p.items["a21002"]["ZsAvg"]) <= 0.99 * 50  # converted basis, under the limit
        so2 = p.items["a21026"]
        o2 = float(p.items["a19001"]["Avg"])
        expected = float(so2["Avg"]) * (21 - FLUE.o2_ref) / (21 - o2)
        ratio = float(so2["ZsAvg"]) / expected
        if zs.start <= p.data_time < zs.end:
            assert ratio == pytest.approx(0.6, rel=0.03)
        else:
            assert ratio == pytest.approx(1.0, rel=0.03)


def test_silence_sends_nothing_and_is_labelled_once_passed() -> None:
    silence = Fault("silence", WATER.mn, None, T0 + timedelta(hours=3), T0 + timedelta(hours=9))
    script = LoggerScript(WATER, T0, T0 + timedelta(hours=12), seed=3, faults=[silence])
    assert script.device_labels() == []
    events = list(script.events())
    assert [e.time for e in events if isinstance(e, Disconnect)] == [silence.start]
    sent = [e.time for e in events if isinstance(e, Transmission)]
    assert not any(silence.start <= t < silence.end for t in sent)
    (label,) = [lb for lb in script.labels if lb.kind == "silence"]
    assert label.details["packets_lost"] > 0


def test_risk_scenario_has_every_offender_on_its_own_outlet() -> None:
    s = risk_scenario(seed=0, anchor=date(2026, 11, 20), days=3, scale=3)
    explicit = s.plan.explicit
    assert {f.kind for f in explicit} | {lb["kind"] for lb in s.labels} == set(OFFENDER_KINDS) - {"flags"} | {
        "flags"
    }
    mns = [f.mn for f in explicit]
    assert len(mns) == len(set(mns))  # one fault per offending outlet
    enterprise_level = {lb["mn"] for lb in s.labels}
    assert not enterprise_level & set(mns)
    latest = {e.uscc: e.credit[-1][1] for e in s.sources.enterprises if e.credit}
    bad = {u for u, lvl in latest.items() if lvl in ("red", "black")}
    labelled = {lb["details"]["uscc"] for lb in s.labels if lb["kind"] in ("credit", "revoked_permit")}
    assert bad == labelled  # no unlabelled red or black enterprise
    assert (s.end - s.start) == timedelta(days=3) and s.days[-1] == date(2026, 11, 20)
