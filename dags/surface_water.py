"""Surface water: the national automatic-station real-time board, every 4 hours, into the lake.

Wiring only: every task calls one library function from ``ecocloud.pipelines.water``; imports of
library code happen inside tasks so parsing this file stays cheap.

Each run fetches every page of the board as it is *now* (the platform keeps no history: a run
cannot fetch a past interval, so catchup is off and backfills rebuild from the raw zone with
``ecocloud ingest water --force``), lands the pages as one snapshot, quarantines rows that cannot
be typed, and rebuilds whole every Beijing day the snapshot has readings of: classified with
GB 3838 against the section registry (``ECOCLOUD_WATER_SECTIONS_CSV``), gated, published. Then the
section dimension, the monthly marts of the touched months and the serving database.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, get_current_context, task

from ecocloud.dag_defaults import task_defaults

SECTION_READINGS = Asset(
    name="core_water__section_readings", uri="ecocloud://lake/core/core_water__section_readings"
)
QUARANTINE = Asset(
    name="quarantine_water__section_readings",
    uri="ecocloud://lake/quarantine/quarantine_water__section_readings",
)
SECTIONS = Asset(name="core_water__sections", uri="ecocloud://lake/core/core_water__sections")
SECTION_MONTHLY = Asset(
    name="mart_water__section_monthly", uri="ecocloud://lake/mart/mart_water__section_monthly"
)
BASIN_MONTHLY = Asset(name="mart_water__basin_monthly", uri="ecocloud://lake/mart/mart_water__basin_monthly")


@dag(
    dag_id="surface_water",
    description="Surface-water real-time board → raw → typed readings → GB 3838 class → quality gate → core and marts",
    # A real four-hour data interval per run (a plain cron string gives zero-length intervals in Airflow 3).
    schedule=CronDataIntervalTimetable("0 */4 * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
    catchup=False,  # the board only shows the present
    max_active_runs=1,  # consecutive runs rebuild the same day partitions; run them in order
    default_args=task_defaults(),
    tags=["ecocloud", "source:water", "layer:core", "layer:mart"],
    doc_md=__doc__,
)
def surface_water() -> None:
    @task
    def fetch() -> str:
        """Land the section registry and every page of the board; returns the snapshot id."""
        from ecocloud.pipelines import water
        from ecocloud.settings import get_settings

        settings = get_settings()
        water.land_registry(settings)
        snap = water.fetch_snapshot(settings)
        print(
            f"snapshot {snap.snapshot_id}: {len(snap.pages)} page(s), new={snap.new}, fetched {snap.fetched_at}"
        )
        return snap.snapshot_id

    @task(outlets=[SECTION_READINGS, QUARANTINE])
    def build_readings(snapshot_id: str) -> list[str]:
        """Type and quarantine the snapshot's rows; classify, gate and publish every day it touches."""
        from airflow.exceptions import AirflowFailException

        from ecocloud.pipelines import water
        from ecocloud.settings import get_settings

        ctx = get_current_context()
        settings = get_settings()
        snap = water.load_snapshot_by_id(settings, snapshot_id)
        reports = water.process_snapshot(settings, snap, expected_latest=ctx["data_interval_start"])
        for r in reports:
            print(f"{r.key} {r.status} {r.counts}")
            for line in r.gate + r.warnings:
                print("  " + line)
        try:
            water.check_reports(reports)
        except water.QualityGateFailed as exc:
            raise AirflowFailException(str(exc)) from exc  # deterministic: retrying cannot help
        return sorted(
            r.date.isoformat()
            for r in reports
            if r.key.startswith("readings/") and r.date and r.status in ("published", "skipped")
        )

    @task(outlets=[SECTIONS, SECTION_MONTHLY, BASIN_MONTHLY])
    def build_marts(days: list[str]) -> None:
        """Section dimension (registry + sections seen), section monthly class, basin roll-up."""
        import datetime as dt

        from airflow.exceptions import AirflowFailException

        from ecocloud.pipelines import water
        from ecocloud.settings import get_settings

        reports = water.finish(get_settings(), [dt.date.fromisoformat(d) for d in days], refresh=False)
        for r in reports:
            print(f"{r.key} {r.status} {r.counts}")
            for line in r.gate + r.warnings:
                print("  " + line)
        try:
            water.check_reports(reports)
        except water.QualityGateFailed as exc:
            raise AirflowFailException(str(exc)) from exc

    @task
    def refresh_serving() -> None:
        """Regenerate the serving DuckDB file's views from the registry."""
        from ecocloud.pipelines import water
        from ecocloud.settings import get_settings

        water.refresh_serving(get_settings())

    build_marts(build_readings(fetch())) >> refresh_serving()


surface_water()
