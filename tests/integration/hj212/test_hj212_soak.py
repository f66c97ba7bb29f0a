"""Fault-injection soak: the simulated logger fleet against a real receiver process whose disk I/O
fails at random (ENOSPC, EIO, EMFILE on writes, fdatasync, opens, manifests, renames) and which is
SIGKILLed at random points (inside its I/O calls, or from outside at a random moment).

After each episode the receiver restarts (recovering what the dead one left open), every closed
segment not yet ingested is ingested, and every QN the fleet saw acknowledged (9014) so far must
be in ``core_source__packets``.  Bounded by a time budget; prints the episodes, the faults injected
by kind, the acknowledged packets and the number lost (asserted 0).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from ecocloud.builds.sources import quarantine_dir
from ecocloud.cli import app
from ecocloud.settings import Settings
from ecocloud.simulator.fleet import FaultPlan, builtin_devices, run_fleet
from ingest.hj212.segments import iter_records, read_manifest
from schemas.clock import BEIJING

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
BUDGET_S = 70.0  # episodes start while the soak has run less than this (≈ 80 s in all)
MIN_EPISODES = 4
MAX_EPISODES = 30  # past the budget, episodes go on only until both kinds of kill were seen
OVERTIME_KILL_RATE = 0.005  # ~1,600 I/O calls an episode: a kill inside one is all but certain
# episodes simulate a day each from here: all of them before today, since a packet dated over an hour
# after its receipt is quarantined (a clock running ahead), not published
SIM_START = dt.datetime.combine(
    dt.datetime.now(BEIJING).date() - dt.timedelta(days=MAX_EPISODES + 1), dt.time(8), BEIJING
)


def ingest_closed_segments(settings: Settings) -> None:
    """Ingest every closed segment of the landing zone (and its quarantine) not yet ingested:
    `ecocloud run pollution_sources` (the ledger decides what is pending)."""
    out = CliRunner().invoke(app, ["run", "pollution_sources"], env={"ECOCLOUD_HOME": str(settings.root)})
    assert out.exit_code == 0, out.output


def landed_packets(settings: Settings) -> set[tuple[str, str]]:
    """(MN, QN) of every packet in core_source__packets."""
    files = sorted((settings.lake / "core" / "core_source__packets").rglob("*.parquet"))
    if not files:
        return set()
    rows = duckdb.sql(
        f"SELECT DISTINCT mn, qn FROM read_parquet({[str(f) for f in files]!r}) WHERE qn IS NOT NULL"
    ).fetchall()
    return {(str(mn), str(qn)) for mn, qn in rows}


def check_closed_segments(settings: Settings) -> None:
    """Every closed segment (data and quarantine) is whole: its bytes, sha256 and records are its
    manifest's, and no ``.open`` one is left after a clean stop."""
    for root in (settings.hj212_landing, quarantine_dir(settings)):
        assert not list(root.rglob("*.h212.open"))
        for seg in root.rglob("*.h212"):
            data, m = seg.read_bytes(), read_manifest(seg)
            assert (m["bytes"], m["sha256"]) == (len(data), hashlib.sha256(data).hexdigest()), seg
            assert m["records"] == sum(1 for _ in iter_records(seg)), seg


def start_receiver(landing: Path, *faulty: str) -> tuple[subprocess.Popen[bytes], int]:
    receiver = ("--landing-dir", str(landing), "--host", "127.0.0.1", "--port", "0", "--receiver-id", "soak")
    tuning = ("--rotate-seconds", "1", "--group-commit-ms", "2", "--stats-interval", "3600")
    cmd = [sys.executable, str(HERE / "faulty_receiver.py"), *faulty, "--", *receiver, *tuning]
    if not faulty:
        cmd = [sys.executable, "-m", "ingest.hj212.receiver", *receiver, *tuning]
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ECOCLOUD_LOG_LEVEL": "ERROR"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("LISTENING"):  # killed by an injected fault while starting
        proc.wait(10)
        return proc, 0
    return proc, int(line.split()[2])


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("the receiver did not stop on SIGTERM within 20 s") from None


