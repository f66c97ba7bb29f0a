"""The executor `ecocloud up` runs Airflow with: Airflow's LocalExecutor, with ecocloud's task modules
imported once in the scheduler before it forks its workers.

On Linux the LocalExecutor forks its workers from the scheduler, and each worker forks a process per
task. Without this every task process imports what its task needs (the build steps, DuckDB, pyarrow,
and Great Expectations: 4–5 s of CPU here, most of it GX's own imports) before doing any work; with
it each task inherits them. Nothing else changes: the modules are only imported, no settings, ledger,
connection or GX context is created in the scheduler. Named in ``AIRFLOW__CORE__EXECUTOR`` as
``_executor.PreloadingLocalExecutor`` (`ecocloud up` puts this folder on the Airflow processes'
``PYTHONPATH``); under the ``spawn`` start method it is the plain LocalExecutor.
"""

from __future__ import annotations

import logging
import time

from airflow.executors.local_executor import LocalExecutor

log = logging.getLogger(__name__)


class PreloadingLocalExecutor(LocalExecutor):
    """LocalExecutor whose forked workers (and so their task processes) start with ecocloud's task
    modules imported."""

    def start(self) -> None:
        if self.is_mp_using_fork:
            preload_task_modules(log, "workers")
        super().start()


def preload_task_modules(logger: logging.Logger, forks: str) -> None:
    """Import the tasks' modules in this process before it forks ``forks``. A module that fails to
    import must not stop the scheduler or a worker: the error is logged, and each task then imports
    its modules itself and fails, or not, in its own log as it would without this."""
    started = time.perf_counter()
    try:
        from ecocloud.runner.tasks import preload

        modules = preload()
    except Exception:
        logger.exception("ecocloud: the task modules could not be imported; each task imports its own")
        return
    logger.info(
        "ecocloud: imported %d task modules for the %s in %.1f s: %s",
        len(modules),
        forks,
        time.perf_counter() - started,
        ", ".join(modules),
    )
