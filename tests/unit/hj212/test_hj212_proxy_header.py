"""The PROXY protocol header parser (v1 text, v2 binary) on good headers and hostile bytes: it
returns a header or raises ProxyHeaderError, nothing else, and never reads past the header."""

from __future__ import annotations

import asyncio
import ipaddress
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.hj212.proxy_protocol import (
    MAX_V2_LENGTH,
    V1_MAX_BYTES,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    is_trusted,
    parse_networks,
    parse_proxy_header,
    read_proxy_header,
)

pytestmark = pytest.mark.unit

DATA = b"##0101QN=20240501120000001;ST=32\r\n"  # what a logger sends after the header


def v2(command: int = 0x1, family: int = 0x11, block: bytes = b"", *, length: int | None = None) -> bytes:
    size = len(block) if length is None else length
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", size) + block


def v2_tcp4(src: str, dst: str, sport: int, dport: int, tlvs: bytes = b"") -> bytes:
    block = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
    return v2(block=block + struct.pack("!HH", sport, dport) + tlvs)


def v2_tcp6(src: str, dst: str, sport: int, dport: int) -> bytes:
    block = ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed
    return v2(family=0x21, block=block + struct.pack("!HH", sport, dport))


def read(data: bytes) -> tuple[ProxyHeader, bytes]:
    """read_proxy_header over a stream holding ``data``; returns the header and what is left."""

    async def main() -> tuple[ProxyHeader, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_proxy_header(reader), await reader.read()

    return asyncio.run(main())


def reason(data: bytes) -> str:
    with pytest.raises(ProxyHeaderError) as parsed:
        parse_proxy_header(data)
    with pytest.raises(ProxyHeaderError):
        read(data)
    return parsed.value.reason


@pytest.mark.parametrize(
    ("header", "source"),
    [
        (b"PROXY TCP4 203.0.113.7 10.0.0.1 40001 9212\r\n", ("203.0.113.7", 40001)),
        (b"PROXY TCP6 2001:db8::7 2001:db8::1 40002 9212\r\n", ("2001:db8::7", 40002)),
        (b"PROXY TCP6 ::ffff:203.0.113.9 ::1 0 65535\r\n", ("203.0.113.9", 0)),  # mapped: IPv4
        (b"PROXY UNKNOWN\r\n", None),
        (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", None),  # the rest of an UNKNOWN line is ignored
        (v2_tcp4("203.0.113.7", "10.0.0.1", 40001, 9212), ("203.0.113.7", 40001)),
        (v2_tcp4("203.0.113.7", "10.0.0.1", 1, 2, tlvs=b"\x04\x00\x03abc"), ("203.0.113.7", 1)),
        (v2_tcp6("2001:db8::7", "2001:db8::1", 40002, 9212), ("2001:db8::7", 40002)),
        (v2_tcp6("::ffff:198.51.100.4", "::1", 5, 6), ("198.51.100.4", 5)),
        (v2(command=0x0, family=0x00), None),  # LOCAL: the proxy's own health check
        (v2(command=0x0, family=0x11, block=b"\x00" * 12), None),  # LOCAL ignores any addresses
        (v2(command=0x1, family=0x00, block=b"ignored"), None),  # PROXY with an unspecified family
    ],
)
def test_headers_are_read_and_what_follows_stays_unread(
    header: bytes, source: tuple[str, int] | None
) -> None:
    parsed, consumed = parse_proxy_header(header + DATA)
    assert (parsed.source, consumed) == (source, len(header))
    assert parsed.version == (1 if header.startswith(b"PROXY") else 2)
    assert read(header + DATA) == (parsed, DATA)


def test_a_v1_line_of_the_longest_allowed_length_is_read_one_byte_longer_is_refused() -> None:
    full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    tcp6 = f"PROXY TCP6 {full} {full} 65535 65535\r\n".encode()
    assert parse_proxy_header(tcp6)[0].source == (full, 65535)
    longest = tcp6.replace(b"TCP6", b"UNKNOWN")  # the specification's worst case
    assert len(longest) == V1_MAX_BYTES
    assert parse_proxy_header(longest) == (ProxyHeader(1, None), V1_MAX_BYTES)
    assert read(longest) == (ProxyHeader(1, None), b"")
    assert reason(longest.replace(b"UNKNOWN", b"UNKNOWN ")) == "v1_syntax"
    assert reason(b"PROXY UNKNOWN " + b"x" * 200 + b"\r\n") == "v1_syntax"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"PROXY TCP4 203.0.113.7 10.0.0.1 40001 9212\n", "v1_syntax"),  # LF without CR
        (b"PROXY TCP4 999.0.113.7 10.0.0.1 40001 9212\r\n", "v1_syntax"),
        (b"PROXY TCP4 203.0.113.007 10.0.0.1 40001 9212\r\n", "v1_syntax"),  # leading zeros
        (b"PROXY TCP4 2001:db8::7 10.0.0.1 40001 9212\r\n", "v1_syntax"),  # IPv6 under TCP4
        (b"PROXY TCP6 203.0.113.7 ::1 40001 9212\r\n", "v1_syntax"),
        (b"PROXY TCP6 fe80::1%eth0 ::1 40001 9212\r\n", "v1_syntax"),  # a scope is no address
        (b"PROXY TCP4 203.0.113.7 10.0.0.1 65536 9212\r\n", "v1_syntax"),
        (b"PROXY TCP4 203.0.113.7 10.0.0.1 -1 9212\r\n", "v1_syntax"),
        (b"PROXY TCP4 203.0.113.7 10.0.0.1 \xd9\xa1 9212\r\n", "v1_syntax"),  # an Arabic digit
        (b"PROXY TCP4 203.0.113.7 10.0.0.1 40001\r\n", "v1_syntax"),
        (b"PROXY TCP4 203.0.113.7 10.0.0.1 40001 9212 x\r\n", "v1_syntax"),
        (b"PROXY tcp4 203.0.113.7 10.0.0.1 40001 9212\r\n", "family"),
        (b"PROXY UDP4 203.0.113.7 10.0.0.1 40001 9212\r\n", "family"),
        (b"PROXY \r\n", "family"),
        (b"PROXY TCP4 203.0.113.7 10.0.0.1 40001 9212", "truncated"),  # closed before the line end
        (b"PROX", "truncated"),
        (b"", "truncated"),
        (DATA, "no_header"),  # a logger's packet: the proxy sent no header
        (b"GET / HTTP/1.0\r\n\r\n", "no_header"),
        (b"\r\n\r\n\x00\r\nQUIX\n" + b"\x00" * 16, "no_header"),
    ],
)
def test_bad_v1_lines_and_data_that_is_no_header(data: bytes, why: str) -> None:
    assert reason(data) == why


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (V2_SIGNATURE[:7], "truncated"),
        (V2_SIGNATURE + b"\x21\x11\x00", "truncated"),  # the length cut off
        (v2_tcp4("203.0.113.7", "10.0.0.1", 1, 2)[:-3], "truncated"),  # the block cut off
        (v2(block=b"\x01\x02\x03\x04"), "truncated"),  # shorter than TCP over IPv4's 12 bytes
        (v2(family=0x21, block=b"\x00" * 12), "truncated"),  # shorter than IPv6's 36 bytes
        (v2(length=0xFFFF) + b"\x00" * 64, "oversize"),
        (v2(length=MAX_V2_LENGTH + 1) + b"\x00" * (MAX_V2_LENGTH + 1), "oversize"),
        (v2(family=0x31, block=b"\x00" * 216), "family"),  # AF_UNIX
        (v2(family=0x12, block=b"\x00" * 12), "family"),  # UDP over IPv4
        (v2(family=0x10, block=b"\x00" * 12), "family"),  # IPv4, unspecified transport
        (v2(family=0x41, block=b"\x00" * 12), "family"),  # no such family
        (v2(command=0x2, block=b"\x00" * 12), "v2_command"),
        (V2_SIGNATURE + b"\x11\x11\x00\x0c" + b"\x00" * 12, "v2_version"),
        (V2_SIGNATURE + b"\x31\x11\x00\x0c" + b"\x00" * 12, "v2_version"),
    ],
)
def test_hostile_v2_headers(data: bytes, why: str) -> None:
    assert reason(data) == why


