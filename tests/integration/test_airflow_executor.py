"""The executor `ecocloud up` runs Airflow with (``dags/_executor.py``): Airflow's LocalExecutor started
for real in an Airflow process (this home's environment, the executor named as `ecocloud up` names
it), its forked worker — the process every task process is forked from — already holding the task
modules; Airflow's own LocalExecutor, started the same way, is the control."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ecocloud.airflow_env import airflow_env
from ecocloud.settings import Settings
from ecocloud.up import PRELOADING_LOCAL_EXECUTOR

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

# Starts the configured executor with one worker and reports which shared libraries that worker has
# mapped: DuckDB's and Arrow's come with the build modules, SciPy's with Great Expectations (nothing
# else here imports SciPy). The report goes to a file of its own: the worker logs to the shared stdout
# and could write into the middle of a line printed there.
PROBE = """
import json, os
if os.environ.get("PROBE_BREAK_PRELOAD"):  # a task module that fails to import
    import ecocloud.runner.tasks

    def broken():
        raise ImportError("no module named ecocloud.builds.broken")

    ecocloud.runner.tasks.preload = broken
from airflow.executors.executor_loader import ExecutorLoader
executor = ExecutorLoader.get_default_executor()
executor.parallelism = 1
executor.start()
try:
    (pid,) = list(executor.workers)
    maps = open(f"/proc/{pid}/maps").read()
    found = {lib: lib in maps for lib in ("_duckdb", "libarrow", "scipy")}
    report = {"executor": type(executor).__name__, "worker": pid, "mapped": found}
    with open(os.environ["PROBE_REPORT"], "w") as out:
        json.dump(report, out)
finally:
    executor.end()
"""


def _worker_libraries(tmp_path: Path, executor: str, *, break_preload: bool = False) -> dict[str, object]:
    env = airflow_env(Settings(home=tmp_path / executor.replace(".", "_")))
    env["AIRFLOW__CORE__EXECUTOR"] = executor
    report_path = tmp_path / f"{executor}.report.json"
    env["PROBE_REPORT"] = str(report_path)
    if break_preload:
        env["PROBE_BREAK_PRELOAD"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, object] = json.loads(report_path.read_text())
    report["log"] = done.stdout + done.stderr
    return report


def test_the_workers_of_ecocloud_up_s_executor_hold_the_task_modules(tmp_path: Path) -> None:
    ours = _worker_libraries(tmp_path, PRELOADING_LOCAL_EXECUTOR)
    assert ours["executor"] == "PreloadingLocalExecutor"
    assert ours["mapped"] == {"_duckdb": True, "libarrow": True, "scipy": True}


def test_airflow_s_own_local_executor_workers_do_not(tmp_path: Path) -> None:
    plain = _worker_libraries(tmp_path, "LocalExecutor")
    assert plain["executor"] == "LocalExecutor"
    assert plain["mapped"] == {"_duckdb": False, "libarrow": False, "scipy": False}


def test_a_task_module_that_fails_to_import_does_not_stop_the_executor(tmp_path: Path) -> None:
    broken = _worker_libraries(tmp_path, PRELOADING_LOCAL_EXECUTOR, break_preload=True)
    assert broken["executor"] == "PreloadingLocalExecutor"  # started, with its worker
    assert isinstance(broken["worker"], int) and broken["worker"] > 0
    log = str(broken["log"])
    assert "the task modules could not be imported; each task imports its own" in log
    assert "no module named ecocloud.builds.broken" in log
