"""The receivers of docker-compose.yml start with the command the file gives them, bound to every
interface, and take a logger's packet (a file that only parses is not a deployment that runs)."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import time
from pathlib import Path

import yaml
from conftest import ecocloud_bin, outside_env

from ingest.hj212.protocol import BEIJING, build_packet

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
MN = "010000A8900016F000169DC0"


def _receivers() -> list[dict]:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]  # anchors resolved
    found = [s for s in services.values() if s.get("command", [])[:2] == ["ecocloud", "receive"]]
    assert len(found) >= 2 and all(s["command"] == found[0]["command"] for s in found)
    return found


def test_the_compose_receiver_command_starts_and_acknowledges(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    receiver = _receivers()[0]
    env = outside_env() | {
        "ECOCLOUD_HOME": str(tmp_path / "home"),
        "ECOCLOUD_RECEIVER_ID": receiver["environment"]["ECOCLOUD_RECEIVER_ID"],
    }
    command = [ecocloud_bin(), *receiver["command"][1:], "--port", str(port)]
    assert "0.0.0.0" in command
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline, "the receiver never listened"
                time.sleep(0.1)
        with conn:
            at = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING)
            packet = build_packet(
                qn=f"{at:%Y%m%d%H%M%S}001", st="32", cn="2011", mn=MN, flag=5, data_time=at,
                items={"w01018": {"Rtd": 12.5, "Flag": "N"}},
            )  # fmt: skip
            conn.sendall(packet)
            conn.settimeout(10)
            reply = conn.recv(4096)
        assert b"CN=9014" in reply  # received and landed: acknowledged
    finally:
        proc.terminate()
        proc.wait(timeout=30)
