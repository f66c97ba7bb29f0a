"""Simulated HJ 212 loggers: send schedule (counts of 2011/2051/2061/2031 per simulated hour/day)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta

import pytest

from ecocloud.simulator.fleet import (
    DEFAULT_POLLUTANTS,
    DeviceSpec,
    FaultPlan,
    LoggerScript,
    Transmission,
    builtin_devices,
    device_schedule,
    fleet_devices,
    resolve_spec,
)
from ingest.hj212.devices import uscc_check_ok
from schemas.clock import BEIJING

T0 = datetime(2024, 5, 1, tzinfo=BEIJING)


def spec(st: str = "31", interval: int = 45, phase: int = 10, min_interval: int = 10) -> DeviceSpec:
    return resolve_spec(
        DeviceSpec(
            "010000A8900016F000169DC0",
            "123456",
            "91350200776049653A",
            "DA001",
            st,
            DEFAULT_POLLUTANTS[st],
            rtd_interval_s=interval,
            rtd_phase_s=phase,
            min_interval_min=min_interval,
        ),
        seed=1,
    )


def counts(s: DeviceSpec, start: datetime, dur: timedelta) -> Counter[str]:
    return Counter(cn for _, cn, _ in device_schedule(s, start, start + dur))


def test_one_simulated_hour() -> None:
    c = counts(spec(), T0, timedelta(hours=1))
    # 2011 at T0 + 10 s + k·45 s < T0 + 1 h  →  ceil((3600 − 10) / 45) = 80
    assert c == {"2011": 80, "2051": 6, "2061": 1}


def test_one_simulated_day() -> None:
    c = counts(spec("32"), T0, timedelta(days=1))
    assert c == {"2011": math.ceil((86400 - 10) / 45), "2051": 144, "2061": 24, "2031": 1}


def test_one_minute_interval_and_unaligned_start() -> None:
    s = spec(interval=30, phase=0, min_interval=1)
    c = counts(s, T0 + timedelta(minutes=30), timedelta(hours=1))
    # periods ending in (00:30, 01:30]: 60 minutes, one hour (00:00–01:00), no day
    assert c == {"2011": 120, "2051": 60, "2061": 1}


def test_datatime_is_period_start_and_order_at_one_instant() -> None:
    s = spec(interval=60, phase=0)
    events = list(device_schedule(s, T0, T0 + timedelta(days=1)))
    times = [t for t, _, _ in events]
    assert times == sorted(times)
    for t, cn, data_time in events:
        if cn == "2011":
            assert data_time == t
        else:
            step = {"2051": timedelta(minutes=10), "2061": timedelta(hours=1), "2031": timedelta(days=1)}[cn]
            assert t - data_time == step
    # at midnight: minute, hour, day closing, then the first real-time sample of the new day
    at_end = [cn for t, cn, _ in events if t == T0 + timedelta(hours=1)]
    assert at_end == ["2051", "2061", "2011"]
    last = [cn for t, cn, _ in events if t == T0 + timedelta(days=1)]
    assert last == ["2051", "2061", "2031"]  # the 2011 at the end instant is outside [start, end)


@pytest.mark.parametrize("seed", range(5))
def test_seeded_intervals_and_counts(seed: int) -> None:
    for d in builtin_devices(seed, 6):
        s = resolve_spec(d, seed)
        assert 30 <= s.rtd_interval_s <= 60
        assert 0 <= s.rtd_phase_s < s.rtd_interval_s
        c = counts(s, T0, timedelta(hours=1))
        assert c["2011"] == math.ceil((3600 - s.rtd_phase_s) / s.rtd_interval_s)
        assert (c["2051"], c["2061"], c["2031"]) == (6, 1, 0)


RESOLVED = """
import json, sys
from ecocloud.simulator.fleet import builtin_devices, resolve_spec
out = []
for seed in range(5):
    for d in builtin_devices(seed, 6):
        s = resolve_spec(d, seed)
        out.append([seed, s.mn, s.rtd_interval_s, s.rtd_phase_s, s.scale])
json.dump(out, sys.stdout)
"""


def test_seeded_specs_are_the_same_in_any_process() -> None:
    """The seed alone picks each device's interval, phase and size: two processes with different
    string-hash seeds (PYTHONHASHSEED) resolve every device of five seeds as this one does."""
    here = [
        [seed, s.mn, s.rtd_interval_s, s.rtd_phase_s, s.scale]
        for seed in range(5)
        for s in (resolve_spec(d, seed) for d in builtin_devices(seed, 6))
    ]
    assert len(here) == 30
    for hash_seed in ("1", "2"):
        run = subprocess.run(
            [sys.executable, "-c", RESOLVED],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert json.loads(run.stdout) == here, hash_seed


def test_script_without_faults_sends_the_schedule() -> None:
    s = spec()
    script = LoggerScript(s, T0, T0 + timedelta(hours=3), seed=3)
    events = list(script.events())
    assert all(isinstance(e, Transmission) for e in events)
    assert [(e.time, e.cn, e.data_time) for e in events if isinstance(e, Transmission)] == list(
        device_schedule(s, T0, T0 + timedelta(hours=3))
    )
    qns = [e.qn or "" for e in events if isinstance(e, Transmission)]
    assert len(set(qns)) == len(qns)
    assert all(len(q) == 17 and q.isdigit() for q in qns)
    assert qns == sorted(qns)  # QN follows the simulated clock
    assert script.labels == []


def test_builtin_devices_are_well_formed() -> None:
    devs = builtin_devices(7, 30)
    assert len({d.mn for d in devs}) == 30
    for d in devs:
        assert len(d.mn) == 24 and all(c in "0123456789ABCDEF" for c in d.mn)
        assert uscc_check_ok(d.uscc), d.uscc
        assert d.uscc[2:8] == d.region_code
        assert d.st in ("31", "32")
        assert d.outlet_code.startswith("DA" if d.st == "31" else "DW")
    assert builtin_devices(7, 30) == devs
    assert len(fleet_devices(7, 5)) == 5


def test_plain_tuple_specs_are_accepted() -> None:
    t = ("0123456789ABCDEF01234567", "pw", "", "DW001", "32", ("w01018", "w00000"))
    s = resolve_spec(t, 1)
    assert (s.mn, s.st, s.pollutants) == (t[0], "32", ("w01018", "w00000"))
    plan = FaultPlan.default().materialize([s], T0, T0 + timedelta(days=1), 1)
    assert set(plan) == {s.mn}


def test_a_fleet_faster_than_real_time_simulates_the_span_before_now() -> None:
    """Every packet's DataTime is at or before its sending: at 60× a span starting now ran ahead of the
    clock within a minute (the receiver's data then read as from the future)."""
    from ecocloud.simulator.fleet import default_start

    now = datetime(2026, 12, 6, 10, 17, 42, tzinfo=BEIJING)
    day = timedelta(days=1)
    assert default_start(now, 60.0, day) == datetime(2026, 12, 5, 10, 17, tzinfo=BEIJING)
    assert default_start(now, 60.0, day) + day <= now  # the span's end: no later than the run's start
    assert default_start(now, 1.0, day) == datetime(
        2026, 12, 6, 10, 17, tzinfo=BEIJING
    )  # real time: from now
