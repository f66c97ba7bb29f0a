"""Test layers and shared fixtures.

Layers are enforced: a test's directory (unit / integration / e2e) gives it its marker, and a test
that declares a different layer marker fails collection. Tests that read the real field files in
../shared/data must carry the ``realdata`` marker (the ``shared_data`` fixture checks).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ecocloud.ports import free_port
from ecocloud.settings import Settings

REPO = Path(__file__).resolve().parent.parent
# A serving refresh deletes the parts a run replaced only this long after the first refresh that
# stopped listing them (a connection opened on an earlier serving file keeps reading them): the tests,
# which count files after their runs, see them deleted by that refresh; test_source_compaction and
# test_ledger check the grace and its bookkeeping.
os.environ.setdefault("ECOCLOUD_SERVING_RETIRED_GRACE_MINUTES", "0")
SHARED_DATA = REPO.parent / "shared" / "data"
LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(REPO / "tests")
        layer = rel.parts[0]
        if layer not in LAYERS:
            raise pytest.UsageError(f"{rel}: tests live in tests/unit, tests/integration or tests/e2e")
        declared = {m.name for m in item.iter_markers() if m.name in LAYERS}
        if declared - {layer}:
            raise pytest.UsageError(f"{item.nodeid}: marked {sorted(declared)} but lives in tests/{layer}")
        item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture
def shared_data(request: pytest.FixtureRequest) -> Path:
    """The real field files. Present here and in CI; absent only on a user's own machine.

    Checked per test: a test (or a fixture it uses) that reads them must itself be marked realdata."""
    if request.node.get_closest_marker("realdata") is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses shared_data but is not marked realdata")
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real field files not available: {SHARED_DATA} is absent (a user's own machine)")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh ECOCLOUD_HOME in a temporary folder (nothing shared between tests)."""
    home = tmp_path / "home"
    monkeypatch.setenv("ECOCLOUD_HOME", str(home))
    for var in ("ECOCLOUD_LAKE_DIR", "ECOCLOUD_DUCKDB_PATH", "ECOCLOUD_AIRFLOW_HOME"):
        monkeypatch.delenv(var, raising=False)
    return Settings()


@pytest.fixture(scope="session")
def expected() -> dict[str, Any]:
    """Expected outcomes of simulated runs (tests/expected_simulated.toml), kept in one data file."""
    return tomllib.loads((REPO / "tests" / "expected_simulated.toml").read_text(encoding="utf-8"))


@pytest.fixture
def ingest(settings: Settings) -> Callable[..., Any]:
    """Land with ``land(settings, ledger)`` and run a spec through the runner, as the CLI does."""
    from ecocloud.runner import engine
    from ecocloud.runner.context import RunInfo
    from ecocloud.specs import get_spec

    def run(
        spec: str, land: Callable[..., Any] = lambda _s, _l: [], *, force: bool = False, **kw: Any
    ) -> Any:
        return engine.land_and_run(settings, get_spec(spec), land, RunInfo.cli("test", force=force), **kw)

    return run


# -- the web app on demo-like data (integration and e2e) ----------------------------------------------
# Built once per session: the simulator's Jiangxi province served over HTTP, two days of air and a
# surface-water board snapshot ingested with the real `ecocloud ingest` commands into a temporary
# home, users added with `ecocloud users add`, and the real server (`ecocloud serve`) on a free port.
# (Lighter than `ecocloud demo --no-serve`, which runs every DAG through Airflow: ~15 s instead of minutes.)

WEB_PASSWORD = "correct-horse-battery"
WEB_USERS = {"pub": "public", "ana": "analyst", "enf": "enforcement", "boss": "admin"}


@dataclass(frozen=True)
class WebHome:
    home: Path
    env: dict[str, str]
    days: tuple[dt.date, ...]
    password: str = WEB_PASSWORD
    users: tuple[tuple[str, str], ...] = tuple(WEB_USERS.items())

    @property
    def ecocloud(self) -> str:
        return ecocloud_bin()

    def serve(self, *extra: str) -> AbstractContextManager[str]:
        """`ecocloud serve` on a free port in this home; the context yields its base URL."""
        return running_web(self.env, *extra)


def serving_rows(settings: Settings, sql: str, *params: object) -> list[tuple[object, ...]]:
    """The rows of ``sql`` against the serving database of ``settings``' home, read-only."""
    import duckdb

    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        return [tuple(r) for r in con.execute(sql, list(params)).fetchall()]
    finally:
        con.close()


def ecocloud_bin() -> str:
    return str(Path(sys.executable).parent / "ecocloud")


