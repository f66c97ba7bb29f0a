"""The simulated province with labelled risk offenders, through the real specs into a real home:
shared by the ground-truth test (tests/integration/test_risk_ground_truth.py) and the enforcement
surfaces' tests (``ecocloud risk``, the /risk pages, the browser).

Packets go to capture files ingested by the HJ 212 spec; permits, credit and master data are fetched
from the simulator over HTTP by theirs (``ecocloud.simulator.offenders``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecocloud.builds import credit, master, permits, sources
from ecocloud.runner import engine
from ecocloud.runner.context import RunInfo
from ecocloud.runner.report import RunReport
from ecocloud.settings import Settings
from ecocloud.simulator.enterprise_feeds import enterprise_upstreams
from ecocloud.simulator.offenders import RiskScenario, risk_scenario, write_captures
from ecocloud.simulator.server import RunningSimulator, SimClock, SimulatorApp
from ecocloud.specs import get_spec

ANCHOR = dt.date(2026, 11, 20)
SEED = 0


def run_sources(ingest: Callable[..., RunReport], scenario: RiskScenario, workdir: Path) -> Path:
    """The simulated upstreams through their specs: capture files → HJ 212 lake and marts; permit
    API, credit files, master data over HTTP. Returns the labels file."""
    files, labels = write_captures(scenario, workdir)
    assert ingest("source", lambda s, led: sources.land_captures(s, led, files)).status == "published"
    app = SimulatorApp(SimClock(dt.datetime.combine(ANCHOR, dt.time(12))))  # after the revocation (10:00)
    for upstream in enterprise_upstreams(seed=SEED, anchor=ANCHOR, clock=app.clock, sources=scenario.sources):
        app.mount(upstream)
    with RunningSimulator(app) as sim:
        base = sim.base_url
        assert (
            ingest("permit", lambda s, led: permits.fetch(s, led, base_url=f"{base}/permits").landed).status
            == "published"
        )
        assert ingest("credit", lambda s, led: credit.land(s, led, [f"{base}/credit"])).status == "published"
        assert ingest("master", lambda s, led: master.land(s, led, [f"{base}/master"])).status == "published"
    return labels


def home_settings(home: Path) -> Settings:
    """Settings of ``home`` alone, whatever ECOCLOUD_* variables the test process has."""
    return Settings(home=home, lake_dir=None, duckdb_path=None, airflow_home=None, state_db_url=None,
                    risk_rules=None, hj212_landing_dir=None)  # fmt: skip


def build_risk_home(home: Path, *, days: int = 3, scale: int = 1) -> tuple[RiskScenario, Path]:
    """The scenario's sources and the ``risk`` spec run into ``home`` (serving refreshed), as
    ``ecocloud run`` would; returns the scenario and its labels file."""
    settings = home_settings(home)

    def ingest(spec: str, land: Callable[..., Any] = lambda _s, _l: []) -> RunReport:
        return engine.land_and_run(settings, get_spec(spec), land, RunInfo.cli("test"))

    scenario = risk_scenario(SEED, ANCHOR, days, scale)
    labels = run_sources(ingest, scenario, home.parent / "capture")
    report = ingest("risk")
    assert report.status == "published", "\n".join(report.lines())
    return scenario, labels
