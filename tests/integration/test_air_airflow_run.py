"""Airflow really runs the air_quality DAG (``airflow dags test``, SQLite metadata) against the simulator."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import airflow_dags_test

from ecocloud.airflow_env import ensure_db
from ecocloud.settings import Settings
from ecocloud.simulator.server import running_simulator

pytestmark = pytest.mark.slow

BEIJING = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2026, 11, 20)


def dags_test(settings: Settings, base_url: str, logical_date: dt.datetime, **kwargs: Any) -> str:
    return airflow_dags_test(
        settings, "air_quality", logical_date, {"ECOCLOUD_AIR_BASE_URL": f"{base_url}/air"}, **kwargs
    )


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_hourly_runs_follow_the_growing_day_file_and_reruns_change_nothing(
    settings: Settings, expected: dict
) -> None:
    ensure_db(settings)
    morning = dt.datetime.combine(DAY, dt.time(10, 30), BEIJING)
    with running_simulator(start_date=DAY, days=1, seed=7, now=morning) as sim:
        # The run for 09:00-10:00 Beijing sees the file as published at 10:30: hours 0..10.
        out = dags_test(settings, sim.base_url, dt.datetime.combine(DAY, dt.time(10), BEIJING))
        assert "air.hourly 2026-11-20: published" in out
        hours = query(settings, "SELECT count(DISTINCT observed_at) FROM core_air__station_hourly")[0][0]
        assert 1 <= hours <= 11
        daily_invalid = query(settings, "SELECT bool_or(pm25_valid) FROM core_air__station_daily")[0][0]
        assert daily_invalid is False  # < 20 hours so far: the daily mean is marked invalid, not averaged

        # Late evening: the run for 23:00-24:00 rebuilds the day from the grown file.
        sim.clock.set(dt.datetime.combine(DAY, dt.time(23, 59)))
        dags_test(
            settings, sim.base_url, dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(0), BEIJING)
        )
        full = query(
            settings,
            "SELECT count(DISTINCT observed_at), count(DISTINCT station_code), min(aqi_standard), "
            "count(*) FILTER (WHERE aqi = aqi_published) * 1.0 / count(aqi_published) FROM core_air__station_hourly",
        )[0]
        assert full[0] > hours and full[1] >= expected["air"]["min_stations"]
        assert full[2] == "HJ633-2026" and full[3] >= 0.999
        ranked = query(settings, "SELECT count(*), min(rank) FROM mart_air__city_daily_ranking")[0]
        assert ranked == (expected["air"]["cities"], 1)
        stations = query(settings, "SELECT count(*) FILTER (WHERE NOT listed) FROM core_air__stations")[0][0]
        assert stations == expected["air"]["unlisted_stations"]
        in_out = query(
            settings,
            "SELECT (SELECT count(*) FROM core_air__station_hourly), "
            "(SELECT count(*) FROM quarantine_air__station_hourly WHERE station_code IS NOT NULL)",
        )[0]
        [(counts,)] = query(
            settings,
            "SELECT counts FROM platform_ledger__builds WHERE build = 'air.hourly' AND unit = '2026-11-20'",
        )
        recorded = json.loads(counts)
        assert recorded["station_hours_kept"] == in_out[0]
        assert recorded["station_hours_in"] == in_out[0] + in_out[1]

        # Rerunning the same interval leaves the lake exactly as it was.
        before = digest(settings.lake)
        dags_test(
            settings, sim.base_url, dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(0), BEIJING)
        )
        assert digest(settings.lake) == before


def test_a_day_file_that_shrinks_is_held_back_until_a_run_accepts_it(settings: Settings) -> None:
    """The upstream serves the day's morning file again after the whole day was published (a truncated
    copy, as far as anyone can tell): the run fails on the gate and the day stays whole, also after a
    run that accepts the shrink of another day, until a run triggered with ``accept_shrink_of`` the
    day publishes it (the CLI tests cover ``accept_shrink``, every day)."""
    ensure_db(settings)
    hours_sql = "SELECT count(DISTINCT observed_at) FROM core_air__station_hourly"
    next_midnight = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(0), BEIJING)
    with running_simulator(
        start_date=DAY, days=1, seed=7, now=dt.datetime.combine(DAY, dt.time(23, 59))
    ) as sim:
        dags_test(settings, sim.base_url, next_midnight)
        [(whole,)] = query(settings, hours_sql)

        sim.clock.set(dt.datetime.combine(DAY, dt.time(10, 30)))  # the file as it was at 10:30
        out = dags_test(settings, sim.base_url, next_midnight, state="failed")
        assert "held back, the published rows stay" in out
        assert query(settings, hours_sql) == [(whole,)]

        # accepting another day's shrink rebuilds nothing of this one (nothing new landed: 304)
        other_day = {"accept_shrink_of": [str(DAY - dt.timedelta(days=1))]}
        out = dags_test(settings, sim.base_url, next_midnight, conf=other_day)
        assert "accepts shrinking" not in out
        assert query(settings, hours_sql) == [(whole,)]

        out = dags_test(settings, sim.base_url, next_midnight, conf={"accept_shrink_of": [str(DAY)]})
        assert "published as the run accepts shrinking" in out
        [(morning,)] = query(settings, hours_sql)
        assert 1 <= morning <= 11 < whole
