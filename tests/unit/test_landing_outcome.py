"""How a scheduled landing ended, in the ledger: what the ingestion page shows of an upstream down."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from ecocloud.runner import engine
from ecocloud.settings import Settings
from ecocloud.specs import get_spec
from ecocloud.web import queries

pytestmark = pytest.mark.unit

START = dt.datetime(2026, 12, 7, 1, tzinfo=dt.UTC)


class TaskTimeout(BaseException):
    """As Airflow's task timeout: a BaseException raised inside the landing."""


def times_out(*_: object) -> list[object]:
    raise TaskTimeout("Task timed out after 1800.0 seconds")


def lands_nothing(*_: object) -> list[object]:
    return []


def test_a_landing_cut_by_the_task_timeout_is_recorded_failed_until_one_succeeds(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    led = engine.ledger(settings)
    water = get_spec("water")
    try:
        hangs = dataclasses.replace(water, land=f"{__name__}:times_out")
        with pytest.raises(TaskTimeout):
            engine.land_scheduled(settings, led, hangs, START, START + dt.timedelta(hours=1), run_id="r1")
        [failed] = led.landings()
        assert (failed["source"], failed["error"], failed["succeeded_at"], failed["run_id"]) == (
            "water",
            "TaskTimeout: Task timed out after 1800.0 seconds",
            None,
            "r1",
        )
        quiet = dataclasses.replace(water, land=f"{__name__}:lands_nothing")
        engine.land_scheduled(settings, led, quiet, START, START + dt.timedelta(hours=1), run_id="r2")
        [landed] = led.landings()
        assert (landed["error"], landed["succeeded_at"], landed["run_id"]) == (
            None,
            landed["attempted_at"],
            "r2",
        )
    finally:
        led.close()


def test_a_serving_database_without_the_landings_copy_shows_no_failed_landing() -> None:
    """A serving database an older version refreshed has no platform_ledger__landings until the next
    refresh: the ingestion page answered 500."""
    assert queries.failed_landings(duckdb.connect()) == []
