"""The receiver behind a PROXY-protocol gateway, over real TCP: the address a trusted proxy's header
carries is the connection's peer (landing records, per-peer caps); a header is never believed from
anyone else; a connection from a trusted proxy without a valid header in time is closed."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from receivers import run_receiver

from ingest.hj212.devices import DeviceRegistry
from ingest.hj212.protocol import Packet, build_packet, parse_line
from ingest.hj212.proxy_protocol import V2_SIGNATURE, parse_networks
from ingest.hj212.receiver import Receiver, ReceiverConfig
from ingest.hj212.segments import iter_records

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

MN = "010000A8900016F000169DC0"
GATEWAY = "127.0.0.1"  # the trusted proxy of these tests; 127.0.0.2 … are other sources


def packet(qn: str) -> bytes:
    return build_packet(
        qn=qn, st="32", cn="2011", pw="123456", mn=MN, flag=5, data_time="20240501120000",
        items={"w01018": {"Rtd": 1.5}},
    )  # fmt: skip


def v1(src: str, sport: int) -> bytes:
    family = "TCP4" if ipaddress.ip_address(src).version == 4 else "TCP6"
    dst = "10.0.0.1" if family == "TCP4" else "2001:db8::1"
    return f"PROXY {family} {src} {dst} {sport} 9212\r\n".encode()


def v2(src: str, sport: int, *, local: bool = False) -> bytes:
    if local:
        return V2_SIGNATURE + b"\x20\x00\x00\x00"
    source = ipaddress.ip_address(src)
    destination = ipaddress.ip_address("10.0.0.1" if source.version == 4 else "2001:db8::1")
    block = source.packed + destination.packed + struct.pack("!HH", sport, 9212)
    family = 0x11 if source.version == 4 else 0x21
    return V2_SIGNATURE + bytes([0x21, family]) + struct.pack("!H", len(block)) + block


def landed(tmp_path: Path, zone: str = "hj212") -> list[tuple[str, str, bytes]]:
    out = []
    for p in sorted((tmp_path / "raw" / zone).rglob("*.h212*")):
        out += [(r.status, r.peer, r.raw) for r in iter_records(p)]
    return out


def run(tmp_path: Path, body: Callable[[Receiver], Awaitable[None]], **cfg: Any) -> Receiver:
    cfg.setdefault("proxy_protocol", True)
    cfg.setdefault("trusted_proxies", parse_networks(GATEWAY))
    return run_receiver(tmp_path, body, receiver_id="proxied", **cfg)


async def connect(
    r: Receiver, header: bytes = b"", source: str = GATEWAY
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", r.port, local_addr=(source, 0))
    writer.write(header)
    return reader, writer


async def acked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, qn: str) -> None:
    writer.write(packet(qn))
    p = parse_line(await asyncio.wait_for(reader.readuntil(b"\n"), 5))
    assert isinstance(p, Packet) and (p.cn, p.qn) == ("9014", qn)


async def closed_at_once(reader: asyncio.StreamReader, timeout: float = 5) -> None:
    with contextlib.suppress(ConnectionResetError):  # aborted: a reset is a close too
        assert await asyncio.wait_for(reader.read(), timeout) == b""


def test_v1_and_v2_headers_from_a_trusted_proxy_name_the_peer_of_the_landing_records(
    tmp_path: Path,
) -> None:
    async def body(r: Receiver) -> None:
        for i, header in enumerate(
            (
                v1("203.0.113.7", 40001),
                v1("2001:db8::7", 40002),
                v2("198.51.100.8", 40003),
                v2("2001:db8::8", 40004),
            )
        ):
            reader, writer = await connect(r, header)
            await acked(reader, writer, f"2024050112000000{i}")
            writer.close()

    r = run(tmp_path, body)
    assert [peer for _, peer, _ in landed(tmp_path)] == [
        "203.0.113.7:40001",
        "2001:db8::7:40002",
        "198.51.100.8:40003",
        "2001:db8::8:40004",
    ]
    assert r.stats.proxy_header_errors == {} and r.stats.proxy_untrusted == 0


def test_a_header_without_an_address_leaves_the_proxys_own(tmp_path: Path) -> None:
    """v2 LOCAL and v1 UNKNOWN are what the gateway's health checks send."""

    async def body(r: Receiver) -> None:
        for i, header in enumerate((v2("", 0, local=True), b"PROXY UNKNOWN\r\n")):
            reader, writer = await connect(r, header)
            await acked(reader, writer, f"2024050112000000{i}")
            writer.close()

    run(tmp_path, body)
    assert [peer.rpartition(":")[0] for _, peer, _ in landed(tmp_path)] == [GATEWAY, GATEWAY]


