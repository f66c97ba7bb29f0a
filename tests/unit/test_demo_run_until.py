"""The demo's `airflow dags test` runs: a failed task shows at once, not after Airflow's retries."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ecocloud.demo import RETRY_WAIT, run_until

pytestmark = pytest.mark.unit

# what `airflow dags test` logs once a task failed and waits for its retry (seen with Airflow 3)
WAITING = (
    "No tasks to run. unrunnable tasks: {<TaskInstance: failing.boom manual__2026-12-07T03:23:53 "
    "[up_for_retry] ti_id=01a2>}"
)


def test_a_task_waiting_for_its_retry_stops_the_run(tmp_path: Path) -> None:
    child = f"import time; print('Task failed with exception', flush=True); print({WAITING!r}, flush=True); time.sleep(600)"
    code, output = run_until([sys.executable, "-c", child], {}, tmp_path / "run.log", RETRY_WAIT)
    assert code is None  # stopped at the line, not waited out (the child sleeps ten minutes)
    assert "Task failed with exception" in output and (tmp_path / "run.log").read_text() == output


def test_a_run_without_a_failure_runs_to_its_end(tmp_path: Path) -> None:
    child = "import sys; print('state=success'); print('to stderr', file=sys.stderr); sys.exit(0)"
    code, output = run_until([sys.executable, "-c", child], {}, tmp_path / "run.log", RETRY_WAIT)
    assert code == 0 and "state=success" in output and "to stderr" in output
