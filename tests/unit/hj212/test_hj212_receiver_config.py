"""Who may send: the receiver binds loopback by default, a device registry means registered mode
unless open mode is chosen, and a non-loopback bind without a registry must choose open mode."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from ecocloud.cli import app
from ingest.hj212.receiver import ReceiverConfig, config_from_args, registry_for

pytestmark = pytest.mark.unit

MN = "010000A8900016F000169DC0"


def registry_csv(tmp_path: Path) -> Path:
    path = tmp_path / "devices.csv"
    path.write_text(f"mn,password\n{MN},s3cret\n", encoding="utf-8")
    return path


def test_loopback_is_the_default_bind(tmp_path: Path) -> None:
    assert ReceiverConfig(landing_dir=tmp_path / "l").host == "127.0.0.1"
    assert config_from_args(["--landing-dir", str(tmp_path / "l")]).host == "127.0.0.1"
    params = {p.name: p.default for p in typer.main.get_command(app).commands["receive"].params}
    assert (params["host"], params["mode"]) == ("127.0.0.1", None)


def test_a_registry_means_registered_mode_unless_open_is_chosen(tmp_path: Path) -> None:
    csv = registry_csv(tmp_path)
    c = config_from_args(["--landing-dir", str(tmp_path / "l"), "--devices", str(csv)])
    assert c.registry is not None and c.registry_mode == "registered" and c.registry.mode == "registered"
    c = config_from_args(["--landing-dir", str(tmp_path / "l"), "--devices", str(csv), "--mode", "open"])
    assert c.registry is not None and c.registry_mode == "open"
    assert registry_for(None, None) == (None, None)
    with pytest.raises(ValueError, match="needs a device registry"):
        registry_for(None, "registered")
    with pytest.raises(SystemExit, match="needs a device registry"):
        config_from_args(["--landing-dir", str(tmp_path / "l"), "--mode", "registered"])


def test_an_exposed_receiver_without_registry_must_choose_open_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="without a device registry"):
        ReceiverConfig(landing_dir=tmp_path / "l", host="0.0.0.0")
    assert ReceiverConfig(landing_dir=tmp_path / "l", host="0.0.0.0", registry_mode="open").registry is None
    with pytest.raises(SystemExit, match="choose open mode explicitly"):
        config_from_args(["--landing-dir", str(tmp_path / "l"), "--host", "0.0.0.0"])
    c = config_from_args(["--landing-dir", str(tmp_path / "l"), "--host", "::", "--mode", "open"])
    assert (c.host, c.registry_mode) == ("::", "open")


def test_the_proxy_protocol_is_off_by_default_and_needs_trusted_proxies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = ["--landing-dir", str(tmp_path / "l")]
    c = config_from_args(landing)
    assert (c.proxy_protocol, c.trusted_proxies) == (False, ())
    c = config_from_args([*landing, "--proxy-protocol", "--trusted-proxies", "10.0.0.0/8,::1"])
    assert c.proxy_protocol and [str(n) for n in c.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    with pytest.raises(SystemExit, match="trusted proxies"):
        config_from_args([*landing, "--proxy-protocol"])
    with pytest.raises(SystemExit, match="'gateway' is not an address"):
        config_from_args([*landing, "--proxy-protocol", "--trusted-proxies", "gateway"])
    # `ecocloud receive` takes both from the settings; a bad combination stops it before it listens
    monkeypatch.setenv("ECOCLOUD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECOCLOUD_HJ212_PROXY_PROTOCOL", "true")
    result = CliRunner().invoke(app, ["receive", "--port", "0"])
    assert result.exit_code == 2 and "trusted proxies" in result.output
    monkeypatch.setenv("ECOCLOUD_HJ212_TRUSTED_PROXIES", "10.0.0.0/8,gateway")
    result = CliRunner().invoke(app, ["receive", "--port", "0"])
    assert result.exit_code == 2 and "'gateway' is not an address" in result.output


def test_a_budget_of_many_long_keys_stays_small_and_fast() -> None:
    """An open-mode sender inventing MNs of kilobytes: each remembered at most 64 characters long,
    and past the table's size it is cut to nine tenths at once, not scanned again for every line."""
    from ingest.hj212.receiver import _Budget

    budget = _Budget(1 << 20, 3600, "data of MN", max_peers=1000)
    sizes = []
    for i in range(5_000):
        assert budget.take(f"{i:08d}" + "F" * 4000, 300, 1.0)
        sizes.append(len(budget._used))
    assert max(sizes) <= 1000 and max(map(len, budget._used)) == 64
    # the first key past the size sweeps the table down to nine tenths: the next hundred keys add
    # without a sweep (one sweep per line kept it at 1,000 and scanned it every time)
    assert sizes[1000] == 900 and sizes[1000:1100] == list(range(900, 1000))
    # one key's cap: the second take over it is refused, and another key is not
    small = _Budget(500, 3600, "data of MN")
    assert small.take("MN1", 400, 0.0) and not small.take("MN1", 400, 1.0) and small.take("MN2", 400, 1.0)
    assert small.take("MN1", 400, 3601.0)  # a new window