@pytest.mark.parametrize(
    ("first", "same", "other"),
    [
        ("198.51.100.1", "198.51.100.1", "198.51.100.2"),
        # one host is handed a whole IPv6 /64 and may send from any address in it: one peer
        ("2001:db8:1:2::10", "2001:db8:1:2::beef", "2001:db8:1:3::10"),
    ],
    ids=["IPv4 address", "IPv6 /64"],
)
def test_the_per_peer_cap_counts_the_carried_address(
    tmp_path: Path, first: str, same: str, other: str
) -> None:
    """Every connection comes from the gateway's one socket address; the cap of 1 applies to the
    loggers' addresses the headers carry (to the cap and the auth throttle, an IPv6 one by its /64)."""

    async def body(r: Receiver) -> None:
        one = await connect(r, v2(first, 40001))
        await acked(*one, "20240501120000001")
        same_reader, _ = await connect(r, v1(same, 40002))
        await closed_at_once(same_reader)
        another = await connect(r, v2(other, 40003))
        await acked(*another, "20240501120000002")
        await acked(*one, "20240501120000003")  # the first goes on
        for _, writer in (one, another):
            writer.close()

    r = run(tmp_path, body, max_connections_per_peer=1)
    assert r.stats.connections_refused_peer == 1
    # the landing records keep each logger's own address
    assert [peer for _, peer, _ in landed(tmp_path)] == [f"{first}:40001", f"{other}:40003", f"{first}:40001"]


def test_a_header_from_an_untrusted_source_is_never_believed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(r: Receiver) -> None:
        reader, _ = await connect(r, v1("203.0.113.7", 40001) + packet("20240501120000001"), "127.0.0.2")
        await closed_at_once(reader)  # not from the gateway: closed, header unread, nothing landed
        trusted = await connect(r, v1("203.0.113.9", 40009))
        await acked(*trusted, "20240501120000002")
        trusted[1].close()

    with caplog.at_level(logging.WARNING, "ecocloud.hj212.receiver"):
        r = run(tmp_path, body)
    assert r.stats.proxy_untrusted == 1
    assert [peer for _, peer, _ in landed(tmp_path)] == ["203.0.113.9:40009"]
    assert "connection from 127.0.0.2:" in caplog.text and "not a trusted proxy" in caplog.text


def test_without_the_proxy_protocol_a_header_is_just_a_bad_line(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        reader, writer = await connect(r, v1("203.0.113.7", 40001))
        await acked(reader, writer, "20240501120000001")
        writer.close()

    run(tmp_path, body, proxy_protocol=False)
    ((status, peer, _),) = landed(tmp_path)
    assert status == "ok" and peer.startswith(f"{GATEWAY}:")  # the socket's address, not the claim
    ((_, rejected_peer, raw),) = landed(tmp_path, "hj212_quarantine")
    assert raw.startswith(b"PROXY TCP4") and rejected_peer == peer


@pytest.mark.parametrize(
    ("sent", "why"),
    [
        (packet("20240501120000001"), "no_header"),  # the gateway sends no header (send-proxy missing)
        (b"PROXY TCP4 203.0.113.700 10.0.0.1 40001 9212\r\n", "v1_syntax"),
        (b"PROXY TCP4 203.0.113.7 10.0.0.1 40001 9212\n", "v1_syntax"),
        (V2_SIGNATURE + b"\x21\x31\x00\x0c" + b"\x00" * 12, "family"),  # AF_UNIX
        (V2_SIGNATURE + b"\x21\x11\xff\xff", "oversize"),
        (V2_SIGNATURE + b"\x21\x11\x00\x0c\x01\x02", "timeout"),  # truncated, connection held open
        (b"", "timeout"),
    ],
)
def test_a_missing_garbled_or_late_header_closes_the_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, sent: bytes, why: str
) -> None:
    async def body(r: Receiver) -> None:
        reader, _ = await connect(r, sent)
        await closed_at_once(reader)
        assert r.stats.connections == 0
        good = await connect(r, v2("198.51.100.3", 40003))  # the receiver serves the next one
        await acked(*good, "20240501120000002")
        good[1].close()

    with caplog.at_level(logging.WARNING, "ecocloud.hj212.receiver"):
        r = run(tmp_path, body, proxy_header_timeout_s=0.5)
    assert r.stats.proxy_header_errors == {why: 1}
    assert [peer for _, peer, _ in landed(tmp_path)] == ["198.51.100.3:40003"]
    assert landed(tmp_path, "hj212_quarantine") == []
    assert f"no valid PROXY protocol header ({why}" in caplog.text