def test_an_oversize_v2_length_is_refused_before_its_bytes_are_read() -> None:
    """The reader refuses on the length field alone: it never waits for, nor buffers, 64 KiB."""

    async def main() -> str:
        reader = asyncio.StreamReader()
        reader.feed_data(v2(length=0xFFFF))  # no EOF, no block: a read would wait forever
        with pytest.raises(ProxyHeaderError) as refused:
            await asyncio.wait_for(read_proxy_header(reader), 2)
        return refused.value.reason

    assert asyncio.run(main()) == "oversize"


def test_the_v1_reader_stops_at_107_bytes_without_waiting_for_a_line_end() -> None:
    async def main() -> str:
        reader = asyncio.StreamReader()
        reader.feed_data(b"PROXY TCP4 " + b"1" * 200)  # no EOF, no line end
        with pytest.raises(ProxyHeaderError) as refused:
            await asyncio.wait_for(read_proxy_header(reader), 2)
        return refused.value.reason

    assert asyncio.run(main()) == "v1_syntax"


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PREFIXES = st.sampled_from(
    [b"", b"PROXY ", b"PROXY TCP4 ", b"PROXY TCP6 ", V2_SIGNATURE, V2_SIGNATURE + b"\x21"]
)


@SETTINGS
@given(PREFIXES, st.binary(max_size=300))
def test_any_bytes_give_a_header_or_a_proxy_header_error_and_both_readers_agree(
    prefix: bytes, tail: bytes
) -> None:
    data = prefix + tail
    try:
        parsed: ProxyHeader | None
        parsed, consumed = parse_proxy_header(data)
    except ProxyHeaderError:
        parsed, consumed = None, 0
    try:
        streamed: tuple[ProxyHeader, bytes] | None = read(data)
    except ProxyHeaderError:
        streamed = None
    assert streamed == (None if parsed is None else (parsed, data[consumed:]))
    if parsed is not None and parsed.source is not None:
        ipaddress.ip_address(parsed.source[0])
        assert 0 <= parsed.source[1] <= 0xFFFF


