"""The PROXY protocol (HAProxy's specification, versions 1 and 2): the header a TCP gateway puts in
front of a connection to say whose connection it is.

Behind a TCP gateway every connection comes from the gateway's address.  A gateway configured to
send the PROXY protocol (HAProxy ``send-proxy`` / ``send-proxy-v2``, nginx ``proxy_protocol on``)
starts each connection with a header naming the client's address, which the receiver then takes
as the connection's peer.  Only headers from trusted addresses may be believed (:func:`is_trusted`):
anyone else could claim any address.

* v1, text: ``PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\\r\\n`` or ``PROXY UNKNOWN…\\r\\n``, at
  most 107 bytes.
* v2, binary: the 12-byte signature ``\\r\\n\\r\\n\\x00\\r\\nQUIT\\n``, a version/command byte
  (``0x20`` LOCAL, ``0x21`` PROXY), a family/transport byte (``0x11`` TCP over IPv4, ``0x21`` TCP
  over IPv6, ``0x00`` unspecified), a 2-byte big-endian length, then the addresses and ports and
  optional TLVs (skipped).

LOCAL, UNKNOWN and the unspecified family carry no client address (a gateway's own health checks
send them): :attr:`ProxyHeader.source` is ``None`` and the connection's own peer stands.

:func:`parse_proxy_header` parses a header at the start of a buffer, :func:`read_proxy_header` reads
exactly one from a stream (at most 107 bytes for v1, 16 + :data:`MAX_V2_LENGTH` for v2; the caller
bounds the time).  Both raise :class:`ProxyHeaderError` and nothing else on any input.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "MAX_V2_LENGTH",
    "V1_MAX_BYTES",
    "V2_SIGNATURE",
    "ProxyHeader",
    "ProxyHeaderError",
    "TrustedNetworks",
    "is_trusted",
    "parse_networks",
    "parse_proxy_header",
    "read_proxy_header",
]

V1_PREFIX = b"PROXY "
V1_MAX_BYTES = 107  # the specification's longest v1 line, CRLF included
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_FIXED_BYTES = 16  # signature, version/command, family/transport, length
# Addresses take 36 bytes at most for TCP; the rest would be TLVs, which HAProxy sends only when
# told to (proxy-v2-options): anything longer is refused rather than buffered.
MAX_V2_LENGTH = 1024
_V2_LOCAL, _V2_PROXY = 0x0, 0x1
_AF_UNSPEC, _AF_INET, _AF_INET6 = 0x0, 0x1, 0x2
_STREAM = 0x1
_V2_ADDRESS_SIZE = {_AF_INET: 4, _AF_INET6: 16}
_V1_FAMILY = {"TCP4": 4, "TCP6": 6}

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
TrustedNetworks: TypeAlias = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


class ProxyHeaderError(ValueError):
    """Not a valid PROXY protocol header; ``reason`` is a short word for counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    version: int
    source: tuple[str, int] | None  # the client's (address, port); None: keep the socket's peer


def parse_proxy_header(data: bytes) -> tuple[ProxyHeader, int]:
    """The header at the start of ``data`` and its length in bytes."""
    if data.startswith(V1_PREFIX):
        end = data.find(b"\n", 0, V1_MAX_BYTES)
        if end < 0:
            if len(data) < V1_MAX_BYTES:
                raise ProxyHeaderError("truncated", f"{len(data)} bytes, no line end yet")
            raise ProxyHeaderError("v1_syntax", f"no line end within {V1_MAX_BYTES} bytes")
        return parse_v1(data[: end + 1]), end + 1
    if data.startswith(V2_SIGNATURE):
        if len(data) < V2_FIXED_BYTES:
            raise ProxyHeaderError("truncated", f"{len(data)} bytes of a v2 header")
        length = v2_length(data[:V2_FIXED_BYTES])
        end = V2_FIXED_BYTES + length
        if len(data) < end:
            raise ProxyHeaderError("truncated", f"{len(data) - V2_FIXED_BYTES} of {length} address bytes")
        return parse_v2(data[:V2_FIXED_BYTES], data[V2_FIXED_BYTES:end]), end
    if V1_PREFIX.startswith(data) or V2_SIGNATURE.startswith(data):
        raise ProxyHeaderError("truncated", f"{len(data)} bytes")
    raise ProxyHeaderError("no_header", f"starts with {data[:16]!r}")