async def episode_traffic(
    proc: subprocess.Popen[bytes], port: int, start: dt.datetime, seed: int, kill_after: float | None
) -> tuple[list[tuple[str, str]], int, bool]:
    """Run the fleet against the receiver (SIGKILLing it after ``kill_after`` s); (acked keys, sent,
    whether it was killed from outside)."""
    killed = False

    async def killer() -> None:
        nonlocal killed
        if kill_after is not None:
            await asyncio.sleep(kill_after)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed = True

    kill_task = asyncio.create_task(killer())
    stats = await run_fleet(
        "127.0.0.1",
        port,
        builtin_devices(seed, 6),
        start=start,
        duration=dt.timedelta(hours=3),
        speed=0,
        seed=seed,
        faults=FaultPlan.default(),
        labels_path=None,
        wall_timeout_s=3.0,
        ack_timeout_s=0.5,
        max_resends=2,
        keep_acked=True,
    )
    kill_task.cancel()
    assert stats.acked_keys is not None
    return stats.acked_keys, stats.sent, killed


def test_no_acknowledged_packet_is_lost_under_io_faults_and_kills(settings: Settings, tmp_path: Path) -> None:
    landing = settings.hj212_landing
    rng = random.Random(212)
    acked: set[tuple[str, str]] = set()
    faults: Counter[str] = Counter()  # by kind
    calls: Counter[str] = Counter()  # by I/O call and kind
    outcomes: Counter[str] = Counter()
    sent = episodes = 0
    t0 = time.monotonic()

    def both_kills_seen() -> bool:
        return faults["SIGKILL in I/O"] > 0 and faults["external SIGKILL"] > 0

    while episodes < MAX_EPISODES and (
        time.monotonic() - t0 < BUDGET_S or episodes < MIN_EPISODES or not both_kills_seen()
    ):
        overtime = time.monotonic() - t0 >= BUDGET_S
        seed = rng.randrange(1 << 30)
        log = tmp_path / f"faults-{episodes}.jsonl"
        fault_rate, kill_rate = rng.choice([(0.003, 0.0), (0.01, 0.0002), (0.03, 0.0005)])
        # random kills can all miss on a slow machine (fewer I/O calls an episode): past the budget,
        # the kind not seen yet is made certain, so every soak covers both
        if overtime and not faults["SIGKILL in I/O"]:
            kill_rate = OVERTIME_KILL_RATE
        faulty = ("--faults-log", str(log), "--seed", str(seed))
        proc, port = start_receiver(
            landing, *faulty, "--fault-rate", str(fault_rate), "--kill-rate", str(kill_rate)
        )
        kill_after = rng.uniform(0.3, 2.5) if rng.random() < 0.35 else None
        if overtime and not faults["external SIGKILL"]:
            kill_after = rng.uniform(0.3, 2.5)
        if port:
            start = SIM_START + dt.timedelta(days=episodes)  # QNs are unique per episode
            keys, n, killed = asyncio.run(episode_traffic(proc, port, start, seed, kill_after))
            acked.update(keys)
            sent += n
            faults["external SIGKILL"] += killed
        code = stop(proc)
        outcomes["SIGKILL" if code == -signal.SIGKILL else f"exit {code}"] += 1
        events = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
        faults.update("SIGKILL in I/O" if e["fault"] == "SIGKILL" else e["fault"] for e in events)
        calls.update(f"{e['op']}:{e['fault']}" for e in events)
        clean, _ = start_receiver(landing)  # the next receiver recovers what this one left open
        assert stop(clean) == 0
        check_closed_segments(settings)
        ingest_closed_segments(settings)
        lost = acked - landed_packets(settings)
        episodes += 1
        assert not lost, f"episode {episodes}: {len(lost)} acknowledged packets lost, e.g. {sorted(lost)[:3]}"
    print(
        f"\nHJ 212 soak: {episodes} episodes in {time.monotonic() - t0:.0f}s; receiver ends {dict(outcomes)}; "
        f"faults injected {dict(sorted(faults.items()))} (by call: {dict(sorted(calls.items()))}); "
        f"lines sent {sent}, acknowledged packets {len(acked)}, lost 0"
    )
    assert len(acked) >= 20 * episodes  # the fleet made progress despite the faults
    assert both_kills_seen(), f"{episodes} episodes without a kill of each kind: {dict(faults)}"
    assert all(faults[k] > 0 for k in ("ENOSPC", "EIO", "EMFILE"))
