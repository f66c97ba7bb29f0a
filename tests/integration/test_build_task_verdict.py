"""What a DAG's build task and its run's verdict make of a build that published some units and left
others blocked (``ecocloud.runner.tasks``, which the generated tasks call): Airflow records a task's
Asset events only when it succeeds, and a retry skips a unit blocked before."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ecocloud.builds import air
from ecocloud.runner import tasks
from ecocloud.runner.context import RunInfo
from ecocloud.runner.engine import ledger
from ecocloud.runner.report import BuildFailed, QualityGateFailed
from ecocloud.settings import Settings
from ecocloud.simulator.air import day_file_name, generate_day, station_list_csv
from ecocloud.simulator.province import national_stations
from ingest.air.fetch import STATION_LIST_NAME

DAY = dt.date(2023, 3, 1)


def _land(settings: Settings, tmp_path: Path, *files: tuple[dt.date, bytes]) -> None:
    stations = national_stations(20, seed=7)
    (tmp_path / STATION_LIST_NAME).write_bytes(station_list_csv(stations))
    paths = [tmp_path / STATION_LIST_NAME]
    for day, data in files:
        paths.append(tmp_path / day_file_name(day))
        paths[-1].write_bytes(data or generate_day(day, stations, seed=7))
    led = ledger(settings)
    try:
        air.land(settings, led, [str(p) for p in paths])
    finally:
        led.close()


def _run(run_id: str) -> RunInfo:
    return RunInfo(run_id, "air_quality.build_hourly")


def test_a_build_that_published_succeeds_and_the_run_fails_for_its_blocked_units(
    settings: Settings, tmp_path: Path
) -> None:
    garbage = b"<html>503 Service Unavailable</html>\n"  # not a day file: blocked, whatever is accepted
    _land(settings, tmp_path, (DAY, b""), (DAY + dt.timedelta(days=1), garbage))
    run = _run("scheduled__2023-03-02T00:00:00+00:00")
    report = tasks.build(
        "air", "hourly", run
    )  # no QualityGateFailed: the task succeeds, its Assets wake others
    assert {u.unit: u.status for u in report.units} == {DAY.isoformat(): "published", "2023-03-02": "blocked"}
    assert tasks.changed_in_run("air", "hourly", run)
    assert tasks.changed_in_run("air_quality", "hourly", run)  # named by its DAG id, as get_spec allows
    with pytest.raises(QualityGateFailed, match=r"air\.hourly 2023-03-02: "):
        tasks.gate_verdict("air", run)

    # a retry of the task (the same run): nothing pending, but the run changed the Assets, and the run
    # still fails for the unit its first attempt left blocked
    again = tasks.build("air", "hourly", run)
    assert {u.status for u in again.units} == {"skipped"}
    assert tasks.changed_in_run("air", "hourly", run)
    with pytest.raises(QualityGateFailed, match="2023-03-02"):
        tasks.gate_verdict("air", run)

    # the next run has nothing to do: no Asset change, no verdict against it
    later = _run("scheduled__2023-03-02T01:00:00+00:00")
    tasks.build("air", "hourly", later)
    assert not tasks.changed_in_run("air", "hourly", later)
    tasks.gate_verdict("air", later)

    # a run whose only unit is blocked fails its build task (no retry helps)
    _land(settings, tmp_path, (DAY + dt.timedelta(days=2), garbage))
    with pytest.raises(QualityGateFailed, match="2023-03-03"):
        tasks.build("air", "hourly", _run("scheduled__2023-03-03T00:00:00+00:00"))


def test_a_unit_failing_on_every_try_does_not_hold_back_the_units_the_run_published(
    settings: Settings, tmp_path: Path
) -> None:
    """One day's raw file gone from the lake: its unit fails on every try. Before the last try the
    task raises (a retry may help); on the last it succeeds for the day it published — Airflow records
    the Assets' events only then — and the run's verdict names the failed day."""
    lost = DAY + dt.timedelta(days=1)
    _land(settings, tmp_path, (DAY, b""), (lost, b""))
    [raw] = settings.lake.rglob(f"{Path(day_file_name(lost)).stem}.*")  # raw zone: name.<digest>.csv
    raw.unlink()
    run = _run("scheduled__2023-03-02T00:00:00+00:00")
    with pytest.raises(BuildFailed, match="2023-03-02"):
        tasks.build("air", "hourly", run, last_try=False)
    report = tasks.build("air", "hourly", run, last_try=True)
    assert {u.unit: u.status for u in report.units} == {DAY.isoformat(): "skipped", "2023-03-02": "failed"}
    assert tasks.changed_in_run("air", "hourly", run)
    with pytest.raises(BuildFailed, match=r"air\.hourly 2023-03-02: "):
        tasks.gate_verdict("air", run)
    # a run that published nothing of the build still fails its task on the last try
    with pytest.raises(BuildFailed):
        tasks.build("air", "hourly", _run("scheduled__2023-03-02T01:00:00+00:00"), last_try=True)