@SETTINGS
@given(
    st.sampled_from([0x0, 0x1, 0x2, 0xF]),
    st.integers(0, 255),
    st.binary(max_size=80),
    st.one_of(st.none(), st.integers(0, 0xFFFF)),
)
def test_any_v2_fields_give_a_header_or_a_proxy_header_error(
    command: int, family: int, block: bytes, length: int | None
) -> None:
    data = v2(command=command, family=family, block=block, length=length)
    try:
        parsed, consumed = parse_proxy_header(data)
    except ProxyHeaderError:
        return
    assert command in (0x0, 0x1) and parsed.version == 2 and consumed <= len(data)


def test_trusted_proxies_are_addresses_or_networks() -> None:
    nets = parse_networks(" 127.0.0.1, 172.30.212.7/24 ,::1,")
    assert [str(n) for n in nets] == ["127.0.0.1/32", "172.30.212.0/24", "::1/128"]
    assert is_trusted("172.30.212.200", nets) and is_trusted("::ffff:172.30.212.3", nets)
    assert not is_trusted("172.30.213.1", nets) and not is_trusted("127.0.0.2", nets)
    assert not is_trusted("not an address", nets) and not is_trusted("127.0.0.1", ())
    assert parse_networks(["10.0.0.0/8"]) == (ipaddress.ip_network("10.0.0.0/8"),)
    assert parse_networks("") == ()
    with pytest.raises(ValueError, match="'gateway' is not an address or network"):
        parse_networks("10.0.0.0/8,gateway")
