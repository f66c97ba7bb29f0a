"""Simulated HJ 212 loggers: every packet parses; injected faults are in the packets and labelled."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta

import pytest

from ecocloud.simulator.fleet import (
    DEFAULT_LIMITS,
    DEFAULT_POLLUTANTS,
    DeviceSpec,
    Disconnect,
    Fault,
    FaultPlan,
    LoggerScript,
    Transmission,
    builtin_devices,
    device_schedule,
    resolve_spec,
)
from ingest.hj212.batch import parse_lines_batch
from ingest.hj212.protocol import Packet, Reject, parse_line
from schemas.clock import BEIJING
from schemas.hj212_codes import POLLUTANTS

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


def transmissions(script: LoggerScript) -> list[Transmission]:
    return [e for e in script.events() if isinstance(e, Transmission)]


def parsed(tr: Transmission) -> Packet:
    (line,) = tr.lines
    p = parse_line(line)
    assert isinstance(p, Packet), p
    return p


def in_window(t: datetime, f: Fault) -> bool:
    return f.start <= t < f.end


def rtd_due(spec: DeviceSpec, start: datetime, f: Fault) -> int:
    """How many 2011 packets the schedule puts in ``f``'s window: they are due at
    ``start + phase + k·interval`` (k = 0, 1, …), so the count is the ticks before the window's end
    minus the ticks before its start (integer seconds, ceiling division)."""

    def ticks_before(t: datetime) -> int:
        s = int((t - start).total_seconds()) - spec.rtd_phase_s
        return max(0, -(-s // spec.rtd_interval_s))

    return ticks_before(f.end) - ticks_before(f.start)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_packet_parses_and_faulty_lines_are_rejected_for_the_labelled_reason(seed: int) -> None:
    start, end = T0, T0 + timedelta(hours=12)
    devices = [resolve_spec(d, seed) for d in builtin_devices(seed, 6)]
    plan = FaultPlan.heavy().materialize(devices, start, end, seed)
    reasons: Counter[str] = Counter()
    for d in devices:
        script = LoggerScript(d, start, end, seed=seed, faults=plan[d.mn])
        trs = transmissions(script)
        assert trs
        for tr in trs:
            p = parsed(tr)
            assert (p.mn, p.pw, p.st, p.cn, p.data_time) == (d.mn, d.password, d.st, tr.cn, tr.data_time)
            if script.legacy:
                assert (p.protocol_version, p.qn, p.flag, p.ack_wanted) == (2005, None, None, False)
            else:
                assert (p.protocol_version, p.qn, p.flag, p.ack_wanted) == (2017, tr.qn, 5, True)
            assert p.warnings == []
            assert set(p.items) == set(d.pollutants)  # 2005 codes are mapped back to 2017 codes
            if tr.faulty is not None:
                assert tr.fault is not None
                bad = parse_line(tr.faulty)
                assert isinstance(bad, Reject)
                assert bad.reason == tr.fault.details["expected_reason"]
                reasons[bad.reason] += 1
                if tr.qn is not None and bad.reason != "missing_tail":
                    assert bad.qn == tr.qn  # the receiver can answer it with a 9011
        packet_labels = [f for f in script.labels if f.kind in ("bad_crc", "truncated")]
        assert len(packet_labels) == sum(1 for tr in trs if tr.fault is not None)
        for f in packet_labels:
            (tr,) = [
                t for t in trs if t.fault is not None and t.fault.start == f.start and t.cn == f.details["cn"]
            ]
            assert f.details["qn"] == tr.qn
            assert f.start == f.end == tr.time
    assert set(reasons) <= {"crc_mismatch", "length_mismatch", "missing_tail"}
    assert reasons["crc_mismatch"] > 0


def test_2005_style_logger() -> None:
    f = Fault("protocol_2005", WATER.mn, None, T0, T0 + timedelta(hours=2))
    script = LoggerScript(WATER, T0, T0 + timedelta(hours=2), seed=1, faults=[f])
    (label,) = script.device_labels()
    assert label.kind == "protocol_2005"
    codes = label.details["codes"]
    assert codes == {c: POLLUTANTS[c].code_2005 for c in WATER.pollutants}  # all six have 2005 codes
    trs = transmissions(script)
    assert Counter(t.cn for t in trs) == Counter(
        cn for _, cn, _ in device_schedule(WATER, T0, T0 + timedelta(hours=2))
    )
    for tr in trs:
        line = tr.lines[0]
        assert b"QN=" not in line and b";Flag=" not in line
        assert b";011-" in line  # COD under its 2005 code
        assert not tr.wants_ack
        p = parsed(tr)
        assert p.protocol_version == 2005
        assert p.pollutant_code_original == codes


def test_flue_gas_values_are_realistic() -> None:
    script = LoggerScript(FLUE, T0, T0 + timedelta(days=1), seed=5)
    hourly = [parsed(t) for t in transmissions(script) if t.cn == "2061"]
    assert len(hourly) == 24
    for p in hourly:
        o2 = p.items["a19001"]["Avg"]
        assert isinstance(o2, float) and 3.0 <= o2 <= 15.0
        for code in ("a21026", "a21002", "a34013"):
            it = p.items[code]
            assert it["Min"] <= it["Avg"] <= it["Max"]  # type: ignore[operator]
            assert it["ZsAvg"] < DEFAULT_LIMITS[code]  # type: ignore[operator]
            assert it["ZsAvg"] > it["Avg"]  # type: ignore[operator]  # O2 > 6 %: converted value is higher
            assert it["Cou"] > 0  # type: ignore[operator]
            assert it["Flag"] == "N"
    flow = {p.data_time.hour: p.items["a00000"]["Avg"] for p in hourly if p.data_time is not None}
    # diurnal boiler load: the afternoon carries more flue gas than the small hours
    assert sum(flow[h] for h in range(12, 18)) > sum(flow[h] for h in range(6))  # type: ignore[misc]
    (daily,) = [parsed(t) for t in transmissions(script) if t.cn == "2031"]
    assert daily.items["a00000"]["Cou"] == pytest.approx(
        sum(p.items["a00000"]["Cou"] for p in hourly),  # type: ignore[misc]
        rel=1e-6,
    )


def test_exceedance_flatline_zero_and_gap_are_in_the_data() -> None:
    faults = [
        Fault("exceedance", FLUE.mn, "a21026", T0 + timedelta(hours=2), T0 + timedelta(hours=4)),
        Fault("flatline", FLUE.mn, "a21002", T0 + timedelta(hours=6), T0 + timedelta(hours=10)),
        Fault("zero", FLUE.mn, "a34013", T0 + timedelta(hours=12), T0 + timedelta(hours=13)),
        Fault("gap", FLUE.mn, None, T0 + timedelta(hours=15, minutes=7), T0 + timedelta(hours=16, minutes=2)),
    ]
    plan = FaultPlan(explicit=tuple(faults)).materialize([FLUE], T0, T0 + timedelta(days=1), 9)
    script = LoggerScript(FLUE, T0, T0 + timedelta(days=1), seed=9, faults=plan[FLUE.mn])
    events = list(script.events())
    labels = {f.kind: f for f in [*script.device_labels(), *script.labels]}
    assert set(labels) == {"exceedance", "flatline", "zero", "gap"}
    exc, flat, zero, gap = (labels[k] for k in ("exceedance", "flatline", "zero", "gap"))
    assert exc.details["limit"] == 35.0 and exc.details["factor"] > 1 and exc.details["basis"] == "ZsRtd"
    value = flat.details["value"]
    trs = [e for e in events if isinstance(e, Transmission)]
    # every packet the schedule puts in a window is sent: FLUE reports every 36 s, so a whole hour holds
    # exactly 100 real-time packets whatever the phase, and each hour of a window ends in one hourly packet
    assert FLUE.rtd_interval_s == 36
    for f, hours in ((exc, 2), (flat, 4), (zero, 1)):
        rtd = [tr for tr in trs if tr.cn == "2011" and in_window(tr.data_time, f)]
        assert len(rtd) == rtd_due(FLUE, T0, f) == 100 * hours, f.kind
        assert len([tr for tr in trs if tr.cn == "2061" and in_window(tr.data_time, f)]) == hours, f.kind
    for tr in trs:
        p = parsed(tr)
        so2, nox, pm = p.items["a21026"], p.items["a21002"], p.items["a34013"]
        if tr.cn == "2011":
            assert (so2["ZsRtd"] > 35.0) == in_window(tr.data_time, exc)  # type: ignore[operator]
            assert (nox["Rtd"] == value) == in_window(tr.data_time, flat)
            assert (pm["Rtd"] == 0.0) == in_window(tr.data_time, zero)
        if tr.cn == "2061":
            inside = in_window(tr.data_time, exc)
            assert (so2["ZsAvg"] > 35.0) == inside  # type: ignore[operator]
            if in_window(tr.data_time, flat):
                assert nox["Min"] == nox["Avg"] == nox["Max"] == value
                assert nox["Flag"] == "N"  # tampering is not flagged by the logger
            if in_window(tr.data_time, zero):
                assert pm["Max"] == 0.0
    # gap: one disconnect, nothing sent in the window, the lost packets counted
    (disc,) = [e for e in events if isinstance(e, Disconnect)]
    assert disc.time == gap.start
    assert not [tr for tr in trs if in_window(tr.time, gap)]
    due = [t for t, _, _ in device_schedule(FLUE, T0, T0 + timedelta(days=1)) if in_window(t, gap)]
    assert gap.details["packets_lost"] == len(due) == script.lost_in_gaps > 0


def test_wastewater_ph_exceedance_and_flatline() -> None:
    faults = (
        Fault("exceedance", WATER.mn, "w01001", T0 + timedelta(hours=1), T0 + timedelta(hours=2)),
        Fault("flatline", WATER.mn, "w01018", T0 + timedelta(hours=3), T0 + timedelta(hours=6)),
    )
    plan = FaultPlan(explicit=faults).materialize([WATER], T0, T0 + timedelta(hours=8), 4)
    script = LoggerScript(WATER, T0, T0 + timedelta(hours=8), seed=4, faults=plan[WATER.mn])
    exc, flat = script.window_labels()
    trs = transmissions(script)
    # WATER reports every 59 s from 7 s past T0: 61 packets fall in hour 1 (7 + 59·61 … 7 + 59·121 s),
    # 183 in hours 3–6 (k = 183 … 365); the arithmetic is rtd_due's
    assert (WATER.rtd_interval_s, WATER.rtd_phase_s) == (59, 7)
    for f, n in ((exc, 61), (flat, 183)):
        assert (
            len([tr for tr in trs if tr.cn == "2011" and in_window(tr.data_time, f)])
            == rtd_due(WATER, T0, f)
            == n
        )
    for tr in trs:
        p = parsed(tr)
        if tr.cn != "2011":
            continue
        ph = p.items["w01001"]["Rtd"]
        assert isinstance(ph, float)
        assert (ph > 9.0) == in_window(tr.data_time, exc)
        if not in_window(tr.data_time, exc):
            assert 6.0 < ph < 9.0
        assert (p.items["w01018"]["Rtd"] == flat.details["value"]) == in_window(tr.data_time, flat)


def test_fault_plan_is_deterministic_and_windows_do_not_overlap() -> None:
    devices = [resolve_spec(d, 3) for d in builtin_devices(3, 10)]
    end = T0 + timedelta(days=2)
    a = FaultPlan.heavy().materialize(devices, T0, end, 3)
    assert a == FaultPlan.heavy().materialize(devices, T0, end, 3)
    assert a != FaultPlan.heavy().materialize(devices, T0, end, 4)
    kinds: Counter[str] = Counter()
    for d in devices:
        wins = sorted(
            (f.start, f.end) for f in a[d.mn] if f.kind in ("exceedance", "flatline", "zero", "gap")
        )
        for (_, e1), (s2, _) in itertools.pairwise(wins):
            assert e1 <= s2
        for f in a[d.mn]:
            kinds[f.kind] += 1
            assert T0 <= f.start <= f.end <= end
            if f.kind in ("exceedance", "flatline", "zero"):
                assert f.start.minute == 0 and (f.end - f.start) % timedelta(hours=1) == timedelta(0)
                assert f.pollutant in d.pollutants
    assert {"exceedance", "flatline", "zero", "gap", "bad_crc", "truncated", "reconnect"} <= set(kinds)
    assert FaultPlan.none().materialize(devices, T0, end, 3) == {d.mn: [] for d in devices}


def test_reconnect_fault_is_applied_to_the_next_packet() -> None:
    at = T0 + timedelta(minutes=20, seconds=1)
    plan = FaultPlan(explicit=(Fault("reconnect", FLUE.mn, None, at, at),)).materialize(
        [FLUE], T0, T0 + timedelta(hours=1), 1
    )
    script = LoggerScript(FLUE, T0, T0 + timedelta(hours=1), seed=1, faults=plan[FLUE.mn])
    marked = [tr for tr in transmissions(script) if tr.reconnect_before is not None]
    (tr,) = marked
    assert tr.time >= at and tr.time - at < timedelta(seconds=FLUE.rtd_interval_s)
    (label,) = script.labels
    assert (label.kind, label.start, label.end) == ("reconnect", tr.time, tr.time)


def test_oversized_packets_are_split_and_their_parts_share_the_first_parts_datatime() -> None:
    many = (*DEFAULT_POLLUTANTS["31"], "a01011", "a01013", "a01014", "a21005", "a24088", "a21003", "a21004")
    big = resolve_spec(
        DeviceSpec("0A1B2C3D4E5F60718293A4B6", "654321", "91350200776049653A", "DA002", "31", many), seed=2
    )
    script = LoggerScript(big, T0, T0 + timedelta(days=1), seed=2)
    (daily,) = [t for t in transmissions(script) if t.cn == "2031"]
    assert len(daily.lines) > 1
    for line in daily.lines:
        assert len(line) <= 1024 + 12
        p = parse_line(line)
        assert isinstance(p, Packet) and p.split and p.flag == 7 and p.pnum == len(daily.lines)
        assert p.qn == daily.qn
    parsed = parse_lines_batch(list(daily.lines), segment="fleet", default_date=T0.date())
    assert (parsed.accepted, parsed.quarantined) == (len(daily.lines), 0)
    readings = parsed.readings.select(["pollutant_code", "data_at"]).to_pylist()
    assert set(many) <= {r["pollutant_code"] for r in readings}
    assert len({r["data_at"] for r in readings}) == 1  # every part dated by the first part's DataTime