def test_a_proxy_that_hangs_up_mid_header_is_counted(tmp_path: Path) -> None:
    async def body(r: Receiver) -> None:
        _, writer = await connect(r, v1("203.0.113.7", 40001)[:20])
        writer.close()
        await writer.wait_closed()
        for _ in range(50):
            if r.stats.proxy_header_errors:
                break
            await asyncio.sleep(0.05)

    r = run(tmp_path, body)
    assert r.stats.proxy_header_errors == {"truncated": 1} and r.stats.connections == 0


def test_the_proxy_protocol_needs_trusted_proxies(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="trusted proxies"):
        ReceiverConfig(landing_dir=tmp_path / "l", proxy_protocol=True)


async def authenticate(r: Receiver, source: str, qn: str, pw: str, mn: str = MN) -> Packet:
    """One packet on a new connection through the gateway from ``source``; returns the reply."""
    reader, writer = await connect(r, v2(source, 40000))
    writer.write(build_packet(qn=qn, st="32", cn="2011", pw=pw, mn=mn, flag=5, cp=""))
    p = parse_line(await asyncio.wait_for(reader.readuntil(b"\n"), 5))
    writer.close()
    assert isinstance(p, Packet)
    return p


def test_behind_the_gateway_a_strangers_failures_block_neither_the_gateway_nor_the_logger(
    tmp_path: Path,
) -> None:
    """Registered mode, every connection from the gateway's one address: the throttle counts the
    carried addresses, so guesses block the MN for strangers while its logger and others go on."""
    mn2 = "010000A8900016F000169DC1"
    devices = tmp_path / "devices.csv"
    devices.write_text(f"mn,password\n{MN},s3cret\n{mn2},t0p\n", encoding="utf-8")

    async def body(r: Receiver) -> None:
        assert (await authenticate(r, "198.51.100.7", "20240501120000001", "s3cret")).cn == "9014"
        for i in range(3):  # strangers, spread over addresses
            guess = await authenticate(r, f"203.0.113.{i + 1}", f"2024050112000010{i}", "guess")
            assert guess.cn == "9011"
        refused = await authenticate(r, "203.0.113.9", "20240501120000200", "s3cret")
        assert (refused.cn, refused.extra["QnRtn"]) == ("9011", "3")  # MN blocked for strangers
        assert (await authenticate(r, "198.51.100.7", "20240501120000002", "s3cret")).cn == "9014"
        assert (await authenticate(r, "198.51.100.9", "20240501120000003", "t0p", mn2)).cn == "9014"

    r = run(tmp_path, body, registry=DeviceRegistry.load(devices), auth_max_failures=3, auth_block_s=60)
    assert [(status, peer.rpartition(":")[0]) for status, peer, _ in landed(tmp_path)] == [
        ("ok", "198.51.100.7"),
        ("ok", "198.51.100.7"),
        ("ok", "198.51.100.9"),
    ]
    assert r.stats.auth_blocks == 1  # the MN only: no address failed 3 times, the gateway's neither
