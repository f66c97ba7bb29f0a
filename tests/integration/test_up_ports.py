"""`ecocloud up` beside another program on one of its ports (another home's `up`): it refused too
late — the other's servers answered its readiness checks, and it failed 25 s later with a traceback
or a log tail holding the other home's Airflow password. It refuses before it starts anything."""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port
from typer.testing import CliRunner

from ecocloud import up
from ecocloud.cli import app
from ecocloud.ports import port_free

_LISTENERS: list[socket.socket] = []


@contextmanager
def _listening(*, reuse_address: bool = False) -> Iterator[int]:
    """A port something listens on (on every interface, as Airflow's servers may) while it lasts."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, int(reuse_address))
        server.bind(("0.0.0.0", 0))
        server.listen()
        _LISTENERS.append(server)
        try:
            yield int(server.getsockname()[1])
        finally:
            _LISTENERS.remove(server)


@contextmanager
def _accepted(port: int) -> Iterator[socket.socket]:
    """The server side of the pending connection to ``port`` (this process's listener on it)."""
    for fd_socket in _LISTENERS:
        if fd_socket.getsockname()[1] == port:
            served, _ = fd_socket.accept()
            with served:
                yield served
            return
    raise AssertionError(f"no listener of ours on {port}")


@contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """run_up sets its own SIGINT/SIGTERM handlers: the test process gets its own back."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _nothing_may_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def start(*_: Any) -> None:
        raise AssertionError("up started its children on a taken port")

    monkeypatch.setattr(up, "_start", start)
    monkeypatch.setattr(up, "start_guard", start)


def test_up_refuses_a_taken_port_in_one_line_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _nothing_may_start(monkeypatch)
    home = tmp_path / "home"
    env = {"ECOCLOUD_HOME": str(home), "COLUMNS": "300"}
    free = [str(free_port()) for _ in range(3)]
    with _listening() as taken, _signal_handlers_kept():
        env["ECOCLOUD_HJ212_PORT"] = str(taken)
        args = [
            "up",
            "--simulate",
            "--port-airflow",
            free[0],
            "--port-web",
            free[1],
            "--simulator-port",
            free[2],
        ]
        done = CliRunner().invoke(app, args, env=env)
    assert done.exit_code == 2, done.output
    assert done.output.strip() == (
        f"port {taken} is in use on 127.0.0.1 (another program, or another home's ecocloud up): "
        "choose another with --receiver-port or ECOCLOUD_HJ212_PORT; nothing started"
    )
    assert sorted(p.name for p in (home / "up").iterdir()) == [up.LOCK_FILE]  # no child's log, no guard's


def test_up_names_each_taken_port_with_its_option(tmp_path: Path) -> None:
    with _listening() as airflow, _listening() as web:
        config = up.UpConfig(airflow_port=airflow, web_port=web, receiver_port=free_port())
        taken = up.ports_taken(config)
    assert [line.split(": ")[1] for line in taken] == [
        "choose another with --port-airflow",
        "choose another with --port-web",
    ]
    assert taken[0].startswith(f"port {airflow} is in use")


def test_up_refuses_one_port_named_for_two_servers() -> None:
    port = free_port()
    config = up.UpConfig(
        airflow_port=free_port(), web_port=port, receiver_port=free_port(), simulate=True, simulator_port=port
    )
    assert up.ports_taken(config) == [
        f"port {port} is named twice: by --port-web and by --simulator-port or ECOCLOUD_SIMULATOR_PORT"
    ]


def test_a_port_just_left_by_a_stopped_server_is_free() -> None:
    """Its connections in TIME_WAIT must not stop the next `up` on the same ports."""
    # as uvicorn and asyncio's servers listen
    with _listening(reuse_address=True) as port, socket.create_connection(("127.0.0.1", port)) as client:
        with _accepted(port) as served:
            served.sendall(b"x")
        client.recv(1)  # the server closed first: its side of the connection waits in TIME_WAIT
    with socket.socket() as plain, pytest.raises(OSError, match="Address already in use"):
        plain.bind(("127.0.0.1", port))  # how the check bound before
    assert port_free(port)
