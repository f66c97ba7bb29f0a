"""The receiver over real TCP against hostile or broken peers: replies that cannot be built, peers
that never read, too many connections per peer or for the descriptor limit, two receivers with
one id, receivers that are gone, password guessing and quarantine floods."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from receivers import run_receiver

from ingest.hj212.devices import DeviceRegistry
from ingest.hj212.protocol import MAX_DATA_LEN, Packet, build_packet, parse_line
from ingest.hj212.receiver import Receiver, ReceiverConfig
from ingest.hj212.segments import ReceiverIdInUse, iter_records, read_manifest
from schemas.source import QUARANTINE_REASONS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

REPO = Path(__file__).resolve().parents[3]
MN = "010000A8900016F000169DC0"
MN2 = "010000A8900016F000169DC1"


def packet(
    qn: str, *, mn: str = MN, pw: str = "123456", flag: int = 5, st: str = "32", cn: str = "2011"
) -> bytes:
    return build_packet(
        qn=qn,
        st=st,
        cn=cn,
        pw=pw,
        mn=mn,
        flag=flag,
        data_time="20240501120000",
        items={"w01018": {"Rtd": 1.5}},
    )


def records(root: Path) -> list[tuple[str, bytes]]:
    out = []
    for p in sorted(root.rglob("*.h212*")):
        if p.name.endswith((".h212", ".h212.open")):
            out += [(r.status, r.raw) for r in iter_records(p)]
    return out


def run(tmp_path: Path, body: Callable[[Receiver], Awaitable[None]], **cfg: Any) -> Receiver:
    cfg.setdefault("receiver_id", "limits")
    return run_receiver(tmp_path, body, **cfg)


async def connect(r: Receiver, local: str | None = None) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", r.port, local_addr=(local, 0) if local else None)


async def reply(reader: asyncio.StreamReader) -> Packet:
    line = await asyncio.wait_for(reader.readuntil(b"\n"), 5)
    p = parse_line(line)
    assert isinstance(p, Packet), p
    return p


def exactly_1024(qn: str) -> bytes:
    """A legal packet of a 1,024-byte data segment with one-character ST and CN: its full 9014
    (ST=91, CN=9014) would be 1,028 bytes."""
    head = f"QN={qn};ST=3;CN=2;PW=;MN={MN};Flag=5;CP=&&&&"
    pw = "p" * (MAX_DATA_LEN - len(head))
    line = build_packet(qn=qn, st="3", cn="2", pw=pw, mn=MN, flag=5, cp="")
    assert line[2:6] == b"1024"
    return line


def test_replies_that_cannot_be_built_whole_still_land_and_the_stream_goes_on(tmp_path: Path) -> None:
    big = exactly_1024("20240501120000001")
    long_echo = build_packet(  # oversize (rejected), and its 9011 would echo a 1,000-byte PW
        qn="20240501120000002", st="32", cn="2011", pw="x" * 1000, mn=MN, flag=5, cp="", check_size=False
    )
    huge_qn = b"##0000QN=" + b"9" * 1020 + b";ST=32\r\n"  # a QN no 9011 can carry

    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        writer.write(big + long_echo + huge_qn)  # none of them can be answered within 1,024 bytes …
        writer.write(packet("20240501120000003"))
        assert (await reply(reader)).qn == "20240501120000003"  # … and the stream goes on
        writer.close()

    r = run(tmp_path, body)
    assert records(tmp_path / "raw" / "hj212") == [("ok", big), ("ok", packet("20240501120000003"))]
    assert records(tmp_path / "raw" / "hj212_quarantine") == [
        ("oversize", long_echo),
        ("length_mismatch", huge_qn),
    ]
    assert r.stats.replies_unbuildable == 3
    assert r.stats.acks_9014 == 1


def test_a_peer_that_never_reads_its_replies_is_disconnected(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and never read
        sock.connect(("127.0.0.1", r.port))
        sock.setblocking(False)
        _, writer = await asyncio.open_connection(sock=sock)
        line = packet("20240501120000001")

        async def flood() -> None:
            while True:
                writer.write(line * 64)
                await writer.drain()

        with pytest.raises(ConnectionError):  # reset by the receiver (a timeout would not do)
            await asyncio.wait_for(flood(), 30)
        for _ in range(50):
            if r.stats.connections == 0:
                break
            await asyncio.sleep(0.1)
        assert r.stats.connections == 0
        assert r.stats.stalled_disconnects == 1
        reader2, writer2 = await connect(r)  # the receiver serves others meanwhile
        writer2.write(packet("20240501120000002"))
        assert (await reply(reader2)).cn == "9014"
        writer2.close()
        writer.close()

    run(tmp_path, body, reply_stall_timeout_s=1.0)


def test_connections_per_peer_are_capped(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        held = [await connect(r) for _ in range(3)]
        extra_reader, _ = await connect(r)
        assert await asyncio.wait_for(extra_reader.read(), 2) == b""  # closed at once
        other_reader, other_writer = await connect(r, local="127.0.0.2")  # another peer address
        other_writer.write(packet("20240501120000001"))
        assert (await reply(other_reader)).cn == "9014"
        held[0][1].write(packet("20240501120000002"))
        assert (await reply(held[0][0])).cn == "9014"
        for _, w in [*held, (other_reader, other_writer)]:
            w.close()

    r = run(tmp_path, body, max_connections_per_peer=3)
    assert r.stats.connections_refused_peer == 1


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))


def test_descriptor_limit_is_respected(tmp_path: Path) -> None:
    """RLIMIT_NOFILE 128 and the default max_connections (10,000): the receiver caps its
    connections below the limit, so it can still open segment files and acknowledge."""
    proc = subprocess.Popen(
        [
            *(
                sys.executable,
                "-m",
                "ingest.hj212.receiver",
                "--landing-dir",
                str(tmp_path / "raw" / "hj212"),
            ),
            *(
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--receiver-id",
                "fdtest",
                "--max-connections-per-peer",
                "0",
            ),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "ECOCLOUD_LOG_LEVEL": "WARNING"},
        preexec_fn=_limit_descriptors,  # noqa: PLW1509 — no threads in this test process's child yet
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("LISTENING"), line
        port = int(line.split()[2])

        async def main() -> tuple[int, int]:
            conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(150)]
            await asyncio.sleep(0.5)
            served = 0
            for i, (_, writer) in enumerate(conns):
                writer.write(packet(f"2024050112{i:07d}"))
            for reader, _ in conns:
                try:
                    p = parse_line(await asyncio.wait_for(reader.readuntil(b"\n"), 5))
                    assert isinstance(p, Packet) and p.cn == "9014"
                    served += 1
                except (asyncio.IncompleteReadError, ConnectionError):
                    pass
            for _, writer in conns:
                writer.close()
            return served, len(conns) - served

        served, refused = asyncio.run(main())
        assert 32 <= served <= 128 - 64 and refused == 150 - served
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    log = err.decode()
    assert "capped to 64 by the file-descriptor limit 128" in log
    assert "Too many open files" not in log
    assert proc.returncode == 0


def test_a_second_receiver_with_the_same_id_refuses_to_start(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        writer.write(packet("20240501120000001"))
        assert (await reply(reader)).cn == "9014"
        live = r.data_writer.current_path
        twin = Receiver(
            ReceiverConfig(landing_dir=r.config.landing_dir, port=0, receiver_id="limits", lock_wait_s=0.5)
        )
        with pytest.raises(ReceiverIdInUse):  # once it has waited: a live receiver holds the id for good
            await twin.start()
        assert live is not None and live.exists()  # its live segment was not "recovered"
        writer.write(packet("20240501120000002"))
        assert (await reply(reader)).cn == "9014"
        writer.close()

    run(tmp_path, body)
    (seg,) = (tmp_path / "raw" / "hj212").rglob("*.h212")
    assert read_manifest(seg)["records"] == 2 and not read_manifest(seg)["recovered"]


def test_segments_of_a_receiver_that_is_gone_are_recovered_by_another(tmp_path: Path) -> None:
    landing = tmp_path / "raw" / "hj212"

    def start(rid: str) -> tuple[subprocess.Popen[bytes], int]:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "ingest.hj212.receiver", "--landing-dir", str(landing)),
                *("--host", "127.0.0.1", "--port", "0", "--receiver-id", rid),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("LISTENING"), line
        return proc, int(line.split()[2])

    async def send(port: int, qn: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(packet(qn))
        assert (await reply(reader)).cn == "9014"
        writer.close()

    gone, gone_port = start("oldhost")
    live, live_port = start("livehost")
    try:
        asyncio.run(send(gone_port, "20240501120000001"))
        asyncio.run(send(live_port, "20240501120000002"))
        gone.kill()  # SIGKILL: its segment stays .open
        gone.wait()

        async def body(r: Receiver) -> None:
            await send(live_port, "20240501120000003")  # the live one keeps writing its segment

        run(tmp_path, body, receiver_id="newhost")
        closed = {read_manifest(p)["receiver_id"]: read_manifest(p) for p in landing.rglob("*.h212")}
        assert closed["oldhost"]["recovered"] and closed["oldhost"]["recovered_by"] == "newhost"
        assert "livehost" not in closed
        assert [p.name.split("-")[0] for p in landing.rglob("*.h212.open")] == ["livehost"]
    finally:
        live.send_signal(signal.SIGTERM)
        assert live.wait(20) == 0
    statuses = [s for s, _ in records(landing)]
    assert statuses == ["ok"] * 3
    assert not list(landing.rglob("*.h212.open"))


def _registry(tmp_path: Path) -> DeviceRegistry:
    csv_path = tmp_path / "devices.csv"
    csv_path.write_text(
        f"mn,password,uscc,outlet_code,region_code\n{MN},s3cret,,DA001,360100\n{MN2},t0p,,DA002,360100\n",
        encoding="utf-8",
    )
    return DeviceRegistry.load(csv_path)


def test_password_guessing_is_throttled_per_peer_and_per_mn(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        genuine_r, genuine_w = await connect(r)  # the real logger of MN, authenticated before the attack
        genuine_w.write(packet("20240501120000001", pw="s3cret"))
        assert (await reply(genuine_r)).cn == "9014"
        # one guesser: 3 failures block its address; then even a correct guess is refused unchecked
        gr, gw = await connect(r, local="127.0.0.2")
        unknown = "FFFFFFFFFFFFFFFFFFFFFFFF"
        for i, (mn, pw, rtn) in enumerate(((MN, "a", "3"), (MN, "b", "3"), (unknown, "x", "4"))):
            gw.write(packet(f"2024050112000010{i}", mn=mn, pw=pw))
            n = await reply(gr)
            assert (n.cn, n.extra["QnRtn"]) == ("9011", rtn)
        gw.write(packet("20240501120000110", pw="s3cret"))
        assert (await reply(gr)).extra["QnRtn"] == "3"  # refused: the standard's PW error
        gw.write(packet("20240501120000111", mn=unknown, pw="x"))
        assert (await reply(gr)).extra["QnRtn"] == "4"  # an unknown MN keeps its code while blocked
        # guessers spread over addresses: 3 failures for MN2 block MN2 for new connections
        for i, local in enumerate(("127.0.0.3", "127.0.0.4", "127.0.0.5")):
            sr, sw = await connect(r, local=local)
            sw.write(packet(f"2024050112000020{i}", mn=MN2, pw="wrong"))
            assert (await reply(sr)).extra["QnRtn"] == "3"
            sw.close()
        lr, lw = await connect(r, local="127.0.0.6")
        lw.write(packet("20240501120000300", mn=MN2, pw="t0p"))  # right password, MN2 blocked
        assert (await reply(lr)).extra["QnRtn"] == "3"
        lw.write(packet("20240501120000301", pw="s3cret"))  # MN is not blocked for this address
        assert (await reply(lr)).cn == "9014"
        genuine_w.write(packet("20240501120000002", pw="s3cret"))  # the genuine logger goes on
        assert (await reply(genuine_r)).cn == "9014"
        for w in (genuine_w, gw, lw):
            w.close()

    r = run(tmp_path, body, registry=_registry(tmp_path), auth_max_failures=3, auth_block_s=60)
    assert [s for s, _ in records(tmp_path / "raw" / "hj212")] == ["ok"] * 3
    q = [s for s, _ in records(tmp_path / "raw" / "hj212_quarantine")]
    assert q == ["bad_pw"] * 2 + ["unknown_mn"] + ["auth_throttled"] * 2 + ["bad_pw"] * 3 + ["auth_throttled"]
    assert r.stats.auth_blocks == 2  # the address 127.0.0.2 and MN2
    assert r.stats.rejects["auth_throttled"] == 3


def test_a_stranger_guessing_a_loggers_password_cannot_lock_the_logger_out(tmp_path: Path) -> None:
    logger = "127.0.0.7"

    async def body(r: Receiver) -> None:
        lr, lw = await connect(r, local=logger)
        lw.write(packet("20240501120000001", pw="s3cret"))
        assert (await reply(lr)).cn == "9014"
        lw.close()  # a network glitch: the logger will reconnect
        for i, stranger in enumerate(("127.0.0.2", "127.0.0.3", "127.0.0.4")):  # 3 failures block MN
            sr, sw = await connect(r, local=stranger)
            sw.write(packet(f"2024050112000010{i}", pw="guess"))
            assert (await reply(sr)).extra["QnRtn"] == "3"
            sw.close()
        nr, nw = await connect(r, local="127.0.0.5")  # a new stranger: refused, even with the password
        nw.write(packet("20240501120000200", pw="s3cret"))
        assert (await reply(nr)).extra["QnRtn"] == "3"
        lr, lw = await connect(r, local=logger)  # the logger's new connection: let in
        lw.write(packet("20240501120000002", pw="s3cret"))
        assert (await reply(lr)).cn == "9014"
        # guessing the MN's password from the logger's own address: the first failure forgets the pair,
        # and the MN's block holds for that address too (on a new connection too)
        gr, gw = await connect(r, local=logger)
        for i in range(3):
            gw.write(packet(f"2024050112000030{i}", pw="wrong"))
            assert (await reply(gr)).extra["QnRtn"] == "3"
        gw.write(packet("20240501120000303", pw="s3cret"))
        assert (await reply(gr)).extra["QnRtn"] == "3"
        for w in (nw, lw, gw):
            w.close()

    r = run(tmp_path, body, registry=_registry(tmp_path), auth_max_failures=3, auth_block_s=60)
    assert [s for s, _ in records(tmp_path / "raw" / "hj212")] == ["ok", "ok"]
    q = [s for s, _ in records(tmp_path / "raw" / "hj212_quarantine")]
    assert q == ["bad_pw"] * 3 + ["auth_throttled"] + ["bad_pw"] + ["auth_throttled"] * 3
    assert r.stats.auth_blocks == 1  # the MN, by the strangers: it holds for the forgotten address


def test_a_logger_is_remembered_from_the_end_of_its_connection_not_its_login(tmp_path: Path) -> None:
    """A connection that lasted longer than the memory (days, in the field) still counts when it drops."""
    logger = "127.0.0.7"

    async def body(r: Receiver) -> None:
        lr, lw = await connect(r, local=logger)
        lw.write(packet("20240501120000001", pw="s3cret"))
        assert (await reply(lr)).cn == "9014"
        await asyncio.sleep(1.5)  # longer than auth_remember_s since it authenticated
        lw.close()
        await lw.wait_closed()
        for _ in range(50):  # the receiver has seen it go
            if r.stats.connections == 0:
                break
            await asyncio.sleep(0.01)
        for i, stranger in enumerate(("127.0.0.2", "127.0.0.3", "127.0.0.4")):
            sr, sw = await connect(r, local=stranger)
            sw.write(packet(f"2024050112000010{i}", pw="guess"))
            assert (await reply(sr)).extra["QnRtn"] == "3"
            sw.close()
        lr, lw = await connect(r, local=logger)
        lw.write(packet("20240501120000002", pw="s3cret"))
        assert (await reply(lr)).cn == "9014"
        lw.close()

    run(
        tmp_path,
        body,
        registry=_registry(tmp_path),
        auth_max_failures=3,
        auth_block_s=60,
        auth_remember_s=1.0,
    )


def test_quarantine_growth_from_one_peer_is_capped(tmp_path: Path) -> None:
    bad = [packet(f"2024050112{i:07d}")[:-6] + b"0000\r\n" for i in range(20)]

    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        for line in bad:
            writer.write(line)
            assert (await reply(reader)).extra["QnRtn"] == "9"  # still answered
        writer.write(packet("20240501120000999"))
        assert (await reply(reader)).cn == "9014"
        other_r, other_w = await connect(r, local="127.0.0.2")
        other_w.write(bad[0])
        assert (await reply(other_r)).cn == "9011"
        writer.close()
        other_w.close()

    # five records as landed (time, status, peer and length before each line), not the lines alone:
    # counted by the line, the cap let in 2–3 more here, and an empty line cost nothing
    header = len("2024-05-01T04:00:00.000000Z\tcrc_mismatch\t127.0.0.1:50000\t123\t\n")
    r = run(tmp_path, body, quarantine_peer_bytes=5 * (len(bad[0]) + header) + 30)
    landed = [raw for _, raw in records(tmp_path / "raw" / "hj212_quarantine")]
    assert landed == bad[:5] + bad[:1]
    assert r.stats.quarantine_capped == 15
    assert r.stats.rejects["crc_mismatch"] == 21


def test_a_logger_resending_in_a_loop_cannot_fill_the_data_zone(tmp_path: Path) -> None:
    """Over its MN's data cap, a packet is quarantined (mn_budget_exceeded) and answered 9011; other
    MNs are untouched, and the quarantine's own per-peer cap still bounds what lands."""
    looping = [packet(f"2024050112{i:07d}") for i in range(6)]

    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        for i, line in enumerate(looping):
            writer.write(line)
            answer = await reply(reader)
            assert answer.cn == ("9014" if i < 3 else "9011"), i
            if i >= 3:
                assert answer.extra["QnRtn"] == "2"  # rejected
        writer.write(packet("20240501120000999", mn=MN2))
        assert (await reply(reader)).cn == "9014"
        writer.close()

    header = len("2024-05-01T04:00:00.000000Z\tok\t127.0.0.1:50000\t123\t\n")
    r = run(tmp_path, body, data_mn_bytes=3 * (len(looping[0]) + header) + 10)
    data = [raw for _, raw in records(tmp_path / "raw" / "hj212")]
    assert data == [*looping[:3], packet("20240501120000999", mn=MN2)]
    quarantined = records(tmp_path / "raw" / "hj212_quarantine")
    assert quarantined == [("mn_budget_exceeded", line) for line in looping[3:]]
    assert r.stats.rejects["mn_budget_exceeded"] == 3 and r.stats.packets == 4


