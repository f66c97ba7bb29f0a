"""The surface-water board over real HTTP (paging, 304, retries, New Year) and one real Airflow run."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
import requests
from conftest import airflow_dags_test

from ecocloud.airflow_env import ensure_db
from ecocloud.builds import water
from ecocloud.runner import engine
from ecocloud.runner.context import RunInfo, StepContext
from ecocloud.settings import Settings
from ecocloud.simulator.server import running_simulator
from ecocloud.simulator.water import jiangxi_sections, registry_csv
from ingest.water.fetch import BOARD_PATH

BEIJING = dt.timezone(dt.timedelta(hours=8))
SEED = 5


def query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def use_simulator(settings: Settings, base_url: str, tmp_path: Path) -> Settings:
    registry = tmp_path / "jiangxi_sections.csv"
    registry.write_bytes(registry_csv(jiangxi_sections(SEED)))
    return settings.model_copy(update={"water_base_url": f"{base_url}/water", "water_sections_csv": registry})


def test_paging_conditional_get_retries_and_new_year(
    settings: Settings, tmp_path: Path, expected: dict
) -> None:
    board = expected["water"]
    now = dt.datetime(2026, 12, 31, 20, 45)  # Beijing
    with running_simulator(start_date=now.date(), days=1, seed=SEED, now=now) as sim:
        s = use_simulator(settings, sim.base_url, tmp_path)
        led = engine.ledger(s)
        water.land_registry(s, led)

        def fetch_snapshot() -> water.Snapshot:
            # received at the simulated now: a board's Last-Modified counts only within a day of it
            return water.land(s, led, [s.water_base_url], fetched_at=sim.clock.now().replace(tzinfo=BEIJING))[
                0
            ]

        served = requests.get(f"{sim.base_url}/water/sections.csv", timeout=5)
        assert served.status_code == 200 and served.content == registry_csv(jiangxi_sections(SEED))
        path = f"/water/{BOARD_PATH}"
        sim.app.inject_failures(2, paths="Publish")  # the first two requests of each page fail
        first = fetch_snapshot()
        # 43 sections, the server caps pages at 20 rows: every page fetched, after retries
        assert len(first.pages) == board["pages_at_20_rows"] and first.new
        assert sim.app.hits(path).count(503) == 2 and sim.app.hits(path).count(200) == 3
        sim.app.inject_failures(0)

        # Unchanged board: every page answers 304, the same snapshot comes back, nothing lands
        raw_before = sorted(p.name for p in (s.lake / "raw").rglob("*.json"))
        again = fetch_snapshot()
        assert again.snapshot_id == first.snapshot_id and not again.new
        assert sim.app.hits(path)[-3:] == [304, 304, 304]
        assert sorted(p.name for p in (s.lake / "raw").rglob("*.json")) == raw_before

        # Across New Year: the year of MM-DD readings comes from the board's clock (Last-Modified)
        sim.clock.set(dt.datetime(2027, 1, 1, 0, 10))  # 23:00 readings of 12-31, the 20:00 ones again
        second = fetch_snapshot()
        sim.clock.set(dt.datetime(2027, 1, 1, 0, 45))  # 00:00 readings of 01-01, the 23:00 ones again
        third = fetch_snapshot()
        assert len({first.snapshot_id, second.snapshot_id, third.snapshot_id}) == 3

    # Parse the snapshots (the quality gate and publication are covered by the other tests).
    ctx = StepContext(s, led, RunInfo.cli("test"), "water.snapshots")
    parsed = [water.parse_snapshot(ctx, snap) for snap in (first, second, third)]
    for rep in parsed:
        c = rep.counts
        assert c["rows_in"] == board["sections"] == c["rows_typed"] + c["rows_quarantined"]
    assert parsed[0].counts["dates"] == parsed[1].counts["dates"] == ["2026-12-31"]
    assert parsed[2].counts["dates"] == ["2026-12-31", "2027-01-01"]
    _, registry = water.registry_in_force(ctx)
    ids = [first.snapshot_id, second.snapshot_id, third.snapshot_id]
    eve, eve_counts = water.day_readings(ctx, dt.date(2026, 12, 31), ids, registry)
    day1, day1_counts = water.day_readings(ctx, dt.date(2027, 1, 1), ids[2:], registry)
    assert eve_counts["snapshots"] == 3 and day1_counts["snapshots"] == 1
    midnight = dt.datetime(2026, 12, 31, 16, 0, tzinfo=dt.UTC)  # Beijing midnight
    assert (
        max(eve.column("observed_at").to_pylist()) < midnight <= min(day1.column("observed_at").to_pylist())
    )
    # a reading shown by both snapshots is kept once
    assert eve_counts["rows_seen"] > eve_counts["readings"] == eve.num_rows
    keys = list(zip(eve.column("section_id").to_pylist(), eve.column("observed_at").to_pylist(), strict=True))
    assert len(keys) == len(set(keys))
    for table in (eve, day1):
        assert all(table.column("section_listed").to_pylist())  # the registry knows every section
        pairs = [
            (a, b)
            for a, b in zip(
                table["water_class"].to_pylist(), table["class_published"].to_pylist(), strict=True
            )
            if a is not None and b is not None
        ]
        assert sum(a == b for a, b in pairs) >= 0.96 * len(pairs)


@pytest.mark.slow
def test_airflow_runs_the_surface_water_dag(settings: Settings, tmp_path: Path, expected: dict) -> None:
    board = expected["water"]
    ensure_db(settings)
    # yesterday (Beijing), the run for 08:00-12:00: the scheduled fetch dates MM-DD readings by the
    # receipt clock (the board's Last-Modified only within a day of it), so the simulated day must be
    # within the year before today
    day = dt.datetime.now(BEIJING).date() - dt.timedelta(days=1)
    now = dt.datetime.combine(day, dt.time(12, 40))
    with running_simulator(start_date=now.date(), days=1, seed=SEED, now=now) as sim:
        s = use_simulator(settings, sim.base_url, tmp_path)
        env = {
            "ECOCLOUD_WATER_BASE_URL": s.water_base_url,
            "ECOCLOUD_WATER_SECTIONS_CSV": str(s.water_sections_csv),
        }
        logical = dt.datetime.combine(day, dt.time(12, 0), BEIJING)
        out = airflow_dags_test(s, "surface_water", logical, env)
    assert f"water.readings {day}: published" in out

    readings, sections, latest = query(
        s,
        "SELECT count(*), count(DISTINCT section_id), max(observed_at) FROM core_water__section_readings",
    )[0]
    assert sections >= board["min_sections_reporting"] and readings == sections  # each section's latest
    assert latest == dt.datetime.combine(day, dt.time(12), BEIJING)  # published 12:30
    # rows in = published + quarantined, as the snapshot's ledger row says
    [(counts,)] = query(s, "SELECT counts FROM platform_ledger__builds WHERE build = 'water.snapshots'")
    quarantined = query(s, "SELECT count(*) FROM quarantine_water__section_readings")[0][0]
    recorded = json.loads(counts)
    assert (recorded["rows_typed"], recorded["rows_quarantined"]) == (readings, quarantined)
    assert readings + quarantined == board["sections"]
    assert query(s, "SELECT count(*) FROM core_water__sections WHERE listed")[0][0] == board["sections"]
    assert query(s, "SELECT count(*) FROM mart_water__section_monthly")[0][0] == sections
    gate = query(
        s,
        "SELECT table_name, bool_and(success OR severity = 'warning') FROM quality_platform__expectation_results "
        "WHERE table_name LIKE '%water%' GROUP BY ALL ORDER BY 1",
    )
    assert gate == [
        ("core_water__section_readings", True),
        ("core_water__sections", True),
        ("mart_water__basin_monthly", True),
        ("mart_water__section_monthly", True),
    ]
