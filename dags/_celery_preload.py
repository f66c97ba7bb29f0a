"""Imported once by each Celery worker at its start, in its main process, before the pool forks the
processes that run tasks: Celery's ``imports`` setting, which ``ecocloud.airflow_env`` sets through
``AIRFLOW__CELERY__EXTRA_CELERY_CONFIG``. So task processes start with ecocloud's task modules (the
build steps, DuckDB, pyarrow, Great Expectations) imported, as ``_executor.PreloadingLocalExecutor``
does for the LocalExecutor. Listed in ``.airflowignore``: the DAG processor never imports it."""

from __future__ import annotations

import logging

from _executor import preload_task_modules

preload_task_modules(logging.getLogger(__name__), "pool")
