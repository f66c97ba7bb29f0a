"""A network client as the platform's limits count it (the web login throttle, the HJ 212 receiver's
per-peer caps and auth throttle): an IPv4 address as itself; an IPv6 one by its /64 — a single host
is handed a whole /64 and may send from any address in it, so counting full addresses would give it
2^64 budgets — and an IPv4 client on a dual-stack socket (``::ffff:a.b.c.d``) as its IPv4 address."""

from __future__ import annotations

import ipaddress


def client_key(host: str) -> str:
    """``host`` (an address, or any other peer name: kept as it is) as the limits count it."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
