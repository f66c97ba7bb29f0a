"""The simulated logger fleet against the real receiver process on 127.0.0.1 (ephemeral port).

Every 9014 the fleet received is for a line in the landing zone; 9014s = valid Flag=5 lines sent
(counted by the fleet and by the receiver); every injected bad-CRC/truncated line is in the
quarantine under the reason its label predicts; 2005-style loggers land as version 2005.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ecocloud.simulator.fleet import FaultPlan, builtin_devices, load_labels, run_fleet_sync, write_registry
from ingest.hj212.protocol import Packet, parse_line
from ingest.hj212.segments import iter_records
from schemas.clock import BEIJING

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[2]
START = datetime(2024, 5, 1, 22, 0, tzinfo=BEIJING)


@contextmanager
def receiver(tmp_path: Path, *extra: str) -> Iterator[tuple[int, dict[str, str]]]:
    landing = tmp_path / "raw" / "hj212"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "ingest.hj212.receiver", "--landing-dir", str(landing)),
            *("--host", "127.0.0.1", "--port", "0", "--receiver-id", "fleettest", "--group-commit-ms", "2"),
            *extra,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "ECOCLOUD_LOG_LEVEL": "INFO"},
    )
    out: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("LISTENING"), line
        yield int(line.split()[2]), out
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        out["log"] = err.decode("utf-8", "replace")


def records(root: Path) -> list[tuple[str, bytes]]:
    out = []
    for p in sorted(root.rglob("*.h212*")):
        if p.name.endswith((".h212", ".h212.open")):
            out += [(r.status, r.raw) for r in iter_records(p)]
    return out


def test_fleet_against_receiver_process(tmp_path: Path) -> None:
    devices = builtin_devices(5, 8)
    registry = write_registry(devices, tmp_path / "devices.csv")
    labels_path = tmp_path / "labels.jsonl"
    with receiver(tmp_path, "--devices", str(registry), "--mode", "registered") as (port, rlog):
        stats = run_fleet_sync(
            "127.0.0.1",
            port,
            devices,
            start=START,
            duration=timedelta(hours=4),  # crosses midnight: one daily packet per logger
            speed=0,
            seed=5,
            faults=FaultPlan.heavy(),
            labels_path=labels_path,
            wall_timeout_s=60,
            keep_acked=True,
        )
    assert stats.completed, stats
    assert stats.unacked == 0 and stats.unmatched_replies == 0 and stats.connect_failures == 0

    # 9014s: fleet count == valid Flag=5 lines sent == receiver count
    m = re.search(r"receiver stopped: lines=(\d+) .*? acks=(\d+) ", rlog["log"])
    assert m, rlog["log"][-2000:]
    assert int(m.group(1)) == stats.sent
    assert stats.acked == stats.ack_wanted_valid == int(m.group(2)) > 0

    # every acked packet is in the landing zone (registered mode: all accepted as "ok")
    landed = records(tmp_path / "raw" / "hj212")
    assert {s for s, _ in landed} == {"ok"}
    keys: set[tuple[str, str | None]] = set()
    versions: dict[str, set[int]] = {}
    for _, raw in landed:
        p = parse_line(raw)
        assert isinstance(p, Packet)
        keys.add((p.mn, p.qn))
        versions.setdefault(p.mn, set()).add(p.protocol_version)
    assert stats.acked_keys is not None and len(stats.acked_keys) == stats.acked
    assert set(stats.acked_keys) <= keys

    # labels vs what the receiver saw
    labels = load_labels(labels_path)
    kinds = Counter(lb["kind"] for lb in labels)
    assert kinds["bad_crc"] > 0 and kinds["truncated"] > 0 and kinds["reconnect"] > 0
    assert {k: kinds[k] for k in kinds} == {k: stats.faults[k] for k in kinds}
    quarantined = Counter(status for status, _ in records(tmp_path / "raw" / "hj212_quarantine"))
    expected = Counter(
        lb["details"]["expected_reason"] for lb in labels if lb["kind"] in ("bad_crc", "truncated")
    )
    assert quarantined == expected
    for lb in labels:
        assert set(lb) == {"kind", "mn", "pollutant", "start", "end", "details"}
        assert datetime.fromisoformat(lb["start"]) <= datetime.fromisoformat(lb["end"])
        if lb["kind"] == "protocol_2005":
            assert versions[lb["mn"]] == {2005}
        if lb["kind"] in ("bad_crc", "truncated") and lb["details"]["qn"] is not None:
            assert (lb["mn"], lb["details"]["qn"]) in keys  # resent correctly after the 9011 / reconnect
    # every packet due while a logger was offline is counted in its gap's label, none elsewhere
    gaps = [lb for lb in labels if lb["kind"] == "gap"]
    assert gaps and sum(lb["details"]["packets_lost"] for lb in gaps) == stats.lost_in_gaps
    legacy = {lb["mn"] for lb in labels if lb["kind"] == "protocol_2005"}
    assert all(versions[mn] == {2017} for mn in versions if mn not in legacy)
    assert stats.reconnects >= kinds["reconnect"]
    midnight = START + timedelta(hours=2)
    offline_at_midnight = {
        lb["mn"]
        for lb in labels
        if lb["kind"] == "gap"
        and datetime.fromisoformat(lb["start"]) <= midnight < datetime.fromisoformat(lb["end"])
    }
    assert stats.by_cn["2031"] == 8 - len(offline_at_midnight)  # one daily packet per logger online


def test_fleet_follows_the_simulated_clock(tmp_path: Path) -> None:
    devices = builtin_devices(9, 3)
    with receiver(tmp_path) as (port, _):
        stats = run_fleet_sync(
            "127.0.0.1",
            port,
            devices,
            start=START,
            duration=timedelta(minutes=30),
            speed=1200,  # 30 simulated minutes in 1.5 s
            seed=9,
            faults=FaultPlan.none(),
            labels_path=tmp_path / "labels.jsonl",
            wall_timeout_s=30,
        )
    assert stats.completed
    assert 1.4 <= stats.wall_s < 10
    assert stats.acked == stats.sent == stats.packets
    assert stats.by_cn["2051"] == 3 * 3 and stats.by_cn["2061"] == 0
    assert load_labels(tmp_path / "labels.jsonl") == []


def test_runtime_is_bounded_even_without_a_receiver(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    stats = run_fleet_sync(
        "127.0.0.1",
        port,
        builtin_devices(1, 2),
        start=START,
        duration=timedelta(days=30),
        speed=0,
        seed=1,
        faults=FaultPlan.default(),
        labels_path=tmp_path / "labels.jsonl",
        wall_timeout_s=1.5,
    )
    assert not stats.completed
    assert stats.sent == 0 and stats.connect_failures > 0
    assert 1.4 <= stats.wall_s < 8