def test_open_mode_without_a_registry_flags_every_packet(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        reader, writer = await connect(r)
        writer.write(packet("20240501120000001"))
        assert (await reply(reader)).cn == "9014"  # kept and acknowledged …
        writer.close()

    run(tmp_path, body, registry_mode="open")
    assert [s for s, _ in records(tmp_path / "raw" / "hj212")] == ["unregistered"]  # … and flagged


def _listen_queue(port: int) -> int:
    """The listening socket's accept queue limit, as the kernel reports it (ss: Send-Q)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[2])


@pytest.mark.skipif(sys.platform != "linux", reason="reads the kernel's listen queue with iproute2's ss")
def test_the_listen_queue_holds_a_fleet_reconnecting_at_once(tmp_path: Path) -> None:
    """asyncio listens with its accept batch (32): after a restart, connects beyond it waited 1–3 s
    for a SYN retransmission while the loop was busy. The queue is the kernel's limit instead."""
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    queues: list[int] = []

    async def body(r: Receiver) -> None:
        queues.append(_listen_queue(r.port))

    run(tmp_path, body)
    assert queues == [min(4096, somaxconn)] and queues[0] > 32


def test_every_reason_the_receiver_lands_a_line_with_is_labelled(tmp_path: Path) -> None:
    """Each of the receiver's own reasons (and a parse reject) as it lands them in the quarantine
    zone: every one has its Chinese and English label in the registry, for the ingestion page."""
    overlong = f"##9999QN=20240501120000009;ST=32;CN=2011;PW=s3cret;MN={MN};".encode() + b"A" * 5000 + b"\r\n"

    async def body(r: Receiver) -> None:
        ar, aw = await connect(r)
        aw.write(packet("20240501120000001", pw="wrong"))
        assert (await reply(ar)).extra["QnRtn"] == "3"  # bad_pw
        aw.write(packet("20240501120000002", mn="FFFFFFFFFFFFFFFFFFFFFFFF", pw="x"))
        assert (await reply(ar)).extra["QnRtn"] == "4"  # unknown_mn: the address is now blocked
        aw.write(packet("20240501120000003", pw="s3cret"))
        assert (await reply(ar)).extra["QnRtn"] == "3"  # auth_throttled
        aw.close()
        br, bw = await connect(r, local="127.0.0.2")
        bw.write(packet("20240501120000004", mn=MN2, pw="t0p"))
        assert (await reply(br)).cn == "9014"
        bw.write(packet("20240501120000005", mn=MN2, pw="t0p"))
        assert (await reply(br)).extra["QnRtn"] == "2"  # mn_budget_exceeded
        bw.write(packet("20240501120000006", mn=MN2, pw="t0p")[:-6] + b"0000\r\n")
        assert (await reply(br)).extra["QnRtn"] == "9"  # crc_mismatch
        bw.write(overlong)
        assert (await reply(br)).cn == "9011"  # line_too_long
        bw.write(packet("20240501120000010", mn=MN2, pw="t0p")[:50])  # missing_tail at the hang-up
        await bw.drain()
        bw.close()
        await asyncio.sleep(0.3)

    header = len("2024-05-01T04:00:00.000000Z\tok\t127.0.0.2:50000\t123\t\n")
    one_packet = len(packet("20240501120000004", mn=MN2, pw="t0p")) + header + 10
    r = run(
        tmp_path,
        body,
        registry=_registry(tmp_path),
        auth_max_failures=2,
        auth_block_s=60,
        data_mn_bytes=one_packet,
    )
    landed = [status for status, _ in records(tmp_path / "raw" / "hj212_quarantine")]
    assert landed == [
        "bad_pw", "unknown_mn", "auth_throttled", "mn_budget_exceeded", "crc_mismatch", "line_too_long", "missing_tail",
    ]  # fmt: skip
    assert set(landed) | set(r.stats.rejects) <= set(QUARANTINE_REASONS)
