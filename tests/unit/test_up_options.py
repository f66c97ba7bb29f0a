"""`ecocloud up`'s options: the receiver's and the simulator's ports come from the settings, as
`ecocloud receive` and `ecocloud simulate` take theirs, unless an option names another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ecocloud import up
from ecocloud.cli import app


def _config_of(args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> up.UpConfig:
    """The UpConfig `ecocloud up ARGS` would run with (nothing started)."""
    seen: list[up.UpConfig] = []

    def run_up(_settings: Any, config: up.UpConfig, _console: Any) -> int:
        seen.append(config)
        return 0

    monkeypatch.setattr(up, "run_up", run_up)
    done = CliRunner().invoke(app, ["up", *args], env=env)
    assert done.exit_code == 0, done.output
    return seen[0]


def test_up_takes_the_receiver_and_simulator_ports_from_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"ECOCLOUD_HOME": str(tmp_path), "ECOCLOUD_HJ212_PORT": "19212", "ECOCLOUD_SIMULATOR_PORT": "19765"}
    config = _config_of(["--simulate"], env, monkeypatch)
    assert (config.receiver_port, config.simulator_port) == (19212, 19765)
    assert (config.airflow_port, config.web_port) == (8080, 8000)  # no setting: the options' defaults


def test_an_explicit_port_option_wins_over_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"ECOCLOUD_HOME": str(tmp_path), "ECOCLOUD_HJ212_PORT": "19212", "ECOCLOUD_SIMULATOR_PORT": "19765"}
    config = _config_of(["--receiver-port", "19313", "--simulator-port", "19866"], env, monkeypatch)
    assert (config.receiver_port, config.simulator_port) == (19313, 19866)


def test_up_without_port_settings_keeps_the_usual_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("ECOCLOUD_HJ212_PORT", "ECOCLOUD_SIMULATOR_PORT"):
        monkeypatch.delenv(var, raising=False)
    config = _config_of([], {"ECOCLOUD_HOME": str(tmp_path)}, monkeypatch)
    assert (config.receiver_port, config.simulator_port) == (9212, 8765)