def airflow_dags_test(
    settings: Settings,
    dag_id: str,
    logical_date: dt.datetime | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    conf: dict[str, Any] | None = None,
    state: str = "success",
) -> str:
    """``airflow dags test`` of one DAG with the home's Airflow environment (plus ``env``) and the run's
    ``conf``: Airflow parses, schedules and runs every task in one process. Asserts the run ended in
    ``state``; returns its log."""
    from ecocloud.airflow_env import airflow_bin, airflow_env

    date = [logical_date.isoformat()] if logical_date else []
    options = ["--conf", json.dumps(conf)] if conf else []
    proc = subprocess.run(
        [airflow_bin(), "dags", "test", *options, dag_id, *date],
        env=airflow_env(settings) | (env or {}),
        check=False,  # asserted below, with the log in the message
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out = proc.stdout + proc.stderr
    assert f"state={state}" in out, out[-4000:]
    if state == "success":
        assert proc.returncode == 0, out[-4000:]
    return out


@pytest.fixture(scope="session")
def web_home(tmp_path_factory: pytest.TempPathFactory) -> WebHome:
    from ecocloud.simulator.server import running_simulator
    from ecocloud.simulator.water import jiangxi_sections, registry_csv

    home = tmp_path_factory.mktemp("web") / "home"
    home.mkdir()
    env = outside_env() | {"ECOCLOUD_HOME": str(home)}
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    days = (today - dt.timedelta(days=2), today - dt.timedelta(days=1))
    sections = home / "sections.csv"
    sections.write_bytes(registry_csv(jiangxi_sections(2026)))
    with running_simulator(
        start_date=days[0], days=len(days), seed=2026, now=dt.datetime.combine(today, dt.time(0, 30))
    ) as sim:
        air = [f"{sim.base_url}/air/station_list.csv"] + [
            f"{sim.base_url}/air/china_sites_{d:%Y%m%d}.csv" for d in days
        ]
        for args in (
            ["ingest", "air", *air],
            ["ingest", "water", f"{sim.base_url}/water/Publish.ashx", "--sections", str(sections)],
        ):
            subprocess.run([ecocloud_bin(), *args], env=env, check=True, capture_output=True, timeout=600)
    for name, role in WEB_USERS.items():
        subprocess.run(
            [ecocloud_bin(), "users", "add", name, "--role", role, "--password-stdin"],
            input=WEB_PASSWORD + "\n",
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    return WebHome(home, env, days)


def run_ecocloud(home: WebHome, *args: str) -> subprocess.CompletedProcess[str]:
    """`ecocloud ARGS` in ``home``'s environment; its exit status is the caller's to judge."""
    return subprocess.run(
        [home.ecocloud, *args], env=home.env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def catalog_built(web_home: WebHome) -> WebHome:
    """The web home with its catalog rebuilt (once per test module that asks)."""
    done = run_ecocloud(web_home, "catalog", "build")
    assert done.returncode == 0, done.stderr
    return web_home


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for this test (needs CAP_SYS_ADMIN), for a real ENOSPC."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): the real-ENOSPC case "
            "needs one (no CAP_SYS_ADMIN)"
        )
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def outside_env() -> dict[str, str]:
    """This environment without its ``ECOCLOUD_*`` settings: a subprocess given a home of its own."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ECOCLOUD_")}


@contextmanager
def running_web(env: dict[str, str], *extra: str) -> Iterator[str]:
    """`ecocloud serve` in a subprocess on a free port; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [ecocloud_bin(), "serve", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"ecocloud serve exited with {proc.returncode}: {out}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


@pytest.fixture(scope="session")
def web_server(web_home: WebHome) -> Iterator[str]:
    """The web app on plain http over loopback, as `make demo` serves it (cookies without Secure)."""
    with running_web(web_home.env, "--insecure-cookies") as base:
        yield base


# -- the enforcement surfaces on the risk ground-truth scenario (integration and e2e) ------------------
# Built once per session (≈ 30 s): the simulated province with labelled offenders (1× size, 3 days)
# through the real specs (tests/risk_scenario.py), the `risk` spec run, the web users added, and
# `ecocloud serve` on it. Its newest day with risk marts is risk_scenario.ANCHOR.


@dataclass(frozen=True)
class RiskHome:
    home: Path
    env: dict[str, str]
    labels: Path
    days: tuple[dt.date, ...]
    password: str = WEB_PASSWORD

    def ecocloud(
        self, *args: str, home: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """`ecocloud ARGS…` in this home (or ``home``): exit code, stdout and stderr as text."""
        env = self.env | {"ECOCLOUD_HOME": str(home or self.home), "COLUMNS": "200"}
        return subprocess.run(
            [ecocloud_bin(), *args], check=False, env=env, capture_output=True, text=True, timeout=timeout
        )


@pytest.fixture(scope="session")
def risk_home(tmp_path_factory: pytest.TempPathFactory) -> RiskHome:
    from risk_scenario import build_risk_home, home_settings

    from ecocloud.web.users import UserStore

    home = tmp_path_factory.mktemp("risk") / "home"
    home.mkdir()
    scenario, labels = build_risk_home(home)
    store = UserStore(home_settings(home).state_url)
    for name, role in WEB_USERS.items():
        store.add_user(name, WEB_PASSWORD, role)
    store.engine.dispose()
    env = outside_env() | {"ECOCLOUD_HOME": str(home)}
    return RiskHome(home, env, labels, tuple(scenario.days))


@pytest.fixture(scope="session")
def risk_server(risk_home: RiskHome) -> Iterator[str]:
    """The web app on the risk home, plain http over loopback."""
    with running_web(risk_home.env, "--insecure-cookies") as base:
        yield base


# -- the machine's PostgreSQL and Redis (tests/services.py) ---------------------------------------------
@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test (dropped after it): its SQLAlchemy URL."""
    from services import postgres_database

    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A state database URL: an SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite'}"
        return
    from services import postgres_database

    with postgres_database() as url:
        yield url
