"""Airflow really runs discharge_permits, enterprise_credit and master_data (``airflow dags test``).

One metadata database is migrated once and copied into one Airflow home per DAG, so the permit and
credit DAGs run side by side (as the scheduler would run them); master_data runs after them, as its
Asset trigger orders it. All three share one ECOCLOUD_HOME: one lake, one ledger.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import duckdb
import pytest

from ecocloud.airflow_env import airflow_bin, airflow_env, ensure_db
from ecocloud.settings import Settings
from ecocloud.simulator.enterprises import simulated_sources
from ecocloud.simulator.server import running_simulator

pytestmark = pytest.mark.slow

BEIJING = dt.timezone(dt.timedelta(hours=8))
ANCHOR = dt.date(2026, 11, 20)
LOGICAL = dt.datetime(2026, 11, 21, 7, 0, tzinfo=BEIJING)  # the morning after the anchor day


def _env(settings: Settings, dag_id: str, base_url: str) -> dict[str, str]:
    home = settings.airflow_dir.parent / f"airflow-{dag_id}"
    if not home.exists():
        home.mkdir(parents=True)
        shutil.copy(settings.airflow_dir / "airflow.db", home / "airflow.db")
    return airflow_env(settings) | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "ECOCLOUD_PERMITS_BASE_URL": f"{base_url}/permits",
        "ECOCLOUD_CREDIT_BASE_URL": f"{base_url}/credit",
        "ECOCLOUD_MASTER_BASE_URL": f"{base_url}/master",
    }


def dags_test(settings: Settings, base_url: str, *dag_ids: str) -> dict[str, str]:
    """Run ``airflow dags test`` of each DAG concurrently; every run must succeed."""
    procs = {
        d: subprocess.Popen(
            [airflow_bin(), "dags", "test", d, LOGICAL.isoformat()],
            env=_env(settings, d, base_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for d in dag_ids
    }
    outputs = {}
    for d, p in procs.items():
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0, out[-4000:]
        assert "state=success" in out, out[-4000:]
        outputs[d] = out
    return outputs


def query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_permit_credit_and_master_dags(settings: Settings, expected: dict) -> None:
    want = expected["enterprises"]
    ensure_db(settings)
    sources = simulated_sources(0, ANCHOR)
    with running_simulator(
        start_date=ANCHOR - dt.timedelta(days=2), days=3, seed=0, now=dt.datetime(2026, 11, 21, 7)
    ) as sim:
        out = dags_test(settings, sim.base_url, "discharge_permits", "enterprise_credit")
        assert "permit.permits all: published" in out["discharge_permits"]
        assert "credit.ratings all: published" in out["enterprise_credit"]
        out = dags_test(settings, sim.base_url, "master_data")
        assert "master.registries all: published" in out["master_data"]
        assert "master.join_report" in out["master_data"]

    current = query(settings, "SELECT count(*) FROM core_permit__permits WHERE is_current")
    assert current == [(want["permits_current"],)]
    ratings = query(settings, "SELECT count(DISTINCT year), count(*) FROM core_credit__ratings")
    assert ratings == [(want["credit_years"], want["ratings"])]
    points = query(settings, "SELECT count(*) FROM core_master__monitoring_points WHERE is_current")
    assert points == [(want["monitoring_points"],)]
    summary = dict(
        query(
            settings,
            "SELECT check_name, occurrences FROM quality_master__join_report WHERE row_kind = 'summary' AND checked",
        )
    )
    assert summary["outlet_without_permit"] == 4  # revoked (2 outlets), expired, DW002 not on the permit
    # The only registry snapshot was taken after the cancelled works left the registry, so its permit and
    # its two ratings match no enterprise version, besides the credit-only firms (×2 years) and the typo.
    assert summary["permit_uscc_unmatched"] == 1
    assert summary["credit_uscc_unmatched"] == 2 * len(sources.faults.credit_only) + 1 + 2
    assert summary["uscc_invalid"] == want["uscc_invalid_rows"]
