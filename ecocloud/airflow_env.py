"""Run the project's DAGs with Airflow on the embedded defaults (SQLite metadata under ECOCLOUD_HOME)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ecocloud.settings import Settings

DAGS_DIR = Path(__file__).resolve().parent.parent / "dags"


def airflow_env(settings: Settings) -> dict[str, str]:
    """Environment for Airflow commands: its home, metadata DB and DAG folder inside this ECOCLOUD_HOME."""
    home = settings.airflow_dir
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": env.get(
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{home / 'airflow.db'}"
            ),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "ECOCLOUD_HOME": str(settings.root),
            "PYTHONUNBUFFERED": "1",
            # the DAG folder's non-DAG modules (the executor ``ecocloud up`` names) are importable
            "PYTHONPATH": os.pathsep.join(p for p in (str(DAGS_DIR), env.get("PYTHONPATH")) if p),
        }
    )
    # a Celery worker imports the tasks' modules once, before its pool forks (dags/_celery_preload.py)
    env.setdefault("AIRFLOW__CELERY__EXTRA_CELERY_CONFIG", json.dumps({"imports": ["_celery_preload"]}))
    return env


def airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def run_airflow(settings: Settings, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``airflow <args>`` against this home; raises CalledProcessError with its output on failure."""
    settings.airflow_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [airflow_bin(), *args],
        env=airflow_env(settings),
        check=True,
        text=True,
        capture_output=capture,
    )


def ensure_db(settings: Settings) -> None:
    """Create or upgrade the Airflow metadata database (idempotent)."""
    run_airflow(settings, "db", "migrate", capture=True)


def metadata_state(settings: Settings) -> tuple[bool, int]:
    """(whether the metadata database has Airflow's tables, how many DAGs it holds serialized), read
    with SQLAlchemy — a fraction of a second, where an `airflow` command costs seconds to start."""
    import sqlalchemy as sa

    url = airflow_env(settings)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return False, 0  # not made yet (connecting would create an empty file)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            names = set(sa.inspect(con).get_table_names())
            if "alembic_version" not in names:
                return False, 0
            if "serialized_dag" not in names:
                return True, 0
            return True, int(con.execute(sa.text("SELECT count(*) FROM serialized_dag")).scalar_one())
    finally:
        engine.dispose()


def task_hostname() -> str:
    """The host name Airflow records for a task instance when ``AIRFLOW__CORE__HOSTNAME_CALLABLE`` is
    ``ecocloud.airflow_env.task_hostname``: ``ECOCLOUD_WORKER_NAME`` if set (several workers on one
    machine are then told apart), else the machine's fully qualified name (Airflow's default)."""
    import socket

    return os.environ.get("ECOCLOUD_WORKER_NAME") or socket.getfqdn()