async def read_proxy_header(reader: asyncio.StreamReader) -> ProxyHeader:
    """Read exactly one header from ``reader`` (what follows it stays unread)."""
    try:
        start = await reader.readexactly(len(V1_PREFIX))  # every header is longer than this
        if start == V1_PREFIX:
            line = start
            while not line.endswith(b"\n"):  # byte by byte: never read past the header
                if len(line) >= V1_MAX_BYTES:
                    raise ProxyHeaderError("v1_syntax", f"no line end within {V1_MAX_BYTES} bytes")
                line += await reader.readexactly(1)
            return parse_v1(line)
        if start != V2_SIGNATURE[: len(start)]:
            raise ProxyHeaderError("no_header", f"starts with {start!r}")
        fixed = start + await reader.readexactly(V2_FIXED_BYTES - len(start))
        return parse_v2(fixed, await reader.readexactly(v2_length(fixed)))
    except asyncio.IncompleteReadError as exc:
        raise ProxyHeaderError("truncated", f"closed after {len(exc.partial)} more bytes") from None


def parse_v1(line: bytes) -> ProxyHeader:
    """A whole v1 line, CRLF included."""
    if len(line) > V1_MAX_BYTES or not line.startswith(V1_PREFIX) or not line.endswith(b"\r\n"):
        raise ProxyHeaderError("v1_syntax", f"not a PROXY line of at most {V1_MAX_BYTES} bytes")
    try:
        fields = line[:-2].decode("ascii").split(" ")
    except UnicodeDecodeError:
        raise ProxyHeaderError("v1_syntax", "not ASCII") from None
    if fields[1] == "UNKNOWN":  # the rest of the line is to be ignored
        return ProxyHeader(1, None)
    family = _V1_FAMILY.get(fields[1])
    if family is None:
        raise ProxyHeaderError("family", f"protocol {fields[1][:8]!r}")
    if len(fields) != 6:
        raise ProxyHeaderError("v1_syntax", f"{len(fields)} fields, not 6")
    source, _destination = (_v1_address(text, family) for text in fields[2:4])
    source_port, _destination_port = (_v1_port(text) for text in fields[4:6])
    return ProxyHeader(1, (str(source), source_port))


def v2_length(fixed: bytes) -> int:
    """The length of the address block after the 16 fixed bytes of a v2 header (checked)."""
    if len(fixed) != V2_FIXED_BYTES or not fixed.startswith(V2_SIGNATURE):
        raise ProxyHeaderError("v2_signature", "not the v2 signature")
    version, command = fixed[12] >> 4, fixed[12] & 0x0F
    if version != 2:
        raise ProxyHeaderError("v2_version", f"version {version}")
    if command not in (_V2_LOCAL, _V2_PROXY):
        raise ProxyHeaderError("v2_command", f"command {command}")
    length = int.from_bytes(fixed[14:16], "big")
    if length > MAX_V2_LENGTH:
        raise ProxyHeaderError("oversize", f"{length} address bytes, at most {MAX_V2_LENGTH}")
    return length


def parse_v2(fixed: bytes, block: bytes) -> ProxyHeader:
    """A v2 header from its 16 fixed bytes and its address block."""
    length = v2_length(fixed)
    if len(block) != length:
        raise ProxyHeaderError("truncated", f"{len(block)} of {length} address bytes")
    family, transport = fixed[13] >> 4, fixed[13] & 0x0F
    if fixed[12] & 0x0F == _V2_LOCAL or family == _AF_UNSPEC:
        return ProxyHeader(2, None)
    size = _V2_ADDRESS_SIZE.get(family)
    if size is None or transport != _STREAM:
        raise ProxyHeaderError("family", f"family/transport 0x{fixed[13]:02x}: TCP over IPv4 or IPv6 only")
    if length < 2 * size + 4:
        raise ProxyHeaderError("truncated", f"{length} address bytes, fewer than the family's {2 * size + 4}")
    source = _plain(ipaddress.ip_address(block[:size]))
    source_port = int.from_bytes(block[2 * size : 2 * size + 2], "big")
    return ProxyHeader(2, (str(source), source_port))


def _v1_address(text: str, family: int) -> IPAddress:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ProxyHeaderError("v1_syntax", f"address {text[:48]!r}") from None
    if address.version != family or "%" in text:
        raise ProxyHeaderError("v1_syntax", f"address {text[:48]!r} for TCP{family}")
    return _plain(address)


def _v1_port(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 0xFFFF):
        raise ProxyHeaderError("v1_syntax", f"port {text[:8]!r}")
    return int(text)


def _plain(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address as IPv4: one client, one peer key."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(spec: str | Iterable[str]) -> TrustedNetworks:
    """Addresses or networks (``10.0.0.0/8``, ``::1``), comma-separated or a list; host bits
    are ignored (``172.30.212.7/24`` is that /24).  ValueError names a bad entry."""
    items = spec.split(",") if isinstance(spec, str) else spec
    networks = []
    for item in (i.strip() for i in items):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"trusted proxies: {item!r} is not an address or network") from None
    return tuple(networks)


def is_trusted(ip: str, networks: TrustedNetworks) -> bool:
    """True if ``ip`` (an IPv4-mapped IPv6 address counts as IPv4) is in one of ``networks``."""
    try:
        address = _plain(ipaddress.ip_address(ip))
    except ValueError:
        return False
    return any(address in network for network in networks)
