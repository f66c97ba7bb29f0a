"""Loopback TCP ports for the services a demo, a bench or a test starts on this machine."""

from __future__ import annotations

import socket

__all__ = ["free_port", "port_free"]


def port_free(port: int) -> bool:
    """Whether nothing listens on ``port`` of 127.0.0.1 now."""
    with socket.socket() as s:
        # as the servers bind (uvicorn, asyncio): connections of a server just stopped, in TIME_WAIT,
        # do not hold the port then, while a listener (on 127.0.0.1 or every interface) still does
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
