"""Reliability: SIGKILL the receiver process mid-load three times; every QN that was acknowledged
with a 9014 must be in the landing zone (open or closed segments)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
from pathlib import Path

import pytest

from ecocloud.ports import free_port
from ingest.hj212.protocol import Packet, build_packet, parse_line
from ingest.hj212.segments import iter_records

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

REPO = Path(__file__).resolve().parents[3]
MN = "010000A8900016F000169DC0"


async def start_receiver(landing: Path, port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ingest.hj212.receiver",
        "--landing-dir",
        str(landing),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--receiver-id",
        "killtest",
        "--group-commit-ms",
        "2",
        "--rotate-seconds",
        "0.5",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "ECOCLOUD_LOG_LEVEL": "WARNING"},
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 15)
    assert line.startswith(b"LISTENING"), line
    return proc


async def client(port: int, counter: itertools.count[int], acked: set[str], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        window = asyncio.Semaphore(16)

        async def send(w: asyncio.StreamWriter = writer, sem: asyncio.Semaphore = window) -> None:
            while not stop.is_set():
                await sem.acquire()
                n = next(counter)
                w.write(
                    build_packet(
                        qn=f"2024{n:013d}",
                        st="32",
                        cn="2011",
                        mn=MN,
                        flag=5,
                        data_time="20240501120000",
                        items={"w01018": {"Rtd": float(n)}},
                    )
                )
                await w.drain()

        sender = asyncio.create_task(send())
        try:
            while True:
                line = await reader.readuntil(b"\n")
                p = parse_line(line)
                assert isinstance(p, Packet)
                assert p.cn == "9014"
                assert p.qn is not None
                acked.add(p.qn)
                window.release()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender
            writer.close()


def landed_qns(landing: Path) -> set[str]:
    out: set[str] = set()
    for p in landing.rglob("*"):
        if p.name.endswith((".h212", ".h212.open")):
            for rec in iter_records(p):
                pkt = parse_line(rec.raw)
                assert isinstance(pkt, Packet)
                assert pkt.qn is not None
                out.add(pkt.qn)
    return out


def test_acked_packets_survive_sigkill(tmp_path: Path) -> None:
    landing = tmp_path / "raw" / "hj212"
    port = free_port()

    async def main() -> tuple[set[str], list[int]]:
        acked: set[str] = set()
        counter = itertools.count()
        stop = asyncio.Event()
        clients = [asyncio.create_task(client(port, counter, acked, stop)) for _ in range(6)]
        acked_at_kill = []
        for _ in range(3):
            proc = await start_receiver(landing, port)
            await asyncio.sleep(1.0)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            acked_at_kill.append(len(acked))
        proc = await start_receiver(landing, port)  # recovers the killed runs' open segments
        await asyncio.sleep(0.5)
        stop.set()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        results = await asyncio.wait_for(asyncio.gather(*clients, return_exceptions=True), 10)
        # a client ends quietly when stopped: the connection losses of the kills are caught in it, so
        # anything it raised — a reply that was not a parseable 9014 with a QN (AssertionError) or any
        # other error — failed the run
        failed = [r for r in results if r is not None]
        assert not failed, failed
        return acked, acked_at_kill

    acked, acked_at_kill = asyncio.run(main())
    # every round made progress under load before the kill
    assert acked_at_kill[0] > 50
    assert acked_at_kill[0] < acked_at_kill[1] < acked_at_kill[2]
    missing = acked - landed_qns(landing)
    assert not missing, f"{len(missing)} acknowledged QNs not landed, e.g. {sorted(missing)[:5]}"
    # the restarted receiver recovered and closed what the killed ones left open
    assert not list(landing.rglob("*.h212.open"))
    print(f"\nSIGKILL test: {len(acked)} acked QNs all landed (acked at kills: {acked_at_kill})")
