"""The task policy every DAG shares (retries with backoff, timeouts, owner).

Plain data, no Airflow import: DAG files read it at parse time at no cost.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any


def task_defaults(
    *,
    retry_delay: timedelta = timedelta(minutes=2),
    max_retry_delay: timedelta = timedelta(minutes=30),
    execution_timeout: timedelta = timedelta(minutes=30),
) -> dict[str, Any]:
    """``default_args`` for a DAG: 3 retries with exponential backoff up to ``max_retry_delay``."""
    return {
        "owner": "ecocloud",
        "retries": 3,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": True,
        "max_retry_delay": max_retry_delay,
        "execution_timeout": execution_timeout,
    }
