"""Airflow beyond SQLite: the real scheduler with PostgreSQL as its metadata database and the Celery
executor over Redis with two workers (concurrency 1 each, told apart by their host names), the
platform's state (ledger, locks, lineage) in another PostgreSQL database. Scheduled runs of
air_quality (against the simulator) and pollution_sources (over receiver-like segments) succeed on
the workers, and their data is queryable afterwards.

Everything is made for this test and removed after it, also when it fails: the two databases, the
Redis db number (flushed), every process group."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ecocloud_bin, free_port
from services import postgres_database, redis_database

from ecocloud.airflow_env import airflow_bin, airflow_env
from ecocloud.settings import Settings
from ecocloud.simulator.server import running_simulator
from ecocloud.up import AirflowClient, Supervisor
from ingest.hj212.protocol import build_packet
from ingest.hj212.segments import SegmentWriter
from schemas.clock import BEIJING
from warehouse.ledger import Ledger

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

WORKERS = ("worker-a", "worker-b")
DAGS = ("air_quality", "pollution_sources")
RUNS_DEADLINE_S = 6 * 60
MNS = [f"{0x888836 << 72 | i:024X}" for i in range(3)]


def _segments(settings: Settings) -> int:
    """Two closed segments of 2051 packets from three loggers over the last hour (as a receiver
    lands them); returns the number of packets."""
    start = dt.datetime.now(BEIJING).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    packets = 0
    for receiver, mns in (("r1", MNS[:2]), ("r2", MNS[2:])):
        lines = [
            build_packet(
                qn=f"{start + dt.timedelta(minutes=m):%Y%m%d%H%M%S}{n:03d}", st="31", cn="2051", mn=mn, flag=5,
                data_time=start + dt.timedelta(minutes=m),
                items={"a21026": {"Min": 10.0, "Avg": 12.0 + m, "Max": 15.0, "ZsAvg": 14.0, "Flag": "N"}},
            )
            for n, mn in enumerate(mns)
            for m in range(0, 60, 10)
        ]  # fmt: skip
        writer = SegmentWriter(settings.hj212_landing, receiver, rotate_seconds=10**9)
        writer.write_batch([(time.time(), "ok", "127.0.0.1:1", line) for line in lines])
        writer.close()
        packets += len(lines)
    return packets


def _scheduled_runs(meta: sa.Engine) -> dict[str, tuple[str, str]]:
    """dag_id → (run_id, state) of its first scheduled run."""
    with meta.connect() as con:
        rows = con.execute(
            sa.text(
                "SELECT dag_id, run_id, state FROM dag_run WHERE run_type = 'scheduled' "
                "AND dag_id IN ('air_quality', 'pollution_sources') ORDER BY run_after"
            )
        ).all()
    runs: dict[str, tuple[str, str]] = {}
    for dag_id, run_id, state in rows:
        runs.setdefault(dag_id, (run_id, state))
    return runs


def test_scheduled_runs_succeed_on_two_celery_workers_with_postgres(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    with (
        postgres_database("airflow_meta") as meta_url,
        postgres_database("ecocloud_state") as state_url,
        redis_database() as redis_db,
        running_simulator(days=3, seed=2026) as sim,
    ):
        airflow_conn = meta_url.replace("+psycopg:", "+psycopg2:")
        api_port = free_port()
        env = airflow_env(settings) | {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_conn,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{airflow_conn}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "ecocloud.airflow_env.task_hostname",
            "ECOCLOUD_STATE_DB_URL": state_url,
            "ECOCLOUD_AIR_BASE_URL": f"{sim.base_url}/air",
        }
        packets = _segments(settings)
        airflow = airflow_bin()
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
        sup = Supervisor(tmp_path / "logs", env)
        meta = sa.create_engine(meta_url)
        try:
            sup.start("api-server", [airflow, "api-server", "--host", "127.0.0.1", "--port", str(api_port)])
            sup.start("scheduler", [airflow, "scheduler"])
            sup.start("dag-processor", [airflow, "dag-processor"])
            for name in WORKERS:
                sup.start(
                    name,
                    [airflow, "celery", "worker", "--concurrency", "1", "--celery-hostname", f"{name}@%h",
                     "--skip-serve-logs"],
                    extra_env={"ECOCLOUD_WORKER_NAME": name},
                )  # fmt: skip
            _wait_until_workers_ready(sup)  # so that tasks queued at once go to both
            pools = _pool_libraries(sup)
            _unpause(sup, settings, api_port)
            runs = _wait_for_success(sup, meta)
            with meta.connect() as con:
                tasks = con.execute(
                    sa.text(
                        "SELECT dag_id, task_id, state, hostname FROM task_instance "
                        "WHERE (dag_id, run_id) IN (VALUES (:a, :ra), (:p, :rp))"
                    ),
                    {"a": DAGS[0], "ra": runs[DAGS[0]][0], "p": DAGS[1], "rp": runs[DAGS[1]][0]},
                ).all()
        finally:
            sup.stop()
            meta.dispose()
        logs = "\n".join(f"{c.name}: {c.tail(1500)}" for c in sup.children)

        assert {t.task_id for t in tasks if t.dag_id == "air_quality"} >= {
            "land",
            "build_hourly",
            "refresh_serving",
        }
        assert all(t.state in ("success", "skipped") for t in tasks), tasks
        # the run's verdict runs only after a failure: skipped by the scheduler, on no worker
        verdicts = [t for t in tasks if t.task_id == "fail_if_any_failed"]
        assert len(verdicts) == 2 and {t.state for t in verdicts} == {"skipped"}, tasks
        ran = {t.hostname for t in tasks if t.task_id != "fail_if_any_failed"}
        assert ran == set(WORKERS), (tasks, logs)  # both workers, and only they
        # each worker's pool (the processes its tasks are forked from) started with the task modules
        # imported (dags/_celery_preload.py): DuckDB's and Arrow's libraries, and SciPy's, which only
        # Great Expectations imports here
        assert pools == {name: {"_duckdb": True, "libarrow": True, "scipy": True} for name in WORKERS}, logs

        state = Ledger(state_url)
        units = {(u.build, u.status) for u in state.all_units()}
        lineage = state.lineage("core_source__packets")
        state.close()
        assert {("air.hourly", "published"), ("source.core", "published")} <= units
        assert lineage and {r["task"] for r in lineage} == {"pollution_sources.build_core"}
        assert not (settings.root / "state.sqlite").exists()  # the state lives in Postgres only

        query_env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW")}
        sql = (
            "SELECT (SELECT count(*) FROM core_air__station_hourly), "
            "(SELECT count(*) FROM core_source__packets), (SELECT count(DISTINCT mn) FROM mart_source__hourly)"
        )
        out = subprocess.run(
            [ecocloud_bin(), "sql", sql, "--format", "csv"],
            env=query_env, capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        station_hours, packets_stored, loggers = map(int, out.stdout.splitlines()[1].split(","))
        assert station_hours > 0
        assert (packets_stored, loggers) == (packets, len(MNS))


def _wait_until_workers_ready(sup: Supervisor) -> None:
    deadline = time.monotonic() + 180
    workers = [c for c in sup.children if c.name in WORKERS]
    while not all(re.search(rf"{c.name}@\S+ ready\.", c.tail(100_000)) for c in workers):
        assert (dead := sup.exited()) is None, f"{dead.name} exited:\n{dead.tail()}"
        assert time.monotonic() < deadline, "the Celery workers did not get ready within 180 s"
        time.sleep(2)


def _pool_libraries(sup: Supervisor) -> dict[str, dict[str, bool]]:
    """Per worker, which of these shared libraries its pool process has mapped."""
    import psutil

    found = {}
    for child in sup.children:
        if child.name in WORKERS:
            processes = psutil.Process(child.proc.pid).children(recursive=True)
            pools = [p for p in processes if "ForkPoolWorker" in " ".join(p.cmdline())]  # concurrency 1
            assert len(pools) == 1, processes
            pool = pools[0]
            maps = Path(f"/proc/{pool.pid}/maps").read_text()
            found[child.name] = {lib: lib in maps for lib in ("_duckdb", "libarrow", "scipy")}
    return found


def _unpause(sup: Supervisor, settings: Settings, api_port: int) -> None:
    """Unpause our two DAGs once the DAG processor has registered them (REST API, admin login)."""
    import json

    passwords = settings.airflow_dir / "simple_auth_manager_passwords.json.generated"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert (dead := sup.exited()) is None, f"{dead.name} exited:\n{dead.tail()}"
        try:
            client = AirflowClient(
                f"http://127.0.0.1:{api_port}", "admin", json.loads(passwords.read_text())["admin"]
            )
            if client.unpause_all(list(DAGS)):
                return
        except (OSError, ValueError, KeyError):
            pass  # the API server is not up yet
        time.sleep(3)
    raise AssertionError("our DAGs were not registered within 240 s")


def _wait_for_success(sup: Supervisor, meta: sa.Engine) -> dict[str, tuple[str, str]]:
    deadline = time.monotonic() + RUNS_DEADLINE_S
    runs: dict[str, tuple[str, str]] = {}
    while time.monotonic() < deadline:
        assert (dead := sup.exited()) is None, f"{dead.name} exited:\n{dead.tail()}"
        runs = _scheduled_runs(meta)
        states = {dag: state for dag, (_, state) in runs.items()}
        assert "failed" not in states.values(), (runs, [c.tail(2000) for c in sup.children])
        if states == dict.fromkeys(DAGS, "success"):
            return runs
        time.sleep(5)
    raise AssertionError(f"scheduled runs not successful within {RUNS_DEADLINE_S} s: {runs}")
