"""HJ 212 receiver over real TCP on 127.0.0.1 (ephemeral port), in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from receivers import run_receiver

from ingest.hj212.devices import DeviceRegistry
from ingest.hj212.protocol import Packet, build_packet, parse_line
from ingest.hj212.receiver import Receiver
from ingest.hj212.segments import iter_records, list_closed_segments

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

MN = "010000A8900016F000169DC0"


def packet(qn: str, *, mn: str = MN, pw: str = "123456", flag: int = 5) -> bytes:
    return build_packet(
        qn=qn,
        st="32",
        cn="2011",
        pw=pw,
        mn=mn,
        flag=flag,
        data_time="20240501120000",
        items={"w01018": {"Rtd": 12.5, "Flag": "N"}, "w21003": {"Rtd": 0.8, "Flag": "N"}},
    )


def records(root: Path, pattern: str = "*.h212*") -> list[tuple[str, bytes]]:
    out = []
    for p in sorted(root.rglob(pattern)):
        if p.name.endswith((".h212", ".h212.open")):
            out += [(r.status, r.raw) for r in iter_records(p)]
    return out


def run(tmp_path: Path, body: Callable[[Receiver], Awaitable[None]], **cfg: Any) -> Receiver:
    return run_receiver(tmp_path, body, receiver_id="itest", **cfg)


async def connect(r: Receiver) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", r.port)


async def reply(reader: asyncio.StreamReader) -> Packet:
    line = await asyncio.wait_for(reader.readuntil(b"\n"), 5)
    p = parse_line(line)
    assert isinstance(p, Packet), p
    return p


def test_ack_9014_only_after_landing(tmp_path: Path) -> None:
    landing = tmp_path / "raw" / "hj212"

    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        for i in range(20):
            qn = f"20240501120000{i:03d}"
            writer.write(packet(qn))
            ack = await reply(reader)
            assert (ack.qn, ack.st, ack.cn, ack.flag, ack.mn, ack.pw) == (qn, "91", "9014", 4, MN, "123456")
            # the acked line is already in the (fsynced) open segment
            open_seg = r.data_writer.current_path
            assert open_seg is not None
            assert open_seg.name.endswith(".h212.open")
            assert packet(qn) in [raw for _, raw in records(landing)]
        writer.write(packet("20240501120000999", flag=4))  # no ack wanted
        writer.write(packet("20240501120000998"))
        assert (await reply(reader)).qn == "20240501120000998"  # nothing was sent for 999
        writer.close()

    r = run(tmp_path, body)
    assert r.stats.acks_9014 == 21
    got = records(landing)
    assert len(got) == 22
    assert all(status == "ok" for status, _ in got)
    assert not list(landing.rglob("*.open"))  # graceful stop closed the segment
    (seg,) = landing.rglob("*.h212")
    assert seg.name.startswith("itest-")
    assert seg.with_name(seg.name[:-5] + ".h212.manifest.json").exists()


def test_bad_crc_gets_9011_and_lands_in_quarantine(tmp_path: Path) -> None:
    bad = packet("20240501120000123")[:-6] + b"0000\r\n"

    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        writer.write(bad)
        nack = await reply(reader)
        assert (nack.qn, nack.cn, nack.st, nack.mn) == ("20240501120000123", "9011", "91", MN)
        assert nack.extra == {"QnRtn": "9"}
        writer.write(b"garbage without header\r\n")  # no QN: landed, no reply
        writer.write(packet("20240501120000124"))
        assert (await reply(reader)).cn == "9014"
        writer.close()

    r = run(tmp_path, body)
    quarantine = records(tmp_path / "raw" / "hj212_quarantine")
    assert quarantine == [("crc_mismatch", bad), ("bad_header", b"garbage without header\r\n")]
    assert r.stats.rejects == {"crc_mismatch": 1, "bad_header": 1}


def _registry(tmp_path: Path, mode: str) -> DeviceRegistry:
    csv_path = tmp_path / "devices.csv"
    csv_path.write_text(
        f"mn,password,uscc,outlet_code,region_code\n{MN},s3cret,91350200776049653A,DA001,360100\n",
        encoding="utf-8",
    )
    return DeviceRegistry.load(csv_path, mode)  # type: ignore[arg-type]


def test_a_refused_packet_is_answered_only_if_its_flag_asks_and_in_its_own_version(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        writer.write(packet("20240501120000001", pw="wrong", flag=4))  # HJ 212-2017, no reply wanted
        too_long = f"##9999QN=20240501120000008;ST=32;CN=2011;PW=x;MN={MN};Flag=8;CP=&&".encode()
        writer.write(too_long + b"x" * 5000 + b"&&0000\r\n")  # refused unparsed: its Flag still says none
        writer.write(packet("20240501120000002", pw="wrong", flag=9))  # HJ 212-2025, reply wanted
        n = await reply(reader)  # the first two lines got none: this is the third's
        assert (n.cn, n.extra["QnRtn"], n.qn, n.flag) == ("9011", "3", "20240501120000002", 8)
        writer.write(packet("20240501120000003", pw="wrong"))  # 2017, Flag 5
        n = await reply(reader)
        assert (n.cn, n.qn, n.flag) == ("9011", "20240501120000003", 4)
        writer.close()

    r = run(tmp_path, body, registry=_registry(tmp_path, "registered"), registry_mode="registered")
    assert r.stats.replies_9011 == 2
    quarantined = [raw for _, raw in records(tmp_path / "raw" / "hj212_quarantine")]
    assert len(quarantined) == 4  # every refused line is kept, answered or not


def test_registered_mode_unknown_mn_and_wrong_pw(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        writer.write(packet("20240501120000001", mn="FFFFFFFFFFFFFFFFFFFFFFFF", pw="s3cret"))
        n1 = await reply(reader)
        assert (n1.cn, n1.extra["QnRtn"], n1.qn) == ("9011", "4", "20240501120000001")
        writer.write(packet("20240501120000002", pw="wrong"))
        n2 = await reply(reader)
        assert (n2.cn, n2.extra["QnRtn"]) == ("9011", "3")
        writer.write(packet("20240501120000003", pw="s3cret"))
        ok = await reply(reader)
        assert (ok.cn, ok.qn) == ("9014", "20240501120000003")
        writer.close()

    run(tmp_path, body, registry=_registry(tmp_path, "registered"), registry_mode="registered")
    assert [s for s, _ in records(tmp_path / "raw" / "hj212_quarantine")] == ["unknown_mn", "bad_pw"]
    assert [s for s, _ in records(tmp_path / "raw" / "hj212")] == ["ok"]


def test_open_mode_accepts_and_flags(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        writer.write(packet("20240501120000001", mn="FFFFFFFFFFFFFFFFFFFFFFFF"))
        writer.write(packet("20240501120000002", pw="wrong"))
        assert (await reply(reader)).cn == "9014"
        assert (await reply(reader)).cn == "9014"
        writer.close()

    run(tmp_path, body, registry=_registry(tmp_path, "open"), registry_mode="open")
    assert [s for s, _ in records(tmp_path / "raw" / "hj212")] == ["unregistered", "bad_pw"]


def test_oversize_and_overlong_lines(tmp_path: Path) -> None:
    oversize = build_packet(
        qn="20240501120000001", st="32", cn="2011", mn=MN, flag=5, cp="x=" + "1" * 1500, check_size=False
    )
    overlong = (
        f"##9999QN=20240501120000002;ST=32;CN=2011;PW=123456;MN={MN};".encode() + b"A" * 10_000 + b"\r\n"
    )

    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        writer.write(oversize)
        n1 = await reply(reader)
        assert (n1.cn, n1.extra["QnRtn"], n1.qn) == ("9011", "2", "20240501120000001")
        writer.write(overlong)
        n2 = await reply(reader)
        assert (n2.cn, n2.extra["QnRtn"], n2.qn) == ("9011", "2", "20240501120000002")
        writer.write(packet("20240501120000003"))  # stream resynced at the next newline
        assert (await reply(reader)).qn == "20240501120000003"
        writer.close()

    run(tmp_path, body, max_line_bytes=4096)
    q = records(tmp_path / "raw" / "hj212_quarantine")
    assert [s for s, _ in q] == ["oversize", "line_too_long"]
    assert q[0][1] == oversize
    assert len(q[1][1]) == 4096
    assert overlong.startswith(q[1][1])


def test_partial_line_at_disconnect_is_landed(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        _, writer = await connect(r)
        writer.write(packet("20240501120000001")[:50])
        await writer.drain()
        writer.close()
        await asyncio.sleep(0.3)

    run(tmp_path, body)
    assert [s for s, _ in records(tmp_path / "raw" / "hj212_quarantine")] == ["missing_tail"]


def test_rotation_produces_closed_segments(tmp_path: Path) -> None:
    landing = tmp_path / "raw" / "hj212"
    t0 = datetime.now(UTC) - timedelta(minutes=1)

    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        for i in range(30):
            writer.write(packet(f"20240501120000{i:03d}"))
            await reply(reader)
            if i % 10 == 9:
                await asyncio.sleep(0.5)  # > rotate_seconds: next record opens a new segment
        await asyncio.sleep(1.6)  # idle rotation closes the last one while running
        assert not list(landing.rglob("*.open"))
        writer.close()

    run(tmp_path, body, rotate_seconds=0.4, rotate_bytes=2000)
    closed = list_closed_segments(landing, t0, datetime.now(UTC) + timedelta(seconds=1))
    assert len(closed) >= 4
    assert sum(s.records for s in closed) == 30
    assert all(s.path.name.endswith(".h212") and s.kind == "data" for s in closed)
    assert all(s.bytes <= 2000 for s in closed)
    assert sum(len(list(iter_records(s.path))) for s in closed) == 30
    # closed in an interval that ended before the run: none
    assert list_closed_segments(landing, t0 - timedelta(hours=1), t0) == []


def test_many_concurrent_clients(tmp_path: Path) -> None:
    n_clients, n_each = 20, 100

    async def client(r: Receiver, c: int) -> set[str]:
        reader, writer = await connect(r)
        acked: set[str] = set()

        async def send() -> None:
            for i in range(n_each):
                writer.write(packet(f"2024050112{c:03d}{i:04d}"))
                await writer.drain()

        task = asyncio.create_task(send())
        for _ in range(n_each):
            p = await reply(reader)
            assert p.cn == "9014" and p.qn is not None
            acked.add(p.qn)
        await task
        writer.close()
        return acked

    async def body(r: Receiver) -> None:
        loop = asyncio.get_running_loop()
        t = loop.time()
        results = await asyncio.gather(*(client(r, c) for c in range(n_clients)))
        dt = loop.time() - t
        # each client is answered with a 9014 for every QN it sent, and only those
        assert results == [{f"2024050112{c:03d}{i:04d}" for i in range(n_each)} for c in range(n_clients)]
        print(
            f"\nreceiver: {n_clients * n_each} acked packets from {n_clients} clients in {dt:.2f}s "
            f"= {n_clients * n_each / dt:,.0f}/s; {r.stats.summary()}"
        )

    r = run(tmp_path, body)
    landed = records(tmp_path / "raw" / "hj212")
    assert {status for status, _ in landed} == {"ok"}
    qns = sorted(p.qn for _, raw in landed if isinstance(p := parse_line(raw), Packet) and p.qn)
    assert qns == sorted(f"2024050112{c:03d}{i:04d}" for c in range(n_clients) for i in range(n_each))
    assert r._data is not None
    assert r._data.commits < n_clients * n_each  # group commit: far fewer fsyncs than lines


def test_overlong_line_then_disconnect(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        _, writer = await connect(r)
        writer.write(b"##" + b"B" * 9000)  # never terminated
        await writer.drain()
        writer.close()
        await asyncio.sleep(0.3)

    r = run(tmp_path, body, max_line_bytes=1024)
    q = records(tmp_path / "raw" / "hj212_quarantine")
    assert [(s, len(raw)) for s, raw in q] == [("line_too_long", 1024)]
    assert r.stats.connections == 0


def test_partial_line_of_a_link_that_went_silent_is_landed_at_the_idle_timeout(tmp_path: Path) -> None:
    """A link that dies mid-packet without a FIN: the server closes it at the idle timeout, and the
    bytes it had are landed as when the peer closes — not dropped with the connection."""
    partial = packet("20240501120000001")[:50]

    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        writer.write(partial)
        await writer.drain()
        await asyncio.wait_for(reader.read(), 3)  # to EOF: the server closed it, idle
        writer.close()

    run(tmp_path, body, idle_timeout_s=0.5)
    assert records(tmp_path / "raw" / "hj212_quarantine") == [("missing_tail", partial)]


def test_idle_timeout_and_max_connections(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        writer.write(packet("20240501120000001"))
        assert (await reply(reader)).cn == "9014"
        reader2, _ = await connect(r)  # over max_connections: closed at once
        assert await asyncio.wait_for(reader2.read(), 2) == b""
        assert await asyncio.wait_for(reader.read(), 3) == b""  # idle connection closed by the server
        assert r.stats.connections_refused == 1
        assert r.stats.connections == 0

    run(tmp_path, body, idle_timeout_s=0.5, max_connections=1)
