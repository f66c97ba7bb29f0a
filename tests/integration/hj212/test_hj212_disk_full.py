"""A real full disk: the receiver process lands on a small tmpfs that fills up (real ENOSPC from
the kernel, not an injected one).  While the disk is full nothing is acknowledged and the
receiver keeps serving; once space is freed it acknowledges again; every acknowledged packet is in
a closed segment and every closed segment matches its manifest."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.hj212.protocol import Packet, build_packet, parse_line
from ingest.hj212.segments import iter_records, read_manifest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[3]
MN = "010000A8900016F000169DC0"


def fill(path: Path, leave: int) -> None:
    """Write ``path`` until the disk is full, then give back ``leave`` bytes."""
    chunk = b"\0" * 65536
    with path.open("wb") as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(chunk)
                fh.flush()
        size = fh.tell()
    with path.open("r+b") as fh:
        fh.truncate(max(0, size - leave))


async def client(port: int, stop: asyncio.Event, acked: set[str], failures: list[int]) -> None:
    n = 0
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        try:
            while not stop.is_set():
                qn = f"2024{n:013d}"
                n += 1
                writer.write(
                    build_packet(
                        qn=qn, st="32", cn="2011", mn=MN, flag=5, data_time="20240501120000", cp="a=1"
                    )
                )
                p = parse_line(await asyncio.wait_for(reader.readuntil(b"\n"), 5))
                assert isinstance(p, Packet) and p.cn == "9014" and p.qn == qn
                acked.add(qn)
        except (asyncio.IncompleteReadError, ConnectionError):
            failures.append(n)  # landing failed: no ack, connection dropped; resend on a new one
            await asyncio.sleep(0.02)
        finally:
            writer.close()


def test_real_disk_full_loses_nothing_acknowledged(small_disk: Path) -> None:
    landing = small_disk / "raw" / "hj212"
    ballast = small_disk / "ballast"
    fill(ballast, leave=48 * 1024)
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "ingest.hj212.receiver", "--landing-dir", str(landing)),
            *("--host", "127.0.0.1", "--port", "0", "--receiver-id", "full", "--rotate-seconds", "0.5"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "ECOCLOUD_LOG_LEVEL": "WARNING"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert line.startswith("LISTENING"), line
    port = int(line.split()[2])

    async def main() -> tuple[set[str], list[int], int]:
        acked: set[str] = set()
        failures: list[int] = []
        stop = asyncio.Event()
        task = asyncio.create_task(client(port, stop, acked, failures))
        deadline = time.monotonic() + 30
        while len(failures) < 5 and time.monotonic() < deadline:  # the disk is full by now
            await asyncio.sleep(0.1)
        acked_while_full = len(acked)
        await asyncio.sleep(1.0)
        assert len(acked) == acked_while_full  # nothing acknowledged while nothing can be landed
        ballast.unlink()  # space again
        while len(acked) < acked_while_full + 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await task
        return acked, failures, acked_while_full

    try:
        acked, failures, acked_while_full = asyncio.run(main())
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert len(failures) >= 5 and acked_while_full > 50
    assert len(acked) >= acked_while_full + 200  # acknowledging again once space was freed
    assert os.strerror(errno.ENOSPC) in err.decode()
    assert not list(landing.rglob("*.h212.open"))  # everything published after all
    landed: set[str] = set()
    for seg in landing.rglob("*.h212"):
        data, m = seg.read_bytes(), read_manifest(seg)
        assert (m["bytes"], m["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
        recs = list(iter_records(seg))
        assert m["records"] == len(recs)
        for r in recs:
            p = parse_line(r.raw)
            assert isinstance(p, Packet) and p.qn is not None
            landed.add(p.qn)
    assert acked <= landed
    print(
        f"\ndisk full: {acked_while_full} acked before ENOSPC, {len(failures)} dropped connections while full, "
        f"{len(acked)} acked in all, all landed"
    )
