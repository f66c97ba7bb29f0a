"""The receivers of docker-compose.yml start with the command and settings the file gives them, bound
to every interface, pass their own health check, and take a logger's packet behind the gateway's
PROXY header, landing it under the logger's address (a file that only parses is not a deployment
that runs)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from compose_file import compose_as_deployed
from conftest import ecocloud_bin, outside_env

from ingest.hj212.protocol import build_packet
from ingest.hj212.proxy_protocol import V2_SIGNATURE
from ingest.hj212.segments import iter_records
from schemas.clock import BEIJING

MN = "010000A8900016F000169DC0"
LOGGER = ("203.0.113.7", 40001)  # the address the gateway's header carries


def _receivers() -> list[dict]:
    services = compose_as_deployed()["services"]
    found = [s for s in services.values() if s.get("command", [])[:2] == ["ecocloud", "receive"]]
    assert len(found) >= 2 and all(s["command"] == found[0]["command"] for s in found)
    return found


def _proxy_v2(source: tuple[str, int], destination: tuple[str, int]) -> bytes:
    """What HAProxy's send-proxy-v2 puts before a logger's first byte."""
    block = b"".join(ipaddress.IPv4Address(a).packed for a in (source[0], destination[0]))
    block += struct.pack("!HH", source[1], destination[1])
    return V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", len(block)) + block


def _packet() -> bytes:
    at = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING)
    return build_packet(
        qn=f"{at:%Y%m%d%H%M%S}001", st="32", cn="2011", mn=MN, flag=5, data_time=at,
        items={"w01018": {"Rtd": 12.5, "Flag": "N"}},
    )  # fmt: skip


def _wait_listening(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()  # no header: refused
            return
        except OSError:
            assert time.monotonic() < deadline, "the receiver never listened"
            time.sleep(0.1)


def test_the_compose_receiver_command_starts_and_acknowledges_behind_the_gateway(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    receiver = _receivers()[0]
    settings = receiver["environment"]
    landing = tmp_path / "hj212"
    env = outside_env() | {
        "ECOCLOUD_HOME": str(tmp_path / "home"),
        "ECOCLOUD_HJ212_LANDING_DIR": str(landing),
        **{k: settings[k] for k in ("ECOCLOUD_RECEIVER_ID", "ECOCLOUD_HJ212_PORT")},
        **{k: settings[k] for k in ("ECOCLOUD_HJ212_PROXY_PROTOCOL", "ECOCLOUD_HJ212_TRUSTED_PROXIES")},
    }
    command = [ecocloud_bin(), *receiver["command"][1:], "--port", str(port)]
    assert "0.0.0.0" in command
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_listening(proc, port)
        check = receiver["healthcheck"]["test"]
        assert check[:3] == ["CMD", "python", "-c"]
        snippet = check[3].replace(settings["ECOCLOUD_HJ212_PORT"], str(port))
        assert subprocess.run([sys.executable, "-c", snippet], timeout=10, check=False).returncode == 0
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:  # as the gateway
            conn.sendall(_proxy_v2(LOGGER, ("10.0.0.1", 9212)) + _packet())
            reply = conn.recv(4096)
        assert b"CN=9014" in reply  # received and landed: acknowledged
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    log = proc.stdout.read().decode() if proc.stdout else ""
    # the connection made while waiting sent no header (refused); the health check's was fine
    assert "proxy_header_errors={'truncated': 1}" in log, log
    (segment,) = landing.rglob("*.h212")
    assert [r.peer for r in iter_records(segment)] == [f"{LOGGER[0]}:{LOGGER[1]}"]
